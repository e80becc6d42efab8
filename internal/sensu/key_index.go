package sensu

import (
	"context"
	"strings"
	"sync"
)

// keyIndex is the 6.x id (digest) → key map of the key list a client read last. Generated
// import configuration imports every key a query listed, and each 6.x import by id needs
// the list: with the index a provider process lists once, not once per key. It holds the
// keys themselves, as the state they are imported into does.
type keyIndex struct {
	listing ctxMutex // held while listing, so that concurrent imports share one list

	mu   sync.Mutex
	byID map[string]APIKey
}

func (x *keyIndex) get(id string) (APIKey, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k, ok := x.byID[id]
	return k, ok
}

func (x *keyIndex) replace(keys []APIKey) {
	byID := make(map[string]APIKey, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
	}
	x.mu.Lock()
	x.byID = byID
	x.mu.Unlock()
}

func (x *keyIndex) forget(id string) {
	x.mu.Lock()
	delete(x.byID, id)
	x.mu.Unlock()
}

// CachedLookupAPIKey is LookupAPIKey for importing keys: on 6.x it finds a digest in the
// list this client read last, and lists again only for a digest that list lacks. A key
// found there may have been revoked since; an import is always followed by a read of the
// key, which finds out. On 7.x, and for an id that is not a digest, it is LookupAPIKey.
func (c *Client) CachedLookupAPIKey(ctx context.Context, id string) (*APIKey, error) {
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if !gen.NamesAreSecret() || !IsDigest(id) {
		return c.LookupAPIKey(ctx, id)
	}
	id = strings.ToLower(id)
	if k, ok := c.keys.get(id); ok {
		return &k, nil
	}
	if err := c.keys.listing.lock(ctx); err != nil {
		return nil, err
	}
	defer c.keys.listing.unlock()
	if k, ok := c.keys.get(id); ok { // listed by a caller this one waited for
		return &k, nil
	}
	keys, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
	if err != nil {
		return nil, err
	}
	c.keys.replace(keys)
	if k, ok := c.keys.get(id); ok {
		return &k, nil
	}
	return nil, noKeyWithID()
}

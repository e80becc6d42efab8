package sensu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/crypto/bcrypt"
)

// Granting an API key must never leave a live credential that nobody tracks. A grant can be
// ambiguous: the connection is reset or times out, or a proxy answers 502/504, after Sensu
// may already have created the key. Each generation resolves that differently.
//
// 7.x (idempotent grant). The client names the key itself ("tf-" and 128 random bits) and
// sends the bcrypt hash of a secret it generated, with PUT on the collection, which is
// create-or-update. Repeating that request can only recreate the same key, so an ambiguous
// grant is simply retried. Before each retry the client reads the name back: if the key
// exists with its hash, the earlier attempt worked; if it exists for another user it belongs
// to someone else, and the client stops rather than overwrite it. That Sensu 7.x stores a
// client-supplied hash was measured on 7.0.0-alpha1 (201 {"name":…,"key":""}, and the
// secret then authenticates); if a backend generates its own secret instead and returns it,
// the client uses the returned key.
//
// A name the caller chose is not this grant's alone: it is read first, and a key already
// there is an error (NameTakenError), because PUT would overwrite it silently. Between that
// read and the PUT another client could still create the name; Sensu offers no create-only
// request that keeps a chosen name (POST renames silently), so that window remains. After an
// ambiguous failure a key under a chosen name counts as this grant's only with this grant's
// hash: it is never overwritten or revoked otherwise.
//
// 6.x (reconciled grant). Sensu names the key (a UUID that is also the secret), so a retry
// would mint a second key. After an ambiguous failure the client waits until no other grant
// for the same user is in flight in this process, lists that user's keys, and claims the
// oldest key created since the attempt (by Sensu's clock, from its Date headers) that this
// process did not already receive. Finding none means Sensu created nothing, and the grant
// is retried. If the list itself fails, the error says which user's keys to check and how.
//
// Requests Sensu certainly did not process (connection refused, 429, 503) are retried at the
// HTTP layer in both generations.

// clientKeyBcryptCost is the cost of the hash sent for a client-generated 7.x secret. The
// secret is a random UUID (122 bits), which no cost is needed to protect; a low cost keeps
// grants and Sensu's own key checks fast.
const clientKeyBcryptCost = bcrypt.MinCost

// UnresolvedGrantError is a grant that may have created a key the client could not confirm
// or find. It names the key by its public id when it knows it, never by its secret.
type UnresolvedGrantError struct {
	Username string
	ID       string    // 7.x: the name the client chose; empty on 6.x
	Since    time.Time // when the attempt started, by Sensu's clock
	// Candidates are the ids of 6.x keys created since then that may be this grant's or
	// another client's, when they cannot be told apart.
	Candidates []string
	Err        error // the failure that made the grant ambiguous
}

func (e *UnresolvedGrantError) Error() string {
	if len(e.Candidates) > 0 {
		return fmt.Sprintf("a grant of an API key for user %q got no answer (%v), and since %s Sensu holds %d keys of that user "+
			"that no grant of this run received, with ids %s. Some may be this grant's and some another client's. Revoke those that no "+
			"Terraform state or other owner holds (the id is the SHA-256 of the key: `sensuctl api-key list` shows the keys)",
			e.Username, e.Err, e.Since.UTC().Format(time.RFC3339), len(e.Candidates), strings.Join(e.Candidates, ", "))
	}
	if e.ID != "" {
		return fmt.Sprintf("the grant of API key %s for user %q may have reached Sensu, and the client could not confirm it: %v. "+
			"If the key exists, revoke it with `sensuctl api-key revoke %s`", e.ID, e.Username, e.Err, e.ID)
	}
	return fmt.Sprintf("a grant of an API key for user %q may have reached Sensu at about %s, and the client could not check: %v. "+
		"List the user's keys (`sensuctl api-key list`, or the sensu_api_keys data source) and revoke any created then that no "+
		"Terraform state holds", e.Username, e.Since.UTC().Format(time.RFC3339), e.Err)
}

func (e *UnresolvedGrantError) Unwrap() error { return e.Err }

// IsUnresolvedGrant reports a grant that may have left a key behind.
func IsUnresolvedGrant(err error) bool {
	var e *UnresolvedGrantError
	return errors.As(err, &e)
}

// grantMayHaveHappened reports whether a failed grant may still have created a key.
func grantMayHaveHappened(err error) bool {
	var (
		apiErr  *APIError
		trErr   *TransportError
		respErr *ResponseError
	)
	switch {
	case errors.As(err, &apiErr):
		s := apiErr.StatusCode
		return s >= 500 && s != http.StatusNotImplemented && s != http.StatusServiceUnavailable
	case errors.As(err, &respErr):
		return true // a 2xx answer that could not be understood: the key exists
	case errors.As(err, &trErr):
		return !IsConnectionRefused(err)
	}
	return false
}

// grantBook is what the client knows about its own grants, for 6.x reconciliation.
type grantBook struct {
	mu      sync.Mutex
	users   map[string]*sync.RWMutex // held shared by grants, exclusively by a reconciliation
	known   map[string]struct{}      // names of keys this client received
	pending map[string]int           // unanswered grants per user, not yet reconciled
}

func (b *grantBook) addPending(username string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[string]int{}
	}
	b.pending[username] += n
}

func (b *grantBook) pendingFor(username string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pending[username]
}

func (b *grantBook) userLock(username string) *sync.RWMutex {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users == nil {
		b.users = map[string]*sync.RWMutex{}
	}
	l, ok := b.users[username]
	if !ok {
		l = &sync.RWMutex{}
		b.users[username] = l
	}
	return l
}

func (b *grantBook) remember(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known == nil {
		b.known = map[string]struct{}{}
	}
	b.known[name] = struct{}{}
}

func (b *grantBook) knows(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.known[name]
	return ok
}

// CreateAPIKey grants a new API key for a user. It either returns the key, or an error after
// which no key it created is left untracked (see the comment at the top of this file);
// IsUnresolvedGrant reports the rare case where it could not make sure.
func (c *Client) CreateAPIKey(ctx context.Context, in CreateAPIKeyRequest) (*APIKey, error) {
	if strings.TrimSpace(in.Username) == "" {
		return nil, errors.New("a username is required to grant an API key")
	}
	if in.Name != "" {
		if err := ValidateKeyName(in.Name); err != nil {
			return nil, err
		}
	}
	if in.Secret != "" {
		if err := ValidateSecret(in.Secret); err != nil {
			return nil, err
		}
	}
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if gen >= Generation7 {
		return c.grant7(ctx, in)
	}
	if err := CheckGrantOptions(gen, in); err != nil {
		return nil, err
	}
	return c.grant6(ctx, in.Username)
}

// CheckGrantOptions reports a GenerationError when in asks for what gen cannot do: on 6.x a
// key's name is the key itself, generated by Sensu, so neither can be chosen.
func CheckGrantOptions(gen Generation, in CreateAPIKeyRequest) error {
	if gen >= Generation7 {
		return nil
	}
	const why = "Sensu Go 6.x generates every key itself, and the key is also its name"
	switch {
	case in.Name != "":
		return &GenerationError{Generation: gen, Feature: "a chosen API key name", Reason: why}
	case in.Secret != "":
		return &GenerationError{Generation: gen, Feature: "a caller-supplied API key secret", Reason: why}
	}
	return nil
}

func (c *Client) grant6(ctx context.Context, username string) (*APIKey, error) {
	lock := c.grants.userLock(username)
	for attempt := 0; ; attempt++ {
		lock.RLock()
		since := c.serverNow()
		key, err := c.post6(ctx, username)
		ambiguous := err != nil && grantMayHaveHappened(err)
		switch {
		case err == nil:
			c.grants.remember(key.Name) // before unlocking: a reconciliation must not claim it
		case ambiguous:
			c.grants.addPending(username, 1) // before unlocking: a reconciliation counts it
		}
		lock.RUnlock()
		if !ambiguous {
			return key, err
		}
		tflog.Warn(ctx, "A Sensu API key grant may have happened without an answer; reconciling", map[string]any{
			"username": username, "error": err.Error(),
		})

		// A timed-out request may still be committed after the client gave up: keep looking
		// for a while. Reconcile even if the caller gave up: the key may exist either way.
		grace := time.Duration(0)
		if isTimeout(err) {
			grace = c.timeout
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute+grace)
		lock.Lock()
		claimed, strangers, rerr := c.reconcile6(rctx, username, since, grace)
		c.grants.addPending(username, -1)
		lock.Unlock()
		cancel()
		switch {
		case rerr != nil:
			return nil, &UnresolvedGrantError{Username: username, Since: since, Err: fmt.Errorf("%w (and listing the keys failed: %w)", err, rerr)}
		case claimed != nil:
			tflog.Info(ctx, "Found the Sensu API key an ambiguous grant created", map[string]any{"id": claimed.ID, "username": username})
			return claimed, nil
		case len(strangers) > 0:
			return nil, &UnresolvedGrantError{Username: username, Since: since, Candidates: strangers, Err: err}
		case attempt >= c.maxRetries || ctx.Err() != nil:
			return nil, fmt.Errorf("granting an API key (Sensu created none; nothing was left behind): %w", err)
		}
		if werr := c.waitBeforeRetry(ctx, attempt); werr != nil {
			return nil, werr
		}
	}
}

func (c *Client) post6(ctx context.Context, username string) (*APIKey, error) {
	data, err := json.Marshal(map[string]string{"username": username})
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: apiKeysPath, body: data, auth: true, unsafeToRepeat: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, userNotFound(err, username)
	}
	name, ok := keyFromLocation(resp.header.Get("Location"))
	if resp.status != http.StatusCreated || !ok {
		return nil, shapeError(r, resp, "the grant answer has no usable Location header")
	}
	return &APIKey{ID: Digest(name), Name: name, Key: name, Username: username}, nil
}

// reconcile6 looks for the key an ambiguous grant may have created: a key of username,
// created since the attempt (by Sensu's clock; created_at and Date have a resolution of one
// second), by this client's user when that is known, that this client did not receive. It
// claims the oldest when there are no more such keys than this process has unanswered
// grants for the user; more means some belong to someone else and cannot be told apart, and
// they are returned by id instead. It keeps looking for grace when nothing is found yet.
func (c *Client) reconcile6(ctx context.Context, username string, since time.Time, grace time.Duration) (claimed *APIKey, strangers []string, err error) {
	cutoff := since.Add(-2 * time.Second)
	deadline := time.Now().Add(grace)
	for {
		keys, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{Username: username})
		if err != nil {
			return nil, nil, err
		}
		var candidates []APIKey
		for _, k := range keys {
			if k.CreatedAt.Before(cutoff) || c.grants.knows(k.Name) {
				continue
			}
			if c.identity != "" && k.CreatedBy != "" && k.CreatedBy != c.identity {
				continue
			}
			candidates = append(candidates, k)
		}
		switch pending := c.grants.pendingFor(username); {
		case len(candidates) > pending:
			for _, k := range candidates {
				strangers = append(strangers, k.ID)
			}
			return nil, strangers, nil
		case len(candidates) > 0:
			sort.SliceStable(candidates, func(i, j int) bool { return candidates[i].CreatedAt.Before(candidates[j].CreatedAt) })
			k := candidates[0]
			c.grants.remember(k.Name)
			return &k, nil, nil
		case !time.Now().Before(deadline):
			return nil, nil, nil
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// isTimeout reports a request that gave up waiting for an answer.
func isTimeout(err error) bool {
	var netErr interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

// grant7Key is what a 7.x grant sends and how far the name is its own.
type grant7Key struct {
	name, secret, username string
	hash                   []byte
	labels                 map[string]string
	// chosen: the caller picked the name, so a key under it may be someone else's.
	chosen bool
	// callerSecret: the caller supplied the secret and will use no other.
	callerSecret bool
}

// mine reports whether a stored key is this grant's: its hash, or (for a name only this
// grant can have) its user, with a hash a backend that ignores the client's chose.
func (g grant7Key) mine(stored apiKeySpec7) bool {
	return bytes.Equal(stored.Hash, g.hash) || (!g.chosen && stored.Username == g.username)
}

func (c *Client) grant7(ctx context.Context, in CreateAPIKeyRequest) (*APIKey, error) {
	g, err := newGrant7Key(in)
	if err != nil {
		return nil, err
	}
	if g.chosen {
		// One extra request, only for chosen names: PUT would overwrite a key there.
		existing, err := c.getAPIKey7Spec(ctx, g.name)
		switch {
		case err == nil:
			taken := &NameTakenError{Name: g.name, Username: existing.Username}
			if existing.Metadata != nil {
				taken.CreatedBy = existing.Metadata.CreatedBy
			}
			return nil, taken
		case !IsNotFound(err):
			return nil, err
		}
	}
	return c.put7(ctx, g)
}

func newGrant7Key(in CreateAPIKeyRequest) (grant7Key, error) {
	prefix := in.NamePrefix
	if prefix == "" {
		prefix = GeneratedNamePrefix
	}
	name, secret, err := newClientKey(prefix)
	if err != nil {
		return grant7Key{}, err
	}
	g := grant7Key{name: name, secret: secret, username: in.Username, labels: in.Labels}
	if in.Name != "" {
		g.name, g.chosen = in.Name, true
	}
	if in.Secret != "" {
		g.secret, g.callerSecret = in.Secret, true
	}
	if g.hash, err = bcrypt.GenerateFromPassword([]byte(g.secret), clientKeyBcryptCost); err != nil {
		return grant7Key{}, err
	}
	return g, nil
}

func (c *Client) put7(ctx context.Context, g grant7Key) (*APIKey, error) {
	name, secret, username, hash := g.name, g.secret, g.username, g.hash
	data, err := json.Marshal(wrappedAPIKey{
		Type: "APIKey", APIVersion: "core/v2", Metadata: struct{}{},
		Spec: apiKeySpec7{Metadata: &objectMeta{Name: name, Labels: g.labels}, Username: username, Hash: hash},
	})
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodPut, path: apiKeysPath, body: data, auth: true, unsafeToRepeat: true}
	for attempt := 0; ; attempt++ {
		resp, err := c.do(ctx, r)
		if err == nil {
			key, cerr := created7(r, resp, name, secret, username)
			if cerr == nil && g.callerSecret && key.Key != secret {
				// Sensu just created this key, but under a secret the caller will never use.
				return nil, c.revokeCreated(ctx, g, key.Name, errors.New("the backend generated its own secret instead of "+
					"storing the hash of the one supplied, so the supplied secret would not authenticate"))
			}
			if cerr != nil {
				// Sensu answered 2xx, so the key may exist: revoke it rather than leave it.
				return c.settle7(ctx, g, cerr)
			}
			return key, nil
		}
		err = userNotFound(err, username)
		if !grantMayHaveHappened(err) {
			return nil, err
		}
		tflog.Warn(ctx, "A Sensu API key grant may have happened without an answer; retrying it idempotently", map[string]any{
			"id": name, "username": username, "error": err.Error(),
		})
		if attempt >= c.maxRetries || ctx.Err() != nil {
			return c.settle7(ctx, g, err)
		}
		if werr := c.waitBeforeRetry(ctx, attempt); werr != nil {
			return c.settle7(ctx, g, werr)
		}
		// Read the name back before repeating the PUT, which would overwrite any key there.
		existing, gerr := c.getAPIKey7Spec(ctx, name)
		switch {
		case gerr == nil && bytes.Equal(existing.Hash, hash):
			return &APIKey{ID: name, Name: name, Key: secret, Username: username}, nil
		case gerr == nil && !g.mine(existing):
			return nil, fmt.Errorf("an API key named %s appeared that this grant did not create; not overwriting it: %w", name, err)
		case gerr != nil && !IsNotFound(gerr):
			return c.settle7(ctx, g, gerr)
		}
		// Not there, or there with a hash Sensu generated itself (a backend that ignores the
		// client's hash) under a name only this grant has: the PUT may safely be repeated.
	}
}

func created7(r request, resp *response, name, secret, username string) (*APIKey, error) {
	var out struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	if err := decodeJSON(r, resp, &out); err != nil {
		return nil, err
	}
	if out.Name != "" {
		name = out.Name // a backend that names keys itself: the key exists under that name
	}
	if out.Key != "" {
		secret = out.Key // a backend that generates its own secret
	}
	return &APIKey{ID: name, Name: name, Key: secret, Username: username}, nil
}

// settle7 ends a 7.x grant whose outcome is unknown by reading the name back: the key is
// there with this grant's hash (it worked: the secret is known), there with a hash Sensu
// chose (revoked: its secret is unknown), or not there (nothing was created). It reports the
// key's id when even that cannot be checked.
func (c *Client) settle7(ctx context.Context, g grant7Key, cause error) (*APIKey, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	existing, err := c.getAPIKey7Spec(rctx, g.name)
	switch {
	case IsNotFound(err):
		return nil, fmt.Errorf("granting an API key (Sensu created none; nothing was left behind): %w", cause)
	case err == nil && bytes.Equal(existing.Hash, g.hash):
		return &APIKey{ID: g.name, Name: g.name, Key: g.secret, Username: g.username}, nil
	case err == nil && g.mine(existing):
		// The name is random and this grant's own, but its secret is not known: revoke it.
		if derr := c.DeleteAPIKey(rctx, g.name); derr == nil || IsNotFound(derr) {
			return nil, fmt.Errorf("granting an API key failed, and the key %s it created was revoked: %w", g.name, cause)
		}
	case err == nil:
		// A chosen name, held by a key without this grant's hash: another client's, created
		// or overwritten since the name was found free. None of this grant's remains.
		return nil, fmt.Errorf("granting an API key failed, and a key named %s of user %q that this grant did not create "+
			"now has the name; it was left alone, and nothing of this grant remains: %w", g.name, existing.Username, cause)
	}
	return nil, &UnresolvedGrantError{Username: g.username, ID: g.name, Since: c.serverNow(), Err: cause}
}

// revokeCreated revokes a key that a grant certainly created but cannot hand over.
func (c *Client) revokeCreated(ctx context.Context, g grant7Key, name string, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := c.DeleteAPIKey(rctx, name); err != nil && !IsNotFound(err) {
		return &UnresolvedGrantError{Username: g.username, ID: name, Since: c.serverNow(), Err: fmt.Errorf("%w (and revoking it failed: %w)", cause, err)}
	}
	return fmt.Errorf("granting an API key failed, and the key %s it created was revoked: %w", name, cause)
}

// getAPIKey7Spec reads a 7.x key as stored, hash included, to compare (never to surface).
func (c *Client) getAPIKey7Spec(ctx context.Context, name string) (apiKeySpec7, error) {
	r := c.keyRequest(Generation7, http.MethodGet, name)
	resp, err := c.do(ctx, r)
	if err != nil {
		return apiKeySpec7{}, err
	}
	var w struct {
		Spec apiKeySpec7 `json:"spec"`
	}
	if err := decodeJSON(r, resp, &w); err != nil {
		return apiKeySpec7{}, err
	}
	return w.Spec, nil
}

// newClientKey makes a 7.x key's name and secret: the secret is a random UUID, the shape
// Sensu itself issues.
func newClientKey(prefix string) (name, secret string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	name = prefix + hex.EncodeToString(b[:16])
	u := b[16:]
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(u)
	secret = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	return name, secret, nil
}

// userNotFound recognises Sensu's answer to a grant for an unknown user: a 400 whose text is
// "user does not exist" (both generations). Other 400s stay plain API errors.
func userNotFound(err error, username string) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(apiErr.Message), "user does not exist") {
		return &UserNotFoundError{Username: username, Err: apiErr}
	}
	return err
}

// waitBeforeRetry backs off between grant attempts, honouring cancellation.
func (c *Client) waitBeforeRetry(ctx context.Context, attempt int) error {
	t := time.NewTimer(backoff(c.http.RetryWaitMin, c.http.RetryWaitMax, attempt, nil))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// serverNow estimates Sensu's clock from the Date header of its latest answer.
func (c *Client) serverNow() time.Time {
	return time.Now().Add(time.Duration(c.clockOffset.Load()))
}

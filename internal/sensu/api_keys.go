package sensu

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The API key formats of the two generations, as recorded on real 6.12.0 and 7.0.0-alpha1
// backends:
//
//   - 6.x: POST {"username"} answers 201 with an empty body and the key in the Location header;
//     the key is also the name, so info and revoke URLs carry it. Objects are unwrapped.
//   - 7.x: POST {"type","api_version","metadata","spec":{"username"}} answers 201 with
//     {"name","key"} (sent as text/plain); the server keeps only a bcrypt hash. Objects are
//     wrapped and carry that hash, which is never surfaced (grant.go compares it).

const (
	apiKeysPath = "/api/core/v2/apikeys"
	// listPageSize keeps each list page small enough to decode quickly.
	listPageSize = 500
	// maxListPages stops a server that keeps sending continue tokens.
	maxListPages = 10000
)

// APIKey is a Sensu API key.
type APIKey struct {
	// ID is the key's public handle, safe to show: the name on 7.x, the hex SHA-256 of the
	// key on 6.x (where the name is the key).
	ID string
	// Name is how Sensu addresses the key (info, revoke). On 6.x it is the key itself.
	Name string
	// Key is the secret for "Authorization: Key <key>". It is known on 6.x (it is the name)
	// and on 7.x only in the answer to the grant.
	Key       string
	Username  string
	CreatedBy string
	CreatedAt time.Time // zero when Sensu did not say (the grant answers carry no timestamp)
}

// CreateAPIKeyRequest asks for a new key.
type CreateAPIKeyRequest struct {
	Username string
	// Name is the key's name on 7.x. Empty: the client names it NamePrefix and 128 random
	// bits. A chosen name is checked first, since Sensu's PUT would overwrite a key of that
	// name; a taken one is a NameTakenError. 6.x names keys itself (the name is the key).
	Name string
	// NamePrefix starts a generated 7.x name; empty means GeneratedNamePrefix.
	NamePrefix string
	// Secret is the key's secret on 7.x; only its bcrypt hash is sent. Empty: the client
	// generates one. See ValidateSecret.
	Secret string
	// Labels are stored with a 7.x key (6.x keys have none), for example EphemeralLabel.
	Labels map[string]string
}

// Prefixes of the names the client gives 7.x keys. An ephemeral key whose revocation never
// ran (the process was killed) is recognisable by its prefix.
const (
	GeneratedNamePrefix = "tf-"
	EphemeralNamePrefix = "tf-ephemeral-"
)

// EphemeralLabel marks the 7.x keys of ephemeral resources, with the value "true", whatever
// their name: `sensuctl api-key list --label-selector 'terraform_ephemeral == true'` finds
// them (measured on 7.0.0-alpha1, which stores a client's labels and selects on them; a label
// key with "/" in it cannot be selected on).
const EphemeralLabel = "terraform_ephemeral"

// maxKeyNameLength bounds a chosen name, which goes into every URL about the key.
const maxKeyNameLength = 253

// Bounds of a caller-chosen secret: it is a bearer credential, so at least 32 characters;
// bcrypt reads no more than 72 bytes.
const (
	MinSecretLength = 32
	MaxSecretLength = 72
)

// nameRule is Sensu's rule for resource names (NameRegex in sensu/core/v2). Sensu does not
// apply it to API keys, but the name goes into every info and revoke URL.
var nameRule = regexp.MustCompile(`\A[\w.\-:]+\z`)

// ValidateKeyName reports why name cannot be a 7.x API key's name.
func ValidateKeyName(name string) error {
	switch {
	case !nameRule.MatchString(name):
		return errors.New("a Sensu API key name may only contain letters, digits, '_', '.', '-' and ':'")
	case name == "." || name == "..":
		return errors.New("a Sensu API key name cannot be \".\" or \"..\", which a URL path resolves away")
	case len(name) > maxKeyNameLength:
		return fmt.Errorf("a Sensu API key name has at most %d characters", maxKeyNameLength)
	}
	if IsDigest(name) {
		// 6.x ids are digests: a 7.x name of that shape would make ids ambiguous.
		return errors.New("a Sensu API key name must not look like a SHA-256 digest (64 hexadecimal digits), which is what a 6.x key's id is")
	}
	return nil
}

// ValidateSecret reports why secret cannot be a caller-chosen API key secret. The reason
// never quotes the secret.
func ValidateSecret(secret string) error {
	switch {
	case len(secret) < MinSecretLength:
		return fmt.Errorf("the secret has %d characters; an API key is a bearer credential, so use at least %d random characters "+
			"(for example from the random_password resource or an ephemeral secret)", len(secret), MinSecretLength)
	case len(secret) > MaxSecretLength:
		return fmt.Errorf("the secret has %d bytes; Sensu checks keys with bcrypt, which reads at most %d", len(secret), MaxSecretLength)
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("the secret has a character at position %d that is not a visible ASCII character; "+
				"it is sent in an HTTP header (Authorization: Key <secret>), so use letters, digits and punctuation only", i+1)
		}
	}
	return nil
}

// ListAPIKeysOptions filters a list.
type ListAPIKeysOptions struct {
	Username string // only keys of this user; empty lists all
}

// keyFromLocation takes the key from a 6.x grant's Location: /api/core/v2/apikeys/<key>.
func keyFromLocation(location string) (string, bool) {
	u, err := url.Parse(location)
	if err != nil {
		return "", false
	}
	dir, name := path.Split(u.Path)
	if strings.TrimSuffix(dir, "/") != apiKeysPath || name == "" {
		return "", false
	}
	return name, true
}

// GetAPIKey returns the key Sensu addresses as name: the name on 7.x, the key on 6.x.
// IsNotFound reports a key that does not exist (revoked).
func (c *Client) GetAPIKey(ctx context.Context, name string) (*APIKey, error) {
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, errEmptyName
	}
	r := c.keyRequest(gen, http.MethodGet, name)
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeAPIKey(gen, r, resp)
}

// DeleteAPIKey revokes the key Sensu addresses as name. IsNotFound reports one already gone.
func (c *Client) DeleteAPIKey(ctx context.Context, name string) error {
	gen, err := c.Generation(ctx)
	if err != nil {
		return err
	}
	if name == "" {
		return errEmptyName
	}
	_, err = c.do(ctx, c.keyRequest(gen, http.MethodDelete, name))
	if gen.NamesAreSecret() && (err == nil || IsNotFound(err)) {
		c.keys.forget(Digest(name))
	}
	return err
}

// errEmptyName keeps an empty name from turning a read or revoke into a request on the list.
var errEmptyName = errors.New("an API key name or id is required")

func (c *Client) keyRequest(gen Generation, method, name string) request {
	r := request{method: method, path: apiKeysPath + "/" + url.PathEscape(name), auth: true}
	if gen.NamesAreSecret() {
		r.secret = name
	}
	return r
}

// ListAPIKeys returns every key (following pagination), optionally only one user's.
func (c *Client) ListAPIKeys(ctx context.Context, opts ListAPIKeysOptions) ([]APIKey, error) {
	var keys []APIKey
	err := c.EachAPIKey(ctx, opts, func(k APIKey) bool {
		keys = append(keys, k)
		return true
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// EachAPIKey lists the keys, optionally only one user's, calling yield for each in the
// order Sensu lists them until yield returns false. It requests a page at a time and only
// when yield wants more, so a caller that needs a few keys costs one request, and holds one
// page at a time. On 6.x each key carries its secret (the name is the key).
func (c *Client) EachAPIKey(ctx context.Context, opts ListAPIKeysOptions, yield func(APIKey) bool) error {
	gen, err := c.Generation(ctx)
	if err != nil {
		return err
	}
	continueToken := ""
	for page := 0; page < maxListPages; page++ {
		q := url.Values{"limit": {strconv.Itoa(listPageSize)}}
		if continueToken != "" {
			q.Set("continue", continueToken)
		}
		r := request{method: http.MethodGet, path: apiKeysPath, query: q, auth: true}
		resp, err := c.do(ctx, r)
		if err != nil {
			return err
		}
		pageKeys, err := decodeAPIKeyList(gen, r, resp)
		if err != nil {
			return err
		}
		for _, k := range pageKeys {
			if opts.Username != "" && k.Username != opts.Username {
				continue
			}
			if !yield(k) {
				return nil
			}
		}
		next := resp.header.Get("Sensu-Continue")
		if next == "" {
			return nil
		}
		if next == continueToken {
			return shapeError(r, resp, "the list repeats its continue token")
		}
		continueToken = next
	}
	return fmt.Errorf("listing API keys: more than %d pages", maxListPages)
}

// LookupAPIKey finds a key by its public ID. On 7.x the ID is the name. On 6.x it is the
// SHA-256 digest of the key, found by listing the keys once, or the key itself.
func (c *Client) LookupAPIKey(ctx context.Context, id string) (*APIKey, error) {
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if !gen.NamesAreSecret() || !IsDigest(id) {
		return c.GetAPIKey(ctx, id)
	}
	keys, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
	if err != nil {
		return nil, err
	}
	for i := range keys {
		if keys[i].ID == strings.ToLower(id) {
			return &keys[i], nil
		}
	}
	return nil, noKeyWithID()
}

// noKeyWithID is a lookup by digest that found no key: IsNotFound, as a GET of a name.
func noKeyWithID() error {
	return &APIError{StatusCode: http.StatusNotFound, Message: "no API key has this id", Method: http.MethodGet, Path: apiKeysPath}
}

// IsDigest reports whether s looks like a hex SHA-256 digest (a 6.x key's ID).
func IsDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

type wrappedAPIKey struct {
	Type       string      `json:"type"`
	APIVersion string      `json:"api_version"`
	Metadata   any         `json:"metadata,omitempty"`
	Spec       apiKeySpec7 `json:"spec"`
}

type objectMeta struct {
	Name      string            `json:"name,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	CreatedBy string            `json:"created_by,omitempty"`
}

// apiKeySpec7 is a 7.x key's spec, and exactly a 6.x key object.
type apiKeySpec7 struct {
	Metadata  *objectMeta `json:"metadata,omitempty"`
	Username  string      `json:"username"`
	CreatedAt int64       `json:"created_at,omitempty"`
	Hash      []byte      `json:"hash,omitempty"` // compared when reconciling a grant, never surfaced
}

func (s apiKeySpec7) toAPIKey(gen Generation) (APIKey, bool) {
	if s.Metadata == nil || s.Metadata.Name == "" {
		return APIKey{}, false
	}
	k := APIKey{Name: s.Metadata.Name, Username: s.Username, CreatedBy: s.Metadata.CreatedBy}
	if s.CreatedAt > 0 {
		k.CreatedAt = time.Unix(s.CreatedAt, 0).UTC()
	}
	if gen.NamesAreSecret() {
		k.ID, k.Key = Digest(k.Name), k.Name
	} else {
		k.ID = k.Name
	}
	return k, true
}

func decodeAPIKey(gen Generation, r request, resp *response) (*APIKey, error) {
	var spec apiKeySpec7
	if gen >= Generation7 {
		var w struct {
			Spec apiKeySpec7 `json:"spec"`
		}
		if err := decodeJSON(r, resp, &w); err != nil {
			return nil, err
		}
		spec = w.Spec
	} else if err := decodeJSON(r, resp, &spec); err != nil {
		return nil, err
	}
	k, ok := spec.toAPIKey(gen)
	if !ok {
		return nil, shapeError(r, resp, "the API key has no name")
	}
	return &k, nil
}

func decodeAPIKeyList(gen Generation, r request, resp *response) ([]APIKey, error) {
	var specs []apiKeySpec7
	if gen >= Generation7 {
		var wrapped []struct {
			Spec apiKeySpec7 `json:"spec"`
		}
		if err := decodeJSON(r, resp, &wrapped); err != nil {
			return nil, err
		}
		specs = make([]apiKeySpec7, len(wrapped))
		for i := range wrapped {
			specs[i] = wrapped[i].Spec
		}
	} else if err := decodeJSON(r, resp, &specs); err != nil {
		return nil, err
	}
	keys := make([]APIKey, 0, len(specs))
	for _, s := range specs {
		k, ok := s.toAPIKey(gen)
		if !ok {
			return nil, shapeError(r, resp, "an API key in the list has no name")
		}
		keys = append(keys, k)
	}
	return keys, nil
}

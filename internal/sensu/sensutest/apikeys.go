package sensutest

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // matches the backend's etag scheme, not used for security
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// APIKey is a key as the store holds it. Key is the secret used in
// "Authorization: Key <secret>": on 6.x it equals Name; on 7.x it is empty when the
// client supplied only a hash.
type APIKey struct {
	Name      string            `json:"name"`
	Key       string            `json:"key"`
	Username  string            `json:"username"`
	CreatedBy string            `json:"created_by"`
	CreatedAt time.Time         `json:"created_at"`
	Labels    map[string]string `json:"labels,omitempty"` // 7.x: the labels the client sent
}

type keyRecord struct {
	name, secret, username, createdBy string
	createdAt                         time.Time         // spec created_at (changes on a 7.x PUT overwrite)
	labelCreated, updated             time.Time         // 7.x sensu.io/created_at and sensu.io/updated_at
	labels                            map[string]string // 7.x labels the client sent
	hash                              []byte            // 7.x bcrypt hash
	shas                              [][32]byte
	wire                              []byte // list item / GET body, rendered once
	etag                              string
}

func (k *keyRecord) public() APIKey {
	return APIKey{Name: k.name, Key: k.secret, Username: k.username, CreatedBy: k.createdBy, CreatedAt: k.createdAt, Labels: k.labels}
}

var errNoUser = errors.New("user does not exist")

// Wire forms. 6.x: unwrapped core/v2 APIKey. 7.x: wrapped, with store labels, etag
// annotation and the bcrypt hash.
type (
	wire6 struct {
		Metadata struct {
			Name      string `json:"name"`
			CreatedBy string `json:"created_by"`
		} `json:"metadata"`
		Username  string `json:"username"`
		CreatedAt int64  `json:"created_at"`
	}
	wire7Meta struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations,omitempty"`
		CreatedBy   string            `json:"created_by"`
	}
	wire7Spec struct {
		Metadata  wire7Meta `json:"metadata"`
		Username  string    `json:"username"`
		CreatedAt int64     `json:"created_at"`
		Hash      []byte    `json:"hash"`
	}
	wire7 struct {
		Type       string    `json:"type"`
		APIVersion string    `json:"api_version"`
		Spec       wire7Spec `json:"spec"`
	}
)

// render fills k.wire and k.etag. 6.x etags look like 16 hex digits, 7.x ones like
// unpadded base64 of a SHA-1; both are derived from the content here.
func (s *Server) render(k *keyRecord) {
	if s.opts.Generation == Generation6 {
		var v wire6
		v.Metadata.Name, v.Metadata.CreatedBy = k.name, k.createdBy
		v.Username, v.CreatedAt = k.username, k.createdAt.Unix()
		k.wire, _ = json.Marshal(v)
		h := fnv.New64a()
		h.Write(k.wire)
		k.etag = fmt.Sprintf("%016x", h.Sum64())
		return
	}
	labels := map[string]string{}
	for name, value := range k.labels {
		labels[name] = value
	}
	labels["sensu.io/created_at"] = k.labelCreated.Format(time.RFC3339Nano)
	labels["sensu.io/updated_at"] = k.updated.Format(time.RFC3339Nano)
	v := wire7{Type: "APIKey", APIVersion: "core/v2", Spec: wire7Spec{
		Metadata:  wire7Meta{Name: k.name, Labels: labels, CreatedBy: k.createdBy},
		Username:  k.username,
		CreatedAt: k.createdAt.Unix(),
		Hash:      k.hash,
	}}
	unannotated, _ := json.Marshal(v)
	sum := sha1.Sum(unannotated) //nolint:gosec // etag only
	k.etag = base64.RawStdEncoding.EncodeToString(sum[:])
	v.Spec.Metadata.Annotations = map[string]string{"sensu.io/etag": k.etag}
	k.wire, _ = json.Marshal(v)
}

// grant6 stores a 6.x key: a random UUID that is both name and secret.
func (s *Server) grant6(username, createdBy string, checkUser bool) (APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[username]; checkUser && !ok {
		return APIKey{}, errNoUser
	}
	name := newUUID()
	for s.keys[name] != nil {
		name = newUUID()
	}
	k := &keyRecord{name: name, secret: name, username: username, createdBy: createdBy, createdAt: time.Now()}
	s.render(k)
	s.keys[name] = k
	s.sortedOK = false
	s.keySecrets = append(s.keySecrets, name)
	return k.public(), nil
}

type grant7Request struct {
	name, username, createdBy string
	labels                    map[string]string
	hash                      []byte // client-supplied bcrypt hash; nil: generate a secret
	replace                   bool   // PUT: overwrite a key of the same name
	checkUser                 bool
}

// grant7 stores a 7.x key and returns it (Key empty for client-hashed keys).
func (s *Server) grant7(req grant7Request) (APIKey, error) {
	secret, hash := "", req.hash
	if hash == nil {
		secret = newUUID()
		var err error
		// Hashing happens outside the lock so that concurrent grants do not serialize.
		if hash, err = bcrypt.GenerateFromPassword([]byte(secret), s.opts.BcryptCost); err != nil {
			return APIKey{}, err
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond) // the record's timestamps are µs
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[req.username]; req.checkUser && !ok {
		return APIKey{}, errNoUser
	}
	name := req.name
	var old *keyRecord
	if name != "" {
		old = s.keys[name]
	}
	if name == "" || (old != nil && !req.replace) {
		// POST with a taken name silently picks a new pet name.
		name = newPetName(func(n string) bool { return s.keys[n] != nil })
		old = nil
	}
	k := &keyRecord{
		name: name, secret: secret, username: req.username, createdBy: req.createdBy,
		createdAt: now, labelCreated: now, updated: now, hash: hash, labels: req.labels,
	}
	if old != nil {
		// An overwrite keeps the store's creation label but is otherwise a new key
		// (spec created_at included, as recorded for tf-spec-meta).
		k.labelCreated = old.labelCreated
		s.unindexLocked(old)
	} else {
		s.sortedOK = false
	}
	if secret != "" {
		sum := sha256.Sum256([]byte(secret))
		s.bySecret[sum] = name
		k.shas = append(k.shas, sum)
		s.keySecrets = append(s.keySecrets, secret)
	} else {
		s.clientHashed[name] = hash
		s.hashedGen++
	}
	s.render(k)
	s.keys[name] = k
	return k.public(), nil
}

// unindexLocked forgets everything that lets k's secret authenticate.
func (s *Server) unindexLocked(k *keyRecord) {
	for _, sum := range k.shas {
		if s.bySecret[sum] == k.name {
			delete(s.bySecret, sum)
		}
	}
	delete(s.clientHashed, k.name)
}

// keyIdentity resolves "Authorization: Key <secret>". 6.x looks the secret up as a
// name. 7.x uses a sha256 index of secrets it generated or already verified; a secret
// not in the index is checked with bcrypt against client-supplied hashes only, and
// misses are cached until another client-hashed key appears.
func (s *Server) keyIdentity(secret string) (identity, bool) {
	if s.opts.Generation == Generation6 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if k := s.keys[secret]; k != nil {
			return s.keyOwnerLocked(k)
		}
		return identity{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	s.mu.RLock()
	if k := s.keys[s.bySecret[sum]]; k != nil {
		id, ok := s.keyOwnerLocked(k)
		s.mu.RUnlock()
		return id, ok
	}
	gen, seen := s.negative[sum]
	if len(s.clientHashed) == 0 || (seen && gen == s.hashedGen) {
		s.mu.RUnlock()
		return identity{}, false
	}
	gen = s.hashedGen
	type candidate struct {
		name string
		hash []byte
	}
	cands := make([]candidate, 0, len(s.clientHashed))
	for n, h := range s.clientHashed {
		cands = append(cands, candidate{n, h})
	}
	s.mu.RUnlock()

	for _, c := range cands {
		if bcrypt.CompareHashAndPassword(c.hash, []byte(secret)) != nil {
			continue
		}
		s.mu.Lock()
		k := s.keys[c.name]
		if k != nil && bytes.Equal(k.hash, c.hash) {
			s.bySecret[sum] = k.name
			k.shas = append(k.shas, sum)
			s.keySecrets = append(s.keySecrets, secret)
			id, ok := s.keyOwnerLocked(k)
			s.mu.Unlock()
			return id, ok
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	if s.hashedGen == gen {
		if len(s.negative) > 1<<14 {
			clear(s.negative)
		}
		s.negative[sum] = gen
	}
	s.mu.Unlock()
	return identity{}, false
}

// keyOwnerLocked: a key acts as its user with the user's own current groups, and keeps
// working when the user is disabled (rows 51 and 56). A key whose user does not exist
// does not authenticate (not recorded: both generations' key middleware looks the user
// up and refuses the key without one).
func (s *Server) keyOwnerLocked(k *keyRecord) (identity, bool) {
	u := s.users[k.username]
	if u == nil {
		return identity{}, false
	}
	return identity{username: k.username, groups: u.groups}, true
}

// handleCreate is POST (and, on 7.x, PUT) on the collection.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, id identity, put bool) {
	if s.opts.Generation == Generation6 {
		// 6.x decodes the plain core/v2 form; anything else (the wrapped form, a
		// client-chosen metadata.name) is ignored, so a wrapped body has no username.
		var req struct {
			Username string `json:"username"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError) // "unexpected EOF"
			return
		}
		k, err := s.grant6(req.Username, id.username, true)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Location", routeKeys+"/"+url.PathEscape(k.Name))
		w.WriteHeader(http.StatusCreated)
		return
	}

	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var wrapper struct {
		Type       string          `json:"type"`
		APIVersion string          `json:"api_version"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(body, &wrapper); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError) // "unexpected end of JSON input"
		return
	}
	var missing []string
	if wrapper.APIVersion == "" {
		missing = append(missing, "api_version")
	}
	if wrapper.Type == "" {
		missing = append(missing, "type")
	}
	if len(wrapper.Spec) == 0 || string(wrapper.Spec) == "null" {
		missing = append(missing, "spec")
	}
	if len(missing) > 0 {
		http.Error(w, fmt.Sprintf("missing required resource identifying fields: %v. could be using an unsupported legacy request format", missing), http.StatusInternalServerError)
		return
	}
	if wrapper.Type != "APIKey" {
		pkg := wrapper.APIVersion
		if i := strings.LastIndex(pkg, "/"); i >= 0 {
			pkg = pkg[i+1:]
		}
		http.Error(w, fmt.Sprintf("type described in the request body unexpected: expected *v2.APIKey, got *%s.%s", pkg, wrapper.Type), http.StatusInternalServerError)
		return
	}
	var spec struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Username string `json:"username"`
		// Not recorded (a guess for a later feature): base64 of a bcrypt hash of a
		// secret the client generated. The server then never sees the secret.
		Hash []byte `json:"hash"`
	}
	if err := json.Unmarshal(wrapper.Spec, &spec); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// 7.0.0-alpha1 takes any name, even "a/b" or "has space" (measured 2026-12-01: 201, and
	// the key is listed), and keeps the client's labels beside its own (measured likewise).
	if len(spec.Hash) > 0 {
		if _, err := bcrypt.Cost(spec.Hash); err != nil {
			// Not recorded: how a real server would reject a malformed hash.
			http.Error(w, "hash is not a bcrypt hash", http.StatusBadRequest)
			return
		}
	} else {
		spec.Hash = nil
	}
	k, err := s.grant7(grant7Request{
		name: spec.Metadata.Name, username: spec.Username, createdBy: id.username,
		hash: spec.Hash, labels: spec.Metadata.Labels, replace: put, checkUser: true,
	})
	if errors.Is(err, errNoUser) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Location", routeKeys+"/"+url.PathEscape(k.Name))
	writeJSONLine(w, http.StatusCreated, textPlain, struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}{k.Name, k.Key})
}

// handleList is GET on the collection, sorted by name.
//
// Pagination is not in the wire records; it follows Sensu's documented API (a guess as
// to details): ?limit=N returns at most N keys and, when more remain, a Sensu-Continue
// header whose opaque value, passed back as ?continue=, resumes after the last key.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, _ identity) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "invalid limit", http.StatusBadRequest)
			return
		}
		limit = n
	}
	after := ""
	if c := q.Get("continue"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) == 0 {
			http.Error(w, "invalid continue token", http.StatusBadRequest)
			return
		}
		after = string(b)
	}

	var items [][]byte
	next, more := "", false
	s.withSortedNames(func(names []string) {
		start := 0
		if after != "" {
			start = sort.Search(len(names), func(i int) bool { return names[i] > after })
		}
		end := len(names)
		if limit > 0 && start+limit < len(names) {
			end, more = start+limit, true
			next = base64.RawURLEncoding.EncodeToString([]byte(names[end-1]))
		}
		items = make([][]byte, 0, end-start)
		for _, n := range names[start:end] {
			items = append(items, s.keys[n].wire)
		}
	})

	if more {
		w.Header().Set("Sensu-Continue", next)
	}
	if s.opts.Generation == Generation6 || len(items) == 0 {
		// 6.x sends the list with a Content-Length, as does 7.x for an empty list.
		writeRaw(w, http.StatusOK, appJSON, string(joinList(items)))
		return
	}
	// 7.x streams the list (chunked transfer encoding).
	w.Header().Set("Content-Type", appJSON)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_, _ = io.WriteString(w, "[")
	_ = rc.Flush()
	for i, it := range items {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = w.Write(it)
	}
	_, _ = io.WriteString(w, "]")
}

func joinList(items [][]byte) []byte {
	return append(append([]byte{'['}, bytes.Join(items, []byte{','})...), ']')
}

// handleGet is GET /apikeys/{name}.
func (s *Server) handleGet(w http.ResponseWriter, name string) {
	s.mu.RLock()
	k := s.keys[name]
	s.mu.RUnlock()
	if k == nil {
		keyNotFound(w)
		return
	}
	w.Header().Set("Etag", `"`+k.etag+`"`)
	writeRaw(w, http.StatusOK, appJSON, string(k.wire))
}

// handleDelete is DELETE /apikeys/{name}.
func (s *Server) handleDelete(w http.ResponseWriter, name string) {
	if !s.RevokeAPIKey(name) {
		keyNotFound(w)
		return
	}
	w.Header().Set("Content-Type", appJSON)
	w.WriteHeader(http.StatusNoContent)
}

// KeySecrets returns every API key secret the server has known, revoked keys included: the
// keys it generated, and secrets of client-hashed 7.x keys that authenticated. Tests scan
// output for them.
func (s *Server) KeySecrets() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.keySecrets...)
}

// APIKeys returns the stored keys sorted by name.
func (s *Server) APIKeys() []APIKey {
	var out []APIKey
	s.withSortedNames(func(names []string) {
		out = make([]APIKey, 0, len(names))
		for _, n := range names {
			out = append(out, s.keys[n].public())
		}
	})
	return out
}

// GrantAPIKey creates a key for username as if an admin granted it outside Terraform.
// Unlike the API it does not require the user to exist; such a key is listed but does
// not authenticate.
func (s *Server) GrantAPIKey(username string) APIKey {
	var k APIKey
	var err error
	if s.opts.Generation == Generation6 {
		k, err = s.grant6(username, AdminUsername, false)
	} else {
		k, err = s.grant7(grant7Request{username: username, createdBy: AdminUsername})
	}
	if err != nil {
		// Only bcrypt can fail here, and not with a 36-byte secret and a clamped cost.
		return APIKey{}
	}
	return k
}

// RevokeAPIKey deletes a key out of band; it reports whether the key existed.
func (s *Server) RevokeAPIKey(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[name]
	if k == nil {
		return false
	}
	delete(s.keys, name)
	s.unindexLocked(k)
	s.sortedOK = false
	return true
}

// KeyAuthenticates reports whether "Authorization: Key <key>" would be accepted.
func (s *Server) KeyAuthenticates(key string) bool {
	if key == "" {
		return false
	}
	_, ok := s.keyIdentity(key)
	return ok
}

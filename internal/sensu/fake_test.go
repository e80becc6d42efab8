package sensu

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fakeSensu is a small stateful Sensu backend for flows (login, refresh, grants) that the
// scripted servers cannot express. It behaves as the wire records describe: tokens expire
// at whole Unix seconds, 6.x refresh tokens are single-use, 6.x keys are their own names,
// 7.x grants answer {"name","key"} and store a client-supplied name and bcrypt hash.
type fakeSensu struct {
	t   *testing.T
	gen Generation
	ttl time.Duration
	// expiresAtSkew shifts the expires_at it reports from the tokens' real expiry, like a
	// server whose clock is off.
	expiresAtSkew time.Duration
	srv           *httptest.Server

	// intercept, when set, may answer a request itself (a fault); route is as in counts.
	intercept func(w http.ResponseWriter, r *http.Request, route string) bool

	mu       sync.Mutex
	counts   map[string]int
	rejected int                  // API requests answered 401
	access   map[string]time.Time // access token → expiry
	refresh  map[string]string    // refresh token → the access token it came with
	keys     map[string]fakeKey   // name → key
	secrets  []string             // every token and key handed out
	seq      int
	pageSize int // 0: the client's limit decides
}

type fakeKey struct {
	name, key, username string
	hash                []byte // 7.x: a client-supplied bcrypt hash (key is then empty)
	createdAt           int64
}

func newFakeSensu(t *testing.T, gen Generation) *fakeSensu {
	t.Helper()
	f := &fakeSensu{
		t: t, gen: gen, ttl: 300 * time.Second,
		counts:  map[string]int{},
		access:  map[string]time.Time{},
		refresh: map[string]string{},
		keys:    map[string]fakeKey{},
	}
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.counts[pattern]++
			intercept := f.intercept
			f.mu.Unlock()
			if intercept != nil && intercept(w, r, pattern) {
				return
			}
			h(w, r)
		})
	}
	handle("GET /version", f.version)
	handle("GET /auth", f.login)
	handle("POST /auth/token", f.refreshToken)
	handle("POST /api/core/v2/apikeys", f.api(f.grant))
	handle("PUT /api/core/v2/apikeys", f.api(f.grant))
	handle("GET /api/core/v2/apikeys", f.api(f.list))
	handle("GET /api/core/v2/apikeys/{name}", f.api(f.get))
	handle("DELETE /api/core/v2/apikeys/{name}", f.api(f.revoke))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSensu) URL() string { return f.srv.URL }

func (f *fakeSensu) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[route]
}

func (f *fakeSensu) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.counts {
		n += c
	}
	return n
}

func (f *fakeSensu) rejections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

func (f *fakeSensu) setIntercept(h func(w http.ResponseWriter, r *http.Request, route string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = h
}

// issuedSecrets is every token and key the fake handed out.
func (f *fakeSensu) issuedSecrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.secrets)
}

func (f *fakeSensu) keyCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// expireAccessTokens makes Sensu reject every access token issued so far (as if they had
// expired early), keeping the refresh tokens valid.
func (f *fakeSensu) expireAccessTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok := range f.access {
		f.access[tok] = time.Unix(0, 0)
	}
}

// forgetRefreshTokens makes every refresh token issued so far unusable (used elsewhere).
func (f *fakeSensu) forgetRefreshTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.refresh)
}

// addTokens registers an externally obtained token pair (an access-token config).
func (f *fakeSensu) addTokens(access, refresh string, expires time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.access[access] = expires
	if refresh != "" {
		f.refresh[refresh] = access
	}
	f.secrets = append(f.secrets, access, refresh)
}

// addKey stores an API key for user and returns its secret.
func (f *fakeSensu) addKey(user string) fakeKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newKeyLocked(user)
}

func (f *fakeSensu) newKeyLocked(user string) fakeKey {
	f.seq++
	k := fakeKey{key: uuid(), username: user, createdAt: time.Now().Unix()}
	k.name = k.key
	if f.gen >= Generation7 {
		k.name = fmt.Sprintf("pet-name-%03d", f.seq)
	}
	f.keys[k.name] = k
	f.secrets = append(f.secrets, k.key)
	return k
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func token(kind string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.%s-%x.sig", kind, b)
}

func (f *fakeSensu) version(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", textPlain)
	if f.gen >= Generation7 {
		_, _ = io.WriteString(w, wireVersion7)
		return
	}
	_, _ = io.WriteString(w, wireVersion6)
}

func (f *fakeSensu) issueLocked(w http.ResponseWriter) {
	access, refresh := token("access"), token("refresh")
	// Like a JWT "exp" claim: whole seconds.
	expires := time.Unix(time.Now().Add(f.ttl).Unix(), 0)
	f.access[access] = expires
	f.refresh[refresh] = access
	f.secrets = append(f.secrets, access, refresh)
	w.Header().Set("Content-Type", appJSON)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": access, "expires_at": expires.Add(f.expiresAtSkew).Unix(), "refresh_token": refresh,
	})
}

func (f *fakeSensu) login(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		http.Error(w, "Request unauthorized", http.StatusUnauthorized)
		return
	}
	if user != testUsername || pass != testPassword {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issueLocked(w)
}

func (f *fakeSensu) refreshToken(w http.ResponseWriter, r *http.Request) {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, "Request unauthorized", http.StatusUnauthorized)
		return
	}
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "EOF", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, known := f.access[access]; !known {
		http.Error(w, "Request unauthorized", http.StatusUnauthorized)
		return
	}
	if _, valid := f.refresh[body.RefreshToken]; !valid {
		http.Error(w, "invalid access token", http.StatusBadRequest)
		return
	}
	if f.gen < Generation7 {
		delete(f.refresh, body.RefreshToken) // single-use on 6.x
	}
	f.issueLocked(w)
}

// api checks Bearer or Key credentials as Sensu's /api routes do.
func (f *fakeSensu) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		ok := false
		f.mu.Lock()
		if tok, found := strings.CutPrefix(authz, "Bearer "); found {
			exp, known := f.access[tok]
			ok = known && time.Now().Before(exp)
		} else if key, found := strings.CutPrefix(authz, "Key "); found {
			for _, k := range f.keys {
				ok = ok || k.key == key || (k.hash != nil && bcrypt.CompareHashAndPassword(k.hash, []byte(key)) == nil)
			}
		}
		if !ok {
			f.rejected++
		}
		f.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", textPlain)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, wireInvalidCredentials)
			return
		}
		h(w, r)
	}
}

func (f *fakeSensu) grant(w http.ResponseWriter, r *http.Request) {
	var username, name string
	var hash []byte
	if f.gen >= Generation7 {
		var body struct {
			Type       string `json:"type"`
			APIVersion string `json:"api_version"`
			Spec       struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
				Username string `json:"username"`
				Hash     []byte `json:"hash"`
			} `json:"spec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Type != "APIKey" || body.APIVersion != "core/v2" {
			http.Error(w, "missing required resource identifying fields", http.StatusInternalServerError)
			return
		}
		username, name, hash = body.Spec.Username, body.Spec.Metadata.Name, body.Spec.Hash
	} else {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		var body struct {
			Username string `json:"username"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "unexpected EOF", http.StatusInternalServerError)
			return
		}
		username = body.Username
	}
	if username != "admin" && username != "dev" {
		http.Error(w, "user does not exist", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	k := f.newKeyLocked(username)
	if name != "" && (r.Method == http.MethodPut || f.keys[name].name == "") {
		delete(f.keys, k.name)
		k.name = name
		if hash != nil {
			k.key, k.hash = "", hash
		}
		f.keys[name] = k
	}
	f.mu.Unlock()
	w.Header().Set("Location", apiKeysPath+"/"+k.name)
	if f.gen >= Generation7 {
		w.Header().Set("Content-Type", textPlain)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"name": k.name, "key": k.key})
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (f *fakeSensu) object(k fakeKey) any {
	spec := map[string]any{
		"metadata":   map[string]any{"name": k.name, "created_by": "admin"},
		"username":   k.username,
		"created_at": k.createdAt,
	}
	if f.gen >= Generation7 {
		spec["hash"] = k.hash
		if k.hash == nil {
			spec["hash"] = []byte("$2a$04$server-side-hash")
		}
		return map[string]any{"type": "APIKey", "api_version": "core/v2", "spec": spec}
	}
	return spec
}

func (f *fakeSensu) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	names := make([]string, 0, len(f.keys))
	for name := range f.keys {
		names = append(names, name)
	}
	slices.Sort(names)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if f.pageSize > 0 {
		limit = f.pageSize
	}
	start := 0
	if c := r.URL.Query().Get("continue"); c != "" {
		start, _ = strconv.Atoi(c)
	}
	end := len(names)
	if limit > 0 && start+limit < end {
		end = start + limit
		w.Header().Set("Sensu-Continue", strconv.Itoa(end))
	}
	objects := []any{}
	for _, name := range names[min(start, len(names)):end] {
		objects = append(objects, f.object(f.keys[name]))
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", appJSON)
	_ = json.NewEncoder(w).Encode(objects)
}

func (f *fakeSensu) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	k, ok := f.keys[r.PathValue("name")]
	f.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	w.Header().Set("Content-Type", appJSON)
	_ = json.NewEncoder(w).Encode(f.object(k))
}

func (f *fakeSensu) revoke(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	_, ok := f.keys[r.PathValue("name")]
	delete(f.keys, r.PathValue("name"))
	f.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", textPlain)
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, wireNotFound)
}

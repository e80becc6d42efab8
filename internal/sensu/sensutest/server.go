package sensutest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Generation selects which backend's wire behavior the fake reproduces.
type Generation int

const (
	Generation6 Generation = 6 // Sensu Go 6.x (wire-6.12.0.md)
	Generation7 Generation = 7 // Sensu Go 7.x (wire-7.0.0-alpha1.md)
)

// Built-in users: admin and agent as `sensu-backend init` creates them, and dev, the
// records' non-admin user (omitted with Options.NoDevUser).
const (
	AdminUsername = "admin"     // member of cluster-admins
	AdminPassword = "P@ssw0rd!" // password of AdminUsername
	AgentUsername = "agent"     // group system:agents
	AgentPassword = "P@ssw0rd!" // the backend seeds the agent with this password
	DevUsername   = "dev"       // group "dev", NOT a cluster admin
	DevPassword   = "P@ssw0rd!dev"
)

// clusterAdmins is the group the apikeys routes require.
const clusterAdmins = "cluster-admins"

// Options configure a Server. The zero value is a Sensu Go 6.x backend with the real
// token lifetimes.
type Options struct {
	Generation Generation    // default Generation6
	TokenTTL   time.Duration // access token lifetime, default 300s; 7.x refresh tokens do not expire
	// SessionGrace: a 6.x refresh works until TokenTTL + SessionGrace after the token pair was
	// issued, the lease of its login session; default 1m, as on 6.12.0.
	SessionGrace time.Duration
	Latency      time.Duration // added to every request before it is handled
	// BcryptCost is the cost of the bcrypt hashes the fake makes: 7.x keys and user
	// passwords. Default bcrypt.MinCost (real servers use 10; keep tests fast).
	BcryptCost int
	// NoDevUser starts without the built-in dev user, as a freshly initialised backend
	// (admin and agent only), so that a test can create dev itself (rows 34 and 40).
	NoDevUser bool
}

// Server is an in-memory fake of a Sensu Go backend's auth and API-key HTTP API. All
// methods are safe for concurrent use. The store (users, keys, tokens) lives as long as
// the Server value, across Close and Restart.
type Server struct {
	opts   Options
	secret []byte // HMAC key for token signatures

	mu           sync.RWMutex
	users        map[string]*user
	bindings     map[string]RoleBinding // by "namespace/name"
	lastHash     map[string][]byte      // AddUser's latest password and its hash
	keys         map[string]*keyRecord  // by name
	bySecret     map[[32]byte]string    // 7.x: sha256(secret) -> key name, for O(1) Key auth
	clientHashed map[string][]byte      // 7.x: names of keys whose hash the client supplied -> hash
	hashedGen    uint64                 // bumped whenever a client-hashed key is stored
	negative     map[[32]byte]uint64    // secrets known not to match any client hash, at hashedGen
	sorted       []string               // key names in order; valid when sortedOK
	sortedOK     bool
	access       map[string]*accessToken
	refresh      map[string]*refreshToken
	issued       []string
	keySecrets   []string // see KeySecrets

	cmu    sync.Mutex
	counts map[string]int
	logins int

	fmu      sync.Mutex
	faults   []*faultState
	nfaults  atomic.Int32
	inflight atomic.Int64 // requests being handled, so tests can wait for abandoned ones
	panics   atomic.Int64 // recovered handler panics; tests assert this stays 0

	lmu  sync.Mutex
	hs   *http.Server
	addr string // bound address, reused by Restart
	cert *tls.Certificate
}

type user struct {
	name     string
	hash     []byte   // bcrypt of the password, at Options.BcryptCost; nil: cannot log in
	groups   []string // replaced, never mutated
	disabled bool
}

// New returns a Server that is not listening yet, with the built-in users.
func New(opts Options) *Server {
	if opts.Generation != Generation7 {
		opts.Generation = Generation6
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 300 * time.Second
	}
	if opts.SessionGrace <= 0 {
		opts.SessionGrace = time.Minute
	}
	if opts.Latency < 0 {
		opts.Latency = 0
	}
	if opts.BcryptCost < bcrypt.MinCost {
		opts.BcryptCost = bcrypt.MinCost
	}
	if opts.BcryptCost > bcrypt.MaxCost {
		opts.BcryptCost = bcrypt.MaxCost
	}
	s := &Server{
		opts:         opts,
		secret:       make([]byte, 32),
		users:        map[string]*user{},
		bindings:     map[string]RoleBinding{},
		keys:         map[string]*keyRecord{},
		bySecret:     map[[32]byte]string{},
		clientHashed: map[string][]byte{},
		negative:     map[[32]byte]uint64{},
		access:       map[string]*accessToken{},
		refresh:      map[string]*refreshToken{},
		counts:       map[string]int{},
	}
	_, _ = rand.Read(s.secret)
	s.AddUser(AdminUsername, AdminPassword, clusterAdmins)
	s.AddUser(AgentUsername, AgentPassword, "system:agents")
	if !opts.NoDevUser {
		s.AddUser(DevUsername, DevPassword, "dev")
	}
	return s
}

// NewTest starts a Server on 127.0.0.1:0 and closes it when the test ends.
func NewTest(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(opts)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("sensutest: start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves plain HTTP.
func (s *Server) Start(addr string) error { return s.start(addr, nil) }

// StartTLS is Start with HTTPS using cert. HTTP/2 is not offered, so that faults that
// drop the connection can hijack it.
func (s *Server) StartTLS(addr string, cert tls.Certificate) error { return s.start(addr, &cert) }

func (s *Server) start(addr string, cert *tls.Certificate) error {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.hs != nil {
		return errors.New("sensutest: server is already listening")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	s.cert = cert
	s.serveLocked(ln)
	return nil
}

func (s *Server) serveLocked(ln net.Listener) {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // no stray output from tests
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	if s.cert != nil {
		hs.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{*s.cert},
			NextProtos:   []string{"http/1.1"},
			MinVersion:   tls.VersionTLS12,
		}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	s.hs = hs
	go func() { _ = hs.Serve(ln) }()
}

// URL is the base URL, e.g. "http://127.0.0.1:PORT"; empty before the first Start.
func (s *Server) URL() string {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.addr == "" {
		return ""
	}
	if s.cert != nil {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// Close stops listening and drops all connections. The store is kept.
func (s *Server) Close() {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.closeLocked()
}

func (s *Server) closeLocked() {
	if s.hs != nil {
		_ = s.hs.Close()
		s.hs = nil
	}
}

// Restart is Close followed by listening again on the same address, as a backend
// restart looks to clients. Users, keys and tokens are kept.
func (s *Server) Restart() error {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.addr == "" {
		return errors.New("sensutest: Restart before Start")
	}
	s.closeLocked()
	var ln net.Listener
	var err error
	// The old socket may take a moment to be released.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", s.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	s.serveLocked(ln)
	return nil
}

// AddUser adds or replaces a user; the group "cluster-admins" makes an admin. Unlike the
// API it does not validate the name or password; a password over bcrypt's 72 bytes
// cannot log in.
func (s *Server) AddUser(username, password string, groups ...string) {
	s.mu.Lock()
	hash := s.lastHash[password] // tests add many users with one password: hash it once
	s.mu.Unlock()
	if hash == nil {
		hash, _ = bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	}
	u := &user{name: username, hash: hash, groups: append([]string(nil), groups...)}
	s.mu.Lock()
	s.users[username] = u
	s.lastHash = map[string][]byte{password: hash}
	s.mu.Unlock()
}

// SetUserDisabled disables or re-enables a user, as DELETE /users/{name} and
// PUT /users/{name}/reinstate do: a disabled user cannot log in, but its API keys and
// already issued access tokens keep working. It reports whether the user exists.
func (s *Server) SetUserDisabled(username string, disabled bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if ok {
		cp := *u
		cp.disabled = disabled
		s.users[username] = &cp
	}
	return ok
}

// IssuedSecrets returns every access and refresh token ever issued, for tests that scan
// output for leaked secrets.
func (s *Server) IssuedSecrets() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.issued...)
}

// Requests returns how many requests each route received, keyed like
// "POST /api/core/v2/apikeys" or "GET /api/core/v2/apikeys/{name}". Requests to unknown
// paths count under "<METHOD> /{unknown}". Control routes are not counted.
func (s *Server) Requests() map[string]int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetCounters zeroes the request and login counters.
func (s *Server) ResetCounters() {
	s.cmu.Lock()
	s.counts = map[string]int{}
	s.logins = 0
	s.cmu.Unlock()
}

func (s *Server) count(route string) {
	s.cmu.Lock()
	s.counts[route]++
	s.cmu.Unlock()
}

// Handler returns the full handler, including the test-only /_sensutest/ control routes.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Route patterns, as they appear in Requests() and Fault.Route.
const (
	routeVersion   = "/version"
	routeHealth    = "/health"
	routeAuth      = "/auth"
	routeToken     = "/auth/token"
	routeTest      = "/auth/test"
	routeKeys      = "/api/core/v2/apikeys"
	routeKey       = "/api/core/v2/apikeys/{name}"
	routeChecks    = "/api/core/v2/namespaces/{namespace}/checks"
	routeUsers     = "/api/core/v2/users"
	routeUser      = "/api/core/v2/users/{name}"
	routeReinstate = "/api/core/v2/users/{name}/reinstate"
	routeBindings  = "/api/core/v2/namespaces/{namespace}/rolebindings"
	routeBinding   = "/api/core/v2/namespaces/{namespace}/rolebindings/{name}"
	routeUnknown   = "/{unknown}"
	controlPrefix  = "/_sensutest/"
)

type route struct {
	pattern   string
	path      string // literal (decoded) path, for faults aimed at one key
	name      string // {name}
	namespace string // {namespace}
}

// segment decodes one escaped path segment; ok is false for an empty or multi-segment one.
func segment(escaped string) (string, bool) {
	if escaped == "" || strings.Contains(escaped, "/") {
		return "", false
	}
	s, err := url.PathUnescape(escaped)
	return s, err == nil && s != ""
}

func matchRoute(r *http.Request) route {
	p := r.URL.EscapedPath()
	rt := route{pattern: routeUnknown, path: r.URL.Path}
	switch p {
	case routeVersion, routeHealth, routeAuth, routeToken, routeTest, routeKeys, routeUsers:
		rt.pattern = p
		return rt
	}
	if rest, ok := strings.CutPrefix(p, routeKeys+"/"); ok {
		if name, ok := segment(rest); ok {
			rt.pattern, rt.name = routeKey, name
		}
		return rt
	}
	if rest, ok := strings.CutPrefix(p, routeUsers+"/"); ok {
		head, sub, hasSub := strings.Cut(rest, "/")
		if name, ok := segment(head); ok && (!hasSub || sub == "reinstate") {
			rt.pattern, rt.name = routeUser, name
			if hasSub {
				rt.pattern = routeReinstate
			}
		}
		return rt
	}
	if rest, ok := strings.CutPrefix(p, "/api/core/v2/namespaces/"); ok {
		head, tail, _ := strings.Cut(rest, "/")
		ns, ok := segment(head)
		if !ok {
			return rt
		}
		rt.namespace = ns
		switch kind, name, hasName := strings.Cut(tail, "/"); {
		case kind == "checks" && !hasName:
			rt.pattern = routeChecks
		case kind == "rolebindings" && !hasName:
			rt.pattern = routeBindings
		case kind == "rolebindings":
			if n, ok := segment(name); ok {
				rt.pattern, rt.name = routeBinding, n
			}
		}
	}
	return rt
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel passed to panic
				panic(v)
			}
			s.panics.Add(1)
			http.Error(w, "sensutest: internal error", http.StatusInternalServerError)
		}
	}()
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.serveControl(w, r)
		return
	}
	rt := matchRoute(r)
	s.count(r.Method + " " + rt.pattern)
	if s.opts.Latency > 0 {
		bufferBody(r)
		if !sleepCtx(r.Context(), s.opts.Latency) {
			return
		}
	}
	if s.nfaults.Load() > 0 {
		if f, ok := s.takeFault(r.Method, rt); ok {
			s.applyFault(w, r, rt, f)
			return
		}
	}
	s.dispatch(w, r, rt)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, rt route) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	m := r.Method
	switch rt.pattern {
	case routeVersion:
		if m != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		s.handleVersion(w)
	case routeAuth:
		if m != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		s.handleLogin(w, r)
	case routeToken:
		if m != http.MethodPost {
			methodNotAllowed(w)
			return
		}
		s.handleRefresh(w, r)
	case routeTest:
		if m != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		s.handleAuthTest(w, r)
	case routeKeys:
		switch {
		case m == http.MethodGet:
			s.withAdmin(w, r, s.handleList)
		case m == http.MethodPost:
			s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, id identity) { s.handleCreate(w, r, id, false) })
		case m == http.MethodPut && s.opts.Generation == Generation7:
			s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, id identity) { s.handleCreate(w, r, id, true) })
		default:
			methodNotAllowed(w)
		}
	case routeKey:
		switch m {
		case http.MethodGet:
			s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, _ identity) { s.handleGet(w, rt.name) })
		case http.MethodDelete:
			s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, _ identity) { s.handleDelete(w, rt.name) })
		default:
			methodNotAllowed(w)
		}
	case routeUsers:
		switch m {
		case http.MethodGet:
			s.withAdmin(w, r, s.handleUserList)
		case http.MethodPost:
			s.withAdmin(w, r, s.handleUserCreate)
		default:
			methodNotAllowed(w)
		}
	case routeUser:
		switch m {
		case http.MethodGet:
			s.handleUserGet(w, r, rt.name)
		case http.MethodPut:
			s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, _ identity) { s.handleUserReplace(w, r, rt.name) })
		case http.MethodDelete:
			s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, _ identity) { s.handleUserDisabled(w, r, rt.name, true) })
		default:
			methodNotAllowed(w)
		}
	case routeReinstate:
		if m != http.MethodPut {
			methodNotAllowed(w)
			return
		}
		s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, _ identity) { s.handleUserDisabled(w, r, rt.name, false) })
	case routeBindings:
		if m != http.MethodPost { // listing role bindings is not modeled
			methodNotAllowed(w)
			return
		}
		s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, _ identity) {
			s.handleRoleBindingCreate(w, r, rt.namespace)
		})
	case routeBinding:
		if m != http.MethodDelete {
			methodNotAllowed(w)
			return
		}
		s.withAdmin(w, r, func(w http.ResponseWriter, r *http.Request, _ identity) {
			s.handleRoleBindingDelete(w, r, rt.namespace, rt.name)
		})
	case routeChecks:
		if m != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		id, ok := s.authenticate(w, r)
		switch {
		case !ok:
		case !s.mayReadChecks(id, rt.namespace):
			forbidden(w)
		default:
			writeRaw(w, http.StatusOK, appJSON, "[]")
		}
	default:
		// Includes /health: 7.0.0-alpha1 answers it with this 404. 6.x has a /health
		// route, but it is not in the record, so the fake does not model it.
		routeNotFound(w)
	}
}

func (s *Server) handleVersion(w http.ResponseWriter) {
	body := `{"etcd":{"etcdserver":"3.5.15","etcdcluster":"3.5.0"},"sensu_backend":"6.12.0","api_groups":{"core/v2":"v2.20.0","core/v3":"v3.9.0"}}` + "\n"
	if s.opts.Generation == Generation7 {
		body = `{"etcd":null,"sensu_backend":"7.0.0-alpha1","api_groups":{"core/v2":"v2.20.0-alpha1","core/v3":"v3.9.0-alpha2"}}` + "\n"
	}
	writeRaw(w, http.StatusOK, textPlain, body)
}

// maxBody bounds request bodies; nothing the fake accepts comes close.
const maxBody = 1 << 20

// bufferBody reads the request body into memory before the handler waits. net/http only
// watches the connection (and cancels the request context when the client goes away)
// once the body has been read, so without this a waiting POST would never notice.
func bufferBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	_ = r.Body.Close()
	if err != nil {
		r.Body = io.NopCloser(&errReader{err})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// sleepCtx waits d unless ctx ends first; it reports whether the wait completed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// withSortedNames calls f with the key names in order while holding the store lock; f
// may read s.keys. The read lock suffices unless the order has to be rebuilt.
func (s *Server) withSortedNames(f func(names []string)) {
	s.mu.RLock()
	if s.sortedOK {
		defer s.mu.RUnlock()
		f(s.sorted)
		return
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.sortedNamesLocked())
}

// sortedNamesLocked returns the key names in order, rebuilding the cache after changes.
// The caller holds s.mu for writing.
func (s *Server) sortedNamesLocked() []string {
	if !s.sortedOK {
		names := make([]string, 0, len(s.keys))
		for n := range s.keys {
			names = append(names, n)
		}
		sort.Strings(names)
		s.sorted, s.sortedOK = names, true
	}
	return s.sorted
}

package sensutest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// This file walks every auth, apikeys and users row of the status tables in
// wire-6.12.0.md and wire-7.0.0-alpha1.md against a started server, using plain net/http.
// The server starts without the built-in dev user, which the walk creates as recorded.

const (
	wantUnauthorized   = "Unauthorized\n"
	wantReqUnauth      = "Request unauthorized\n"
	wantEOF            = "EOF\n"
	wantNoUser         = "user does not exist\n"
	wantVersion6       = `{"etcd":{"etcdserver":"3.5.15","etcdcluster":"3.5.0"},"sensu_backend":"6.12.0","api_groups":{"core/v2":"v2.20.0","core/v3":"v3.9.0"}}` + "\n"
	wantVersion7       = `{"etcd":null,"sensu_backend":"7.0.0-alpha1","api_groups":{"core/v2":"v2.20.0-alpha1","core/v3":"v3.9.0-alpha2"}}` + "\n"
	wantLegacyBody     = "missing required resource identifying fields: [api_version type spec]. could be using an unsupported legacy request format\n"
	wantWrongType      = "type described in the request body unexpected: expected *v2.APIKey, got *v2.User\n"
	wantBadJSON7       = "unexpected end of JSON input\n"
	wantBadJSON6       = "unexpected EOF\n"
	wantInvalidToken   = "invalid access token\n"
	pathKeys           = "/api/core/v2/apikeys"
	pathChecks         = "/api/core/v2/namespaces/default/checks"
	wrongKey           = "11111111-2222-3333-4444-555555555555"
	wrappedAdminNoName = `{"type":"APIKey","api_version":"core/v2","metadata":{},"spec":{"username":"admin"}}`

	// Literal bodies from the records (not the package's constants, so a wrong constant
	// cannot hide).
	recBadCredentials     = `{"Code":5,"Message":"bad credentials"}`
	recInvalidCredentials = `{"Code":5,"Message":"invalid credentials"}`
	recForbidden          = `{"Code":4,"Message":"unauthorized to perform action"}`
	recKeyNotFound        = `{"message":"not found","code":2}`
	recRouteNotFound      = `{"code":2,"message":"not found"}` + "\n"
	recTextPlain          = "text/plain; charset=utf-8"
	recJSON               = "application/json"
)

var (
	uuidV4  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	petName = regexp.MustCompile(`^[a-z]+$`)
	etag6   = regexp.MustCompile(`^"[0-9a-f]{16}"$`)
	etag7   = regexp.MustCompile(`^[A-Za-z0-9+/]{27}$`)
)

type wireResp struct {
	status int
	header http.Header
	body   string
	length int64 // -1 when not known (chunked)
	te     []string
}

type wireState struct {
	srv               *Server
	access, refresh   string // first login
	access2, refresh2 string // after the first refresh
	devAccess         string
	keys              map[string]string // label -> key name
	secrets           map[string]string // label -> secret
	oldSecrets        map[string]string // label -> secret before an overwrite
	userEtag          string            // 6.x Etag of dev after the first disable
}

type wireRow struct {
	n       int
	step    string
	method  string
	path    func(*wireState) string
	auth    func(*wireState) string // nil: no Authorization header
	body    func(*wireState) string // nil: no body
	status  int
	ctype   string // expected Content-Type; "" means the header must be absent
	nosniff bool
	want    string // exact body, when check is nil
	check   func(t *testing.T, st *wireState, r wireResp)
}

func at(p string) func(*wireState) string   { return func(*wireState) string { return p } }
func text(b string) func(*wireState) string { return func(*wireState) string { return b } }
func basicAuth(u, p string) func(*wireState) string {
	return func(*wireState) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
}
func bearer(f func(*wireState) string) func(*wireState) string {
	return func(st *wireState) string { return "Bearer " + f(st) }
}
func keyAuth(f func(*wireState) string) func(*wireState) string {
	return func(st *wireState) string { return "Key " + f(st) }
}
func refreshBody(f func(*wireState) string) func(*wireState) string {
	return func(st *wireState) string { return `{"refresh_token":"` + f(st) + `"}` }
}
func keyPath(label string) func(*wireState) string {
	return func(st *wireState) string { return pathKeys + "/" + st.keys[label] }
}
func keyName(label string) func(*wireState) string {
	return func(st *wireState) string { return st.keys[label] }
}
func secret(label string) func(*wireState) string {
	return func(st *wireState) string { return st.secrets[label] }
}

var (
	adminBasic = basicAuth(AdminUsername, AdminPassword)
	access1    = bearer(func(st *wireState) string { return st.access })
	access2    = bearer(func(st *wireState) string { return st.access2 })
	devBearer  = bearer(func(st *wireState) string { return st.devAccess })
)

func doWire(t *testing.T, base, method, path, auth string, body *string) wireResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(*body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return wireResp{status: resp.StatusCode, header: resp.Header, body: string(b), length: resp.ContentLength, te: resp.TransferEncoding}
}

func runWire(t *testing.T, gen Generation, rows []wireRow) {
	srv := NewTest(t, Options{Generation: gen, NoDevUser: true})
	st := &wireState{srv: srv, keys: map[string]string{}, secrets: map[string]string{}, oldSecrets: map[string]string{}}
	for _, row := range rows {
		ok := t.Run(fmt.Sprintf("row%02d_%s", row.n, row.step), func(t *testing.T) {
			runRow(t, srv.URL(), st, row)
		})
		if !ok {
			t.Fatalf("row %d failed; later rows depend on it", row.n)
		}
	}
	if n := srv.panics.Load(); n != 0 {
		t.Fatalf("%d handler panics", n)
	}
}

func runRow(t *testing.T, base string, st *wireState, row wireRow) {
	t.Helper()
	auth := ""
	if row.auth != nil {
		auth = row.auth(st)
	}
	var body *string
	if row.body != nil {
		b := row.body(st)
		body = &b
	}
	r := doWire(t, base, row.method, row.path(st), auth, body)
	if r.status != row.status {
		t.Fatalf("status = %d, want %d (body %q)", r.status, row.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != row.ctype {
		t.Errorf("Content-Type = %q, want %q", got, row.ctype)
	}
	if got := r.header.Get("X-Content-Type-Options") == "nosniff"; got != row.nosniff {
		t.Errorf("nosniff header present = %v, want %v", got, row.nosniff)
	}
	if row.check != nil {
		row.check(t, st, r)
	} else if r.body != row.want {
		t.Errorf("body = %q, want %q", r.body, row.want)
	}
	if r.length >= 0 && r.length != int64(len(r.body)) {
		t.Errorf("Content-Length %d, body %d bytes", r.length, len(r.body))
	}
}

// checkTriple asserts a token response and hands the tokens to save.
func checkTriple(ttl time.Duration, save func(st *wireState, access, refresh string)) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		if !strings.HasSuffix(r.body, "}\n") {
			t.Errorf("token body should end with a newline: %q", r.body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.body), &m); err != nil {
			t.Fatal(err)
		}
		if got := sortedKeys(m); !slices.Equal(got, []string{"access_token", "expires_at", "refresh_token"}) {
			t.Fatalf("token body keys %v", got)
		}
		var tr struct {
			Access  string `json:"access_token"`
			Exp     int64  `json:"expires_at"`
			Refresh string `json:"refresh_token"`
		}
		if err := json.Unmarshal([]byte(r.body), &tr); err != nil {
			t.Fatal(err)
		}
		want := time.Now().Add(ttl).Unix()
		if tr.Exp < want-5 || tr.Exp > want+5 {
			t.Errorf("expires_at %d, want about %d", tr.Exp, want)
		}
		for _, tok := range []string{tr.Access, tr.Refresh} {
			assertJWTLike(t, tok)
		}
		if tr.Access == tr.Refresh {
			t.Error("access and refresh tokens are equal")
		}
		if save != nil {
			save(st, tr.Access, tr.Refresh)
		}
	}
}

func assertJWTLike(t *testing.T, tok string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not three segments", tok)
	}
	for _, p := range parts {
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil || p == "" {
			t.Fatalf("token segment %q is not base64url: %v", p, err)
		}
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(hdr) != `{"alg":"HS256","typ":"JWT"}` {
		t.Errorf("JWT header %s", hdr)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkLocation6 asserts a 6.x grant (UUID name in Location) and records it.
func checkLocation6(label, notName string) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		if r.body != "" || r.length != 0 {
			t.Errorf("6.x grant body should be empty, got %q (length %d)", r.body, r.length)
		}
		name, ok := strings.CutPrefix(r.header.Get("Location"), pathKeys+"/")
		if !ok || !uuidV4.MatchString(name) || name == notName {
			t.Fatalf("Location %q is not %s/<uuid v4>", r.header.Get("Location"), pathKeys)
		}
		st.keys[label], st.secrets[label] = name, name
	}
}

// checkGrant7 asserts a 7.x grant answer and records it; wantName "" means a pet name.
func checkGrant7(label, wantName, notName string) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		var g struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		}
		if err := json.Unmarshal([]byte(r.body), &g); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"name":%q,"key":%q}`+"\n", g.Name, g.Key); r.body != want {
			t.Errorf("body %q, want exactly %q", r.body, want)
		}
		if wantName != "" && g.Name != wantName {
			t.Errorf("name %q, want %q", g.Name, wantName)
		}
		if wantName == "" && !petName.MatchString(g.Name) {
			t.Errorf("name %q is not a pet name", g.Name)
		}
		if g.Name == notName {
			t.Errorf("name %q should not be %q", g.Name, notName)
		}
		if !uuidV4.MatchString(g.Key) {
			t.Errorf("key %q is not a UUID v4", g.Key)
		}
		if got := r.header.Get("Location"); got != pathKeys+"/"+g.Name {
			t.Errorf("Location %q", got)
		}
		for l, s := range st.secrets {
			if s == g.Key {
				t.Errorf("secret reused from %s", l)
			}
		}
		if old, ok := st.secrets[label]; ok {
			st.oldSecrets[label] = old
		}
		st.keys[label], st.secrets[label] = g.Name, g.Key
	}
}

// checkList6 asserts the 6.x list body byte for byte against the store.
func checkList6(labels ...string) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		if r.length < 0 {
			t.Error("6.x list should have a Content-Length")
		}
		var names []string
		for _, l := range labels {
			names = append(names, st.keys[l])
		}
		sort.Strings(names)
		var items []string
		for _, n := range names {
			items = append(items, expected6(t, st, n))
		}
		if want := "[" + strings.Join(items, ",") + "]"; r.body != want {
			t.Errorf("list body\n got %s\nwant %s", r.body, want)
		}
	}
}

func expected6(t *testing.T, st *wireState, name string) string {
	t.Helper()
	for _, k := range st.srv.APIKeys() {
		if k.Name == name {
			return fmt.Sprintf(`{"metadata":{"name":%q,"created_by":%q},"username":%q,"created_at":%d}`, k.Name, k.CreatedBy, k.Username, k.CreatedAt.Unix())
		}
	}
	t.Fatalf("key %s not in store", name)
	return ""
}

func checkGet6(label string) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		if !etag6.MatchString(r.header.Get("Etag")) {
			t.Errorf("Etag %q", r.header.Get("Etag"))
		}
		if want := expected6(t, st, st.keys[label]); r.body != want {
			t.Errorf("body\n got %s\nwant %s", r.body, want)
		}
	}
}

// check7Item asserts the shape of one wrapped 7.x key and returns its name and etag.
func check7Item(t *testing.T, st *wireState, raw json.RawMessage) (name, etag string) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(top); !slices.Equal(got, []string{"api_version", "spec", "type"}) {
		t.Fatalf("item keys %v", got)
	}
	var v struct {
		Type       string `json:"type"`
		APIVersion string `json:"api_version"`
		Spec       struct {
			Metadata struct {
				Name        string            `json:"name"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				CreatedBy   string            `json:"created_by"`
			} `json:"metadata"`
			Username  string `json:"username"`
			CreatedAt int64  `json:"created_at"`
			Hash      []byte `json:"hash"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var spec map[string]json.RawMessage
	_ = json.Unmarshal(top["spec"], &spec)
	if got := sortedKeys(spec); !slices.Equal(got, []string{"created_at", "hash", "metadata", "username"}) {
		t.Errorf("spec keys %v", got)
	}
	var meta map[string]json.RawMessage
	_ = json.Unmarshal(spec["metadata"], &meta)
	if got := sortedKeys(meta); !slices.Equal(got, []string{"annotations", "created_by", "labels", "name"}) {
		t.Errorf("metadata keys %v", got)
	}
	if v.Type != "APIKey" || v.APIVersion != "core/v2" {
		t.Errorf("type %q api_version %q", v.Type, v.APIVersion)
	}
	md := v.Spec.Metadata
	if got := sortedKeys(md.Labels); !slices.Equal(got, []string{"sensu.io/created_at", "sensu.io/updated_at"}) {
		t.Errorf("labels %v", md.Labels)
	}
	for _, l := range md.Labels {
		ts, err := time.Parse(time.RFC3339Nano, l)
		if err != nil || !strings.HasSuffix(l, "Z") || time.Since(ts) > time.Minute {
			t.Errorf("label time %q: %v", l, err)
		}
	}
	if got := sortedKeys(md.Annotations); !slices.Equal(got, []string{"sensu.io/etag"}) || !etag7.MatchString(md.Annotations["sensu.io/etag"]) {
		t.Errorf("annotations %v", md.Annotations)
	}
	if md.CreatedBy != AdminUsername || v.Spec.Username == "" || time.Since(time.Unix(v.Spec.CreatedAt, 0)) > time.Minute {
		t.Errorf("created_by %q username %q created_at %d", md.CreatedBy, v.Spec.Username, v.Spec.CreatedAt)
	}
	if _, err := bcrypt.Cost(v.Spec.Hash); err != nil {
		t.Errorf("hash is not base64 of a bcrypt hash: %v", err)
	}
	for l, n := range st.keys {
		if n == md.Name {
			if err := bcrypt.CompareHashAndPassword(v.Spec.Hash, []byte(st.secrets[l])); err != nil {
				t.Errorf("hash of %s does not match its secret", n)
			}
		}
	}
	if strings.Contains(string(raw), `"key"`) {
		t.Error("7.x must not return the secret")
	}
	return md.Name, md.Annotations["sensu.io/etag"]
}

func checkList7(labels ...string) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		if r.length != -1 || !slices.Contains(r.te, "chunked") {
			t.Errorf("7.x list should be chunked: length %d, transfer-encoding %v", r.length, r.te)
		}
		var items []json.RawMessage
		if err := json.Unmarshal([]byte(r.body), &items); err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, l := range labels {
			want = append(want, st.keys[l])
		}
		sort.Strings(want)
		for _, it := range items {
			n, _ := check7Item(t, st, it)
			got = append(got, n)
		}
		if !slices.Equal(got, want) {
			t.Errorf("listed %v, want %v (sorted)", got, want)
		}
	}
}

func checkGet7(label string) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		name, etag := check7Item(t, st, json.RawMessage(r.body))
		if name != st.keys[label] {
			t.Errorf("name %q", name)
		}
		if got := r.header.Get("Etag"); got != `"`+etag+`"` {
			t.Errorf("Etag header %q, annotation %q", got, etag)
		}
		if r.length < 0 {
			t.Error("GET should carry a Content-Length")
		}
	}
}

// checkUser asserts a GET of a user: the record's exact body; on 6.x an Etag derived from
// the content (rows 50 and 59 show the same one for the same body), none on 7.x.
func checkUser(gen Generation, want string) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		if r.body != want {
			t.Errorf("body\n got %s\nwant %s", r.body, want)
		}
		etag := r.header.Get("Etag")
		switch {
		case gen == Generation7 && etag != "":
			t.Errorf("7.x sends no Etag for a user, got %q", etag)
		case gen == Generation6 && !etag6.MatchString(etag):
			t.Errorf("Etag %q", etag)
		case gen == Generation6 && st.userEtag != "" && etag != st.userEtag:
			t.Errorf("Etag %q for the same user body as before (%q)", etag, st.userEtag)
		}
		if gen == Generation6 {
			st.userEtag = etag
		}
	}
}

// checkStoredUser asserts what the store holds after a create or replace.
func checkStoredUser(want User) func(*testing.T, *wireState, wireResp) {
	return func(t *testing.T, st *wireState, r wireResp) {
		t.Helper()
		if r.body != "" || r.length != 0 {
			t.Errorf("body %q (length %d), want an empty body", r.body, r.length)
		}
		got, ok := st.srv.User(want.Username)
		if !ok || got.Username != want.Username || got.Disabled != want.Disabled || !slices.Equal(got.Groups, want.Groups) {
			t.Errorf("stored user %+v (found %v), want %+v", got, ok, want)
		}
	}
}

const (
	devPlain     = `{"username":"dev","password":"P@ssw0rd!dev","groups":["dev"],"disabled":%t}`
	devWrapped   = `{"type":"User","api_version":"core/v2","metadata":{},"spec":` + devPlain + `}`
	pathDev      = "/api/core/v2/users/dev"
	pathBindings = "/api/core/v2/namespaces/default/rolebindings"
	wantLegacy7  = `{"message":"missing required resource identifying fields: [api_version type spec]. could be using an unsupported legacy request format","code":1}`
)

var (
	devLogin = basicAuth(DevUsername, DevPassword)
	devKey   = keyAuth(secret("dev"))
	devUser  = User{Username: "dev", Groups: []string{"dev"}}
	devOff   = User{Username: "dev", Groups: []string{"dev"}, Disabled: true}
)

func devBody(wrapped, disabled bool) func(*wireState) string {
	if wrapped {
		return text(fmt.Sprintf(devWrapped, disabled))
	}
	return text(fmt.Sprintf(devPlain, disabled))
}

func TestWire6(t *testing.T) {
	ttl := 300 * time.Second
	adminKey := keyPath("admin")
	runWire(t, Generation6, []wireRow{
		{n: 1, step: "version", method: "GET", path: at("/version"), status: 200, ctype: recTextPlain, want: wantVersion6},
		{n: 2, step: "login", method: "GET", path: at("/auth"), auth: adminBasic, status: 200, ctype: recJSON,
			check: checkTriple(ttl, func(st *wireState, a, r string) { st.access, st.refresh = a, r })},
		{n: 3, step: "login_wrong_password", method: "GET", path: at("/auth"), auth: basicAuth("admin", "wrong"), status: 401, ctype: recTextPlain, nosniff: true, want: wantUnauthorized},
		{n: 4, step: "login_no_credentials", method: "GET", path: at("/auth"), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 5, step: "login_unknown_user", method: "GET", path: at("/auth"), auth: basicAuth("nosuchuser", "whatever"), status: 401, ctype: recTextPlain, nosniff: true, want: wantUnauthorized},
		{n: 6, step: "refresh", method: "POST", path: at("/auth/token"), auth: access1, body: refreshBody(func(st *wireState) string { return st.refresh }), status: 200, ctype: recJSON,
			check: checkTriple(ttl, func(st *wireState, a, r string) { st.access2, st.refresh2 = a, r })},
		{n: 7, step: "refresh_reuse", method: "POST", path: at("/auth/token"), auth: access1, body: refreshBody(func(st *wireState) string { return st.refresh }), status: 400, ctype: recTextPlain, nosniff: true, want: wantInvalidToken},
		{n: 8, step: "refresh_no_auth", method: "POST", path: at("/auth/token"), body: refreshBody(func(st *wireState) string { return st.refresh2 }), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 9, step: "refresh_garbage", method: "POST", path: at("/auth/token"), auth: access2, body: text(`{"refresh_token":"garbage"}`), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 10, step: "refresh_empty_body", method: "POST", path: at("/auth/token"), auth: access2, status: 400, ctype: recTextPlain, nosniff: true, want: wantEOF},
		{n: 11, step: "auth_test_basic", method: "GET", path: at("/auth/test"), auth: adminBasic, status: 200, ctype: "", want: ""},
		{n: 12, step: "auth_test_wrong_password", method: "GET", path: at("/auth/test"), auth: basicAuth("admin", "nope"), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 13, step: "auth_test_bearer", method: "GET", path: at("/auth/test"), auth: access2, status: 400, ctype: recTextPlain, nosniff: true, want: wantEOF},
		{n: 14, step: "create_plain", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"username":"admin"}`), status: 201, ctype: "", check: checkLocation6("admin", "")},
		{n: 15, step: "create_wrapped", method: "POST", path: at(pathKeys), auth: access2, body: text(wrappedAdminNoName), status: 400, ctype: recTextPlain, nosniff: true, want: wantNoUser},
		{n: 16, step: "create_with_metadata_name", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"metadata":{"name":"my-chosen-name"},"username":"admin"}`), status: 201, ctype: "", check: checkLocation6("admin2", "my-chosen-name")},
		{n: 17, step: "create_unknown_user", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"username":"nosuchuser"}`), status: 400, ctype: recTextPlain, nosniff: true, want: wantNoUser},
		{n: 18, step: "create_invalid_json", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"username":`), status: 500, ctype: recTextPlain, nosniff: true, want: wantBadJSON6},
		{n: 19, step: "create_no_auth", method: "POST", path: at(pathKeys), body: text(`{"username":"admin"}`), status: 401, ctype: recTextPlain, want: recBadCredentials},
		{n: 20, step: "list_basic_auth", method: "GET", path: at(pathKeys), auth: adminBasic, status: 401, ctype: recTextPlain, want: recBadCredentials},
		{n: 21, step: "list", method: "GET", path: at(pathKeys), auth: access2, status: 200, ctype: recJSON, check: checkList6("admin", "admin2")},
		{n: 22, step: "get", method: "GET", path: adminKey, auth: access2, status: 200, ctype: recJSON, check: checkGet6("admin")},
		{n: 23, step: "get_missing", method: "GET", path: at(pathKeys + "/00000000-0000-0000-0000-000000000000"), auth: access2, status: 404, ctype: recTextPlain, nosniff: true, want: recKeyNotFound},
		{n: 24, step: "put_key", method: "PUT", path: adminKey, auth: access2, body: func(st *wireState) string {
			return `{"metadata":{"name":"` + st.keys["admin"] + `"},"username":"admin"}`
		}, status: 405, ctype: "", want: ""},
		{n: 25, step: "key_checks", method: "GET", path: at(pathChecks), auth: keyAuth(secret("admin")), status: 200, ctype: recJSON, want: "[]"},
		{n: 26, step: "key_list", method: "GET", path: at(pathKeys), auth: keyAuth(secret("admin")), status: 200, ctype: recJSON, check: checkList6("admin", "admin2")},
		{n: 27, step: "wrong_key", method: "GET", path: at(pathChecks), auth: keyAuth(text(wrongKey)), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 28, step: "key_as_bearer", method: "GET", path: at(pathChecks), auth: bearer(secret("admin")), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 29, step: "key_on_auth_test", method: "GET", path: at("/auth/test"), auth: keyAuth(secret("admin")), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 30, step: "delete", method: "DELETE", path: adminKey, auth: access2, status: 204, ctype: recJSON, want: ""},
		{n: 31, step: "delete_again", method: "DELETE", path: adminKey, auth: access2, status: 404, ctype: recTextPlain, nosniff: true, want: recKeyNotFound},
		{n: 32, step: "deleted_key", method: "GET", path: at(pathChecks), auth: keyAuth(secret("admin")), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 33, step: "get_deleted", method: "GET", path: adminKey, auth: access2, status: 404, ctype: recTextPlain, nosniff: true, want: recKeyNotFound},
		{n: 34, step: "create_user_dev", method: "POST", path: at("/api/core/v2/users"), auth: access2, body: devBody(false, false), status: 201, ctype: recJSON, check: checkStoredUser(devUser)},
		{n: 35, step: "bind_dev", method: "POST", path: at(pathBindings), auth: access2,
			body:   text(`{"metadata":{"name":"dev-admin","namespace":"default"},"role_ref":{"type":"ClusterRole","name":"admin"},"subjects":[{"type":"Group","name":"dev"}]}`),
			status: 201, ctype: recJSON, want: ""},
		{n: 36, step: "dev_login", method: "GET", path: at("/auth"), auth: devLogin, status: 200, ctype: recJSON,
			check: checkTriple(ttl, func(st *wireState, a, _ string) { st.devAccess = a })},
		{n: 37, step: "dev_create_self", method: "POST", path: at(pathKeys), auth: devBearer, body: text(`{"username":"dev"}`), status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 38, step: "dev_create_admin", method: "POST", path: at(pathKeys), auth: devBearer, body: text(`{"username":"admin"}`), status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 39, step: "dev_list", method: "GET", path: at(pathKeys), auth: devBearer, status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 40, step: "dev_get", method: "GET", path: keyPath("admin2"), auth: devBearer, status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 41, step: "dev_delete", method: "DELETE", path: keyPath("admin2"), auth: devBearer, status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 42, step: "dev_checks", method: "GET", path: at(pathChecks), auth: devBearer, status: 200, ctype: recJSON, want: "[]"},
		{n: 43, step: "grant_dev", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"username":"dev"}`), status: 201, ctype: "", check: checkLocation6("dev", "")},
		{n: 44, step: "dev_key_checks", method: "GET", path: at(pathChecks), auth: keyAuth(secret("dev")), status: 200, ctype: recJSON, want: "[]"},
		{n: 45, step: "dev_key_list", method: "GET", path: at(pathKeys), auth: keyAuth(secret("dev")), status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 46, step: "dev_key_get_own", method: "GET", path: keyPath("dev"), auth: keyAuth(secret("dev")), status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 47, step: "dev_key_create", method: "POST", path: at(pathKeys), auth: keyAuth(secret("dev")), body: text(`{"username":"dev"}`), status: 403, ctype: recTextPlain, want: recForbidden},
		// The 403s changed nothing: admin2 (which dev tried to delete) and dev's key remain.
		{n: 47, step: "after_403s", method: "GET", path: at(pathKeys), auth: access2, status: 200, ctype: recJSON, check: checkList6("admin2", "dev")},
		{n: 48, step: "dev_key_get_own_user", method: "GET", path: at(pathDev), auth: devKey, status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 49, step: "disable_dev", method: "DELETE", path: at(pathDev), auth: access2, status: 204, ctype: recJSON, want: ""},
		{n: 50, step: "get_disabled_dev", method: "GET", path: at(pathDev), auth: access2, status: 200, ctype: recJSON,
			check: checkUser(Generation6, `{"username":"dev","groups":["dev"],"disabled":true}`)},
		{n: 51, step: "disabled_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		{n: 52, step: "disabled_dev_old_token", method: "GET", path: at(pathChecks), auth: devBearer, status: 200, ctype: recJSON, want: "[]"},
		{n: 53, step: "disabled_dev_login", method: "GET", path: at("/auth"), auth: devLogin, status: 401, ctype: recTextPlain, nosniff: true, want: wantUnauthorized},
		{n: 54, step: "list_after_disable", method: "GET", path: at(pathKeys), auth: access2, status: 200, ctype: recJSON, check: checkList6("admin2", "dev")},
		{n: 55, step: "grant_disabled_dev", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"username":"dev"}`), status: 201, ctype: "", check: checkLocation6("dev2", "")},
		{n: 56, step: "reinstate_dev", method: "PUT", path: at(pathDev + "/reinstate"), auth: access2, status: 201, ctype: recJSON, check: checkStoredUser(devUser)},
		{n: 57, step: "reinstated_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		{n: 58, step: "put_disable_dev", method: "PUT", path: at(pathDev), auth: access2, body: devBody(false, true), status: 201, ctype: recJSON, check: checkStoredUser(devOff)},
		{n: 59, step: "get_put_disabled_dev", method: "GET", path: at(pathDev), auth: access2, status: 200, ctype: recJSON,
			check: checkUser(Generation6, `{"username":"dev","groups":["dev"],"disabled":true}`)},
		{n: 60, step: "put_disabled_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		{n: 61, step: "put_enable_dev", method: "PUT", path: at(pathDev), auth: access2, body: devBody(false, false), status: 201, ctype: recJSON, check: checkStoredUser(devUser)},
		{n: 62, step: "put_enabled_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		{n: 63, step: "put_enabled_dev_login", method: "GET", path: at("/auth"), auth: devLogin, status: 200, ctype: recJSON, check: checkTriple(ttl, nil)},
	})
}

func TestWire7(t *testing.T) {
	ttl := 300 * time.Second
	k12 := keyPath("k12")
	wrapped := func(meta, spec string) func(*wireState) string {
		return text(`{"type":"APIKey","api_version":"core/v2"` + meta + `,"spec":` + spec + `}`)
	}
	specMeta := wrapped("", `{"metadata":{"name":"tf-spec-meta"},"username":"admin"}`)
	runWire(t, Generation7, []wireRow{
		{n: 1, step: "version", method: "GET", path: at("/version"), status: 200, ctype: recTextPlain, want: wantVersion7},
		{n: 2, step: "health", method: "GET", path: at("/health"), status: 404, ctype: recTextPlain, want: recRouteNotFound},
		{n: 3, step: "login", method: "GET", path: at("/auth"), auth: adminBasic, status: 200, ctype: recJSON,
			check: checkTriple(ttl, func(st *wireState, a, r string) { st.access, st.refresh = a, r })},
		{n: 4, step: "login_wrong_password", method: "GET", path: at("/auth"), auth: basicAuth("admin", "wrong"), status: 401, ctype: recTextPlain, nosniff: true, want: wantUnauthorized},
		{n: 5, step: "login_no_credentials", method: "GET", path: at("/auth"), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 6, step: "refresh", method: "POST", path: at("/auth/token"), auth: access1, body: refreshBody(func(st *wireState) string { return st.refresh }), status: 200, ctype: recJSON,
			check: checkTriple(ttl, func(st *wireState, a, r string) { st.access2, st.refresh2 = a, r })},
		{n: 7, step: "refresh_reuse", method: "POST", path: at("/auth/token"), auth: access1, body: refreshBody(func(st *wireState) string { return st.refresh }), status: 200, ctype: recJSON, check: checkTriple(ttl, nil)},
		{n: 8, step: "refresh_no_auth", method: "POST", path: at("/auth/token"), body: refreshBody(func(st *wireState) string { return st.refresh }), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 9, step: "auth_test_basic", method: "GET", path: at("/auth/test"), auth: adminBasic, status: 200, ctype: "", want: ""},
		{n: 10, step: "auth_test_wrong_password", method: "GET", path: at("/auth/test"), auth: basicAuth("admin", "nope"), status: 401, ctype: recTextPlain, nosniff: true, want: wantReqUnauth},
		{n: 11, step: "create_plain", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"username":"admin"}`), status: 500, ctype: recTextPlain, nosniff: true, want: wantLegacyBody},
		{n: 12, step: "create_wrapped", method: "POST", path: at(pathKeys), auth: access2, body: text(wrappedAdminNoName), status: 201, ctype: recTextPlain, check: checkGrant7("k12", "", "")},
		{n: 13, step: "create_outer_name", method: "POST", path: at(pathKeys), auth: access2, body: wrapped(`,"metadata":{"name":"tf-test-key"}`, `{"username":"admin"}`), status: 201, ctype: recTextPlain, check: checkGrant7("k13", "", "tf-test-key")},
		{n: 14, step: "create_outer_name_again", method: "POST", path: at(pathKeys), auth: access2, body: wrapped(`,"metadata":{"name":"tf-test-key"}`, `{"username":"admin"}`), status: 201, ctype: recTextPlain, check: checkGrant7("k14", "", "tf-test-key")},
		{n: 15, step: "create_spec_name", method: "POST", path: at(pathKeys), auth: access2, body: specMeta, status: 201, ctype: recTextPlain, check: checkGrant7("specmeta", "tf-spec-meta", "")},
		{n: 16, step: "create_spec_name_again", method: "POST", path: at(pathKeys), auth: access2, body: specMeta, status: 201, ctype: recTextPlain, check: checkGrant7("k16", "", "tf-spec-meta")},
		{n: 17, step: "put_collection_outer_name", method: "PUT", path: at(pathKeys), auth: access2, body: wrapped(`,"metadata":{"name":"tf-put-key"}`, `{"username":"admin"}`), status: 201, ctype: recTextPlain, check: checkGrant7("k17", "", "tf-put-key")},
		{n: 18, step: "put_collection_existing_spec_name", method: "PUT", path: at(pathKeys), auth: access2, body: specMeta, status: 201, ctype: recTextPlain, check: checkGrant7("specmeta", "tf-spec-meta", "")},
		{n: 19, step: "overwritten_old_secret", method: "GET", path: at(pathChecks), auth: keyAuth(func(st *wireState) string { return st.oldSecrets["specmeta"] }), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 20, step: "overwritten_new_secret", method: "GET", path: at(pathChecks), auth: keyAuth(secret("specmeta")), status: 200, ctype: recJSON, want: "[]"},
		{n: 21, step: "create_unknown_user", method: "POST", path: at(pathKeys), auth: access2, body: wrapped(`,"metadata":{}`, `{"username":"nosuchuser"}`), status: 400, ctype: recTextPlain, nosniff: true, want: wantNoUser},
		{n: 22, step: "create_wrong_type", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"type":"User","api_version":"core/v2","metadata":{},"spec":{"username":"admin"}}`), status: 500, ctype: recTextPlain, nosniff: true, want: wantWrongType},
		{n: 23, step: "create_invalid_json", method: "POST", path: at(pathKeys), auth: access2, body: text(`{"username":`), status: 500, ctype: recTextPlain, nosniff: true, want: wantBadJSON7},
		{n: 24, step: "create_no_auth", method: "POST", path: at(pathKeys), body: text(wrappedAdminNoName), status: 401, ctype: recTextPlain, want: recBadCredentials},
		{n: 25, step: "list_basic_auth", method: "GET", path: at(pathKeys), auth: adminBasic, status: 401, ctype: recTextPlain, want: recBadCredentials},
		{n: 26, step: "list", method: "GET", path: at(pathKeys), auth: access2, status: 200, ctype: recJSON, check: checkList7("k12", "k13", "k14", "specmeta", "k16", "k17")},
		{n: 27, step: "get", method: "GET", path: k12, auth: access2, status: 200, ctype: recJSON, check: checkGet7("k12")},
		{n: 28, step: "get_missing", method: "GET", path: at(pathKeys + "/no-such-key"), auth: access2, status: 404, ctype: recTextPlain, nosniff: true, want: recKeyNotFound},
		{n: 29, step: "put_key", method: "PUT", path: k12, auth: access2, body: func(st *wireState) string {
			return `{"type":"APIKey","api_version":"core/v2","metadata":{"name":"` + st.keys["k12"] + `"},"spec":{"username":"admin"}}`
		}, status: 405, ctype: "", want: ""},
		{n: 30, step: "key_checks", method: "GET", path: at(pathChecks), auth: keyAuth(secret("k12")), status: 200, ctype: recJSON, want: "[]"},
		{n: 31, step: "key_name_as_key", method: "GET", path: at(pathChecks), auth: keyAuth(keyName("k12")), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 32, step: "wrong_key", method: "GET", path: at(pathChecks), auth: keyAuth(text(wrongKey)), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 33, step: "key_as_bearer", method: "GET", path: at(pathChecks), auth: bearer(secret("k12")), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 34, step: "key_list", method: "GET", path: at(pathKeys), auth: keyAuth(secret("k12")), status: 200, ctype: recJSON, check: checkList7("k12", "k13", "k14", "specmeta", "k16", "k17")},
		{n: 35, step: "delete", method: "DELETE", path: k12, auth: access2, status: 204, ctype: recJSON, want: ""},
		{n: 36, step: "delete_again", method: "DELETE", path: k12, auth: access2, status: 404, ctype: recTextPlain, nosniff: true, want: recKeyNotFound},
		{n: 37, step: "deleted_key", method: "GET", path: at(pathChecks), auth: keyAuth(secret("k12")), status: 401, ctype: recTextPlain, want: recInvalidCredentials},
		{n: 38, step: "get_deleted", method: "GET", path: k12, auth: access2, status: 404, ctype: recTextPlain, nosniff: true, want: recKeyNotFound},
		{n: 39, step: "create_user_plain", method: "POST", path: at("/api/core/v2/users"), auth: access2, body: devBody(false, false), status: 400, ctype: recTextPlain, nosniff: true, want: wantLegacy7},
		{n: 40, step: "create_user_wrapped", method: "POST", path: at("/api/core/v2/users"), auth: access2, body: devBody(true, false), status: 201, ctype: recJSON, check: checkStoredUser(devUser)},
		{n: 41, step: "bind_outer_metadata", method: "POST", path: at(pathBindings), auth: access2,
			body:   text(`{"type":"RoleBinding","api_version":"core/v2","metadata":{"name":"dev-admin","namespace":"default"},"spec":{"role_ref":{"type":"ClusterRole","name":"admin"},"subjects":[{"type":"Group","name":"dev"}]}}`),
			status: 400, ctype: recTextPlain, nosniff: true, want: `{"message":"the namespace of the resource () does not match the namespace of the URI (default)","code":1}`},
		{n: 42, step: "bind_dev", method: "POST", path: at(pathBindings), auth: access2,
			body:   text(`{"type":"RoleBinding","api_version":"core/v2","spec":{"metadata":{"name":"dev-admin","namespace":"default"},"role_ref":{"type":"ClusterRole","name":"admin"},"subjects":[{"type":"Group","name":"dev"}]}}`),
			status: 201, ctype: recJSON, want: ""},
		{n: 43, step: "dev_login", method: "GET", path: at("/auth"), auth: devLogin, status: 200, ctype: recJSON,
			check: checkTriple(ttl, func(st *wireState, a, _ string) { st.devAccess = a })},
		{n: 44, step: "dev_create_self", method: "POST", path: at(pathKeys), auth: devBearer, body: text(`{"type":"APIKey","api_version":"core/v2","metadata":{},"spec":{"username":"dev"}}`), status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 45, step: "dev_create_admin", method: "POST", path: at(pathKeys), auth: devBearer, body: text(wrappedAdminNoName), status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 46, step: "dev_list", method: "GET", path: at(pathKeys), auth: devBearer, status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 47, step: "dev_get", method: "GET", path: keyPath("k13"), auth: devBearer, status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 48, step: "dev_delete", method: "DELETE", path: keyPath("k13"), auth: devBearer, status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 49, step: "dev_checks", method: "GET", path: at(pathChecks), auth: devBearer, status: 200, ctype: recJSON, want: "[]"},
		{n: 50, step: "grant_dev", method: "POST", path: at(pathKeys), auth: access2, body: wrapped("", `{"metadata":{"name":"dev-key"},"username":"dev"}`), status: 201, ctype: recTextPlain, check: checkGrant7("dev", "dev-key", "")},
		{n: 51, step: "dev_key_checks", method: "GET", path: at(pathChecks), auth: keyAuth(secret("dev")), status: 200, ctype: recJSON, want: "[]"},
		{n: 52, step: "dev_key_list", method: "GET", path: at(pathKeys), auth: keyAuth(secret("dev")), status: 403, ctype: recTextPlain, want: recForbidden},
		{n: 53, step: "dev_key_get_own", method: "GET", path: keyPath("dev"), auth: keyAuth(secret("dev")), status: 403, ctype: recTextPlain, want: recForbidden},
		// The 403s changed nothing: k13 (which dev tried to delete) is still listed.
		{n: 53, step: "after_403s", method: "GET", path: keyPath("k13"), auth: access2, status: 200, ctype: recJSON, check: checkGet7("k13")},
		{n: 54, step: "disable_dev", method: "DELETE", path: at(pathDev), auth: access2, status: 204, ctype: recJSON, want: ""},
		{n: 55, step: "get_disabled_dev", method: "GET", path: at(pathDev), auth: access2, status: 200, ctype: recJSON,
			check: checkUser(Generation7, `{"type":"User","api_version":"core/v2","spec":{"username":"dev","groups":["dev"],"disabled":true}}`)},
		{n: 56, step: "disabled_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		{n: 57, step: "disabled_dev_old_token", method: "GET", path: at(pathChecks), auth: devBearer, status: 200, ctype: recJSON, want: "[]"},
		{n: 58, step: "disabled_dev_login", method: "GET", path: at("/auth"), auth: devLogin, status: 401, ctype: recTextPlain, nosniff: true, want: wantUnauthorized},
		{n: 59, step: "list_after_disable", method: "GET", path: at(pathKeys), auth: access2, status: 200, ctype: recJSON, check: checkList7("k13", "k14", "specmeta", "k16", "k17", "dev")},
		{n: 60, step: "grant_disabled_dev", method: "POST", path: at(pathKeys), auth: access2, body: wrapped("", `{"metadata":{"name":"dev-key-2"},"username":"dev"}`), status: 201, ctype: recTextPlain, check: checkGrant7("dev2", "dev-key-2", "")},
		{n: 61, step: "reinstate_dev", method: "PUT", path: at(pathDev + "/reinstate"), auth: access2, status: 201, ctype: recJSON, check: checkStoredUser(devUser)},
		{n: 62, step: "reinstated_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		{n: 63, step: "put_disable_dev", method: "PUT", path: at(pathDev), auth: access2, body: devBody(true, true), status: 201, ctype: recJSON, check: checkStoredUser(devOff)},
		{n: 64, step: "get_put_disabled_dev", method: "GET", path: at(pathDev), auth: access2, status: 200, ctype: recJSON,
			check: checkUser(Generation7, `{"type":"User","api_version":"core/v2","spec":{"username":"dev","groups":["dev"],"disabled":true}}`)},
		{n: 65, step: "put_disabled_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		{n: 66, step: "put_enable_dev", method: "PUT", path: at(pathDev), auth: access2, body: devBody(true, false), status: 201, ctype: recJSON, check: checkStoredUser(devUser)},
		{n: 67, step: "put_enabled_dev_key", method: "GET", path: at(pathChecks), auth: devKey, status: 200, ctype: recJSON, want: "[]"},
		// Not a row of the 7.x record (6.x row 63): a re-enabled user logs in again.
		{n: 67, step: "put_enabled_dev_login", method: "GET", path: at("/auth"), auth: devLogin, status: 200, ctype: recJSON, check: checkTriple(ttl, nil)},
	})
}

// TestWireExpiredToken covers the last rows of both records (6.x 68-70, 7.x 76-78)
// with a short TokenTTL, polling until the token has expired.
func TestWireExpiredToken(t *testing.T) {
	for _, tc := range []struct {
		gen   Generation
		first int
	}{{Generation6, 68}, {Generation7, 76}} {
		t.Run(fmt.Sprint("generation", int(tc.gen)), func(t *testing.T) {
			t.Parallel()
			const ttl = 300 * time.Millisecond
			srv := NewTest(t, Options{Generation: tc.gen, TokenTTL: ttl})
			st := &wireState{srv: srv}
			runRow(t, srv.URL(), st, wireRow{n: tc.first, method: "GET", path: at("/auth"), auth: adminBasic, status: 200, ctype: recJSON,
				check: checkTriple(ttl, func(st *wireState, a, r string) { st.access, st.refresh = a, r })})

			var r wireResp
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				r = doWire(t, srv.URL(), "GET", pathChecks, "Bearer "+st.access, nil)
				if r.status != 200 || time.Now().After(deadline) {
					break
				}
			}
			if r.status != 401 || r.body != recInvalidCredentials || r.header.Get("Content-Type") != recTextPlain {
				t.Fatalf("row %d: expired token: %d %q %q", tc.first+1, r.status, r.header.Get("Content-Type"), r.body)
			}
			runRow(t, srv.URL(), st, wireRow{n: tc.first + 2, method: "POST", path: at("/auth/token"), auth: access1,
				body: refreshBody(func(st *wireState) string { return st.refresh }), status: 200, ctype: recJSON,
				check: checkTriple(ttl, func(st *wireState, a, _ string) { st.access2 = a })})
			if r := doWire(t, srv.URL(), "GET", pathChecks, "Bearer "+st.access2, nil); r.status != 200 {
				t.Errorf("refreshed token: %d", r.status)
			}
		})
	}
}

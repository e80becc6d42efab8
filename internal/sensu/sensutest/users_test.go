package sensutest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// userRequestBody is a user body in the generation's format.
func userRequestBody(gen Generation, fields string) string {
	if gen == Generation7 {
		return `{"type":"User","api_version":"core/v2","metadata":{},"spec":{` + fields + `}}`
	}
	return "{" + fields + "}"
}

// TestUserListMatchesUsersMD checks GET /api/core/v2/users against the bodies quoted in
// users.md: plain objects on 6.x, wrapped ones on 7.x, never a password or its hash.
func TestUserListMatchesUsersMD(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen, NoDevUser: true})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		status, h, body := call(t, nil, "GET", s.URL()+"/api/core/v2/users", "Bearer "+tok, "")
		want := `[{"username":"admin","groups":["cluster-admins"],"disabled":false},{"username":"agent","groups":["system:agents"],"disabled":false}]`
		if gen == Generation7 {
			want = `[{"type":"User","api_version":"core/v2","spec":{"username":"admin","groups":["cluster-admins"],"disabled":false}},` +
				`{"type":"User","api_version":"core/v2","spec":{"username":"agent","groups":["system:agents"],"disabled":false}}]`
		}
		if status != 200 || h.Get("Content-Type") != recJSON || body != want {
			t.Fatalf("list: %d %q\n got %s\nwant %s", status, h.Get("Content-Type"), body, want)
		}
		status, h, body = call(t, nil, "GET", s.URL()+"/api/core/v2/users/nosuchuser", "Bearer "+tok, "")
		if status != 404 || h.Get("Content-Type") != recTextPlain || h.Get("X-Content-Type-Options") != "nosniff" || body != recKeyNotFound {
			t.Fatalf("unknown user: %d %q %q", status, h.Get("Content-Type"), body)
		}
	})
}

func TestUserLifecycle(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		admin, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		bearer := "Bearer " + admin
		users := s.URL() + "/api/core/v2/users"
		create := func(fields string) (int, string) {
			status, _, body := call(t, nil, "POST", users, bearer, userRequestBody(gen, fields))
			return status, body
		}

		if status, body := create(`"username":"ops","password":"0ps-secret","groups":["ops","cluster-admins"]`); status != 201 || body != "" {
			t.Fatalf("create: %d %q", status, body)
		}
		// The password is stored as bcrypt, and the new user can log in and act as admin.
		s.mu.RLock()
		hash := s.users["ops"].hash
		s.mu.RUnlock()
		if cost, err := bcrypt.Cost(hash); err != nil || cost != bcrypt.MinCost || bcrypt.CompareHashAndPassword(hash, []byte("0ps-secret")) != nil {
			t.Fatalf("stored hash: cost %d, %v", cost, err)
		}
		ops, _ := login(t, s.URL(), "ops", "0ps-secret")
		if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys, "Bearer "+ops, ""); status != 200 {
			t.Fatalf("new admin lists keys: %d", status)
		}

		conflict := `{"message":"resource already exists","code":3}`
		for _, tc := range []struct {
			name, fields string
			status       int
			want         string
		}{
			{"exists", `"username":"ops","password":"another-one"`, 409, conflict},
			{"short_password", `"username":"short","password":"1234567"`, 400, `{"message":"password length must be at least 8 characters","code":1}`},
			{"no_password", `"username":"nopw"`, 400, `{"message":"a password or its hash is required","code":1}`},
			{"bad_username", `"username":"Bad Name","password":"long-enough"`, 400, `{"message":"username cannot contain spaces or special characters","code":1}`},
			{"empty_username", `"password":"long-enough"`, 400, `{"message":"username must not be empty","code":1}`},
			{"hash_mismatch", `"username":"mismatch","password":"long-enough","password_hash":"$2a$04$abcdefghijklmnopqrstuuv5bNn0oZ2x3Y4h5rLQ1bHq1YjU4W5wK"`, 400,
				`{"message":"hashed password does not the match the cleartext password, only one of those should be provided","code":1}`},
			{"password_too_long", `"username":"long","password":"` + strings.Repeat("x", 73) + `"`, 500, `{"message":"bcrypt: password length exceeds 72 bytes","code":0}`},
		} {
			if status, body := create(tc.fields); status != tc.status || body != tc.want {
				t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.want)
			}
		}
		if _, ok := s.User("short"); ok {
			t.Error("a refused user was stored")
		}
		// A password hash alone is accepted, as sensuctl's --password-hash would send it.
		hashed, _ := bcrypt.GenerateFromPassword([]byte("hashed-secret"), bcrypt.MinCost)
		if status, body := create(fmt.Sprintf(`"username":"hashed","password_hash":%q`, hashed)); status != 201 {
			t.Fatalf("create with a hash: %d %s", status, body)
		}
		login(t, s.URL(), "hashed", "hashed-secret")

		// Replace: the body must name the user of the path.
		status, _, body := call(t, nil, "PUT", users+"/ops", bearer, userRequestBody(gen, `"username":"other","password":"0ps-secret"`))
		if want := `{"message":"the username (other) does not match the username on the request (ops)","code":1}`; status != 400 || body != want {
			t.Errorf("PUT of another name: %d %s", status, body)
		}
		// Disabling and reinstating are idempotent; an unknown user is 404.
		for _, req := range []struct{ method, path string }{{"DELETE", "/ops"}, {"DELETE", "/ops"}, {"PUT", "/ops/reinstate"}, {"PUT", "/ops/reinstate"}} {
			status, _, _ := call(t, nil, req.method, users+req.path, bearer, "")
			if want := map[string]int{"DELETE": 204, "PUT": 201}[req.method]; status != want {
				t.Errorf("%s %s: %d, want %d", req.method, req.path, status, want)
			}
		}
		for _, req := range []struct{ method, path string }{{"DELETE", "/ghost"}, {"PUT", "/ghost/reinstate"}, {"GET", "/ghost"}} {
			if status, _, body := call(t, nil, req.method, users+req.path, bearer, ""); status != 404 || body != recKeyNotFound {
				t.Errorf("%s %s: %d %q", req.method, req.path, status, body)
			}
		}
		// Methods the router does not have for a path get 405; unmodeled subresources 404.
		if status, _, _ := call(t, nil, "POST", users+"/ops", bearer, "{}"); status != 405 {
			t.Errorf("POST /users/ops: %d", status)
		}
		if status, _, _ := call(t, nil, "GET", users+"/ops/reinstate", bearer, ""); status != 405 {
			t.Errorf("GET reinstate: %d", status)
		}
		if status, _, body := call(t, nil, "DELETE", users+"/ops/groups", bearer, ""); status != 404 || body != recRouteNotFound {
			t.Errorf("DELETE groups: %d %q", status, body)
		}
		assertNoPanics(t, s)
	})
}

// TestUserRoutesNeedClusterAdmin: only cluster admins manage users; a bearer token may read
// its own user (the system:user role), an API key may not (row 48 of the 6.x record).
func TestUserRoutesNeedClusterAdmin(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		dev, _ := login(t, s.URL(), DevUsername, DevPassword)
		devKey := s.GrantAPIKey(DevUsername).Key
		users := s.URL() + "/api/core/v2/users"
		body := userRequestBody(gen, `"username":"eve","password":"long-enough","groups":["cluster-admins"]`)
		for _, auth := range []string{"Bearer " + dev, "Key " + devKey} {
			for _, req := range []struct{ method, path, body string }{
				{"GET", "", ""}, {"POST", "", body}, {"PUT", "/eve", body}, {"DELETE", "/admin", ""},
				{"PUT", "/admin/reinstate", ""}, {"GET", "/admin", ""},
			} {
				if status, _, got := call(t, nil, req.method, users+req.path, auth, req.body); status != 403 || got != recForbidden {
					t.Errorf("%s %s%s: %d %q", strings.Fields(auth)[0], req.method, req.path, status, got)
				}
			}
		}
		if status, _, got := call(t, nil, "GET", users+"/dev", "Bearer "+dev, ""); status != 200 || !strings.Contains(got, `"username":"dev"`) {
			t.Errorf("dev reads itself with a token: %d %q", status, got)
		}
		if status, _, _ := call(t, nil, "GET", users+"/dev", "Key "+devKey, ""); status != 403 {
			t.Errorf("dev reads itself with its key: %d", status)
		}
		for _, auth := range []string{"", "Key " + wrongKey, "Basic YWRtaW46UEBzc3cwcmQh"} {
			if status, _, _ := call(t, nil, "GET", users, auth, ""); status != 401 {
				t.Errorf("list with %q: %d", auth, status)
			}
		}
		if u, ok := s.User("eve"); ok {
			t.Errorf("a non-admin created %+v", u)
		}
		if u, _ := s.User(AdminUsername); u.Disabled {
			t.Error("a non-admin disabled admin")
		}
	})
}

// TestUserListPagesAndChunks: the list follows limit/continue like the key list (a guess),
// and, like the backend's RespondWith, sends a Content-Length for a short body and chunks
// a long one.
func TestUserListPagesAndChunks(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		for i := range 40 {
			s.AddUser(fmt.Sprintf("user-%02d", i), "long-enough", "team")
		}
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		var seen []string
		cont, pages := "", 0
		for {
			path := "/api/core/v2/users?limit=15"
			if cont != "" {
				path += "&continue=" + cont
			}
			r := doWire(t, s.URL(), "GET", path, "Bearer "+tok, nil)
			if r.status != 200 {
				t.Fatalf("page: %d %s", r.status, r.body)
			}
			pages++
			var items []json.RawMessage
			if err := json.Unmarshal([]byte(r.body), &items); err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				var u struct {
					Username string `json:"username"`
					Spec     struct {
						Username string `json:"username"`
					} `json:"spec"`
				}
				_ = json.Unmarshal(it, &u)
				seen = append(seen, u.Username+u.Spec.Username)
			}
			if cont = r.header.Get("Sensu-Continue"); cont == "" {
				break
			}
		}
		if pages != 3 || len(seen) != 43 || !slices.IsSorted(seen) {
			t.Fatalf("%d pages, %d users, sorted %v", pages, len(seen), slices.IsSorted(seen))
		}
		full := doWire(t, s.URL(), "GET", "/api/core/v2/users", "Bearer "+tok, nil)
		if full.length != -1 || !slices.Contains(full.te, "chunked") {
			t.Errorf("a %d-byte list should be chunked: length %d", len(full.body), full.length)
		}
		short := doWire(t, s.URL(), "GET", "/api/core/v2/users?limit=2", "Bearer "+tok, nil)
		if short.length != int64(len(short.body)) {
			t.Errorf("a short list should have a Content-Length: %d", short.length)
		}
	})
}

func TestRoleBindings(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		bindings := s.URL() + "/api/core/v2/namespaces/default/rolebindings"
		spec := `"role_ref":{"type":"ClusterRole","name":"view"},"subjects":[{"type":"Group","name":"team"},{"type":"User","name":"dev"}]`
		body := `{"metadata":{"name":"team-view","namespace":"default"},` + spec + `}`
		if gen == Generation7 {
			body = `{"type":"RoleBinding","api_version":"core/v2","spec":{"metadata":{"name":"team-view","namespace":"default"},` + spec + `}}`
		}
		if status, _, got := call(t, nil, "POST", bindings, "Bearer "+tok, body); status != 201 || got != "" {
			t.Fatalf("create: %d %q", status, got)
		}
		want := []RoleBinding{{Namespace: "default", Name: "team-view", RoleType: "ClusterRole", RoleName: "view", Groups: []string{"team"}, Users: []string{"dev"}}}
		if got := s.RoleBindings(); len(got) != 1 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("stored %+v", got)
		}
		if status, _, _ := call(t, nil, "POST", bindings, "Bearer "+tok, body); status != 409 {
			t.Errorf("create again: %d", status)
		}
		dev, _ := login(t, s.URL(), DevUsername, DevPassword)
		if status, _, _ := call(t, nil, "DELETE", bindings+"/team-view", "Bearer "+dev, ""); status != 403 {
			t.Errorf("non-admin delete: %d", status)
		}
		if status, _, _ := call(t, nil, "DELETE", bindings+"/team-view", "Bearer "+tok, ""); status != 204 {
			t.Errorf("delete: %d", status)
		}
		if status, _, got := call(t, nil, "DELETE", bindings+"/team-view", "Bearer "+tok, ""); status != 404 || got != recKeyNotFound {
			t.Errorf("delete again: %d %q", status, got)
		}
		if len(s.RoleBindings()) != 0 {
			t.Error("binding still stored")
		}
	})
}

// TestChecksFollowRoleBindings: a user with no role binding in a namespace authenticates but
// may not read its checks (403, as the real 6.12.0 and 7.0.0-alpha1 answer a new user's key); a binding of the
// user or of one of its groups lets it; cluster admins always may; the agent may not.
func TestChecksFollowRoleBindings(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		admin, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		checks := func(ns string) string { return s.URL() + "/api/core/v2/namespaces/" + ns + "/checks" }
		devKey := "Key " + s.GrantAPIKey(DevUsername).Key
		agentKey := "Key " + s.GrantAPIKey(AgentUsername).Key
		status := func(url, auth string) int {
			code, _, _ := call(t, nil, "GET", url, auth, "")
			return code
		}
		if got := status(checks("default"), devKey); got != 403 {
			t.Errorf("dev without a binding: %d, want 403", got)
		}
		if got := status(checks("default"), "Key "+wrongKey); got != 401 {
			t.Errorf("wrong key: %d, want 401", got)
		}
		bind := func(name, subject string) {
			spec := `"role_ref":{"type":"ClusterRole","name":"admin"},"subjects":[` + subject + `]`
			body := `{"metadata":{"name":"` + name + `","namespace":"default"},` + spec + `}`
			if gen == Generation7 {
				body = `{"type":"RoleBinding","api_version":"core/v2","spec":{"metadata":{"name":"` + name + `","namespace":"default"},` + spec + `}}`
			}
			if code, _, got := call(t, nil, "POST", s.URL()+"/api/core/v2/namespaces/default/rolebindings", "Bearer "+admin, body); code != 201 {
				t.Fatalf("bind %s: %d %q", name, code, got)
			}
		}
		bind("dev-group", `{"type":"Group","name":"dev"}`)
		if got := status(checks("default"), devKey); got != 200 {
			t.Errorf("dev bound by group: %d, want 200", got)
		}
		if got := status(checks("other"), devKey); got != 403 {
			t.Errorf("dev in a namespace it has no binding in: %d, want 403", got)
		}
		if code, _, _ := call(t, nil, "DELETE", s.URL()+"/api/core/v2/namespaces/default/rolebindings/dev-group", "Bearer "+admin, ""); code != 204 {
			t.Fatalf("unbind: %d", code)
		}
		if got := status(checks("default"), devKey); got != 403 {
			t.Errorf("dev after its binding went: %d, want 403", got)
		}
		bind("dev-user", `{"type":"User","name":"dev"}`)
		if got := status(checks("default"), devKey); got != 200 {
			t.Errorf("dev bound by name: %d, want 200", got)
		}
		if got := status(checks("default"), agentKey); got != 403 {
			t.Errorf("agent: %d, want 403", got)
		}
		if got := status(checks("other"), "Bearer "+admin); got != 200 {
			t.Errorf("cluster admin: %d, want 200", got)
		}
	})
}

// TestUnknownUserGrant: granting a key for a user Sensu does not know answers as the
// records show (6.x row 17, 7.x row 21); once the user is created through the API, the
// grant succeeds and the user logs in.
func TestUnknownUserGrant(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen, NoDevUser: true})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		grant := `{"username":"dev"}`
		if gen == Generation7 {
			grant = `{"type":"APIKey","api_version":"core/v2","metadata":{},"spec":{"username":"dev"}}`
		}
		status, h, body := call(t, nil, "POST", s.URL()+pathKeys, "Bearer "+tok, grant)
		if status != 400 || body != wantNoUser || h.Get("Content-Type") != recTextPlain {
			t.Fatalf("grant for a missing user: %d %q", status, body)
		}
		if status, _, _ := call(t, nil, "POST", s.URL()+"/api/core/v2/users", "Bearer "+tok,
			userRequestBody(gen, `"username":"dev","password":"P@ssw0rd!dev","groups":["dev"]`)); status != 201 {
			t.Fatalf("create dev: %d", status)
		}
		if status, _, body := call(t, nil, "POST", s.URL()+pathKeys, "Bearer "+tok, grant); status != 201 {
			t.Fatalf("grant once dev exists: %d %q", status, body)
		}
		login(t, s.URL(), DevUsername, DevPassword) // the created user logs in
	})
}

// TestKeyOfUnknownUser: a key granted out of band for a user Sensu does not know is listed
// but does not authenticate, until the user exists (from the source of both generations).
func TestKeyOfUnknownUser(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		k := s.GrantAPIKey("ghost")
		if s.KeyAuthenticates(k.Key) {
			t.Fatal("a key of a missing user authenticates")
		}
		if status, _, body := call(t, nil, "GET", s.URL()+pathChecks, "Key "+k.Key, ""); status != 401 || body != recInvalidCredentials {
			t.Fatalf("key of a missing user: %d %q", status, body)
		}
		s.AddUser("ghost", "long-enough")
		if !s.KeyAuthenticates(k.Key) {
			t.Fatal("the key does not authenticate once its user exists")
		}
	})
}

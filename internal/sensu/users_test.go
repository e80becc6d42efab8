package sensu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// Bodies from the records: rows 34/40 (create), 50/55 (get after disable) and users.md (list).
const (
	devPassword       = "P@ssw0rd!dev"
	wireCreateUser6   = `{"username":"dev","password":"P@ssw0rd!dev","groups":["dev"],"disabled":false}`
	wireCreateUser7   = `{"type":"User","api_version":"core/v2","metadata":{},"spec":` + wireCreateUser6 + `}`
	wireUserDisabled6 = `{"username":"dev","groups":["dev"],"disabled":true}`
	wireUserDisabled7 = `{"type":"User","api_version":"core/v2","spec":` + wireUserDisabled6 + `}`
	wireUsers6        = `[{"username":"admin","groups":["cluster-admins"],"disabled":false},{"username":"agent","groups":["system:agents"],"disabled":false},{"username":"dev","groups":["dev"],"disabled":true}]`
	wireUsers7        = `[{"type":"User","api_version":"core/v2","spec":{"username":"admin","groups":["cluster-admins"],"disabled":false}},` +
		`{"type":"User","api_version":"core/v2","spec":{"username":"agent","groups":["system:agents"],"disabled":false}},` +
		`{"type":"User","api_version":"core/v2","spec":{"username":"dev","groups":["dev"],"disabled":true}}]`
)

func TestUsersWire(t *testing.T) {
	const ua = "terraform-provider-sensu/test"
	auth := "Key " + adminAPIKey
	for _, tc := range []struct {
		name                 string
		version, create, get string
		list                 string
		getHeader            map[string]string
	}{
		{"6.x", wireVersion6, wireCreateUser6, wireUserDisabled6, wireUsers6, map[string]string{"Content-Type": appJSON, "Etag": `"c2d75804fc571810"`}},
		{"7.x", wireVersion7, wireCreateUser7, wireUserDisabled7, wireUsers7, map[string]string{"Content-Type": appJSON}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			empty201 := map[string]string{"Content-Type": appJSON}
			s := newScriptedServer(t, ua,
				exchange{method: "GET", path: "/version", status: 200, header: map[string]string{"Content-Type": textPlain}, respBody: tc.version},
				exchange{method: "POST", path: "/api/core/v2/users", auth: auth, bodyType: appJSON, body: tc.create, status: 201, header: empty201},
				exchange{method: "DELETE", path: "/api/core/v2/users/dev", auth: auth, status: 204, header: empty201},
				exchange{method: "GET", path: "/api/core/v2/users/dev", auth: auth, status: 200, header: tc.getHeader, respBody: tc.get},
				exchange{method: "PUT", path: "/api/core/v2/users/dev/reinstate", auth: auth, status: 201, header: empty201},
				exchange{method: "GET", path: "/api/core/v2/users", query: "limit=500", auth: auth, status: 200,
					header: map[string]string{"Content-Type": appJSON}, respBody: tc.list},
				exchange{method: "GET", path: "/api/core/v2/users/nosuchuser", auth: auth, status: 404,
					header: map[string]string{"Content-Type": textPlain, "X-Content-Type-Options": "nosniff"}, respBody: wireNotFound},
				exchange{method: "GET", path: "/api/core/v2/users/dev", auth: auth, status: 403,
					header: map[string]string{"Content-Type": textPlain}, respBody: wireForbidden},
			)
			ctx, logs := logContext()
			c := newTestClient(t, testConfig(s.URL()))
			if err := c.CreateUser(ctx, CreateUserRequest{Username: "dev", Password: devPassword, Groups: []string{"dev"}}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if err := c.DisableUser(ctx, "dev"); err != nil {
				t.Fatalf("DisableUser: %v", err)
			}
			u, err := c.GetUser(ctx, "dev")
			if err != nil || u.Username != "dev" || !u.Disabled || !slices.Equal(u.Groups, []string{"dev"}) {
				t.Fatalf("GetUser = %+v, %v", u, err)
			}
			if err := c.ReinstateUser(ctx, "dev"); err != nil {
				t.Fatalf("ReinstateUser: %v", err)
			}
			users, err := c.ListUsers(ctx)
			want := []User{{"admin", []string{"cluster-admins"}, false}, {"agent", []string{"system:agents"}, false}, {"dev", []string{"dev"}, true}}
			if err != nil || fmt.Sprint(users) != fmt.Sprint(want) {
				t.Fatalf("ListUsers = %+v, %v", users, err)
			}
			if _, err := c.GetUser(ctx, "nosuchuser"); !IsNotFound(err) {
				t.Fatalf("unknown user: %v, want IsNotFound", err)
			}
			if _, err := c.GetUser(ctx, "dev"); !IsForbidden(err) {
				t.Fatalf("403: %v, want IsForbidden", err)
			}
			assertNoSecrets(t, "logs", logs.String(), devPassword)
		})
	}
}

func TestUsersValidation(t *testing.T) {
	c := newTestClient(t, testConfig("http://127.0.0.1:1"))
	ctx := context.Background()
	for name, err := range map[string]error{
		"get":                func() error { _, err := c.GetUser(ctx, ""); return err }(),
		"create no name":     c.CreateUser(ctx, CreateUserRequest{Password: "long-enough"}),
		"create no password": c.CreateUser(ctx, CreateUserRequest{Username: "x"}),
		"disable":            c.DisableUser(ctx, ""),
		"reinstate":          c.ReinstateUser(ctx, ""),
		"cached":             func() error { _, err := c.CachedUser(ctx, ""); return err }(),
	} {
		if err == nil || IsTransportError(err) {
			t.Errorf("%s: %v, want a validation error before any request", name, err)
		}
	}
}

// TestCreateUserNotRetried: a create that may have reached Sensu is not sent again, and the
// password appears in no error; reads are retried.
func TestCreateUserNotRetried(t *testing.T) {
	s := newScriptedServer(t, "terraform-provider-sensu/test",
		exchange{method: "GET", path: "/version", status: 200, respBody: wireVersion6},
		exchange{method: "POST", path: "/api/core/v2/users", auth: "Key " + adminAPIKey, bodyType: appJSON, body: wireCreateUser6,
			status: 502, respBody: "bad gateway for " + devPassword},
		exchange{method: "GET", path: "/api/core/v2/users/dev", auth: "Key " + adminAPIKey, status: 502, respBody: "bad gateway"},
		exchange{method: "GET", path: "/api/core/v2/users/dev", auth: "Key " + adminAPIKey, status: 200, respBody: wireUserDisabled6},
	)
	c := newTestClient(t, testConfig(s.URL()))
	err := c.CreateUser(context.Background(), CreateUserRequest{Username: "dev", Password: devPassword, Groups: []string{"dev"}})
	if err == nil {
		t.Fatal("a 502 create succeeded")
	}
	assertNoSecrets(t, "error", err.Error(), devPassword)
	if u, err := c.GetUser(context.Background(), "dev"); err != nil || !u.Disabled {
		t.Fatalf("GetUser after a 502: %+v %v", u, err)
	}
}

// TestUsersAgainstFake walks the records' user steps through the client on both
// generations: create with password and groups, log in as the user, disable, the login is
// refused while the user's key still authenticates, reinstate, log in again.
func TestUsersAgainstFake(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen, NoDevUser: true})
			ctx := context.Background()
			admin := newTestClient(t, inmemPasswordConfig(s))
			if err := admin.CreateUser(ctx, CreateUserRequest{Username: "dev", Password: devPassword, Groups: []string{"dev"}}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if err := admin.CreateUser(ctx, CreateUserRequest{Username: "dev", Password: devPassword}); !hasStatus(err, http.StatusConflict) {
				t.Fatalf("second CreateUser: %v, want 409", err)
			}
			loginAs := func() error {
				cfg := inmemPasswordConfig(s)
				cfg.Username, cfg.Password = "dev", devPassword
				_, err := newTestClient(t, cfg).ListAPIKeys(ctx, ListAPIKeysOptions{})
				return err
			}
			if err := loginAs(); !IsForbidden(err) {
				t.Fatalf("dev logs in and is refused the keys: %v, want 403", err)
			}
			key, err := admin.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			if err := admin.DisableUser(ctx, "dev"); err != nil {
				t.Fatalf("DisableUser: %v", err)
			}
			if u, err := admin.GetUser(ctx, "dev"); err != nil || !u.Disabled {
				t.Fatalf("GetUser after disable: %+v %v", u, err)
			}
			if err := loginAs(); !IsUnauthorized(err) {
				t.Fatalf("disabled dev logs in: %v, want 401", err)
			}
			if !s.KeyAuthenticates(key.Key) {
				t.Fatal("the disabled user's key stopped authenticating")
			}
			if err := admin.ReinstateUser(ctx, "dev"); err != nil {
				t.Fatalf("ReinstateUser: %v", err)
			}
			if u, err := admin.CachedUser(ctx, "dev"); err != nil || u.Disabled {
				t.Fatalf("after reinstate: %+v %v", u, err)
			}
			if err := loginAs(); !IsForbidden(err) {
				t.Fatalf("reinstated dev logs in: %v, want 403 on the keys", err)
			}
			if err := admin.DisableUser(ctx, "ghost"); !IsNotFound(err) {
				t.Fatalf("disable unknown: %v", err)
			}
			users, err := admin.ListUsers(ctx)
			if err != nil || len(users) != 3 || users[2].Username != "dev" {
				t.Fatalf("ListUsers: %+v %v", users, err)
			}
		})
	}
}

// TestCachedUserOneRequest: a thousand concurrent reads of one user make one request, and
// later reads none; a user this client changes is read again.
func TestCachedUserOneRequest(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen, Latency: 20 * time.Millisecond})
			s.SetUserDisabled(sensutest.DevUsername, true)
			c := newTestClient(t, inmemPasswordConfig(s))
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 1000)
			for range 1000 {
				wg.Go(func() {
					<-start
					u, err := c.CachedUser(context.Background(), sensutest.DevUsername)
					if err == nil && !u.Disabled {
						err = errors.New("dev should read as disabled")
					}
					if err == nil {
						u.Groups[0] = "mutated" // callers get copies
					}
					errs <- err
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := s.Requests()["GET /api/core/v2/users/{name}"]; n != 1 {
				t.Fatalf("%d user requests, want 1", n)
			}
			if u, _ := c.CachedUser(context.Background(), sensutest.DevUsername); u.Groups[0] != "dev" {
				t.Fatalf("cached groups changed: %v", u.Groups)
			}
			if n := s.Requests()["GET /api/core/v2/users/{name}"]; n != 1 {
				t.Fatalf("%d user requests after a cached read, want 1", n)
			}
			if err := c.ReinstateUser(context.Background(), sensutest.DevUsername); err != nil {
				t.Fatal(err)
			}
			if u, err := c.CachedUser(context.Background(), sensutest.DevUsername); err != nil || u.Disabled {
				t.Fatalf("after this client reinstated dev: %+v %v", u, err)
			}
		})
	}
}

// TestCachedUsersStrategy: one unknown user is one GET; several are one list, which also
// answers later reads of users it contained; a user the list lacks is not found.
func TestCachedUsersStrategy(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			c := newTestClient(t, inmemPasswordConfig(s))
			ctx := context.Background()
			reads := func() (get, list int) {
				r := s.Requests()
				return r["GET /api/core/v2/users/{name}"], r["GET /api/core/v2/users"]
			}
			res := c.CachedUsers(ctx, []string{"dev", "admin", "ghost", "dev", ""})
			if get, list := reads(); get != 0 || list != 1 {
				t.Fatalf("several users: %d gets, %d lists; want one list", get, list)
			}
			if r := res["dev"]; r.Err != nil || r.User.Username != "dev" || r.User.Disabled {
				t.Errorf("dev: %+v", r)
			}
			if r := res["admin"]; r.Err != nil || !slices.Contains(r.User.Groups, "cluster-admins") {
				t.Errorf("admin: %+v", r)
			}
			if r := res["ghost"]; !IsNotFound(r.Err) {
				t.Errorf("ghost: %+v, want IsNotFound", r)
			}
			if r := res[""]; r.Err == nil {
				t.Error("empty username accepted")
			}
			// agent was in the list nobody asked for: known now, as are the others.
			for _, name := range []string{"agent", "dev"} {
				if _, err := c.CachedUser(ctx, name); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, err := c.CachedUser(ctx, "ghost"); !IsNotFound(err) {
				t.Errorf("ghost: %v, want the kept not-found", err)
			}
			if get, list := reads(); get != 0 || list != 1 {
				t.Fatalf("known users read again: %d gets, %d lists", get, list)
			}
			s.AddUser("newcomer", "long-enough", "team")
			if u, err := c.CachedUser(ctx, "newcomer"); err != nil || u.Username != "newcomer" {
				t.Fatalf("newcomer: %+v %v", u, err)
			}
			if get, list := reads(); get != 1 || list != 1 {
				t.Fatalf("one new user: %d gets, %d lists; want one get", get, list)
			}
		})
	}
}

// TestCachedUsersStopsAtCompletePage: with more users than a page holds, the list stops at
// the page that found every user asked for.
func TestCachedUsersStopsAtCompletePage(t *testing.T) {
	s := sensutest.NewTest(t, sensutest.Options{Generation: sensutest.Generation7})
	for i := range 1200 {
		s.AddUser(fmt.Sprintf("u%04d", i), "long-enough")
	}
	c := newTestClient(t, inmemPasswordConfig(s))
	res := c.CachedUsers(context.Background(), []string{"admin", "agent", "dev"})
	for name, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", name, r.Err)
		}
	}
	// Sorted by name: admin, agent and dev are all on the first page, u0000… follow.
	if n := s.Requests()["GET /api/core/v2/users"]; n != 1 {
		t.Fatalf("%d list requests, want 1", n)
	}
	res = c.CachedUsers(context.Background(), []string{"u1199", "nobody"})
	if !IsNotFound(res["nobody"].Err) || res["u1199"].Err != nil {
		t.Fatalf("%+v", res)
	}
	if n := s.Requests()["GET /api/core/v2/users"]; n != 1+3 {
		t.Fatalf("%d list requests, want 1 + the 3 pages of a full list", n)
	}
}

// TestCachedUserErrors: an answer that is an error is kept like a user (one request), but
// a read whose caller gave up is not: the next caller asks again.
func TestCachedUserErrors(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			c := newTestClient(t, inmemPasswordConfig(s))
			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/users/{name}", Status: 403, Body: wireForbidden})
			for range 3 {
				if _, err := c.CachedUser(context.Background(), "dev"); !IsForbidden(err) {
					t.Fatalf("%v, want the 403 kept", err)
				}
			}
			if n := s.Requests()["GET /api/core/v2/users/{name}"]; n != 1 {
				t.Fatalf("%d requests for a kept 403", n)
			}

			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/users/{name}", Delay: time.Minute})
			ctx, cancel := context.WithCancel(context.Background())
			waiterErr := make(chan error, 1)
			started := func() bool {
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if s.Requests()["GET /api/core/v2/users/{name}"] == 2 {
						return true
					}
				}
				return false
			}
			go func() {
				// A second caller with its own live context shares the first read, then asks
				// again itself when that read is abandoned.
				if !started() {
					waiterErr <- errors.New("the first read did not start")
					return
				}
				_, err := c.CachedUser(context.Background(), "admin")
				waiterErr <- err
			}()
			go func() {
				started()
				cancel()
			}()
			if _, err := c.CachedUser(ctx, "admin"); !errors.Is(err, context.Canceled) {
				t.Fatalf("%v, want context.Canceled", err)
			}
			if err := <-waiterErr; err != nil {
				t.Fatalf("waiter: %v", err)
			}
			if u, err := c.CachedUser(context.Background(), "admin"); err != nil || u.Username != "admin" {
				t.Fatalf("after the abandoned read: %+v %v", u, err)
			}
			if n := s.Requests()["GET /api/core/v2/users/{name}"]; n != 3 {
				t.Fatalf("%d user requests, want 3 (kept 403, abandoned read, one more)", n)
			}
			if n := s.Requests()["GET /api/core/v2/users"]; n != 0 {
				t.Fatalf("%d list requests for single users", n)
			}
		})
	}
}

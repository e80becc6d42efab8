package sensu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// Tests against the in-memory Sensu API (sensutest), which reproduces the recorded
// backends' behaviour, including single-use refresh tokens on 6.x and faults.

type inmemCase struct {
	name string
	gen  Generation
	sgen sensutest.Generation
}

var inmemGenerations = []inmemCase{
	{"6.x", Generation6, sensutest.Generation6},
	{"7.x", Generation7, sensutest.Generation7},
}

func inmemPasswordConfig(s *sensutest.Server) Config {
	cfg := testConfig(s.URL())
	cfg.APIKey, cfg.Username, cfg.Password = "", sensutest.AdminUsername, sensutest.AdminPassword
	return cfg
}

// login obtains a token triple the way sensuctl does, outside the client.
func login(t *testing.T, s *sensutest.Server) tokenResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/auth", nil)
	req.SetBasicAuth(sensutest.AdminUsername, sensutest.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return tr
}

// accepted reports whether Sensu accepts the access token on an API route now.
func accepted(t *testing.T, s *sensutest.Server, access string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/api/core/v2/namespaces/default/checks", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestInmemPasswordAuth(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			c := newTestClient(t, inmemPasswordConfig(s))
			if n := len(s.Requests()); n != 0 {
				t.Fatalf("New sent requests: %v", s.Requests())
			}
			ctx := context.Background()
			var keys []*APIKey
			for range 5 {
				k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.DevUsername})
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			var wg sync.WaitGroup
			for _, k := range keys {
				wg.Go(func() {
					if _, err := c.LookupAPIKey(ctx, k.ID); err != nil {
						t.Error(err)
					}
					if !s.KeyAuthenticates(k.Key) {
						t.Errorf("the granted key %s does not authenticate", k.ID)
					}
				})
			}
			wg.Wait()
			reqs := s.Requests()
			if reqs["GET /auth"] != 1 || reqs["GET /version"] != 1 || reqs["POST /auth/token"] != 0 {
				t.Errorf("requests = %v; want one login and one version", reqs)
			}
			if got := len(s.APIKeys()); got != 5 {
				t.Errorf("%d keys stored, want 5", got)
			}
		})
	}
}

func TestInmemAPIKeyAuth(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			admin := s.GrantAPIKey(sensutest.AdminUsername)
			cfg := testConfig(s.URL())
			cfg.APIKey = admin.Key
			c := newTestClient(t, cfg)
			ctx := context.Background()
			k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.AdminUsername})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteAPIKey(ctx, k.Name); err != nil {
				t.Fatal(err)
			}
			if s.KeyAuthenticates(k.Key) {
				t.Error("the revoked key still authenticates")
			}
			reqs := s.Requests()
			if reqs["GET /auth"]+reqs["POST /auth/token"] != 0 {
				t.Errorf("API key authentication called /auth: %v", reqs)
			}

			// A revoked or wrong key is IsUnauthorized.
			s.RevokeAPIKey(admin.Name)
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); !IsUnauthorized(err) {
				t.Errorf("with a revoked key: %v, want IsUnauthorized", err)
			}
		})
	}
}

func TestInmemAccessToken(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			tr := login(t, s)
			s.ResetCounters()
			cfg := testConfig(s.URL())
			cfg.APIKey, cfg.AccessToken, cfg.RefreshToken = "", tr.AccessToken, tr.RefreshToken
			cfg.AccessTokenExpiresAt = time.Unix(tr.ExpiresAt, 0)
			c := newTestClient(t, cfg)
			if _, err := c.ListAPIKeys(context.Background(), ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			if reqs := s.Requests(); reqs["GET /auth"]+reqs["POST /auth/token"] != 0 {
				t.Errorf("a valid access token was renewed: %v", reqs)
			}
		})
	}
}

// TestInmemProactiveRefresh: with a 3 s token the client renews shortly before
// expires_at and never sends a token Sensu would reject.
func TestInmemProactiveRefresh(t *testing.T) {
	t.Parallel()
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen, TokenTTL: 3 * time.Second})
			c := newTestClient(t, inmemPasswordConfig(s))
			ctx := context.Background()
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			c.tokens.mu.Lock()
			refreshAt := c.tokens.refreshAt
			c.tokens.mu.Unlock()
			waitFor(t, 5*time.Second, "the refresh point", func() bool { return time.Now().After(refreshAt) })
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			reqs := s.Requests()
			if reqs["POST /auth/token"] != 1 || reqs["GET /auth"] != 1 {
				t.Errorf("requests = %v; want one login and one refresh", reqs)
			}
			if reqs["GET /api/core/v2/apikeys"] != 2 {
				t.Errorf("%d list requests for 2 calls: a request was rejected and repeated", reqs["GET /api/core/v2/apikeys"])
			}
		})
	}
}

// TestInmemConcurrentRefresh: 20 concurrent requests holding an expired token cause
// exactly one refresh; on 6.x a second refresh with the same token would be refused.
func TestInmemConcurrentRefresh(t *testing.T) {
	t.Parallel()
	for _, g := range inmemGenerations {
		for _, known := range []bool{true, false} {
			name := g.name + "/expiry known"
			if !known {
				name = g.name + "/rejected by Sensu"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				opts := sensutest.Options{Generation: g.sgen}
				if !known {
					// Long enough that the renewed token stays fresh while the 20 requests
					// complete (the client renews a fifth of the lifetime early).
					opts.TokenTTL = 3 * time.Second
				}
				s := sensutest.NewTest(t, opts)
				tr := login(t, s)
				cfg := testConfig(s.URL())
				cfg.APIKey, cfg.AccessToken, cfg.RefreshToken = "", tr.AccessToken, tr.RefreshToken
				cfg.Generation = g.gen
				if known {
					// As exported by sensuctl a while ago: the expiry has passed.
					cfg.AccessTokenExpiresAt = time.Now().Add(-time.Second)
				} else {
					waitFor(t, 5*time.Second, "the token to expire", func() bool { return !accepted(t, s, tr.AccessToken) })
				}
				s.ResetCounters()
				c := newTestClient(t, cfg)
				listConcurrently(t, c, 20)
				if n := s.Requests()["POST /auth/token"]; n != 1 {
					t.Errorf("POST /auth/token sent %d times, want exactly 1", n)
				}
			})
		}
	}
}

// TestInmemRefreshTokenUsedElsewhere: on 6.x another process used the refresh token
// first; without a password the refusal is reported, not hidden.
func TestInmemRefreshTokenUsedElsewhere(t *testing.T) {
	s := sensutest.NewTest(t, sensutest.Options{Generation: sensutest.Generation6})
	tr := login(t, s)
	// sensuctl refreshes with the same tokens.
	other := testConfig(s.URL())
	other.APIKey, other.AccessToken, other.RefreshToken = "", tr.AccessToken, tr.RefreshToken
	other.AccessTokenExpiresAt = time.Now().Add(-time.Second)
	if _, err := newTestClient(t, other).ListAPIKeys(context.Background(), ListAPIKeysOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, logs := logContext()
	_, err := newTestClient(t, other).ListAPIKeys(ctx, ListAPIKeysOptions{})
	if !IsRefreshRefused(err) {
		t.Fatalf("err = %v, want IsRefreshRefused", err)
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
		assertNoSecrets(t, what, text, s.IssuedSecrets()...)
	}
}

// TestInmemTypedErrors: a non-admin, an unknown user, a missing key.
func TestInmemTypedErrors(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			ctx := context.Background()
			dev := testConfig(s.URL())
			dev.APIKey, dev.Username, dev.Password = "", sensutest.DevUsername, sensutest.DevPassword
			dc := newTestClient(t, dev)
			if _, err := dc.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.DevUsername}); !IsForbidden(err) {
				t.Errorf("dev grants: %v, want IsForbidden", err)
			}
			if _, err := dc.ListAPIKeys(ctx, ListAPIKeysOptions{}); !IsForbidden(err) {
				t.Errorf("dev lists: %v, want IsForbidden", err)
			}

			c := newTestClient(t, inmemPasswordConfig(s))
			if _, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "nosuchuser"}); !IsUserNotFound(err) {
				t.Errorf("grant for nosuchuser: %v, want IsUserNotFound", err)
			}
			missing := "00000000-0000-0000-0000-000000000000"
			if g.gen == Generation7 {
				missing = "no-such-key"
			}
			if _, err := c.GetAPIKey(ctx, missing); !IsNotFound(err) {
				t.Errorf("get missing: %v, want IsNotFound", err)
			}
			if err := c.DeleteAPIKey(ctx, missing); !IsNotFound(err) {
				t.Errorf("delete missing: %v, want IsNotFound", err)
			}
			if len(s.APIKeys()) != 0 {
				t.Errorf("keys were created: %v", s.APIKeys())
			}

			bad := inmemPasswordConfig(s)
			bad.Password = "not-the-password"
			if _, err := newTestClient(t, bad).ListAPIKeys(ctx, ListAPIKeysOptions{}); !IsUnauthorized(err) {
				t.Errorf("wrong password: %v, want IsUnauthorized", err)
			}
		})
	}
}

// TestInmemLookupAndPagination: a 6.x digest is found with one list walk; lists page.
func TestInmemLookupAndPagination(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			n := 1001 // three pages
			if g.gen == Generation7 {
				n = 11 // each 7.x grant costs a bcrypt hash; 7.x paging is covered by TestListAPIKeysManyPages
			}
			var last sensutest.APIKey
			for i := range n {
				user := sensutest.AdminUsername
				if i%2 == 0 {
					user = sensutest.DevUsername
				}
				last = s.GrantAPIKey(user)
			}
			c := newTestClient(t, inmemPasswordConfig(s))
			ctx := context.Background()
			keys, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
			if err != nil || len(keys) != n {
				t.Fatalf("ListAPIKeys = %d keys, %v; want %d", len(keys), err, n)
			}
			dev, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{Username: sensutest.DevUsername})
			if err != nil || len(dev) != (n+1)/2 {
				t.Errorf("dev's keys = %d, %v; want %d", len(dev), err, (n+1)/2)
			}
			pages := (n + listPageSize - 1) / listPageSize
			if got := s.Requests()["GET /api/core/v2/apikeys"]; got != 2*pages {
				t.Errorf("%d list requests, want %d pages twice", got, pages)
			}

			s.ResetCounters()
			id := last.Name
			if g.gen == Generation6 {
				id = Digest(last.Key)
			}
			k, err := c.LookupAPIKey(ctx, id)
			if err != nil || k.Name != last.Name || k.ID != id || k.Username != last.Username {
				t.Fatalf("LookupAPIKey(%s) = %+v, %v", id, k, err)
			}
			reqs := s.Requests()
			if g.gen == Generation6 {
				if reqs["GET /api/core/v2/apikeys"] != pages || reqs["GET /api/core/v2/apikeys/{name}"] != 0 {
					t.Errorf("requests = %v; want one list walk (%d pages) and no info request", reqs, pages)
				}
				if k.Key != last.Key {
					t.Error("the 6.x key was not returned")
				}
			} else if reqs["GET /api/core/v2/apikeys/{name}"] != 1 || reqs["GET /api/core/v2/apikeys"] != 0 {
				t.Errorf("requests = %v; want one info request", reqs)
			}
		})
	}
}

// grantMethod is how the client grants on a generation: 6.x POSTs and Sensu names the key;
// 7.x PUTs a client-named key with the hash of a client-generated secret (idempotent).
func (g inmemCase) grantMethod() string {
	if g.gen == Generation7 {
		return http.MethodPut
	}
	return http.MethodPost
}

// TestInmemAmbiguousGrants: whatever happens to a grant, it ends with exactly one key that
// the caller holds, or with an error and no key left behind. A grant Sensu may have
// processed is never blindly repeated: 6.x lists the user's keys and claims the one it
// created; 7.x reads its own name back.
func TestInmemAmbiguousGrants(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range []struct {
				name       string
				fault      sensutest.Fault
				timeout    time.Duration
				wantErr    bool
				wantGrants int
			}{
				{"processed then dropped", sensutest.Fault{AfterProcess: true}, 0, false, 1},
				{"processed then 502", sensutest.Fault{AfterProcess: true, Status: 502, Body: "bad gateway"}, 0, false, 1},
				{"processed then 504", sensutest.Fault{AfterProcess: true, Status: 504}, 0, false, 1},
				{"processed, dropped every time", sensutest.Fault{AfterProcess: true, Count: 10}, 0, false, 1},
				{"500, not processed", sensutest.Fault{Status: 500, Body: "internal"}, 0, false, 2},
				{"502, not processed", sensutest.Fault{Status: 502}, 0, false, 2},
				{"timeout, not processed", sensutest.Fault{Delay: time.Hour}, 200 * time.Millisecond, false, 2},
				{"500 every time", sensutest.Fault{Status: 500, Count: 10}, 0, true, 4},
				{"503 twice", sensutest.Fault{Status: 503, RetryAfter: "0", Count: 2}, 0, false, 3},
				{"429", sensutest.Fault{Status: 429}, 0, false, 2},
				{"501", sensutest.Fault{Status: 501}, 0, true, 1},
			} {
				t.Run(tc.name, func(t *testing.T) {
					s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
					admin := s.GrantAPIKey(sensutest.AdminUsername)
					cfg := testConfig(s.URL())
					cfg.APIKey = admin.Key
					if tc.timeout > 0 {
						cfg.Timeout = tc.timeout
					}
					c := newTestClient(t, cfg)
					if _, err := c.Generation(context.Background()); err != nil {
						t.Fatal(err)
					}
					tc.fault.Method, tc.fault.Route = g.grantMethod(), "/api/core/v2/apikeys"
					s.InjectFault(tc.fault)
					ctx, logs := logContext()
					k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.DevUsername})
					s.ClearFaults()

					var dev []sensutest.APIKey
					for _, sk := range s.APIKeys() {
						if sk.Username == sensutest.DevUsername {
							dev = append(dev, sk)
						}
					}
					if tc.wantErr {
						if err == nil {
							t.Fatalf("CreateAPIKey succeeded: %+v", k)
						}
						if len(dev) != 0 {
							t.Errorf("the failed grant left %d keys behind", len(dev))
						}
					} else {
						if err != nil {
							t.Fatalf("CreateAPIKey: %v", err)
						}
						if len(dev) != 1 || dev[0].Name != k.Name {
							t.Fatalf("stored keys %v, want exactly the returned %s", dev, k.Name)
						}
						if !s.KeyAuthenticates(k.Key) {
							t.Error("the returned key does not authenticate")
						}
					}
					if n := s.Requests()[g.grantMethod()+" /api/core/v2/apikeys"]; n != tc.wantGrants {
						t.Errorf("%d grant requests, want %d", n, tc.wantGrants)
					}
					var secrets []string
					for _, sk := range s.APIKeys() {
						secrets = append(secrets, sk.Key)
					}
					if k != nil {
						secrets = append(secrets, k.Key)
					}
					assertNoSecrets(t, "error", errText(err), secrets...)
					assertNoSecrets(t, "logs", logs.String(), secrets...)
				})
			}
		})
	}
}

// TestInmemGrantUnreadableAnswer: Sensu created the key but its answer cannot be read.
func TestInmemGrantUnreadableAnswer(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			c := newTestClient(t, inmemPasswordConfig(s))
			if _, err := c.Generation(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.InjectFault(sensutest.Fault{Method: g.grantMethod(), Route: "/api/core/v2/apikeys", AfterProcess: true,
				Status: 201, ContentType: "text/html", Body: "<html>created</html>"})
			k, err := c.CreateAPIKey(context.Background(), CreateAPIKeyRequest{Username: sensutest.DevUsername})
			keys := s.APIKeys()
			switch {
			case err == nil:
				if len(keys) != 1 || keys[0].Name != k.Name || !s.KeyAuthenticates(k.Key) {
					t.Errorf("returned %+v; stored %v", k, keys)
				}
			case len(keys) != 0:
				t.Errorf("CreateAPIKey = %v, and left the key it created behind: %v", err, keys)
			}
		})
	}
}

// TestInmemGrantTimeoutEverywhere: a backend that stops answering after the grant arrived
// leaves the client unable to check; it says so, naming what to look for.
func TestInmemGrantTimeoutEverywhere(t *testing.T) {
	t.Parallel()
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			admin := s.GrantAPIKey(sensutest.AdminUsername)
			cfg := testConfig(s.URL())
			cfg.APIKey, cfg.Timeout, cfg.MaxRetries = admin.Key, 100*time.Millisecond, 1
			c := newTestClient(t, cfg)
			if _, err := c.Generation(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.InjectFault(sensutest.Fault{Delay: time.Hour, Count: 1000})
			ctx, logs := logContext()
			_, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.DevUsername})
			if !IsUnresolvedGrant(err) {
				t.Fatalf("err = %v, want IsUnresolvedGrant", err)
			}
			if !strings.Contains(err.Error(), `"dev"`) {
				t.Errorf("the error does not name the user: %v", err)
			}
			if n := s.Requests()[g.grantMethod()+" /api/core/v2/apikeys"]; n != 1 {
				t.Errorf("%d grant requests, want 1", n)
			}
			assertNoSecrets(t, "error", err.Error(), admin.Key)
			assertNoSecrets(t, "logs", logs.String(), admin.Key)
		})
	}
}

// TestInmemReadsRetried: reads and revokes are repeated on 5xx and dropped connections,
// honouring Retry-After.
func TestInmemReadsRetried(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			c := newTestClient(t, inmemPasswordConfig(s))
			ctx := context.Background()
			k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.AdminUsername})
			if err != nil {
				t.Fatal(err)
			}

			s.ResetCounters()
			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/apikeys", Status: 503, RetryAfter: "1"})
			start := time.Now()
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed < 950*time.Millisecond {
				t.Errorf("retried after %s, want ≥ 1s (Retry-After: 1)", elapsed)
			}

			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/apikeys/{name}", Status: 500, Count: 2})
			if _, err := c.GetAPIKey(ctx, k.Name); err != nil {
				t.Errorf("GetAPIKey after two 500s: %v", err)
			}
			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/apikeys/{name}", Status: 501})
			if _, err := c.GetAPIKey(ctx, k.Name); err == nil {
				t.Error("GetAPIKey succeeded through a 501")
			}
			if n := s.Requests()["GET /api/core/v2/apikeys/{name}"]; n != 4 {
				t.Errorf("%d info requests, want 3 + 1", n)
			}

			// A revoke processed, then its answer lost: repeated, it finds the key gone.
			s.InjectFault(sensutest.Fault{Method: "DELETE", Route: "/api/core/v2/apikeys/{name}", AfterProcess: true})
			err = c.DeleteAPIKey(ctx, k.Name)
			if err != nil && !IsNotFound(err) {
				t.Errorf("DeleteAPIKey = %v, want success or IsNotFound", err)
			}
			if s.KeyAuthenticates(k.Key) || len(s.APIKeys()) != 0 {
				t.Error("the key was not revoked")
			}
			if err != nil {
				assertNoSecrets(t, "error", err.Error(), k.Key)
			}
		})
	}
}

// TestInmemCancellation: cancelling a grant returns promptly with context.Canceled and
// leaves no key, whether it waited out a Retry-After (nothing to check) or was in flight
// (checked once, even though the caller gave up).
func TestInmemCancellation(t *testing.T) {
	for _, g := range inmemGenerations {
		for _, inFlight := range []bool{false, true} {
			name := g.name + "/waiting on Retry-After"
			if inFlight {
				name = g.name + "/in flight"
			}
			t.Run(name, func(t *testing.T) {
				s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
				admin := s.GrantAPIKey(sensutest.AdminUsername)
				cfg := testConfig(s.URL())
				cfg.APIKey, cfg.Generation = admin.Key, g.gen
				c := newTestClient(t, cfg)
				fault := sensutest.Fault{Method: g.grantMethod(), Route: "/api/core/v2/apikeys", Status: 503, RetryAfter: "30", Count: 10}
				answered := make(chan int, 10)
				c.http.HTTPClient.Transport = answeredTransport{c.http.HTTPClient.Transport, answered}
				if inFlight {
					fault = sensutest.Fault{Method: g.grantMethod(), Route: "/api/core/v2/apikeys", Delay: time.Hour}
				}
				s.InjectFault(fault)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					_, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.DevUsername})
					done <- err
				}()
				if inFlight {
					waitFor(t, 5*time.Second, "the grant to arrive", func() bool {
						return s.Requests()[g.grantMethod()+" /api/core/v2/apikeys"] == 1
					})
				} else if status := <-answered; status != 503 {
					t.Fatalf("first answer %d, want 503", status)
				}
				s.ResetCounters()
				cancel()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("err = %v, want context.Canceled", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("cancellation did not stop the grant")
				}
				if len(s.APIKeys()) != 1 {
					t.Errorf("keys = %v, want only the admin's", s.APIKeys())
				}
				reqs := s.Requests()
				checks := reqs["GET /api/core/v2/apikeys"] + reqs["GET /api/core/v2/apikeys/{name}"]
				if inFlight && checks == 0 {
					t.Errorf("requests = %v; an in-flight grant must be checked", reqs)
				}
				if !inFlight && len(reqs) != 0 {
					t.Errorf("requests = %v; a grant answered 503 needs no check", reqs)
				}
			})
		}
	}
}

// TestInmemNoSecrets: all flows against the in-memory API, logs and errors scanned for
// every token, key and password it knows.
func TestInmemNoSecrets(t *testing.T) {
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			s := sensutest.NewTest(t, sensutest.Options{Generation: g.sgen})
			ctx, logs := logContext()
			var errs []string
			record := func(err error) {
				if err != nil {
					errs = append(errs, err.Error())
				}
			}
			c := newTestClient(t, inmemPasswordConfig(s))
			k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.AdminUsername})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.LookupAPIKey(ctx, k.ID)
			record(err)
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)

			// Errors along the way: HTML from a proxy, 404s, a dropped grant, a retried read.
			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/apikeys/{name}", Status: 502,
				ContentType: "text/html", Body: "<html><body>502 for /api/core/v2/apikeys/" + k.Name + "</body></html>"})
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)
			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/apikeys/{name}", Status: 404,
				Body: "no key " + k.Name + " here"})
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)
			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/apikeys/{name}", Status: 200,
				ContentType: "text/html", Body: "<html>" + k.Name + "</html>"})
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)
			s.InjectFault(sensutest.Fault{Method: g.grantMethod(), Route: "/api/core/v2/apikeys", AfterProcess: true})
			_, err = c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.AdminUsername})
			record(err)
			s.InjectFault(sensutest.Fault{Method: g.grantMethod(), Route: "/api/core/v2/apikeys", Status: 500, Count: 10})
			_, err = c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.AdminUsername})
			record(err)
			s.ClearFaults()
			s.InjectFault(sensutest.Fault{Method: "DELETE", Route: "/api/core/v2/apikeys/{name}", Status: 503, RetryAfter: "0"})
			record(c.DeleteAPIKey(ctx, k.Name))
			record(c.DeleteAPIKey(ctx, k.Name))
			_, err = c.LookupAPIKey(ctx, k.ID)
			record(err)

			// Other credentials: a key, a refreshed access token, a wrong password.
			admin := s.GrantAPIKey(sensutest.AdminUsername)
			kc := testConfig(s.URL())
			kc.APIKey = admin.Key
			_, err = newTestClient(t, kc).ListAPIKeys(ctx, ListAPIKeysOptions{})
			record(err)
			tr := login(t, s)
			ac := testConfig(s.URL())
			ac.APIKey, ac.AccessToken, ac.RefreshToken, ac.AccessTokenExpiresAt = "", tr.AccessToken, tr.RefreshToken, time.Now().Add(-time.Second)
			_, err = newTestClient(t, ac).ListAPIKeys(ctx, ListAPIKeysOptions{})
			record(err)
			_, err = newTestClient(t, ac).ListAPIKeys(ctx, ListAPIKeysOptions{}) // same, now-used refresh token
			record(err)
			bad := inmemPasswordConfig(s)
			bad.Password = "Wr0ng-" + sensutest.AdminPassword
			_, err = newTestClient(t, bad).ListAPIKeys(ctx, ListAPIKeysOptions{})
			record(err)

			secrets := append(s.IssuedSecrets(), sensutest.AdminPassword, bad.Password, k.Key, admin.Key,
				basicAuth(sensutest.AdminUsername, sensutest.AdminPassword), basicAuth(sensutest.AdminUsername, bad.Password))
			for _, key := range s.APIKeys() {
				secrets = append(secrets, key.Key)
			}
			if len(errs) < 5 {
				t.Errorf("only %d errors were produced; the scenario did not run as planned: %v", len(errs), errs)
			}
			assertNoSecrets(t, "logs", logs.String(), secrets...)
			assertNoSecrets(t, "errors", strings.Join(errs, "\n"), secrets...)
		})
	}
}

// TestInmemCachedLookupAPIKey checks that importing many 6.x keys by id costs one list per
// client, concurrent lookups included; that an id the list lacks, or a key revoked since,
// lists again; and that 7.x lookups stay one info request each.
func TestInmemCachedLookupAPIKey(t *testing.T) {
	ctx := context.Background()
	t.Run("6.x", func(t *testing.T) {
		s := sensutest.NewTest(t, sensutest.Options{Generation: sensutest.Generation6})
		var keys []sensutest.APIKey
		for range 20 {
			keys = append(keys, s.GrantAPIKey(sensutest.AdminUsername))
		}
		c := newTestClient(t, inmemPasswordConfig(s))
		s.ResetCounters()
		var wg sync.WaitGroup
		for _, k := range keys {
			wg.Go(func() {
				got, err := c.CachedLookupAPIKey(ctx, Digest(k.Key))
				if err != nil || got.Key != k.Key || got.ID != Digest(k.Key) || got.Username != k.Username {
					t.Errorf("CachedLookupAPIKey(%s) = %+v, %v", Digest(k.Key), got, err)
				}
			})
		}
		wg.Wait()
		if n := s.Requests()["GET /api/core/v2/apikeys"]; n != 1 {
			t.Errorf("20 concurrent lookups made %d list requests, want 1", n)
		}

		// A key granted after the list: the index lacks it, so the client lists again.
		late := s.GrantAPIKey(sensutest.DevUsername)
		if got, err := c.CachedLookupAPIKey(ctx, strings.ToUpper(Digest(late.Key))); err != nil || got.Key != late.Key {
			t.Errorf("lookup of a key granted after the list = %+v, %v", got, err)
		}
		// An id no key has: listed again, then not found.
		if _, err := c.CachedLookupAPIKey(ctx, Digest("no such key")); !IsNotFound(err) {
			t.Errorf("lookup of an unknown digest: %v, want not found", err)
		}
		// A key this client revoked is forgotten.
		if err := c.DeleteAPIKey(ctx, keys[0].Key); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CachedLookupAPIKey(ctx, Digest(keys[0].Key)); !IsNotFound(err) {
			t.Errorf("lookup of a revoked key: %v, want not found", err)
		}
		if n := s.Requests()["GET /api/core/v2/apikeys"]; n != 4 {
			t.Errorf("%d list requests in all, want 4 (the first, the late key, the unknown and the revoked one)", n)
		}
	})
	t.Run("7.x", func(t *testing.T) {
		s := sensutest.NewTest(t, sensutest.Options{Generation: sensutest.Generation7})
		k := s.GrantAPIKey(sensutest.AdminUsername)
		c := newTestClient(t, inmemPasswordConfig(s))
		s.ResetCounters()
		for range 2 {
			if got, err := c.CachedLookupAPIKey(ctx, k.Name); err != nil || got.ID != k.Name || got.Key != "" {
				t.Errorf("CachedLookupAPIKey(%s) = %+v, %v", k.Name, got, err)
			}
		}
		reqs := s.Requests()
		if reqs["GET /api/core/v2/apikeys/{name}"] != 2 || reqs["GET /api/core/v2/apikeys"] != 0 {
			t.Errorf("requests = %v; want an info request per lookup and no list", reqs)
		}
	})
}

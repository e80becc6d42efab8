package sensu

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

var generations = []Generation{Generation6, Generation7}

func passwordConfig(url string) Config {
	cfg := testConfig(url)
	cfg.APIKey, cfg.Username, cfg.Password = "", testUsername, testPassword
	return cfg
}

// TestPasswordAuth: New sends nothing; then one login serves many calls, concurrent or not.
func TestPasswordAuth(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			c := newTestClient(t, passwordConfig(f.URL()))
			if c.AuthMethod() != AuthPassword {
				t.Errorf("AuthMethod = %s", c.AuthMethod())
			}
			if f.total() != 0 {
				t.Fatalf("New sent %d requests, want none", f.total())
			}

			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for range 10 {
				wg.Go(func() {
					k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
					if err == nil {
						_, err = c.GetAPIKey(ctx, k.Name)
					}
					errs <- err
				})
			}
			wg.Wait()
			for range 5 {
				if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := f.count("GET /auth"); n != 1 {
				t.Errorf("GET /auth sent %d times for 25 calls, want 1", n)
			}
			if n := f.count("GET /version"); n != 1 {
				t.Errorf("GET /version sent %d times, want 1", n)
			}
			if n := f.count("POST /auth/token"); n != 0 {
				t.Errorf("POST /auth/token sent %d times, want 0", n)
			}
		})
	}
}

// TestPasswordAuthWrongPassword surfaces Sensu's 401 as IsUnauthorized, without the password.
func TestPasswordAuthWrongPassword(t *testing.T) {
	f := newFakeSensu(t, Generation6)
	cfg := passwordConfig(f.URL())
	cfg.Password = "wrong-Pa55word"
	ctx, logs := logContext()
	_, err := newTestClient(t, cfg).ListAPIKeys(ctx, ListAPIKeysOptions{})
	if !IsUnauthorized(err) {
		t.Fatalf("err = %v, want IsUnauthorized", err)
	}
	if n := f.count("GET /auth"); n != 1 {
		t.Errorf("GET /auth sent %d times, want 1 (a 401 is not retried)", n)
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
		assertNoSecrets(t, what, text, "wrong-Pa55word", basicAuth(testUsername, "wrong-Pa55word"))
	}
}

// TestAPIKeyAuth sends "Authorization: Key …" and never logs in.
func TestAPIKeyAuth(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			admin := f.addKey("admin")
			var mu sync.Mutex
			seen := map[string]bool{}
			f.setIntercept(func(_ http.ResponseWriter, r *http.Request, _ string) bool {
				mu.Lock()
				defer mu.Unlock()
				seen[r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")] = true
				return false
			})
			cfg := testConfig(f.URL())
			cfg.APIKey = admin.key
			c := newTestClient(t, cfg)
			if c.AuthMethod() != AuthAPIKey {
				t.Errorf("AuthMethod = %s", c.AuthMethod())
			}
			ctx := context.Background()
			k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetAPIKey(ctx, k.Name); err != nil {
				t.Fatal(err)
			}
			if f.count("GET /auth")+f.count("POST /auth/token") != 0 {
				t.Error("API key authentication called /auth")
			}
			mu.Lock()
			defer mu.Unlock()
			grant := "POST"
			if gen == Generation7 {
				grant = "PUT" // a client-named, idempotent grant
			}
			for _, want := range []string{
				"GET /version ",
				grant + " /api/core/v2/apikeys Key " + admin.key,
				"GET /api/core/v2/apikeys/" + k.Name + " Key " + admin.key,
			} {
				if !seen[want] {
					t.Errorf("no request %q; saw %v", want, seen)
				}
			}
		})
	}
}

// TestAccessTokenAuth sends the configured token as Bearer, without logging in, and
// refreshes it first when its SENSU_ACCESS_TOKEN_EXPIRES_AT-style expiry has passed.
func TestAccessTokenAuth(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			cases := []struct {
				name        string
				expiresAt   time.Time
				wantRefresh int
			}{
				{"no expiry", time.Time{}, 0},
				{"valid", time.Now().Add(5 * time.Minute), 0},
				{"expired", time.Now().Add(-time.Minute), 1},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					f := newFakeSensu(t, gen)
					access, refresh := token("access"), token("refresh")
					serverExpiry := time.Now().Add(5 * time.Minute)
					if tc.wantRefresh > 0 {
						serverExpiry = time.Unix(0, 0) // Sensu would reject it
					}
					f.addTokens(access, refresh, serverExpiry)
					cfg := testConfig(f.URL())
					cfg.APIKey, cfg.AccessToken, cfg.RefreshToken, cfg.AccessTokenExpiresAt = "", access, refresh, tc.expiresAt
					c := newTestClient(t, cfg)
					if c.AuthMethod() != AuthAccessToken {
						t.Errorf("AuthMethod = %s", c.AuthMethod())
					}
					ctx := context.Background()
					for range 3 {
						if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
							t.Fatal(err)
						}
					}
					if n := f.count("POST /auth/token"); n != tc.wantRefresh {
						t.Errorf("POST /auth/token sent %d times, want %d", n, tc.wantRefresh)
					}
					if n := f.rejections(); n != 0 {
						t.Errorf("Sensu rejected %d requests; the expiry should have been honoured", n)
					}
					if n := f.count("GET /auth"); n != 0 {
						t.Errorf("GET /auth sent %d times with an access token", n)
					}
				})
			}
		})
	}
}

// TestProactiveRefresh renews a short-lived token shortly before expires_at, so no request
// is ever rejected.
func TestProactiveRefresh(t *testing.T) {
	t.Parallel()
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			t.Parallel()
			f := newFakeSensu(t, gen)
			f.ttl = 3 * time.Second
			c := newTestClient(t, passwordConfig(f.URL()))
			ctx := context.Background()
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			c.tokens.mu.Lock()
			refreshAt := c.tokens.refreshAt
			c.tokens.mu.Unlock()
			if refreshAt.IsZero() {
				t.Fatal("no refresh time was set from expires_at")
			}
			if f.count("POST /auth/token") != 0 {
				t.Fatal("refreshed too early")
			}
			waitFor(t, 5*time.Second, "the refresh point", func() bool { return time.Now().After(refreshAt) })
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			if n := f.count("POST /auth/token"); n != 1 {
				t.Errorf("POST /auth/token sent %d times, want 1", n)
			}
			if n := f.count("GET /auth"); n != 1 {
				t.Errorf("GET /auth sent %d times, want 1", n)
			}
			if n := f.rejections(); n != 0 {
				t.Errorf("%d requests were rejected; the token should have been renewed first", n)
			}
		})
	}
}

// TestTokenExpiredOnArrival: a token whose expires_at is already past when it arrives (a
// server clock or a rounding to whole seconds that can't be trusted) is used until Sensu
// rejects it, rather than renewed before every request.
func TestTokenExpiredOnArrival(t *testing.T) {
	t.Parallel()
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			t.Parallel()
			f := newFakeSensu(t, gen)
			f.expiresAtSkew = -10 * time.Minute // valid for 5 minutes, reported 5 minutes ago
			c := newTestClient(t, passwordConfig(f.URL()))
			for i := 0; i < 20; i++ {
				if _, err := c.ListAPIKeys(context.Background(), ListAPIKeysOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if n := f.count("POST /auth/token"); n != 0 {
				t.Errorf("POST /auth/token sent %d times, want 0: the token still works", n)
			}
			if n := f.count("GET /auth"); n != 1 {
				t.Errorf("GET /auth sent %d times, want 1", n)
			}
			if n := f.rejections(); n != 0 {
				t.Errorf("%d requests were rejected", n)
			}
		})
	}
}

func TestRefreshTime(t *testing.T) {
	now := time.Unix(1795769715, 0)
	for _, tc := range []struct {
		lifetime, want time.Duration // want: how long before expiry
	}{
		{300 * time.Second, 10 * time.Second},
		{30 * time.Second, 6 * time.Second},
		{3 * time.Second, 600 * time.Millisecond},
		{0, 0},
		{-time.Minute, 0},
	} {
		exp := now.Add(tc.lifetime)
		if got := exp.Sub(refreshTime(now, exp)); got != tc.want {
			t.Errorf("lifetime %s: renews %s early, want %s", tc.lifetime, got, tc.want)
		}
	}
}

// TestRefreshOn401: Sensu rejects a token early; the client refreshes once and repeats.
func TestRefreshOn401(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			c := newTestClient(t, passwordConfig(f.URL()))
			ctx := context.Background()
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			f.expireAccessTokens()
			if _, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"}); err != nil {
				t.Fatalf("CreateAPIKey after the token was rejected: %v", err)
			}
			if n := f.rejections(); n != 1 {
				t.Errorf("%d rejections, want 1", n)
			}
			if n := f.count("POST /auth/token"); n != 1 {
				t.Errorf("POST /auth/token sent %d times, want 1", n)
			}
			if n := f.count("GET /auth"); n != 1 {
				t.Errorf("GET /auth sent %d times, want 1", n)
			}
			if n := f.keyCount(); n != 1 {
				t.Errorf("%d keys exist, want 1 (the rejected grant did nothing)", n)
			}
		})
	}
}

// TestRefreshRefusedFallsBackToLogin: the refresh token was used elsewhere (6.x answers
// 400), so the client logs in again with its password.
func TestRefreshRefusedFallsBackToLogin(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			c := newTestClient(t, passwordConfig(f.URL()))
			ctx, logs := logContext()
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			f.expireAccessTokens()
			f.forgetRefreshTokens()
			if _, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{}); err != nil {
				t.Fatalf("ListAPIKeys after refresh refused: %v", err)
			}
			if n := f.count("POST /auth/token"); n != 1 {
				t.Errorf("POST /auth/token sent %d times, want 1", n)
			}
			if n := f.count("GET /auth"); n != 2 {
				t.Errorf("GET /auth sent %d times, want 2 (login, then login again)", n)
			}
			assertNoSecrets(t, "logs", logs.String(), append(f.issuedSecrets(), testPassword, basicAuth(testUsername, testPassword))...)
		})
	}
}

// TestAccessTokenWithoutRenewal: with neither refresh token nor password, Sensu's 401
// stands and is reported as IsUnauthorized.
func TestAccessTokenWithoutRenewal(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			for _, expiresAt := range []time.Time{{}, time.Now().Add(-time.Minute)} {
				f := newFakeSensu(t, gen)
				access := token("access")
				f.addTokens(access, "", time.Unix(0, 0))
				cfg := testConfig(f.URL())
				cfg.APIKey, cfg.AccessToken, cfg.AccessTokenExpiresAt = "", access, expiresAt
				c := newTestClient(t, cfg)
				ctx, logs := logContext()
				_, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
				if !IsUnauthorized(err) {
					t.Fatalf("expires %v: err = %v, want IsUnauthorized", expiresAt, err)
				}
				if f.count("POST /auth/token")+f.count("GET /auth") != 0 {
					t.Error("tried to renew without a way to")
				}
				if n := f.rejections(); n != 1 {
					t.Errorf("%d rejected requests, want 1", n)
				}
				assertNoSecrets(t, "error", err.Error(), access)
				assertNoSecrets(t, "logs", logs.String(), access)
			}
		})
	}
}

// TestAccessTokenRefreshRefused: the refresh token is refused and there is no password.
func TestAccessTokenRefreshRefused(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			access, refresh := token("access"), token("refresh")
			f.addTokens(access, "", time.Unix(0, 0)) // refresh token unknown to Sensu
			cfg := testConfig(f.URL())
			cfg.APIKey, cfg.AccessToken, cfg.RefreshToken = "", access, refresh
			ctx, logs := logContext()
			_, err := newTestClient(t, cfg).ListAPIKeys(ctx, ListAPIKeysOptions{})
			if err == nil {
				t.Fatal("ListAPIKeys succeeded with a refused refresh")
			}
			if !IsRefreshRefused(err) || !strings.Contains(err.Error(), "refresh") {
				t.Errorf("err = %v, want IsRefreshRefused", err)
			}
			if n := f.count("POST /auth/token"); n != 1 {
				t.Errorf("POST /auth/token sent %d times, want 1", n)
			}
			for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				assertNoSecrets(t, what, text, access, refresh)
			}
		})
	}
}

// TestConcurrentRefresh: 20 concurrent requests holding an expired token cause exactly
// one refresh, which matters on 6.x where a refresh token works once.
func TestConcurrentRefresh(t *testing.T) {
	for _, gen := range generations {
		for _, known := range []bool{true, false} {
			name := gen.String() + "/expiry known"
			if !known {
				name = gen.String() + "/rejected by Sensu"
			}
			t.Run(name, func(t *testing.T) {
				f := newFakeSensu(t, gen)
				access, refresh := token("access"), token("refresh")
				f.addTokens(access, refresh, time.Unix(0, 0))
				cfg := testConfig(f.URL())
				cfg.APIKey, cfg.AccessToken, cfg.RefreshToken = "", access, refresh
				cfg.Generation = gen
				if known {
					cfg.AccessTokenExpiresAt = time.Now().Add(-time.Second)
				}
				c := newTestClient(t, cfg)
				listConcurrently(t, c, 20)
				if n := f.count("POST /auth/token"); n != 1 {
					t.Errorf("POST /auth/token sent %d times, want exactly 1", n)
				}
				if known && f.rejections() != 0 {
					t.Errorf("%d requests were sent with the expired token", f.rejections())
				}
			})
		}
	}
}

// TestWaitingForLoginHonoursCancellation: a caller queued behind a slow login gives up
// when its context ends.
func TestWaitingForLoginHonoursCancellation(t *testing.T) {
	f := newFakeSensu(t, Generation6)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	f.setIntercept(func(_ http.ResponseWriter, r *http.Request, route string) bool {
		if route == "GET /auth" {
			entered <- struct{}{}
			<-release
		}
		return false
	})
	cfg := passwordConfig(f.URL())
	cfg.Generation = Generation6
	c := newTestClient(t, cfg)

	first := make(chan error, 1)
	go func() {
		_, err := c.ListAPIKeys(context.Background(), ListAPIKeysOptions{})
		first <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
		second <- err
	}()
	cancel()
	select {
	case err := <-second:
		if err == nil || ctx.Err() == nil {
			t.Errorf("queued call = %v, want the context's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the queued call did not return after cancellation")
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first call: %v", err)
	}
}

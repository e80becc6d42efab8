package sensu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoSecretsInLogsOrErrors runs every flow of the client, failures included, and checks
// that no password, token or key appears in the captured tflog output or in any error.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			f := newFakeSensu(t, gen)
			c := newTestClient(t, passwordConfig(f.URL()))
			ctx, logs := logContext()
			var errs []string
			record := func(err error) {
				if err != nil {
					errs = append(errs, err.Error())
				}
			}

			k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)
			_, err = c.ListAPIKeys(ctx, ListAPIKeysOptions{Username: "admin"})
			record(err)
			_, err = c.LookupAPIKey(ctx, k.ID)
			record(err)

			// A token rejected early, then a refresh refused: refresh, then login again.
			f.expireAccessTokens()
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)
			f.expireAccessTokens()
			f.forgetRefreshTokens()
			_, err = c.ListAPIKeys(ctx, ListAPIKeysOptions{})
			record(err)
			if f.count("POST /auth/token") != 2 || f.count("GET /auth") != 2 {
				t.Errorf("refreshes %d, logins %d; want 2 and 2", f.count("POST /auth/token"), f.count("GET /auth"))
			}

			// Failures: unknown user, revoked key, a grant answered 500, a retried read.
			_, err = c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "nosuchuser"})
			if !IsUserNotFound(err) {
				t.Errorf("grant for nosuchuser = %v", err)
			}
			record(err)
			record(c.DeleteAPIKey(ctx, k.Name))
			err = c.DeleteAPIKey(ctx, k.Name)
			if !IsNotFound(err) {
				t.Errorf("second revoke = %v", err)
			}
			record(err)
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)
			_, err = c.LookupAPIKey(ctx, k.ID)
			record(err)

			var failed atomic.Bool
			f.setIntercept(func(w http.ResponseWriter, r *http.Request, route string) bool {
				if route == "GET /api/core/v2/apikeys/{name}" && failed.CompareAndSwap(false, true) {
					w.WriteHeader(http.StatusBadGateway)
					_, _ = fmt.Fprintf(w, "upstream failed for %s", r.URL.Path)
					return true
				}
				return false
			})
			_, err = c.GetAPIKey(ctx, k.Name)
			record(err)

			// A client authenticating with a key, and a wrong password.
			kcfg := testConfig(f.URL())
			kcfg.APIKey = f.addKey("admin").key
			kc := newTestClient(t, kcfg)
			_, err = kc.ListAPIKeys(ctx, ListAPIKeysOptions{})
			record(err)
			bad := passwordConfig(f.URL())
			bad.Password = "Wr0ng-" + testPassword
			_, err = newTestClient(t, bad).ListAPIKeys(ctx, ListAPIKeysOptions{})
			if !IsUnauthorized(err) {
				t.Errorf("wrong password = %v", err)
			}
			record(err)

			secrets := append(f.issuedSecrets(), k.Key, testPassword, bad.Password,
				basicAuth(testUsername, testPassword), basicAuth(testUsername, bad.Password))
			if len(secrets) < 10 {
				t.Fatalf("only %d secrets were issued; the scenario did not run", len(secrets))
			}
			assertNoSecrets(t, "logs", logs.String(), secrets...)
			assertNoSecrets(t, "errors", strings.Join(errs, "\n"), secrets...)
			if !strings.Contains(logs.String(), "Sending Sensu API request") {
				t.Error("nothing was logged; the capture does not work")
			}
			if gen == Generation6 && !strings.Contains(logs.String(), redactedSegment(k.Key)) {
				t.Errorf("the logs do not name the 6.x key by its redacted form %s", redactedSegment(k.Key))
			}
		})
	}
}

// TestTransportErrorRedactsKey: a 6.x info or revoke URL carries the key; when nothing
// answers there, neither the error nor the logs may show it.
func TestTransportErrorRedactsKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	_ = ln.Close()

	for _, op := range []struct {
		name string
		call func(context.Context, *Client, string) error
	}{
		{"GET", func(ctx context.Context, c *Client, k string) error { _, err := c.GetAPIKey(ctx, k); return err }},
		{"DELETE", func(ctx context.Context, c *Client, k string) error { return c.DeleteAPIKey(ctx, k) }},
		{"lookup", func(ctx context.Context, c *Client, k string) error { _, err := c.LookupAPIKey(ctx, k); return err }},
	} {
		t.Run(op.name, func(t *testing.T) {
			cfg := testConfig(closedURL)
			cfg.Generation, cfg.MaxRetries = Generation6, 1
			ctx, logs := logContext()
			err := op.call(ctx, newTestClient(t, cfg), key6)
			var terr *TransportError
			if !errors.As(err, &terr) || !IsConnectionRefused(err) {
				t.Fatalf("err = %T %v, want a refused TransportError", err, err)
			}
			want := "{key:sha256:" + Digest(key6)[:12] + "}"
			if !strings.Contains(err.Error(), want) || !strings.Contains(terr.URL, want) {
				t.Errorf("error %q does not name the key as %s", err, want)
			}
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the logs do not name the key as %s", want)
			}
			for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				assertNoSecrets(t, what, text, key6, adminAPIKey)
			}
		})
	}

	t.Run("cancelled while waiting to retry", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		cfg := testConfig(srv.URL)
		cfg.Generation = Generation6
		c := newTestClient(t, cfg)
		answered := make(chan int, 10)
		c.http.HTTPClient.Transport = answeredTransport{c.http.HTTPClient.Transport, answered}
		lctx, logs := logContext()
		ctx, cancel := context.WithCancel(lctx)
		done := make(chan error, 1)
		go func() { done <- c.DeleteAPIKey(ctx, key6) }()
		<-answered
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), redactedSegment(key6)) {
			t.Errorf("err = %v, want context.Canceled naming the key as %s", err, redactedSegment(key6))
		}
		assertNoSecrets(t, "error", errText(err), key6, adminAPIKey)
		assertNoSecrets(t, "logs", logs.String(), key6, adminAPIKey)
	})

	t.Run("timeout", func(t *testing.T) {
		cfg := testConfig(hangingServer(t, nil))
		cfg.Generation, cfg.MaxRetries, cfg.Timeout = Generation6, 0, 100*time.Millisecond
		ctx, logs := logContext()
		_, err := newTestClient(t, cfg).GetAPIKey(ctx, key6)
		var terr *TransportError
		if !errors.As(err, &terr) {
			t.Fatalf("err = %T %v, want a TransportError", err, err)
		}
		for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
			assertNoSecrets(t, what, text, key6, adminAPIKey)
		}
	})
}

// TestErrorPagesEchoingThePath: proxies and servers echo the request path in error pages;
// on 6.x that path holds the key.
func TestErrorPagesEchoingThePath(t *testing.T) {
	path := "/api/core/v2/apikeys/" + key6
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		check       func(t *testing.T, err error)
	}{
		{"HTML 404", 404, "text/html", "<!DOCTYPE html><html><head><title>404</title></head><body>Cannot GET " + path + "</body></html>",
			func(t *testing.T, err error) {
				if !IsNotFound(err) || !strings.Contains(err.Error(), "an HTML page") {
					t.Errorf("err = %v, want IsNotFound naming an HTML page", err)
				}
			}},
		{"HTML 200", 200, "text/html", "<html><body>Welcome to " + path + "</body></html>",
			func(t *testing.T, err error) {
				var rerr *ResponseError
				if !errors.As(err, &rerr) {
					t.Errorf("err = %v, want a ResponseError", err)
				}
			}},
		{"text 403", 403, textPlain, "forbidden: " + path,
			func(t *testing.T, err error) {
				if !IsForbidden(err) || !strings.Contains(err.Error(), redactedSegment(key6)) {
					t.Errorf("err = %v, want IsForbidden with the redacted path", err)
				}
			}},
		{"JSON 404", 404, appJSON, `{"message":"key ` + key6 + ` not found","code":2}`,
			func(t *testing.T, err error) {
				if !IsNotFound(err) {
					t.Errorf("err = %v, want IsNotFound", err)
				}
			}},
		// A long message is shortened: the key must not survive half-cut.
		{"long text 404 cutting the key", 404, textPlain, strings.Repeat("x", 180) + " " + key6 + " " + strings.Repeat("y", 100),
			func(t *testing.T, err error) {
				if !IsNotFound(err) {
					t.Errorf("err = %v, want IsNotFound", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			cfg := testConfig(srv.URL)
			cfg.Generation = Generation6
			ctx, logs := logContext()
			_, err := newTestClient(t, cfg).GetAPIKey(ctx, key6)
			if err == nil {
				t.Fatal("GetAPIKey succeeded")
			}
			tc.check(t, err)
			// The whole key, and any 8-character piece of it.
			pieces := []string{key6, adminAPIKey}
			for i := 0; i+8 <= len(key6); i += 4 {
				pieces = append(pieces, key6[i:i+8])
			}
			for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				assertNoSecrets(t, what, text, pieces...)
			}
		})
	}
}

// TestRedact covers raw and path-escaped occurrences.
func TestRedact(t *testing.T) {
	secret := "a b/c"
	got := redact("GET /api/core/v2/apikeys/a%20b%2Fc and a b/c", secret)
	if strings.Contains(got, "a%20b%2Fc") || strings.Contains(got, "a b/c") {
		t.Errorf("redact left the secret: %q", got)
	}
	if strings.Count(got, redactedSegment(secret)) != 2 {
		t.Errorf("redact = %q, want two redacted segments", got)
	}
	if redact("unchanged", "") != "unchanged" {
		t.Error("an empty secret changed the text")
	}
	if want := "{key:sha256:" + Digest(key6)[:12] + "}"; redactedSegment(key6) != want {
		t.Errorf("redactedSegment = %s, want %s", redactedSegment(key6), want)
	}
}

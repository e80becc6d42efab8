package sensu

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestTypedErrors maps the statuses and bodies recorded from real backends to predicates.
func TestTypedErrors(t *testing.T) {
	type call func(context.Context, *Client) error
	get := func(name string) call {
		return func(ctx context.Context, c *Client) error { _, err := c.GetAPIKey(ctx, name); return err }
	}
	del := func(name string) call {
		return func(ctx context.Context, c *Client) error { return c.DeleteAPIKey(ctx, name) }
	}
	grant := func(user string) call {
		return func(ctx context.Context, c *Client) error {
			_, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: user})
			return err
		}
	}
	list := func(ctx context.Context, c *Client) error {
		_, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
		return err
	}

	cases := []struct {
		name        string
		call        call
		status      int
		body        string
		is          func(error) bool
		wantMessage string
	}{
		{"get missing key", get("00000000-0000-0000-0000-000000000000"), 404, wireNotFound, IsNotFound, "not found"},
		{"delete missing key", del("no-such-key"), 404, wireNotFound, IsNotFound, "not found"},
		{"grant for unknown user", grant("nosuchuser"), 400, wireUserDoesNotExist, IsUserNotFound, "user does not exist"},
		{"wrong key", list, 401, wireInvalidCredentials, IsUnauthorized, "invalid credentials"},
		{"bad credentials", grant("admin"), 401, `{"Code":5,"Message":"bad credentials"}`, IsUnauthorized, "bad credentials"},
		{"non-admin lists", list, 403, wireForbidden, IsForbidden, "unauthorized to perform action"},
		{"non-admin grants", grant("dev"), 403, wireForbidden, IsForbidden, "unauthorized to perform action"},
		{"non-admin revokes", del(name7), 403, wireForbidden, IsForbidden, "unauthorized to perform action"},
		{"update attempt", get(name7), 405, "", func(error) bool { return true }, ""},
		{"invalid JSON grant", grant("admin"), 500, "unexpected end of JSON input\n", func(error) bool { return true }, "unexpected end of JSON input"},
	}
	for _, gen := range generations {
		for _, tc := range cases {
			t.Run(gen.String()+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", textPlain)
					w.WriteHeader(tc.status)
					_, _ = fmt.Fprint(w, tc.body)
				}))
				t.Cleanup(srv.Close)
				cfg := testConfig(srv.URL)
				cfg.Generation, cfg.MaxRetries = gen, 0
				err := tc.call(context.Background(), newTestClient(t, cfg))
				if err == nil || !tc.is(err) {
					t.Fatalf("err = %v, want the predicate to hold", err)
				}
				var apiErr *APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("err = %T %v, want an APIError inside", err, err)
				}
				if apiErr.StatusCode != tc.status || apiErr.Message != tc.wantMessage {
					t.Errorf("APIError = %d %q, want %d %q", apiErr.StatusCode, apiErr.Message, tc.status, tc.wantMessage)
				}
				wantText := tc.wantMessage
				if wantText == "" {
					wantText = http.StatusText(tc.status)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", tc.status)) || !strings.Contains(err.Error(), wantText) {
					t.Errorf("error text %q lacks the status or message", err)
				}
				// Predicates do not overlap.
				n := 0
				for _, p := range []func(error) bool{IsNotFound, IsUnauthorized, IsForbidden, IsUserNotFound} {
					if p(err) {
						n++
					}
				}
				if n > 1 {
					t.Errorf("%d predicates hold for %v", n, err)
				}
				if gen == Generation6 {
					assertNoSecrets(t, "error", err.Error(), "00000000-0000-0000-0000-000000000000")
				}
			})
		}
	}

	t.Run("user not found names the user", func(t *testing.T) {
		err := &UserNotFoundError{Username: "nosuchuser", Err: &APIError{StatusCode: 400, Message: "user does not exist"}}
		if !strings.Contains(err.Error(), `"nosuchuser"`) || !IsUserNotFound(fmt.Errorf("wrapped: %w", err)) {
			t.Errorf("UserNotFoundError = %v", err)
		}
		if IsUserNotFound(&APIError{StatusCode: 400}) || IsNotFound(nil) || IsTLSVerification(nil) {
			t.Error("predicates hold for the wrong errors")
		}
	})
}

// TestResponseErrors: bodies that cannot be understood give a ResponseError that never
// echoes the body.
func TestResponseErrors(t *testing.T) {
	const secretInBody = "5ec2e7-in-the-body"
	html := "<!DOCTYPE html><html><body>Bad gateway " + secretInBody + "</body></html>"
	cases := []struct {
		name        string
		gen         Generation
		op          string // get, list, grant
		status      int
		contentType string
		header      map[string]string
		body        string
		reason      string
	}{
		{"HTML page", Generation6, "get", 200, "text/html", nil, html, "not valid JSON"},
		{"truncated JSON", Generation6, "get", 200, appJSON, nil, `{"metadata":{"name":"` + secretInBody, "truncated"},
		{"empty body", Generation7, "get", 200, appJSON, nil, "", "truncated"},
		{"wrong shape (list)", Generation6, "list", 200, appJSON, nil, `{"items":["` + secretInBody + `"]}`, "wrong shape"},
		{"wrong shape (field)", Generation7, "get", 200, appJSON, nil, `{"spec":{"username":["` + secretInBody + `"]}}`, "wrong shape"},
		{"no name", Generation6, "get", 200, appJSON, nil, `{"username":"admin"}`, "has no name"},
		{"no name in list", Generation7, "list", 200, appJSON, nil, `[{"spec":{"username":"admin"}}]`, "has no name"},
		{"oversized list", Generation6, "list", 200, appJSON, nil, "[" + strings.Repeat(" ", maxBodyBytes) + "]", "exceeds 8 MiB"},
		{"7.x grant with HTML", Generation7, "grant", 201, "text/html", nil, html, "not valid JSON"},
		// 6.x grants answered like this are reconciled: see TestGrant6Reconciliation.
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			cfg := testConfig(srv.URL)
			cfg.Generation = tc.gen
			c := newTestClient(t, cfg)
			ctx, logs := logContext()
			var err error
			switch tc.op {
			case "get":
				name := key6
				if tc.gen == Generation7 {
					name = name7
				}
				_, err = c.GetAPIKey(ctx, name)
			case "list":
				_, err = c.ListAPIKeys(ctx, ListAPIKeysOptions{})
			case "grant":
				_, err = c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
			}
			var rerr *ResponseError
			if !errors.As(err, &rerr) {
				t.Fatalf("err = %T %v, want a ResponseError", err, err)
			}
			if rerr.StatusCode != tc.status || !strings.Contains(rerr.Reason, tc.reason) {
				t.Errorf("ResponseError = %+v, want status %d and a reason with %q", rerr, tc.status, tc.reason)
			}
			if tc.contentType != "" && !strings.Contains(err.Error(), tc.contentType) {
				t.Errorf("error %q does not name the content type", err)
			}
			for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				assertNoSecrets(t, what, text, secretInBody, adminAPIKey)
				if tc.gen == Generation6 {
					assertNoSecrets(t, what, text, key6)
				}
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	for body, want := range map[string]string{
		wireNotFound:                          "not found",
		wireForbidden:                         "unauthorized to perform action",
		"user does not exist\n":               "user does not exist",
		`{"message":"","Message":"upper"}`:    "upper",
		"  <HTML><body>gateway</body></HTML>": "an HTML page instead of a Sensu API response (is the URL that of a Sensu backend?)",
		"<!doctype html><p>x":                 "an HTML page instead of a Sensu API response (is the URL that of a Sensu backend?)",
		"":                                    "",
		strings.Repeat("a", 300):              strings.Repeat("a", 200) + "…",
		`{"code":2}`:                          `{"code":2}`,
		`{"message":"` + strings.Repeat("b", 250) + `"}`:     strings.Repeat("b", 200) + "…",
		`{"message":"not found","code":2,"extra":[1,2,3]}  `: "not found",
	} {
		if got := errorMessage([]byte(body)); got != want {
			t.Errorf("errorMessage(%.40q) = %.60q, want %.60q", body, got, want)
		}
	}
	// An empty message falls back to the status text.
	if got := (&APIError{StatusCode: 405, Method: "PUT", Path: "/x"}).Error(); got != "PUT /x: HTTP 405: Method Not Allowed" {
		t.Errorf("APIError.Error() = %q", got)
	}
}

// TestTLS: an unknown CA is reported by IsTLSVerification and not retried; trusting the CA
// by PEM or file, or skipping verification, works.
func TestTLS(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		w.Header().Set("Content-Type", appJSON)
		_, _ = fmt.Fprint(w, wireList6)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the client's failed handshake is expected
	t.Cleanup(srv.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(caPEM), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("unknown CA", func(t *testing.T) {
		cfg := testConfig(srv.URL)
		cfg.Generation = Generation6
		ctx, logs := logContext()
		_, err := newTestClient(t, cfg).ListAPIKeys(ctx, ListAPIKeysOptions{})
		if !IsTLSVerification(err) {
			t.Fatalf("err = %v, want IsTLSVerification", err)
		}
		var terr *TransportError
		if !errors.As(err, &terr) || terr.Method != "GET" || !strings.HasPrefix(terr.URL, srv.URL) {
			t.Errorf("err = %#v, want a TransportError naming the request", err)
		}
		if n := attempts.Load(); n != 0 {
			t.Errorf("the handler ran %d times", n)
		}
		assertNoSecrets(t, "error", err.Error(), adminAPIKey)
		assertNoSecrets(t, "logs", logs.String(), adminAPIKey)
		if n := strings.Count(logs.String(), "Retrying Sensu API request"); n != 0 {
			t.Errorf("a TLS verification failure was retried %d times", n)
		}
	})

	for _, tc := range []struct {
		name string
		set  func(*Config)
	}{
		{"trusted CA PEM", func(c *Config) { c.TrustedCAPEM = caPEM }},
		{"trusted CA file", func(c *Config) { c.TrustedCAFile = caFile }},
		{"insecure skip verify", func(c *Config) { c.InsecureSkipTLSVerify = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(srv.URL)
			cfg.Generation = Generation6
			tc.set(&cfg)
			keys, err := newTestClient(t, cfg).ListAPIKeys(context.Background(), ListAPIKeysOptions{})
			if err != nil || len(keys) != 2 {
				t.Fatalf("ListAPIKeys = %d keys, %v", len(keys), err)
			}
		})
	}

	t.Run("bad CA configuration", func(t *testing.T) {
		notPEM := filepath.Join(t.TempDir(), "not.pem")
		if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
		for name, set := range map[string]func(*Config){
			"missing file": func(c *Config) { c.TrustedCAFile = filepath.Join(t.TempDir(), "missing.pem") },
			"file not PEM": func(c *Config) { c.TrustedCAFile = notPEM },
			"PEM not PEM":  func(c *Config) { c.TrustedCAPEM = "-----BEGIN NOTHING-----" },
		} {
			cfg := testConfig(srv.URL)
			set(&cfg)
			if _, err := New(cfg); err == nil {
				t.Errorf("%s: New succeeded", name)
			}
		}
	})
}

// TestValidateAPIURL accepts only a backend's root URL.
func TestValidateAPIURL(t *testing.T) {
	for _, ok := range []string{
		"http://127.0.0.1:8080", "https://sensu.example.com:8080/", " https://sensu.example.com ", "http://[::1]:8080",
	} {
		u, err := ValidateAPIURL(ok)
		if err != nil {
			t.Errorf("ValidateAPIURL(%q) = %v", ok, err)
			continue
		}
		if u.Path != "" || strings.HasSuffix(u.String(), "/") {
			t.Errorf("ValidateAPIURL(%q) = %s, want no path", ok, u)
		}
	}
	for raw, want := range map[string]string{
		"sensu.example.com:8080":                "http:// or https://",
		"127.0.0.1:8080":                        "http:// or https://",
		"ftp://sensu.example.com":               "http:// or https://",
		"":                                      "http:// or https://",
		"http://":                               "no host",
		"http://:8080":                          "no host",
		"https://sensu.example.com/api":         "has a path",
		"https://sensu.example.com/api/core/v2": "has a path",
		"https://admin:P@ssw0rd!@sensu.example.com": "credentials",
		"https://admin@sensu.example.com":           "credentials",
		"ftp://admin:s3cret-pw@sensu.example.com":   "credentials",
		"https://sensu.example.com?x=1":             "query or fragment",
		"https://sensu.example.com#frag":            "query or fragment",
		"http://sensu example.com":                  "not a valid URL",
		"http://admin:s3cret-pw@sensu example.com":  "not a valid URL",
	} {
		_, err := ValidateAPIURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateAPIURL(%q) = %v, want an error with %q", raw, err, want)
			continue
		}
		assertNoSecrets(t, "error", err.Error(), "P@ssw0rd!", "s3cret-pw")
	}
}

// TestConfigMethod requires exactly one way to authenticate.
func TestConfigMethod(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want AuthMethod
		err  string
	}{
		{"password", Config{Username: "admin", Password: "the-password"}, AuthPassword, ""},
		{"api key", Config{APIKey: "the-api-key"}, AuthAPIKey, ""},
		{"access token", Config{AccessToken: "the-access-token"}, AuthAccessToken, ""},
		{"access and refresh token", Config{AccessToken: "the-access-token", RefreshToken: "the-refresh-token"}, AuthAccessToken, ""},
		{"none", Config{}, "", "no credentials"},
		{"username without password", Config{Username: "admin"}, "", "both a username and a password"},
		{"password without username", Config{Password: "the-password"}, "", "both a username and a password"},
		{"refresh token alone", Config{RefreshToken: "the-refresh-token"}, "", "refresh token needs the access token"},
		{"refresh token with api key", Config{APIKey: "the-api-key", RefreshToken: "the-refresh-token"}, "", "refresh token needs the access token"},
		{"refresh token with password", Config{Username: "u", Password: "the-password", RefreshToken: "the-refresh-token"}, "", "refresh token needs the access token"},
		{"password and api key", Config{Username: "admin", Password: "the-password", APIKey: "the-api-key"}, "", "more than one"},
		{"api key and access token", Config{APIKey: "the-api-key", AccessToken: "the-access-token"}, "", "more than one"},
		{"username and access token", Config{Username: "admin", AccessToken: "the-access-token"}, "", "more than one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Method()
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Errorf("Method = %q, %v; want %q", got, err, tc.want)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Method = %q, %v; want an error with %q", got, err, tc.err)
			}
			if err != nil {
				assertNoSecrets(t, "error", err.Error(), tc.cfg.Password, tc.cfg.APIKey, tc.cfg.AccessToken, tc.cfg.RefreshToken)
				tc.cfg.APIURL = "http://127.0.0.1:8080"
				if _, nerr := New(tc.cfg); nerr == nil {
					t.Error("New accepted the config")
				}
			}
		})
	}
	if _, err := New(Config{APIURL: "ftp://x", APIKey: "k"}); err == nil {
		t.Error("New accepted an ftp URL")
	}
}

func TestClientAccessors(t *testing.T) {
	c := newTestClient(t, Config{APIURL: "https://sensu.example.com:8080/", APIKey: "k"})
	if c.URL() != "https://sensu.example.com:8080" {
		t.Errorf("URL = %s", c.URL())
	}
	if c.userAgent != "terraform-provider-sensu" {
		t.Errorf("default User-Agent = %q", c.userAgent)
	}
	if c.http.RetryMax != 0 || c.http.HTTPClient.Timeout != DefaultTimeout {
		t.Errorf("defaults: RetryMax %d, Timeout %s", c.http.RetryMax, c.http.HTTPClient.Timeout)
	}
	if c.http.RetryWaitMin != defaultRetryWaitMin || c.http.RetryWaitMax != defaultRetryWaitMax {
		t.Errorf("default waits %s..%s", c.http.RetryWaitMin, c.http.RetryWaitMax)
	}
	c2 := newTestClient(t, Config{APIURL: "http://x", APIKey: "the-api-key", MaxRetries: -3, RetryWaitMin: 2e9, RetryWaitMax: 1e9})
	if c2.http.RetryMax != 0 || c2.http.RetryWaitMax != c2.http.RetryWaitMin {
		t.Errorf("negative retries or inverted waits not normalised: %d %s %s", c2.http.RetryMax, c2.http.RetryWaitMin, c2.http.RetryWaitMax)
	}
	if c2.http.Logger != nil {
		t.Error("go-retryablehttp's own logger is set: it would print to stderr")
	}
	if Generation6.String() != "Sensu Go 6.x" || Generation7.String() != "Sensu Go 7.x" {
		t.Error("Generation.String")
	}
}

// TestRedirectNamesTheTarget is an http:// URL behind a load balancer that redirects to
// https://: the error says where to, without following it with the credentials.
func TestRedirectNamesTheTarget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://sensu.example.com:8080"+r.URL.Path, http.StatusPermanentRedirect)
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.Generation = Generation6
	_, err := newTestClient(t, cfg).GetAPIKey(context.Background(), key6)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusPermanentRedirect {
		t.Fatalf("err = %v, want an APIError with status 308", err)
	}
	if !strings.Contains(err.Error(), `redirected to "https://sensu.example.com:8080/api/core/v2/apikeys/{key:sha256:`) {
		t.Errorf("err = %v, want the redirect target with the key redacted", err)
	}
	if strings.Contains(err.Error(), key6) {
		t.Errorf("the error repeats the key: %v", err)
	}
}

package sensu

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

// Values and bodies copied from the wire records of real backends
// (shared/sensu-api/wire-6.12.0.md and wire-7.0.0-alpha1.md).
const (
	testUsername = "admin"
	testPassword = "P@ssw0rd!"

	key6  = "63dedfb5-d09f-441c-9150-5a767488cad1" // 6.x: name and secret at once
	key6b = "6d9905ad-1547-4703-8ddd-49000b830b12"
	key6d = "b99b38b6-3b01-472e-9df9-763efe1588c3" // dev's key

	name7 = "surelyworkablemullet"

	// adminAPIKey is the credential the client itself authenticates with in API-key tests.
	adminAPIKey = "11111111-2222-3333-4444-555555555555"

	wireVersion6 = `{"etcd":{"etcdserver":"3.5.15","etcdcluster":"3.5.0"},"sensu_backend":"6.12.0","api_groups":{"core/v2":"v2.20.0","core/v3":"v3.9.0"}}`
	wireVersion7 = `{"etcd":null,"sensu_backend":"7.0.0-alpha1","api_groups":{"core/v2":"v2.20.0-alpha1","core/v3":"v3.9.0-alpha2"}}`

	wireCreateBody6 = `{"username":"admin"}`

	wireGet6  = `{"metadata":{"name":"63dedfb5-d09f-441c-9150-5a767488cad1","created_by":"admin"},"username":"admin","created_at":1795769717}`
	wireList6 = `[{"metadata":{"name":"63dedfb5-d09f-441c-9150-5a767488cad1","created_by":"admin"},"username":"admin","created_at":1795769717},{"metadata":{"name":"6d9905ad-1547-4703-8ddd-49000b830b12","created_by":"admin"},"username":"admin","created_at":1795769717}]`
	// wireList6Dev is the list after admin granted dev a key (step 54).
	wireList6Dev = `[{"metadata":{"name":"6d9905ad-1547-4703-8ddd-49000b830b12","created_by":"admin"},"username":"admin","created_at":1795769717},{"metadata":{"name":"b99b38b6-3b01-472e-9df9-763efe1588c3","created_by":"admin"},"username":"dev","created_at":1795769718}]`

	wireGet7  = `{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"surelyworkablemullet","labels":{"sensu.io/created_at":"2026-11-27T08:58:46.564489Z","sensu.io/updated_at":"2026-11-27T08:58:46.564489Z"},"annotations":{"sensu.io/etag":"Wy8DSdFxtEsPbgw6qTuAfrBJsGo"},"created_by":"admin"},"username":"admin","created_at":1795769926,"hash":"JDJhJDEwJHk2U0FUeEphUFAyNFVPeEd4QlB6NWV6UXNhMlFVOWVJY3l1WHF4YUhrUUhPcFoyUkpaVS9h"}}`
	wireList7 = `[{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"adequatelypreciseegret","labels":{"sensu.io/created_at":"2026-11-27T08:58:47.834863Z","sensu.io/updated_at":"2026-11-27T08:58:47.834863Z"},"annotations":{"sensu.io/etag":"C7WrKwgPctxnl1nxmVa0U0DOKCE"},"created_by":"admin"},"username":"admin","created_at":1795769927,"hash":"JDJhJDEwJEtvUEJTcHguLjVHNU1oZGI4SUp4SC5WNWNubW1mcm93c3BkdHpJdTR1TlNsLlhqM0tqOWFH"}},{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"previouslytouchinglemming","labels":{"sensu.io/created_at":"2026-11-27T08:58:47.243712Z","sensu.io/updated_at":"2026-11-27T08:58:47.243712Z"},"annotations":{"sensu.io/etag":"lJ6g0vabtfziWQUCooj2iQAS5c0"},"created_by":"admin"},"username":"admin","created_at":1795769927,"hash":"JDJhJDEwJEtQYnNIOUo1dktENUczVW0vTTVDUHVPaWlpMkVNQThhZ1Q1R28xaUQxWlV2QVgybkdPNWJ1"}},{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"suddenlyfirstgrackle","labels":{"sensu.io/created_at":"2026-11-27T08:58:46.901003Z","sensu.io/updated_at":"2026-11-27T08:58:46.901003Z"},"annotations":{"sensu.io/etag":"4ByZ+ebi5FVnbap76m1V3SJiU4Y"},"created_by":"admin"},"username":"admin","created_at":1795769926,"hash":"JDJhJDEwJE0uWHRsU3l3YnYvVjVTU0thSVlUbnVqNWFMWi9IUGFoSWI0NnpyWm9rTnovTWlDaG1hUGl1"}},{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"surelyworkablemullet","labels":{"sensu.io/created_at":"2026-11-27T08:58:46.564489Z","sensu.io/updated_at":"2026-11-27T08:58:46.564489Z"},"annotations":{"sensu.io/etag":"Wy8DSdFxtEsPbgw6qTuAfrBJsGo"},"created_by":"admin"},"username":"admin","created_at":1795769926,"hash":"JDJhJDEwJHk2U0FUeEphUFAyNFVPeEd4QlB6NWV6UXNhMlFVOWVJY3l1WHF4YUhrUUhPcFoyUkpaVS9h"}},{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"tf-spec-meta","labels":{"sensu.io/created_at":"2026-11-27T08:58:47.54073Z","sensu.io/updated_at":"2026-11-27T08:58:48.504301Z"},"annotations":{"sensu.io/etag":"fhog8OA0wq3bU1gI123UF6ZOdN0"},"created_by":"admin"},"username":"admin","created_at":1795769928,"hash":"JDJhJDEwJE12Vm14QmNzdmYyMXNBQURjT2pVWS5LNmxhcml4cmxaWS9iZFp5V0ZBMVNZZEl2eksvMXky"}},{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"triviallyfirmgoshawk","labels":{"sensu.io/created_at":"2026-11-27T08:58:48.182377Z","sensu.io/updated_at":"2026-11-27T08:58:48.182377Z"},"annotations":{"sensu.io/etag":"TnqKZfXwsdtXTrVSpSgcgc89U48"},"created_by":"admin"},"username":"admin","created_at":1795769928,"hash":"JDJhJDEwJDdwaE1UWEVUOTlwckhvUDlvanlHaXUuS0phVnZNWjBYdFBrdnQ0TWV2aGN4cFpkNlJ5VzNX"}}]`
	// wireHash7 is one of the bcrypt hashes above: it must never reach an APIKey.
	wireHash7 = "JDJhJDEwJHk2U0FUeEphUFAyNFVPeEd4QlB6NWV6UXNhMlFVOWVJY3l1WHF4YUhrUUhPcFoyUkpaVS9h"

	wireNotFound           = `{"message":"not found","code":2}`
	wireForbidden          = `{"Code":4,"Message":"unauthorized to perform action"}`
	wireInvalidCredentials = `{"Code":5,"Message":"invalid credentials"}`
	wireUserDoesNotExist   = "user does not exist\n"

	textPlain = "text/plain; charset=utf-8"
	appJSON   = "application/json"
)

// testConfig is a Config for url with fast retries; tests adjust it.
func testConfig(url string) Config {
	return Config{
		APIURL:       url,
		APIKey:       adminAPIKey,
		Timeout:      5 * time.Second,
		MaxRetries:   3,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		UserAgent:    "terraform-provider-sensu/test",
	}
}

// newTestClient builds a client and closes its idle connections when the test ends.
func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.http.HTTPClient.CloseIdleConnections)
	return c
}

// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logContext returns a context whose tflog root logger writes JSON lines into the buffer.
func logContext() (context.Context, *syncBuffer) {
	buf := &syncBuffer{}
	return tflogtest.RootLogger(context.Background(), buf), buf
}

// assertNoSecrets fails when any (non-empty) secret occurs in text.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains the secret %q:\n%s", what, s, text)
		}
	}
}

// basicAuth is the base64 form of username:password as sent in a Basic header.
func basicAuth(username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
}

// errText is err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// exchange is one expected request and the answer to it.
type exchange struct {
	method   string
	path     string        // as sent on the wire (escaped), without the query
	pathFunc func() string // when set, gives path at request time (a client-chosen name)
	query    string        // exact raw query; "" means none
	auth     string        // exact Authorization header; "" means none must be sent
	bodyType string        // exact request Content-Type; "" means none
	body     string        // exact request body
	// verify, when set, checks the body instead (a body with random parts).
	verify func(t *testing.T, body []byte)

	status   int
	header   map[string]string
	respBody string
	// reply, when set, makes the answer's body (and may set headers) from the request's.
	reply func(body []byte, h http.Header) string
}

// scriptedServer answers a fixed sequence of exchanges and fails the test on any request
// that differs from the next expected one in method, path, query, headers or body.
type scriptedServer struct {
	t         *testing.T
	srv       *httptest.Server
	userAgent string

	mu    sync.Mutex
	steps []exchange
	next  int
}

func newScriptedServer(t *testing.T, userAgent string, steps ...exchange) *scriptedServer {
	t.Helper()
	s := &scriptedServer{t: t, steps: steps, userAgent: userAgent}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.next != len(s.steps) {
			t.Errorf("the server answered %d of %d expected requests", s.next, len(s.steps))
		}
	})
	return s
}

func (s *scriptedServer) URL() string { return s.srv.URL }

func (s *scriptedServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	if s.next >= len(s.steps) {
		s.mu.Unlock()
		s.t.Errorf("unexpected request %s %s", r.Method, r.URL.RequestURI())
		http.Error(w, "unexpected request", http.StatusTeapot)
		return
	}
	step := s.steps[s.next]
	n := s.next
	s.next++
	s.mu.Unlock()

	where := "request " + r.Method + " " + r.URL.EscapedPath()
	check := func(what, got, want string) {
		if got != want {
			s.t.Errorf("step %d, %s: %s = %q, want %q", n+1, where, what, got, want)
		}
	}
	check("method", r.Method, step.method)
	wantPath := step.path
	if step.pathFunc != nil {
		wantPath = step.pathFunc()
	}
	check("path", r.URL.EscapedPath(), wantPath)
	check("query", r.URL.RawQuery, step.query)
	check("Authorization", r.Header.Get("Authorization"), step.auth)
	check("Content-Type", r.Header.Get("Content-Type"), step.bodyType)
	check("User-Agent", r.Header.Get("User-Agent"), s.userAgent)
	check("Accept", r.Header.Get("Accept"), "application/json")
	if step.verify != nil {
		step.verify(s.t, body)
	} else {
		check("body", string(body), step.body)
	}

	for k, v := range step.header {
		w.Header().Set(k, v)
	}
	respBody := step.respBody
	if step.reply != nil {
		respBody = step.reply(body, w.Header())
	}
	w.WriteHeader(step.status)
	_, _ = io.WriteString(w, respBody)
}

// listConcurrently starts n ListAPIKeys calls at the same instant and fails on any error.
func listConcurrently(t *testing.T, c *Client, n int) {
	t.Helper()
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		go func() {
			<-start
			_, err := c.ListAPIKeys(context.Background(), ListAPIKeysOptions{})
			errs <- err
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// hangingServer never answers: each request waits until the client gives up (or the test
// ends). seen, if not nil, is told of every request first. It returns the server's URL.
func hangingServer(t *testing.T, seen func(*http.Request)) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen(r)
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL
}

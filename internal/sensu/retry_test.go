package sensu

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// fault is how a flaky server fails an attempt.
type fault struct {
	status     int
	retryAfter string
	drop       bool // read the request, then close the connection without answering
}

func (f fault) String() string {
	if f.drop {
		return "dropped connection"
	}
	s := fmt.Sprintf("%d", f.status)
	if f.retryAfter != "" {
		s += " Retry-After " + f.retryAfter
	}
	return s
}

// flakyServer fails the first `failures` attempts with f (all of them when failures < 0),
// then answers like a 6.x backend. It counts attempts.
func flakyServer(t *testing.T, f fault, failures int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the request was received in full: Sensu may act on it
		n := attempts.Add(1)
		if failures < 0 || int(n) <= failures {
			failWith(t, w, f)
			return
		}
		answer6(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &attempts
}

func failWith(t *testing.T, w http.ResponseWriter, f fault) {
	if f.drop {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
		return
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	w.Header().Set("Content-Type", textPlain)
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, http.StatusText(f.status))
}

// answer6 answers a grant or a list as 6.12.0 does.
func answer6(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		w.Header().Set("Location", "/api/core/v2/apikeys/"+key6)
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.Header().Set("Content-Type", appJSON)
	_, _ = io.WriteString(w, wireList6)
}

type operation struct {
	name   string
	unsafe bool
	call   func(context.Context, *Client) error
}

var (
	opList = operation{"GET list", false, func(ctx context.Context, c *Client) error {
		_, err := c.ListAPIKeys(ctx, ListAPIKeysOptions{})
		return err
	}}
	opGrant = operation{"POST grant", true, func(ctx context.Context, c *Client) error {
		_, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
		return err
	}}
)

// TestRetryPolicy: reads are retried on 429, 5xx (not 501) and dropped connections; a grant
// is repeated at the HTTP layer only when Sensu certainly did not process it (429, 503), and
// not at all on answers that will not change. (Grants that Sensu may have processed, after
// a 500, 502, 504, timeout or dropped connection, are checked before anything is repeated:
// see TestInmemAmbiguousGrants and TestGrant6Reconciliation.)
func TestRetryPolicy(t *testing.T) {
	const ambiguous = -1 // a grant outcome this table does not cover
	cases := []struct {
		fault      fault
		readRetry  bool
		grantRetry int // 1 retried, 0 not, ambiguous
	}{
		{fault{status: 503, retryAfter: "0"}, true, 1},
		{fault{status: 503}, true, 1},
		{fault{status: 429, retryAfter: "0"}, true, 1},
		{fault{status: 429}, true, 1},
		{fault{status: 500}, true, ambiguous},
		{fault{status: 502}, true, ambiguous},
		{fault{status: 504}, true, ambiguous},
		{fault{drop: true}, true, ambiguous},
		{fault{status: 501}, false, 0},
		{fault{status: 404}, false, 0},
		{fault{status: 400}, false, 0},
		{fault{status: 403}, false, 0},
	}
	for _, tc := range cases {
		for _, op := range []operation{opList, opGrant} {
			retried := tc.readRetry
			if op.unsafe {
				if tc.grantRetry == ambiguous {
					continue
				}
				retried = tc.grantRetry == 1
			}
			t.Run(op.name+"/"+tc.fault.String(), func(t *testing.T) {
				srv, attempts := flakyServer(t, tc.fault, 1)
				cfg := testConfig(srv.URL)
				cfg.Generation = Generation6
				ctx, logs := logContext()
				err := op.call(ctx, newTestClient(t, cfg))
				if retried {
					if err != nil || attempts.Load() != 2 {
						t.Fatalf("err = %v after %d attempts, want success on the 2nd", err, attempts.Load())
					}
					if !strings.Contains(logs.String(), `"attempt":2`) || !strings.Contains(logs.String(), "Retrying Sensu API request") {
						t.Errorf("the retry was not logged:\n%s", logs)
					}
					return
				}
				if err == nil || attempts.Load() != 1 {
					t.Fatalf("err = %v after %d attempts, want a failure after exactly 1", err, attempts.Load())
				}
				var apiErr *APIError
				var terr *TransportError
				switch {
				case tc.fault.drop:
					if !errors.As(err, &terr) {
						t.Errorf("err = %T %v, want a TransportError", err, err)
					}
				case errors.As(err, &apiErr):
					if apiErr.StatusCode != tc.fault.status {
						t.Errorf("status = %d, want %d", apiErr.StatusCode, tc.fault.status)
					}
				default:
					t.Errorf("err = %T %v, want an APIError", err, err)
				}
			})
		}
	}
}

// TestRetriesAreBounded: MaxRetries caps the attempts, and the last answer is the error.
func TestRetriesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		op         operation
		fault      fault
		maxRetries int
	}{
		{opList, fault{status: 503}, 3},
		{opList, fault{status: 500}, 2},
		{opList, fault{drop: true}, 3},
		{opList, fault{status: 503}, 0},
		{opGrant, fault{status: 503}, 3},
		{opGrant, fault{status: 429}, 1},
	} {
		t.Run(fmt.Sprintf("%s/%s/max %d", tc.op.name, tc.fault, tc.maxRetries), func(t *testing.T) {
			srv, attempts := flakyServer(t, tc.fault, -1)
			cfg := testConfig(srv.URL)
			cfg.Generation, cfg.MaxRetries = Generation6, tc.maxRetries
			err := tc.op.call(context.Background(), newTestClient(t, cfg))
			if got, want := int(attempts.Load()), tc.maxRetries+1; got != want {
				t.Errorf("%d attempts, want %d", got, want)
			}
			if tc.fault.drop {
				var terr *TransportError
				if !errors.As(err, &terr) {
					t.Errorf("err = %T %v, want a TransportError", err, err)
				}
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.fault.status {
				t.Errorf("err = %v, want the last answer (HTTP %d)", err, tc.fault.status)
			}
		})
	}
}

// TestRetryAfterIsHonoured: a 503 or 429 with Retry-After: 1 waits a second, even though
// the configured backoff is a few milliseconds.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	for _, status := range []int{503, 429} {
		for _, op := range []operation{opList, opGrant} {
			t.Run(fmt.Sprintf("%s/%d", op.name, status), func(t *testing.T) {
				t.Parallel()
				srv, attempts := flakyServer(t, fault{status: status, retryAfter: "1"}, 1)
				cfg := testConfig(srv.URL)
				cfg.Generation = Generation6
				start := time.Now()
				if err := op.call(context.Background(), newTestClient(t, cfg)); err != nil {
					t.Fatal(err)
				}
				if elapsed := time.Since(start); elapsed < 950*time.Millisecond {
					t.Errorf("retried after %s, want ≥ 1s as Retry-After asked", elapsed)
				}
				if attempts.Load() != 2 {
					t.Errorf("%d attempts, want 2", attempts.Load())
				}
			})
		}
	}
}

func TestBackoff(t *testing.T) {
	resp := func(status int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	min, max := 10*time.Millisecond, 80*time.Millisecond
	for _, tc := range []struct {
		attempt int
		resp    *http.Response
		want    time.Duration
	}{
		{0, resp(503, "2"), 2 * time.Second},
		{0, resp(429, "7"), 7 * time.Second},
		{0, resp(503, "3600"), maxRetryAfter},
		{0, resp(500, "5"), 10 * time.Millisecond}, // Retry-After only counts on 429/503
		{2, resp(500, ""), 40 * time.Millisecond},
		{5, nil, max},
		{1, resp(503, "soon"), 20 * time.Millisecond},
	} {
		if got := backoff(min, max, tc.attempt, tc.resp); got != tc.want {
			t.Errorf("backoff(attempt %d, %v) = %s, want %s", tc.attempt, tc.resp, got, tc.want)
		}
	}
}

// TestCheckRetry exercises the policy directly, including errors hard to provoke on a
// loopback (a refused connection wrapped the way net/http wraps it).
func TestCheckRetry(t *testing.T) {
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/api/core/v2/apikeys",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	reset := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/x",
		Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
	eof := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/x", Err: io.EOF}
	timeout := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/x", Err: context.DeadlineExceeded}
	tlsErr := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/x", Err: x509.UnknownAuthorityError{}}
	canceled := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/x", Err: context.Canceled}
	status := func(code int) *http.Response { return &http.Response{StatusCode: code} }

	ctxFor := func(unsafe bool) context.Context {
		return context.WithValue(context.Background(), requestInfoKey{}, &requestInfo{path: "/x", unsafeToRepeat: unsafe})
	}
	for _, tc := range []struct {
		name        string
		resp        *http.Response
		err         error
		safe, grant bool
	}{
		{"connection refused", nil, refused, true, true},
		{"connection reset", nil, reset, true, false},
		{"EOF", nil, eof, true, false},
		{"timeout", nil, timeout, true, false},
		{"TLS verification", nil, tlsErr, false, false},
		{"canceled", nil, canceled, false, false},
		{"200", status(200), nil, false, false},
		{"201", status(201), nil, false, false},
		{"400", status(400), nil, false, false},
		{"401", status(401), nil, false, false},
		{"404", status(404), nil, false, false},
		{"429", status(429), nil, true, true},
		{"500", status(500), nil, true, false},
		{"501", status(501), nil, false, false},
		{"502", status(502), nil, true, false},
		{"503", status(503), nil, true, true},
		{"504", status(504), nil, true, false},
	} {
		for _, unsafe := range []bool{false, true} {
			want := tc.safe
			if unsafe {
				want = tc.grant
			}
			got, err := checkRetry(ctxFor(unsafe), tc.resp, tc.err)
			if got != want || err != nil {
				t.Errorf("%s (unsafe %v): checkRetry = %v, %v; want %v", tc.name, unsafe, got, err, want)
			}
		}
	}
	if !IsConnectionRefused(refused) || IsConnectionRefused(reset) {
		t.Error("IsConnectionRefused is wrong")
	}
	// Without request information a request counts as safe to repeat.
	if got, _ := checkRetry(context.Background(), status(500), nil); !got {
		t.Error("a request without info was not retried on 500")
	}
	ctx, cancel := context.WithCancel(ctxFor(false))
	cancel()
	// A done context stops retrying but lets the attempt's own outcome through.
	if got, err := checkRetry(ctx, status(503), nil); got || err != nil {
		t.Errorf("canceled context: checkRetry = %v, %v; want false, nil", got, err)
	}
	if got, err := checkRetry(ctx, nil, canceled); got || err != nil {
		t.Errorf("canceled context: checkRetry = %v, %v; want false, nil", got, err)
	}
}

// TestGrantRetriedWhenConnectionRefused: nothing listens at first, so the grant certainly
// never reached Sensu and is repeated once the backend is back on the same port.
func TestGrantRetriedWhenConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	var grants atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grants.Add(1)
		answer6(w, r)
	}))
	t.Cleanup(srv.Close)

	cfg := testConfig("http://" + addr)
	cfg.Generation = Generation6
	c := newTestClient(t, cfg)
	var restartErr error
	hook := c.http.RequestLogHook
	c.http.RequestLogHook = func(l retryablehttp.Logger, req *http.Request, attempt int) {
		if attempt == 1 { // the first attempt was refused: bring the backend up
			var ln net.Listener
			if ln, restartErr = net.Listen("tcp", addr); restartErr == nil {
				_ = srv.Listener.Close()
				srv.Listener = ln
				srv.Start()
			}
		}
		hook(l, req, attempt)
	}
	ctx, logs := logContext()
	key, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
	if restartErr != nil {
		t.Skipf("could not listen again on %s: %v", addr, restartErr)
	}
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if key.Key != key6 || grants.Load() != 1 {
		t.Errorf("key %+v after %d grants, want one grant", key, grants.Load())
	}
	if !strings.Contains(logs.String(), "Retrying Sensu API request") {
		t.Error("the retry was not logged")
	}
}

// TestGrant6Reconciliation: after a 6.x grant that Sensu may have processed, the client
// lists the user's keys and claims the one created since, instead of minting another.
func TestGrant6Reconciliation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		processed bool // Sensu created the key before the failure
		fail      func(w http.ResponseWriter)
	}{
		{"processed, 502", true, func(w http.ResponseWriter) { w.WriteHeader(502) }},
		{"processed, 201 without Location", true, func(w http.ResponseWriter) { w.WriteHeader(201) }},
		{"processed, odd Location", true, func(w http.ResponseWriter) {
			w.Header().Set("Location", "/api/core/v2/users/dev")
			w.WriteHeader(201)
		}},
		{"not processed, 500", false, func(w http.ResponseWriter) { w.WriteHeader(500) }},
		{"not processed, 504", false, func(w http.ResponseWriter) { w.WriteHeader(504) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSensu(t, Generation6)
			admin := f.addKey("admin")
			var failed atomic.Bool
			f.setIntercept(func(w http.ResponseWriter, r *http.Request, route string) bool {
				if route != "POST /api/core/v2/apikeys" || !failed.CompareAndSwap(false, true) {
					return false
				}
				if tc.processed {
					f.addKey("dev")
				}
				tc.fail(w)
				return true
			})
			cfg := testConfig(f.URL())
			cfg.APIKey, cfg.Generation = admin.key, Generation6
			ctx, logs := logContext()
			k, err := newTestClient(t, cfg).CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "dev"})
			if err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			if f.keyCount() != 2 {
				t.Errorf("%d keys exist, want the admin's and one for dev", f.keyCount())
			}
			wantPosts := 1
			if !tc.processed {
				wantPosts = 2
			}
			if n := f.count("POST /api/core/v2/apikeys"); n != wantPosts {
				t.Errorf("%d grant requests, want %d", n, wantPosts)
			}
			if n := f.count("GET /api/core/v2/apikeys"); n != 1 {
				t.Errorf("%d list requests, want 1 reconciliation", n)
			}
			if k.Username != "dev" || k.ID != Digest(k.Key) {
				t.Errorf("key = %+v", k)
			}
			assertNoSecrets(t, "logs", logs.String(), f.issuedSecrets()...)
		})
	}
}

// TestGrantTimeoutUnresolved: the grant timed out and the backend stopped answering, so
// the client cannot tell whether a key was created: it says so without repeating the grant.
func TestGrantTimeoutUnresolved(t *testing.T) {
	t.Parallel()
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			t.Parallel()
			var grants atomic.Int32
			url := hangingServer(t, func(r *http.Request) {
				if r.URL.Path == "/api/core/v2/apikeys" && (r.Method == "POST" || r.Method == "PUT") {
					grants.Add(1)
				}
			})
			cfg := testConfig(url)
			cfg.Generation, cfg.Timeout, cfg.MaxRetries = gen, 100*time.Millisecond, 1
			ctx, logs := logContext()
			_, err := newTestClient(t, cfg).CreateAPIKey(ctx, CreateAPIKeyRequest{Username: "admin"})
			var terr *TransportError
			if !IsUnresolvedGrant(err) || !errors.As(err, &terr) {
				t.Fatalf("err = %T %v, want an unresolved grant caused by a TransportError", err, err)
			}
			if grants.Load() != 1 {
				t.Errorf("%d grant requests, want 1", grants.Load())
			}
			for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				assertNoSecrets(t, what, text, adminAPIKey)
			}
		})
	}
}

// answeredTransport signals each answer once the client is done with it: go-retryablehttp
// closes a response it will retry just before it waits, so after the signal a cancellation
// falls into that wait.
type answeredTransport struct {
	base     http.RoundTripper
	answered chan<- int
}

func (a answeredTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(req)
	if err == nil {
		resp.Body = &signalingBody{ReadCloser: resp.Body, status: resp.StatusCode, answered: a.answered}
	}
	return resp, err
}

type signalingBody struct {
	io.ReadCloser
	status   int
	answered chan<- int
	once     sync.Once
}

func (b *signalingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.answered <- b.status })
	return err
}

// TestCancellationStopsRetries: cancelling while waiting out a long Retry-After returns
// at once with context.Canceled, and a grant answered 503 is not taken as ambiguous (no
// reconciliation runs against the overloaded server).
func TestCancellationStopsRetries(t *testing.T) {
	for _, op := range []operation{opList, opGrant} {
		t.Run(op.name, func(t *testing.T) {
			var attempts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				attempts.Add(1)
				failWith(t, w, fault{status: 503, retryAfter: "30"})
			}))
			t.Cleanup(srv.Close)
			cfg := testConfig(srv.URL)
			cfg.Generation, cfg.MaxRetries = Generation6, 5
			c := newTestClient(t, cfg)
			seen := make(chan int, 10)
			c.http.HTTPClient.Transport = answeredTransport{c.http.HTTPClient.Transport, seen}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- op.call(ctx, c) }()
			<-seen
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v, want context.Canceled", err)
				}
				if elapsed := time.Since(start); elapsed > 2*time.Second {
					t.Errorf("returned %s after cancellation", elapsed)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("cancellation did not stop the retries")
			}
			if attempts.Load() != 1 {
				t.Errorf("%d attempts, want 1", attempts.Load())
			}
		})
	}

	t.Run("deadline", func(t *testing.T) {
		srv, _ := flakyServer(t, fault{status: 503, retryAfter: "30"}, -1)
		cfg := testConfig(srv.URL)
		cfg.Generation = Generation6
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := opList.call(ctx, newTestClient(t, cfg))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Errorf("err = %v after %s, want context.DeadlineExceeded soon", err, time.Since(start))
		}
	})

	t.Run("already canceled", func(t *testing.T) {
		f := newFakeSensu(t, Generation6)
		c := newTestClient(t, passwordConfig(f.URL()))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, op := range []operation{opList, opGrant} {
			if err := op.call(ctx, c); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: err = %v, want context.Canceled", op.name, err)
			}
		}
		if f.total() != 0 {
			t.Errorf("a canceled context still sent %d requests", f.total())
		}
	})
}

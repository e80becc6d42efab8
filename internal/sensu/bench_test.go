package sensu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// Benchmarks of the client's hot paths, run by `make bench` (internal/bench) and reported in
// BENCHMARKS.md. Bodies are captured from the in-memory Sensu API of each generation, which
// reproduces the recorded wire format of real backends, so decoding sees real shapes.
// Everything here is self-contained: no helper from the other _test.go files is used.

// benchListSize is one full list page, the largest body the client decodes in one go.
const benchListSize = listPageSize

var benchGenerations = []struct {
	name string
	gen  Generation
	sgen sensutest.Generation
}{
	{"6.x", Generation6, sensutest.Generation6},
	{"7.x", Generation7, sensutest.Generation7},
}

// benchBodies are real answers of one generation, captured once per benchmark.
type benchBodies struct {
	key     string    // a key's name (the key itself on 6.x)
	get     *response // GET /api/core/v2/apikeys/{name}
	list    *response // GET /api/core/v2/apikeys?limit=500, a full page
	created *response // 7.x: the answer to the grant (PUT); nil on 6.x
	post6   *response // 6.x: the answer to the grant (POST); nil on 7.x
}

// benchCapture starts an in-memory Sensu API of generation g with benchListSize keys and
// records its answers through the client itself.
func benchCapture(b *testing.B, g Generation, sg sensutest.Generation) benchBodies {
	b.Helper()
	s := sensutest.NewTest(b, sensutest.Options{Generation: sg})
	for range benchListSize - 1 {
		s.GrantAPIKey(sensutest.AdminUsername)
	}
	c := benchClient(b, s.URL(), g)
	ctx := context.Background()
	var out benchBodies
	var err error
	if g >= Generation7 {
		k, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.AdminUsername})
		if err != nil {
			b.Fatalf("grant: %v", err)
		}
		out.key = k.Name
		// The grant answer is not kept by the client: rebuild it the way the server sent it.
		out.created = &response{status: http.StatusCreated, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
			body: []byte(`{"name":"` + k.Name + `","key":"` + k.Key + `"}` + "\n")}
	} else {
		r := request{method: http.MethodPost, path: apiKeysPath, body: []byte(`{"username":"admin"}`), auth: true, unsafeToRepeat: true}
		if out.post6, err = c.do(ctx, r); err != nil {
			b.Fatalf("grant: %v", err)
		}
		name, ok := keyFromLocation(out.post6.header.Get("Location"))
		if !ok {
			b.Fatalf("grant: no Location in %v", out.post6.header)
		}
		out.key = name
	}
	if out.get, err = c.do(ctx, c.keyRequest(g, http.MethodGet, out.key)); err != nil {
		b.Fatalf("get: %v", err)
	}
	list := request{method: http.MethodGet, path: apiKeysPath, query: map[string][]string{"limit": {strconv.Itoa(listPageSize)}}, auth: true}
	if out.list, err = c.do(ctx, list); err != nil {
		b.Fatalf("list: %v", err)
	}
	if keys, err := decodeAPIKeyList(g, list, out.list); err != nil || len(keys) != benchListSize {
		b.Fatalf("list: %d keys, %v", len(keys), err)
	}
	return out
}

func benchClient(b *testing.B, url string, g Generation) *Client {
	b.Helper()
	c, err := New(Config{
		APIURL: url, Username: sensutest.AdminUsername, Password: sensutest.AdminPassword,
		Generation: g, MaxRetries: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond,
	})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(c.http.HTTPClient.CloseIdleConnections)
	return c
}

// BenchmarkDecodeAPIKey decodes the answer to GET /api/core/v2/apikeys/{name}: a Read (refresh).
func BenchmarkDecodeAPIKey(b *testing.B) {
	for _, g := range benchGenerations {
		b.Run(g.name, func(b *testing.B) {
			bodies := benchCapture(b, g.gen, g.sgen)
			r := request{method: http.MethodGet, path: apiKeysPath + "/x"}
			b.SetBytes(int64(len(bodies.get.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeAPIKey(g.gen, r, bodies.get); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeAPIKeyList decodes one full page (500 keys) of GET /api/core/v2/apikeys.
func BenchmarkDecodeAPIKeyList(b *testing.B) {
	for _, g := range benchGenerations {
		b.Run(fmt.Sprintf("%s/%d-keys", g.name, benchListSize), func(b *testing.B) {
			bodies := benchCapture(b, g.gen, g.sgen)
			r := request{method: http.MethodGet, path: apiKeysPath}
			b.SetBytes(int64(len(bodies.list.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeAPIKeyList(g.gen, r, bodies.list); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeGrant decodes a grant's answer: the Location header on 6.x, the
// {"name","key"} body on 7.x.
func BenchmarkDecodeGrant(b *testing.B) {
	b.Run("6.x-location", func(b *testing.B) {
		bodies := benchCapture(b, Generation6, sensutest.Generation6)
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := keyFromLocation(bodies.post6.header.Get("Location")); !ok {
				b.Fatal("no key in Location")
			}
		}
	})
	b.Run("7.x-body", func(b *testing.B) {
		bodies := benchCapture(b, Generation7, sensutest.Generation7)
		r := request{method: http.MethodPut, path: apiKeysPath}
		b.SetBytes(int64(len(bodies.created.body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := created7(r, bodies.created, bodies.key, "", sensutest.AdminUsername); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGrant7Secret is the client-side CPU of a 7.x grant before any I/O: a random name
// and secret, and the bcrypt hash of the secret at the cost the client uses.
func BenchmarkGrant7Secret(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, secret, err := newClientKey(GeneratedNamePrefix)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bcrypt.GenerateFromPassword([]byte(secret), clientKeyBcryptCost); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequest is one client call (request building, auth header, retry wrapper, body
// read, Date parsing, decoding) over a transport that answers from memory: the client's own
// cost per key and operation, without the network.
func BenchmarkRequest(b *testing.B) {
	for _, g := range benchGenerations {
		bodies := benchCapture(b, g.gen, g.sgen)
		c, err := New(Config{APIURL: "http://sensu.invalid:8080", AccessToken: "bench-token", Generation: g.gen, MaxRetries: 1})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(g.name+"/get", func(b *testing.B) {
			c.http.HTTPClient.Transport = benchTransport{status: http.StatusOK, header: bodies.get.header, body: bodies.get.body}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.GetAPIKey(ctx, bodies.key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(g.name+"/delete", func(b *testing.B) {
			c.http.HTTPClient.Transport = benchTransport{status: http.StatusNoContent, header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.DeleteAPIKey(ctx, bodies.key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(g.name+"/grant", func(b *testing.B) {
			if g.gen >= Generation7 {
				c.http.HTTPClient.Transport = benchTransport{status: http.StatusCreated, header: bodies.created.header, body: []byte("{}\n")}
			} else {
				c.http.HTTPClient.Transport = benchTransport{status: http.StatusCreated, header: bodies.post6.header}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.AdminUsername}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetAPIKeyLoopback is a Read against the in-memory Sensu API over loopback HTTP
// (kept-alive connections, no added latency): client, net/http and the server together.
func BenchmarkGetAPIKeyLoopback(b *testing.B) {
	for _, g := range benchGenerations {
		b.Run(g.name, func(b *testing.B) {
			s := sensutest.NewTest(b, sensutest.Options{Generation: g.sgen})
			k := s.GrantAPIKey(sensutest.AdminUsername)
			c := benchClient(b, s.URL(), g.gen)
			ctx := context.Background()
			if _, err := c.GetAPIKey(ctx, k.Name); err != nil { // logs in
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(5) // 10 goroutines on 2 cores: Terraform's default parallelism
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetAPIKey(ctx, k.Name); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkToken is the token lookup every authenticated request makes once logged in: it
// must reuse the token (no login, no refresh) and not contend.
func BenchmarkToken(b *testing.B) {
	s := sensutest.NewTest(b, sensutest.Options{})
	c := benchClient(b, s.URL(), Generation6)
	ctx := context.Background()
	if _, _, err := c.tokens.token(ctx); err != nil { // the one login
		b.Fatal(err)
	}
	s.ResetCounters()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.tokens.token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-10", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(5)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := c.tokens.token(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	if n := len(s.Requests()); n != 0 {
		b.Fatalf("token() made requests on a fresh token: %v", s.Requests())
	}
}

// benchTransport answers every request with the same canned response.
type benchTransport struct {
	status int
	header http.Header
	body   []byte
}

func (t benchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{
		StatusCode: t.status, Header: t.header, Request: req,
		Body: io.NopCloser(bytes.NewReader(t.body)), ContentLength: int64(len(t.body)),
	}, nil
}

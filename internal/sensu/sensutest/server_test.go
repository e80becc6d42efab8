package sensutest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var generations = []Generation{Generation6, Generation7}

func forEachGeneration(t *testing.T, f func(t *testing.T, gen Generation)) {
	for _, gen := range generations {
		t.Run(fmt.Sprint("generation", int(gen)), func(t *testing.T) {
			t.Parallel()
			f(t, gen)
		})
	}
}

// call sends one request and returns status, headers and body.
func call(t *testing.T, c *http.Client, method, url, auth, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func login(t *testing.T, base, username, password string) (access, refresh string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/auth", nil)
	req.SetBasicAuth(username, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&tr) != nil {
		t.Fatalf("login %s: %d", username, resp.StatusCode)
	}
	return tr.Access, tr.Refresh
}

func grantBody(gen Generation, username string) string {
	if gen == Generation6 {
		return `{"username":"` + username + `"}`
	}
	return `{"type":"APIKey","api_version":"core/v2","metadata":{},"spec":{"username":"` + username + `"}}`
}

// grant creates a key over HTTP and returns its name and secret.
func grant(t *testing.T, c *http.Client, base, token string, gen Generation) (name, secret string) {
	t.Helper()
	status, h, body := call(t, c, "POST", base+pathKeys, "Bearer "+token, grantBody(gen, AdminUsername))
	if status != 201 {
		t.Fatalf("grant: %d %q", status, body)
	}
	name = strings.TrimPrefix(h.Get("Location"), pathKeys+"/")
	if gen == Generation6 {
		return name, name
	}
	var g struct{ Key string }
	_ = json.Unmarshal([]byte(body), &g)
	return name, g.Key
}

func assertNoPanics(t *testing.T, s *Server) {
	t.Helper()
	if n := s.panics.Load(); n != 0 {
		t.Fatalf("%d handler panics", n)
	}
}

func TestFaultStatusRetryAfterAndCount(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		s.InjectFault(Fault{Method: "POST", Route: "/api/core/v2/apikeys", Status: 503, RetryAfter: "2", Body: "busy"})
		status, h, body := call(t, nil, "POST", s.URL()+pathKeys, "Bearer "+tok, grantBody(gen, AdminUsername))
		if status != 503 || h.Get("Retry-After") != "2" || body != "busy" || h.Get("Content-Type") != textPlain {
			t.Fatalf("fault: %d %v %q", status, h, body)
		}
		if n := len(s.APIKeys()); n != 0 {
			t.Fatalf("a Status fault must not process the request; %d keys", n)
		}
		grant(t, nil, s.URL(), tok, gen) // Count 0 means 1: the next request works

		s.InjectFault(Fault{Route: "POST /api/core/v2/apikeys", Status: 429, Count: 3})
		for i := range 3 {
			if status, _, _ := call(t, nil, "POST", s.URL()+pathKeys, "Bearer "+tok, grantBody(gen, AdminUsername)); status != 429 {
				t.Fatalf("attempt %d: %d, want 429", i, status)
			}
		}
		grant(t, nil, s.URL(), tok, gen)
		if n := len(s.APIKeys()); n != 2 {
			t.Fatalf("%d keys, want 2", n)
		}

		// Method and route must both match; {name} matches any key.
		s.InjectFault(Fault{Method: "DELETE", Route: "/api/core/v2/apikeys/{name}", Status: 502})
		if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys+"/whatever", "Bearer "+tok, ""); status != 404 {
			t.Fatalf("GET should not match a DELETE fault: %d", status)
		}
		if status, _, _ := call(t, nil, "DELETE", s.URL()+pathKeys+"/whatever", "Bearer "+tok, ""); status != 502 {
			t.Fatalf("DELETE: %d, want 502", status)
		}

		// A bad body on a 200.
		s.InjectFault(Fault{Method: "GET", Route: pathKeys, Status: 200, ContentType: "text/html", Body: "<html>proxy</html>"})
		status, h, body = call(t, nil, "GET", s.URL()+pathKeys, "Bearer "+tok, "")
		if status != 200 || h.Get("Content-Type") != "text/html" || body != "<html>proxy</html>" {
			t.Fatalf("content type override: %d %q %q", status, h.Get("Content-Type"), body)
		}

		// ClearFaults drops pending ones.
		s.InjectFault(Fault{Status: 500, Count: 10})
		s.ClearFaults()
		if status, _, _ := call(t, nil, "GET", s.URL()+"/version", "", ""); status != 200 {
			t.Fatalf("after ClearFaults: %d", status)
		}
		assertNoPanics(t, s)
	})
}

func TestFaultAfterProcess(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)

		s.InjectFault(Fault{Method: "POST", Route: pathKeys, AfterProcess: true})
		req, _ := http.NewRequest("POST", s.URL()+pathKeys, strings.NewReader(grantBody(gen, AdminUsername)))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("want a connection error, got %d", resp.StatusCode)
		}
		keys := s.APIKeys()
		if len(keys) != 1 || keys[0].Username != AdminUsername || !s.KeyAuthenticates(keys[0].Key) {
			t.Fatalf("the grant should have happened: %+v", keys)
		}

		s.InjectFault(Fault{Method: "POST", Route: pathKeys, AfterProcess: true, Status: 502, Body: "bad gateway"})
		if status, _, body := call(t, nil, "POST", s.URL()+pathKeys, "Bearer "+tok, grantBody(gen, AdminUsername)); status != 502 || body != "bad gateway" {
			t.Fatalf("AfterProcess+Status: %d %q", status, body)
		}
		if n := len(s.APIKeys()); n != 2 {
			t.Fatalf("%d keys, want 2 (the 502 grant happened)", n)
		}

		// DELETE is not replayed by http.Transport, so the client sees the drop.
		name := keys[0].Name
		s.InjectFault(Fault{Method: "DELETE", Route: "/api/core/v2/apikeys/" + name, AfterProcess: true})
		req, _ = http.NewRequest("DELETE", s.URL()+pathKeys+"/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			t.Fatalf("want a connection error, got %d", resp.StatusCode)
		}
		if s.KeyAuthenticates(keys[0].Key) {
			t.Fatal("the delete should have happened")
		}
		assertNoPanics(t, s)
	})
}

func TestFaultDelay(t *testing.T) {
	s := NewTest(t, Options{Generation: Generation7})
	tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)

	s.InjectFault(Fault{Method: "POST", Route: pathKeys, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+pathKeys, strings.NewReader(grantBody(Generation7, AdminUsername)))
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("want a timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	// The server stops waiting when the client goes away, and does not process.
	for deadline := time.Now().Add(5 * time.Second); s.inflight.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("handler still waiting after the client canceled")
		}
	}
	if n := len(s.APIKeys()); n != 0 {
		t.Fatalf("canceled request was processed: %d keys", n)
	}

	// A Delay-only fault then processes normally.
	s.InjectFault(Fault{Method: "POST", Route: pathKeys, Delay: 50 * time.Millisecond})
	start = time.Now()
	grant(t, nil, s.URL(), tok, Generation7)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("no delay: %v", d)
	}
	assertNoPanics(t, s)
}

func TestLatency(t *testing.T) {
	s := NewTest(t, Options{Latency: 30 * time.Millisecond})
	start := time.Now()
	if status, _, _ := call(t, nil, "GET", s.URL()+"/version", "", ""); status != 200 {
		t.Fatal(status)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("latency not applied: %v", d)
	}
}

func TestPagination(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		for range 25 {
			s.GrantAPIKey(DevUsername)
		}
		var want []string
		for _, k := range s.APIKeys() {
			want = append(want, k.Name)
		}

		var got []string
		pages, cont := 0, ""
		for {
			u := s.URL() + pathKeys + "?limit=7"
			if cont != "" {
				u += "&continue=" + cont
			}
			status, h, body := call(t, nil, "GET", u, "Bearer "+tok, "")
			if status != 200 {
				t.Fatalf("page %d: %d %q", pages, status, body)
			}
			var items []json.RawMessage
			if err := json.Unmarshal([]byte(body), &items); err != nil {
				t.Fatal(err)
			}
			if len(items) > 7 {
				t.Fatalf("page of %d items with limit 7", len(items))
			}
			for _, it := range items {
				var v struct {
					Metadata struct{ Name string } `json:"metadata"`
					Spec     struct {
						Metadata struct{ Name string } `json:"metadata"`
					} `json:"spec"`
				}
				_ = json.Unmarshal(it, &v)
				got = append(got, v.Metadata.Name+v.Spec.Metadata.Name)
			}
			pages++
			cont = h.Get("Sensu-Continue")
			if cont == "" {
				break
			}
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if !slices.Equal(got, want) || pages != 4 {
			t.Fatalf("walked %d pages: %v\nwant %v", pages, got, want)
		}

		// A limit covering everything has no continue token; bad parameters are 400.
		if _, h, _ := call(t, nil, "GET", s.URL()+pathKeys+"?limit=25", "Bearer "+tok, ""); h.Get("Sensu-Continue") != "" {
			t.Fatal("unexpected Sensu-Continue on the last page")
		}
		for _, q := range []string{"?limit=x", "?limit=-1", "?continue=%%%"} {
			if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys+q, "Bearer "+tok, ""); status != 400 && status != 200 {
				t.Fatalf("%s: %d", q, status)
			}
		}
		if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys+"?limit=x", "Bearer "+tok, ""); status != 400 {
			t.Fatalf("limit=x: %d", status)
		}
		if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys+"?continue=*", "Bearer "+tok, ""); status != 400 {
			t.Fatalf("continue=*: %d", status)
		}
		// A continue token still works after its key was deleted.
		first := want[0]
		s.RevokeAPIKey(first)
		_, _, body := call(t, nil, "GET", s.URL()+pathKeys+"?limit=1&continue="+base64.RawURLEncoding.EncodeToString([]byte(first)), "Bearer "+tok, "")
		if !strings.Contains(body, want[1]) {
			t.Fatalf("resume after a deleted key: %s", body)
		}
	})
}

func TestRestartKeepsStoreAndPort(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		url := s.URL()
		tok, _ := login(t, url, AdminUsername, AdminPassword)
		name, secret := grant(t, nil, url, tok, gen)

		// Keep a connection open across the restart: it must be dropped.
		c := &http.Client{}
		call(t, c, "GET", url+"/version", "", "")

		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
		if s.URL() != url {
			t.Fatalf("URL changed: %s -> %s", url, s.URL())
		}
		if status, _, _ := call(t, nil, "GET", url+pathKeys+"/"+name, "Bearer "+tok, ""); status != 200 {
			t.Fatalf("key after restart: %d", status)
		}
		if status, _, _ := call(t, nil, "GET", url+pathChecks, "Key "+secret, ""); status != 200 {
			t.Fatalf("key auth after restart: %d", status)
		}
		if status, _, _ := call(t, c, "GET", url+"/version", "", ""); status != 200 {
			t.Fatalf("client after restart: %d", status)
		}

		s.Close()
		if _, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second); err == nil {
			t.Fatal("still listening after Close")
		}
		s.Close() // idempotent
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
		if status, _, _ := call(t, nil, "GET", url+pathKeys+"/"+name, "Bearer "+tok, ""); status != 200 {
			t.Fatalf("key after Close+Restart: %d", status)
		}
		if err := New(Options{}).Restart(); err == nil {
			t.Fatal("Restart before Start should fail")
		}
		if err := s.Start("127.0.0.1:0"); err == nil {
			t.Fatal("Start while listening should fail")
		}
	})
}

func TestCounters(t *testing.T) {
	s := NewTest(t, Options{Generation: Generation7})
	tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
	name, secret := grant(t, nil, s.URL(), tok, Generation7)
	call(t, nil, "GET", s.URL()+pathKeys+"/"+name, "Bearer "+tok, "")
	call(t, nil, "GET", s.URL()+"/api/core/v2/namespaces/other/checks", "Key "+secret, "")
	call(t, nil, "DELETE", s.URL()+pathKeys+"/"+name, "Bearer "+tok, "")
	call(t, nil, "GET", s.URL()+"/no/such/"+secret, "", "")
	call(t, nil, "GET", s.URL()+"/_sensutest/stats", "", "")

	want := map[string]int{
		"GET /auth":                                      1,
		"POST /api/core/v2/apikeys":                      1,
		"GET /api/core/v2/apikeys/{name}":                1,
		"DELETE /api/core/v2/apikeys/{name}":             1,
		"GET /api/core/v2/namespaces/{namespace}/checks": 1,
		"GET /{unknown}":                                 1,
	}
	got := s.Requests()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Requests() = %v\nwant %v", got, want)
	}
	for r := range got {
		if strings.Contains(r, name) || strings.Contains(r, secret) {
			t.Fatalf("route %q contains a key", r)
		}
	}
	got["GET /auth"] = 99 // a copy
	if s.Requests()["GET /auth"] != 1 {
		t.Fatal("Requests() must return a copy")
	}
	s.ResetCounters()
	if len(s.Requests()) != 0 {
		t.Fatal("ResetCounters")
	}
}

func TestControlRoutes(t *testing.T) {
	s := NewTest(t, Options{Generation: Generation6})
	base := s.URL() + "/_sensutest"
	tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
	k := s.GrantAPIKey(DevUsername)

	status, h, body := call(t, nil, "GET", base+"/stats", "", "")
	var stats struct {
		Requests map[string]int `json:"requests"`
		APIKeys  int            `json:"api_keys"`
		Logins   int            `json:"logins"`
	}
	if status != 200 || h.Get("Content-Type") != appJSON || json.Unmarshal([]byte(body), &stats) != nil {
		t.Fatalf("stats: %d %q", status, body)
	}
	if stats.APIKeys != 1 || stats.Logins != 1 || stats.Requests["GET /auth"] != 1 || len(stats.Requests) != 1 {
		t.Fatalf("stats %+v", stats)
	}

	_, _, body = call(t, nil, "GET", base+"/apikeys", "", "")
	var keys []APIKey
	if err := json.Unmarshal([]byte(body), &keys); err != nil || len(keys) != 1 || keys[0].Name != k.Name || keys[0].Key != k.Key || keys[0].Username != DevUsername || keys[0].CreatedBy != AdminUsername {
		t.Fatalf("apikeys %q %v", body, err)
	}

	for key, want := range map[string]bool{k.Key: true, "nope": false, "": false} {
		_, _, body = call(t, nil, "GET", base+"/authenticates?key="+key, "", "")
		if body != fmt.Sprintf(`{"authenticates":%v}`+"\n", want) {
			t.Fatalf("authenticates %q: %s", key, body)
		}
	}

	if status, _, _ := call(t, nil, "POST", base+"/faults", "", `{"method":"GET","route":"/version","status":503,"retry_after":"7","count":2,"delay":"1ms"}`); status != 204 {
		t.Fatalf("post fault: %d", status)
	}
	status, h, _ = call(t, nil, "GET", s.URL()+"/version", "", "")
	if status != 503 || h.Get("Retry-After") != "7" {
		t.Fatalf("fault from control route: %d %v", status, h)
	}
	if status, _, _ := call(t, nil, "POST", base+"/faults", "", `{"Status":500,"bogus":1}`); status != 400 {
		t.Fatalf("bad fault: %d", status)
	}
	if status, _, _ := call(t, nil, "DELETE", base+"/faults", "", ""); status != 204 {
		t.Fatalf("delete faults: %d", status)
	}
	if status, _, _ := call(t, nil, "GET", s.URL()+"/version", "", ""); status != 200 {
		t.Fatalf("faults not cleared: %d", status)
	}
	if status, _, _ := call(t, nil, "POST", base+"/reset-counters", "", ""); status != 204 {
		t.Fatalf("reset: %d", status)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("control routes must not be counted; %v", s.Requests())
	}
	if status, _, _ := call(t, nil, "GET", base+"/nope", "", ""); status != 404 {
		t.Fatal(status)
	}
	if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys, "Bearer "+tok, ""); status != 200 {
		t.Fatal(status)
	}
	assertNoPanics(t, s)
}

func TestConcurrentGrants(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
		var mu sync.Mutex
		names, secrets := map[string]bool{}, map[string]bool{}
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				name, secret := grant(t, c, s.URL(), tok, gen)
				call(t, c, "GET", s.URL()+pathKeys, "Key "+secret, "")
				mu.Lock()
				names[name], secrets[secret] = true, true
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(names) != 100 || len(secrets) != 100 || len(s.APIKeys()) != 100 {
			t.Fatalf("%d names, %d secrets, %d stored", len(names), len(secrets), len(s.APIKeys()))
		}
		for sec := range secrets {
			if !s.KeyAuthenticates(sec) {
				t.Fatal("a granted key does not authenticate")
			}
		}
		assertNoPanics(t, s)
	})
}

func TestOutOfBandAndDisabledUser(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		k := s.GrantAPIKey(DevUsername)
		if k.Username != DevUsername || k.CreatedBy != AdminUsername || k.Key == "" || time.Since(k.CreatedAt) > time.Minute {
			t.Fatalf("GrantAPIKey: %+v", k)
		}
		if gen == Generation6 && k.Key != k.Name {
			t.Fatal("6.x key must equal its name")
		}
		if gen == Generation7 && (k.Key == k.Name || s.KeyAuthenticates(k.Name)) {
			t.Fatal("7.x name must not authenticate")
		}
		devTok, _ := login(t, s.URL(), DevUsername, DevPassword)
		s.AddRoleBinding(devReadsDefault)
		if !s.SetUserDisabled(DevUsername, true) || s.SetUserDisabled("ghost", true) {
			t.Fatal("SetUserDisabled")
		}
		req, _ := http.NewRequest("GET", s.URL()+"/auth", nil)
		req.SetBasicAuth(DevUsername, DevPassword)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
			t.Fatalf("disabled login: %v", err)
		} else {
			_ = resp.Body.Close()
		}
		if status, _, _ := call(t, nil, "GET", s.URL()+pathChecks, "Key "+k.Key, ""); status != 200 {
			t.Fatalf("disabled user's key: %d", status)
		}
		if status, _, _ := call(t, nil, "GET", s.URL()+pathChecks, "Bearer "+devTok, ""); status != 200 {
			t.Fatalf("disabled user's earlier token: %d", status)
		}
		s.SetUserDisabled(DevUsername, false)

		s.AddUser("ops", "pw", "cluster-admins")
		opsTok, _ := login(t, s.URL(), "ops", "pw")
		if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys, "Bearer "+opsTok, ""); status != 200 {
			t.Fatalf("new cluster admin: %d", status)
		}
		if !s.RevokeAPIKey(k.Name) || s.RevokeAPIKey(k.Name) || s.KeyAuthenticates(k.Key) {
			t.Fatal("RevokeAPIKey")
		}
		if s.KeyAuthenticates("") {
			t.Fatal("empty key")
		}
	})
}

func TestTokens(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		a1, r1 := login(t, s.URL(), AdminUsername, AdminPassword)
		d1, dr1 := login(t, s.URL(), DevUsername, DevPassword)
		refresh := func(access, rt string) (int, string) {
			status, _, body := call(t, nil, "POST", s.URL()+"/auth/token", "Bearer "+access, `{"refresh_token":"`+rt+`"}`)
			return status, body
		}
		// Not recorded: a refresh token of another user is refused.
		if status, body := refresh(a1, dr1); status != 401 || body != "Request unauthorized\n" {
			t.Fatalf("cross-user refresh: %d %q", status, body)
		}
		// A refresh token is not an access token, nor is it usable on the API.
		if status, _ := refresh(r1, r1); status != 401 {
			t.Fatalf("refresh token as bearer: %d", status)
		}
		if status, _, _ := call(t, nil, "GET", s.URL()+pathChecks, "Bearer "+r1, ""); status != 401 {
			t.Fatalf("refresh token on the API: %d", status)
		}
		if gen == Generation6 {
			// Not recorded: on 6.x the refresh token must come from the access token's session.
			a2, r2 := login(t, s.URL(), AdminUsername, AdminPassword)
			if status, _ := refresh(a1, r2); status != 401 {
				t.Fatalf("cross-session refresh: %d", status)
			}
			if status, _ := refresh(a2, r2); status != 200 {
				t.Fatalf("same-session refresh: %d", status)
			}
		}
		if status, _ := refresh(d1, dr1); status != 200 {
			t.Fatalf("dev refresh: %d", status)
		}
		issued := s.IssuedSecrets()
		if len(issued) < 6 || !slices.Contains(issued, a1) || !slices.Contains(issued, dr1) {
			t.Fatalf("IssuedSecrets: %d", len(issued))
		}
		seen := map[string]bool{}
		for _, tok := range issued {
			if seen[tok] || strings.Count(tok, ".") != 2 {
				t.Fatalf("token %q duplicated or not JWT-like", tok)
			}
			seen[tok] = true
		}
		// Claims as recorded.
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(a1, ".")[1])
		var c map[string]any
		_ = json.Unmarshal(payload, &c)
		if c["sub"] != AdminUsername || fmt.Sprint(c["groups"]) != "[cluster-admins system:users]" || c["api_key"] != false {
			t.Fatalf("claims %s", payload)
		}
		if (gen == Generation6) == (c["session_id"] == "") {
			t.Fatalf("session_id %q on generation %d", c["session_id"], gen)
		}
		rp, _ := base64.RawURLEncoding.DecodeString(strings.Split(r1, ".")[1])
		var rc map[string]any
		_ = json.Unmarshal(rp, &rc)
		if _, hasExp := rc["exp"]; hasExp != (gen == Generation6) {
			t.Fatalf("refresh token claims %s", rp)
		}
	})
}

// devReadsDefault lets the non-admin dev read the checks of namespace default.
var devReadsDefault = RoleBinding{Namespace: "default", Name: "dev-admin", RoleType: "ClusterRole", RoleName: "admin", Groups: []string{"dev"}}

// TestClientHash covers the documented guess: a 7.x grant whose spec carries a bcrypt
// hash stores it, answers "key":"" and accepts the client's secret.
func TestClientHash(t *testing.T) {
	s := NewTest(t, Options{Generation: Generation7})
	tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
	clientSecret := newUUID()
	hash, _ := bcrypt.GenerateFromPassword([]byte(clientSecret), bcrypt.MinCost)
	body := `{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"tf-hashed"},"username":"dev","hash":"` + base64.StdEncoding.EncodeToString(hash) + `"}}`
	status, h, resp := call(t, nil, "POST", s.URL()+pathKeys, "Bearer "+tok, body)
	if status != 201 || resp != `{"name":"tf-hashed","key":""}`+"\n" || h.Get("Location") != pathKeys+"/tf-hashed" {
		t.Fatalf("grant with hash: %d %q", status, resp)
	}
	s.GrantAPIKey(AdminUsername) // a server-generated key alongside
	s.AddRoleBinding(devReadsDefault)
	for range 3 { // repeated use is served from the cache
		if status, _, _ := call(t, nil, "GET", s.URL()+pathChecks, "Key "+clientSecret, ""); status != 200 {
			t.Fatalf("client secret: %d", status)
		}
	}
	if status, _, _ := call(t, nil, "GET", s.URL()+pathKeys, "Key "+clientSecret, ""); status != 403 {
		t.Fatalf("dev's hashed key on apikeys: %d", status)
	}
	if s.KeyAuthenticates(newUUID()) || s.KeyAuthenticates("tf-hashed") {
		t.Fatal("wrong secret authenticated")
	}
	keys := s.APIKeys()
	if keys[slices.IndexFunc(keys, func(k APIKey) bool { return k.Name == "tf-hashed" })].Key != "" {
		t.Fatal("the server cannot know a client-hashed secret")
	}
	// For secret scans: the generated key's secret, and the client's once it authenticated.
	generated := keys[slices.IndexFunc(keys, func(k APIKey) bool { return k.Name != "tf-hashed" })].Key
	if known := s.KeySecrets(); len(known) != 2 || !slices.Contains(known, clientSecret) || !slices.Contains(known, generated) {
		t.Fatalf("KeySecrets has %d secrets, want the generated and the client's", len(known))
	}
	// Overwriting with PUT replaces the hash: the old secret stops working.
	status, _, resp = call(t, nil, "PUT", s.URL()+pathKeys, "Bearer "+tok, `{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"tf-hashed"},"username":"dev"}}`)
	if status != 201 || s.KeyAuthenticates(clientSecret) {
		t.Fatalf("overwrite: %d %q", status, resp)
	}
	if status, _, _ := call(t, nil, "POST", s.URL()+pathKeys, "Bearer "+tok, `{"type":"APIKey","api_version":"core/v2","spec":{"username":"dev","hash":"bm90IGEgaGFzaA=="}}`); status != 400 {
		t.Fatalf("invalid hash: %d", status)
	}
	// 7.0.0-alpha1 takes any name, and keeps the client's labels beside its own.
	status, _, resp = call(t, nil, "PUT", s.URL()+pathKeys, "Bearer "+tok,
		`{"type":"APIKey","api_version":"core/v2","spec":{"metadata":{"name":"has space","labels":{"terraform_ephemeral":"true"}},"username":"dev"}}`)
	if status != 201 || !strings.Contains(resp, `"name":"has space"`) {
		t.Fatalf("any name: %d %q", status, resp)
	}
	if _, _, body := call(t, nil, "GET", s.URL()+pathKeys+"/has%20space", "Bearer "+tok, ""); !strings.Contains(body, `"terraform_ephemeral":"true"`) ||
		!strings.Contains(body, `"sensu.io/created_at"`) {
		t.Fatalf("labels: %s", body)
	}
	assertNoPanics(t, s)
}

func TestStartTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s := New(Options{Generation: Generation7})
	if err := s.StartTLS("127.0.0.1:0", cert); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatal(s.URL())
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if status, _, _ := call(t, c, "GET", s.URL()+"/version", "", ""); status != 200 {
		t.Fatal(status)
	}
	tokReq, _ := http.NewRequest("GET", s.URL()+"/auth", nil)
	tokReq.SetBasicAuth(AdminUsername, AdminPassword)
	resp, err := c.Do(tokReq)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Access string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	_ = resp.Body.Close()
	s.InjectFault(Fault{Method: "POST", Route: pathKeys, AfterProcess: true})
	req, _ := http.NewRequest("POST", s.URL()+pathKeys, strings.NewReader(grantBody(Generation7, AdminUsername)))
	req.Header.Set("Authorization", "Bearer "+tr.Access)
	if resp, err := c.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("want a dropped connection over TLS")
	}
	if len(s.APIKeys()) != 1 {
		t.Fatal("grant did not happen")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := call(t, c, "GET", s.URL()+"/version", "", ""); status != 200 {
		t.Fatal("TLS after restart", status)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sensutest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestNeverPanics throws odd requests at the handler directly (a panic would surface
// here) and checks each gets a sane answer.
func TestNeverPanics(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := New(Options{Generation: gen})
		h := s.Handler()
		tok := ""
		{
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/auth", nil)
			req.SetBasicAuth(AdminUsername, AdminPassword)
			h.ServeHTTP(rec, req)
			var tr struct {
				Access string `json:"access_token"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &tr)
			tok = tr.Access
		}
		paths := []string{"/", "/auth/", "/api", "/api/core/v2/apikeys/", "/api/core/v2/apikeys/%2F", "/api/core/v2/apikeys/a%20b",
			"/api/core/v2/apikeys/x/y", "/api/core/v2/namespaces//checks", "/api/core/v2/namespaces/a/checks/x", "/_sensutest/", "/_sensutest/faults",
			"/api/core/v2/apikeys?limit=99999999999999999999", "/api/core/v2/apikeys?continue=", "/version?x=%zz"}
		bodies := []string{"", "null", "[]", `"x"`, "{", `{"type":"APIKey"}`, `{"type":"APIKey","api_version":"core/v2","spec":null}`,
			`{"type":"APIKey","api_version":"core/v2","spec":"x"}`, `{"type":"APIKey","api_version":"x","spec":{"username":1}}`,
			`{"type":"Foo","api_version":"core/v3","spec":{}}`, `{"username":["a"]}`, `{"refresh_token":5}`, `{"status":-5,"delay":"-1s"}`, `{"status":"x"}`,
			`{"type":"APIKey","api_version":"core/v2","spec":{"username":"admin","hash":"%%%"}}`, strings.Repeat("[", 10000)}
		auths := []string{"", "Bearer", "Bearer ", "Bearer " + tok, "Key", "Key  ", "Key x", "Basic !!!", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin")), "Negotiate x", "bearer " + tok}
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"} {
			for _, p := range paths {
				for _, b := range bodies {
					for _, a := range auths {
						rec := httptest.NewRecorder()
						req := httptest.NewRequest(m, "http://x"+strings.ReplaceAll(p, "%zz", "%25zz"), strings.NewReader(b))
						if a != "" {
							req.Header.Set("Authorization", a)
						}
						h.ServeHTTP(rec, req)
						if rec.Code < 200 || rec.Code > 599 {
							t.Fatalf("%s %s %q: status %d", m, p, b, rec.Code)
						}
					}
				}
			}
		}
		// An AfterProcess fault without a hijackable connection does not panic either.
		s.InjectFault(Fault{AfterProcess: true})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/version", nil))
		s.InjectFault(Fault{Status: 42})
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/version", nil))
		if rec.Code != 500 {
			t.Fatalf("out-of-range fault status became %d", rec.Code)
		}
		assertNoPanics(t, s)
	})
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	s := NewTest(t, Options{Generation: Generation6})
	status, h, body := call(t, nil, "GET", s.URL()+"/health", "", "")
	if status != 404 || body != `{"code":2,"message":"not found"}`+"\n" || h.Get("Content-Type") != textPlain {
		t.Fatalf("/health: %d %q", status, body)
	}
	if status, _, body := call(t, nil, "PUT", s.URL()+pathKeys, "", "{}"); status != 405 || body != "" {
		t.Fatalf("6.x PUT on the collection: %d %q", status, body)
	}
	if status, _, _ := call(t, nil, "POST", s.URL()+"/auth", "", ""); status != 405 {
		t.Fatalf("POST /auth: %d", status)
	}
}

// An empty list is "[]" with a Content-Length on both generations (7.x row 75: the
// stream is only chunked once there is something to stream).
func TestEmptyList(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen Generation) {
		s := NewTest(t, Options{Generation: gen})
		tok, _ := login(t, s.URL(), AdminUsername, AdminPassword)
		req, _ := http.NewRequest("GET", s.URL()+pathKeys, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "[]" || resp.ContentLength != 2 || resp.Header.Get("Content-Type") != appJSON {
			t.Fatalf("%d %q length %d", resp.StatusCode, body, resp.ContentLength)
		}
	})
}

// TestRefreshNeedsItsSession: a 6.x refresh needs the login session, which lives TokenTTL +
// SessionGrace (6.12.0: 5 + 1 minutes; a refresh 7 minutes after the login got 401); a
// refresh within it starts a new session lease. 7.x refresh tokens do not expire.
func TestRefreshNeedsItsSession(t *testing.T) {
	for _, gen := range []Generation{Generation6, Generation7} {
		s := NewTest(t, Options{Generation: gen, TokenTTL: 200 * time.Millisecond, SessionGrace: 200 * time.Millisecond})
		access, rt := login(t, s.URL(), AdminUsername, AdminPassword)
		refresh := func(access, rt string) (int, tokenTriple) {
			status, _, body := call(t, nil, "POST", s.URL()+"/auth/token", "Bearer "+access, `{"refresh_token":"`+rt+`"}`)
			var tok tokenTriple
			_ = json.Unmarshal([]byte(body), &tok)
			return status, tok
		}
		status, next := refresh(access, rt) // within the session: a new pair, a new lease
		if status != 200 {
			t.Fatalf("%d: refresh within the session: %d", gen, status)
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && !s.sessionEnded(next.RefreshToken) {
			time.Sleep(50 * time.Millisecond)
		}
		status, _ = refresh(next.AccessToken, next.RefreshToken)
		if want := map[Generation]int{Generation6: 401, Generation7: 200}[gen]; status != want {
			t.Errorf("%d: refresh after the session's lease: %d, want %d", gen, status, want)
		}
	}
}

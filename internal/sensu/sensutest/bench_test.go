package sensutest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// BenchmarkLifecycle1000 mirrors the project's 1000-key benchmark: 1000 grants, reads,
// Key-auth checks and deletes at parallelism 10, over HTTP.
func BenchmarkLifecycle1000(b *testing.B) {
	for _, gen := range generations {
		b.Run(fmt.Sprint("generation", int(gen)), func(b *testing.B) {
			s := NewTest(b, Options{Generation: gen})
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 10}}
			_, _, body, err := benchDo(c, "GET", s.URL()+"/auth", "Basic YWRtaW46UEBzc3cwcmQh", "")
			var tr struct {
				Access string `json:"access_token"`
			}
			if err != nil || json.Unmarshal([]byte(body), &tr) != nil {
				b.Fatal("login", err)
			}
			bearer := "Bearer " + tr.Access
			for b.Loop() {
				work := make(chan struct{})
				errs := make(chan error, 10)
				var wg sync.WaitGroup
				for range 10 {
					wg.Go(func() {
						for range work {
							if err := benchLifecycle(c, s.URL(), bearer, gen); err != nil {
								select {
								case errs <- err:
								default:
								}
							}
						}
					})
				}
				for range 1000 {
					work <- struct{}{}
				}
				close(work)
				wg.Wait()
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
			}
			if n := len(s.APIKeys()); n != 0 {
				b.Fatalf("%d keys left", n)
			}
		})
	}
}

func benchLifecycle(c *http.Client, base, bearer string, gen Generation) error {
	status, h, body, err := benchDo(c, "POST", base+pathKeys, bearer, grantBody(gen, AdminUsername))
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	if status != 201 {
		return fmt.Errorf("grant: status %d", status)
	}
	name := strings.TrimPrefix(h.Get("Location"), pathKeys+"/")
	secret := name
	if gen == Generation7 {
		var g struct{ Key string }
		_ = json.Unmarshal([]byte(body), &g)
		secret = g.Key
	}
	for _, step := range []struct{ method, path, auth string }{
		{"GET", pathKeys + "/" + name, bearer},
		{"GET", pathChecks, "Key " + secret},
		{"DELETE", pathKeys + "/" + name, bearer},
	} {
		status, _, _, err := benchDo(c, step.method, base+step.path, step.auth, "")
		if err != nil {
			return fmt.Errorf("%s %s: %w", step.method, step.path, err)
		}
		if status >= 300 {
			return fmt.Errorf("%s %s: status %d", step.method, step.path, status)
		}
	}
	return nil
}

func benchDo(c *http.Client, method, url, auth, body string) (int, http.Header, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Authorization", auth)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

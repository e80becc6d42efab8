package sensu

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// TestConnectionReuse: 50 sequential grants use one connection; 50 grants at Terraform's
// default parallelism (10) open no more connections than the pool keeps.
func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	for _, g := range inmemGenerations {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := sensutest.New(sensutest.Options{Generation: g.sgen})
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(s.Handler())
			srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
				if state == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)

			admin := s.GrantAPIKey(sensutest.AdminUsername)
			cfg := testConfig(srv.URL)
			cfg.APIKey = admin.Key
			c := newTestClient(t, cfg)
			ctx := context.Background()

			for range 50 {
				if _, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.DevUsername}); err != nil {
					t.Fatal(err)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("50 sequential grants (and the version check) opened %d connections, want 1", n)
			}

			conns.Store(0)
			sem := make(chan struct{}, 10)
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					if _, err := c.CreateAPIKey(ctx, CreateAPIKeyRequest{Username: sensutest.DevUsername}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if n := conns.Load(); n > connsPerHost {
				t.Errorf("50 grants at parallelism 10 opened %d new connections, want at most %d", n, connsPerHost)
			}
			if got := len(s.APIKeys()); got != 101 {
				t.Errorf("%d keys stored, want 101", got)
			}
		})
	}
}

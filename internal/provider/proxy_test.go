package provider

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"sort"
	"sync"
	"testing"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

// sensuProxy is a reverse proxy a test puts in front of a backend, in memory or real. It
// terminates TLS with the test's own certificate (TestAccProviderTLS), and it notes every
// secret Sensu hands out through it, so that a secret scan knows the tokens and keys the
// provider received from a real backend too (TestAccSecretsNeverPrinted).
type sensuProxy struct {
	url string
	gen sensu.Generation

	mu      sync.Mutex
	secrets map[string]bool
}

// startProxy serves the proxy on loopback until the test ends: over HTTPS with cert, else
// over plain HTTP.
func startProxy(t *testing.T, b *testBackend, cert *tls.Certificate) *sensuProxy {
	t.Helper()
	target, err := url.Parse(b.url)
	if err != nil {
		t.Fatal(err)
	}
	p := &sensuProxy{gen: b.gen, secrets: map[string]bool{}}
	quiet := log.New(io.Discard, "", 0)
	srv := httptest.NewUnstartedServer(&httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:      b.httpClient(t).Transport,
		ModifyResponse: p.note,
		// Not the default handler: it logs the failed URL, which holds the key on 6.x.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
		ErrorLog:     quiet,
	})
	// A client that refuses the certificate makes the server log a handshake error: expected.
	srv.Config.ErrorLog = quiet
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// note records the secrets in an answer: the tokens of a login or refresh, and a granted key
// (in the Location of a 6.x grant, whose key is its name, or in the body of a 7.x one).
func (p *sensuProxy) note(resp *http.Response) error {
	req := resp.Request
	grant := req.URL.Path == "/api/core/v2/apikeys" && (req.Method == http.MethodPost || req.Method == http.MethodPut)
	if req.URL.Path != "/auth" && req.URL.Path != "/auth/token" && !grant {
		return nil
	}
	if grant && p.gen.NamesAreSecret() {
		if loc := resp.Header.Get("Location"); loc != "" {
			p.add(path.Base(loc))
		}
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return err
	}
	var secrets struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Key          string `json:"key"`
	}
	if json.Unmarshal(body, &secrets) == nil {
		p.add(secrets.AccessToken)
		p.add(secrets.RefreshToken)
		p.add(secrets.Key)
	}
	return nil
}

func (p *sensuProxy) add(secret string) {
	if secret == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secrets[secret] = true
}

// issuedSecrets are the secrets that passed through the proxy so far.
func (p *sensuProxy) issuedSecrets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.secrets))
	for s := range p.secrets {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// via is the backend as reached through the proxy, whose certificate caPEM is ("" for plain
// HTTP). Checks outside Terraform (b.admin) still go to the backend directly. Its
// providerConfig is empty: build provider blocks with provider or adminProvider.
func (b *testBackend) via(p *sensuProxy, caPEM string) *testBackend {
	c := *b
	c.url, c.caPEM = p.url, caPEM
	c.trustedCAFile, c.insecure = "", false
	c.providerConfig = ""
	return &c
}

package provider

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// diagPattern matches a phrase of a diagnostic however Terraform wraps its lines.
func diagPattern(phrase string) *regexp.Regexp {
	words := strings.Fields(regexp.QuoteMeta(phrase))
	return regexp.MustCompile(strings.Join(words, `\s+`))
}

// clearSensuEnv unsets every SENSU_* variable for the test, so the machine's environment
// cannot configure the provider behind the test's back.
func clearSensuEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SENSU_") {
			t.Setenv(name, "")
		}
	}
}

const grantConfig = `
resource "sensu_api_key" "test" {
  username = "admin"
}
`

// grantStep grants one key with the given provider block and proves the key works.
func grantStep(b *testBackend, provider string) resource.TestStep {
	return resource.TestStep{Config: provider + grantConfig, Check: checkGrantedKey(b)}
}

func errorStep(config string, phrase string) resource.TestStep {
	return resource.TestStep{Config: config, ExpectError: diagPattern(phrase)}
}

func runSteps(t *testing.T, b *testBackend, steps ...resource.TestStep) {
	t.Helper()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             b.checkDestroy,
		Steps:                    steps,
	})
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	ExpiresAt    int64  `json:"expires_at"`
	RefreshToken string `json:"refresh_token"`
}

// login gets a token pair the way sensuctl does.
func login(t *testing.T, url string) tokens {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(sensutest.AdminUsername, sensutest.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tok tokens
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("logging in: HTTP %d, %v", resp.StatusCode, err)
	}
	return tok
}

func TestAccProviderAuthModes(t *testing.T) {
	forEachMemoryBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		t.Run("password", func(t *testing.T) {
			b.server.ResetCounters()
			runSteps(t, b, grantStep(b, b.providerConfig))
			// One provider process per Terraform command, each logging in at most once.
			counts := b.server.Requests()
			if logins, processes := counts["GET /auth"], counts["GET /version"]; logins == 0 || logins > processes {
				t.Errorf("%d logins for %d provider processes that called the API, want 1 each", logins, processes)
			}
		})
		t.Run("api_key", func(t *testing.T) {
			key := b.server.GrantAPIKey(sensutest.AdminUsername)
			b.server.ResetCounters()
			runSteps(t, b, grantStep(b, fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  api_key = %q\n}\n", b.url, key.Key)))
			if logins := b.server.Requests()["GET /auth"]; logins != 0 {
				t.Errorf("API key authentication logged in %d times, want 0", logins)
			}
		})
		t.Run("access_token", func(t *testing.T) {
			tok := login(t, b.url)
			runSteps(t, b, grantStep(b, fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  access_token = %q\n  refresh_token = %q\n}\n",
				b.url, tok.AccessToken, tok.RefreshToken)))
		})
		t.Run("username_in_config_password_from_env", func(t *testing.T) {
			// The environment completes the method the configuration picked, and its other
			// credentials (an API key here) do not count as a second method.
			t.Setenv("SENSU_PASSWORD", sensutest.AdminPassword)
			t.Setenv("SENSU_API_KEY", "11111111-2222-3333-4444-555555555555")
			defer clearSensuEnv(t)
			runSteps(t, b, grantStep(b, fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  username = %q\n}\n", b.url, sensutest.AdminUsername)))
		})
		t.Run("empty_strings_are_unset", func(t *testing.T) {
			// A variable whose default is "" must not hide the environment's credentials.
			t.Setenv("SENSU_USERNAME", sensutest.AdminUsername)
			t.Setenv("SENSU_PASSWORD", sensutest.AdminPassword)
			defer clearSensuEnv(t)
			runSteps(t, b, grantStep(b, fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  api_key = \"\"\n  access_token = \"\"\n}\n", b.url)))
		})
		t.Run("sensuctl_env", func(t *testing.T) {
			// Exactly what `eval $(sensuctl env)` exports, empty values included.
			tok := login(t, b.url)
			t.Setenv("SENSU_API_URL", b.url)
			t.Setenv("SENSU_NAMESPACE", "default")
			t.Setenv("SENSU_FORMAT", "tabular")
			t.Setenv("SENSU_API_KEY", "")
			t.Setenv("SENSU_ACCESS_TOKEN", tok.AccessToken)
			t.Setenv("SENSU_ACCESS_TOKEN_EXPIRES_AT", strconv.FormatInt(tok.ExpiresAt, 10))
			t.Setenv("SENSU_REFRESH_TOKEN", tok.RefreshToken)
			t.Setenv("SENSU_TRUSTED_CA_FILE", "")
			t.Setenv("SENSU_INSECURE_SKIP_TLS_VERIFY", "false")
			t.Setenv("SENSU_TIMEOUT", "15s")
			runSteps(t, b, grantStep(b, "provider \"sensu\" {}\n"))
		})
	})
}

// TestAccProviderExpiredAccessToken is a shell exported by `sensuctl env` a while ago: the
// access token has expired and the provider renews it with the refresh token rather than
// fail. On 6.x a refresh token works once, so only the first provider process of a run can
// renew; the next one gets an error that says so and what to do.
func TestAccProviderExpiredAccessToken(t *testing.T) {
	if realBackend() {
		t.Skip("needs the in-memory Sensu API")
	}
	for _, gen := range []sensutest.Generation{sensutest.Generation6, sensutest.Generation7} {
		t.Run(fmt.Sprintf("sensu%d", gen), func(t *testing.T) {
			clearSensuEnv(t)
			b := newMemoryBackend(t, sensutest.Options{Generation: gen, TokenTTL: time.Second})
			tok := login(t, b.url)
			for deadline := time.Now().Add(10 * time.Second); time.Now().Unix() <= tok.ExpiresAt; {
				if time.Now().After(deadline) {
					t.Fatal("the access token did not expire")
				}
				time.Sleep(100 * time.Millisecond)
			}
			expired := fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  access_token = %q\n  refresh_token = %q\n}\n", b.url, tok.AccessToken, tok.RefreshToken)
			first := grantStep(b, expired)
			if gen == sensutest.Generation6 {
				// The apply's process renews; the refresh plan's process finds the token used.
				first.Check = nil
				first.ExpectError = diagPattern("a refresh token works only once")
			}
			runSteps(t, b,
				first,
				// Clean up with credentials every process can use.
				resource.TestStep{Config: b.providerConfig + grantConfig, Check: checkGrantedKey(b)},
			)
			// Without a refresh token there is no way to renew: a clear error, not a panic.
			runSteps(t, b, errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  access_token = %q\n}\n", b.url, tok.AccessToken)+grantConfig,
				"Access tokens expire after 5 minutes"))
		})
	}
}

func TestAccProviderErrors(t *testing.T) {
	forEachMemoryBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		withURL := func(extra string) string {
			return fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n}\n", b.url, extra)
		}
		admin := fmt.Sprintf("  username = %q\n  password = %q", sensutest.AdminUsername, sensutest.AdminPassword)
		cases := map[string]resource.TestStep{
			"unknown user": errorStep(b.providerConfig+`
resource "sensu_api_key" "test" {
  username = "nosuchuser"
}
`, "Sensu has no such user"),
			"empty username": errorStep(b.providerConfig+`
resource "sensu_api_key" "test" {
  username = ""
}
`, "must be a Sensu username"),
			"wrong password": errorStep(withURL(`  username = "admin"
  password = "wrong"`)+grantConfig, "rejected the provider's username or password"),
			"revoked api key": errorStep(withURL(`  api_key = "11111111-2222-3333-4444-555555555555"`)+grantConfig,
				"rejected the provider's API key"),
			"non-admin": errorStep(withURL(fmt.Sprintf("  username = %q\n  password = %q", sensutest.DevUsername, sensutest.DevPassword))+grantConfig,
				"only cluster admins (members of the cluster-admins group) can grant, view or revoke them"),
			"two auth methods": errorStep(withURL(admin+"\n  api_key = \"abc\"")+grantConfig, "more than one way to authenticate"),
			"no auth method":   errorStep(withURL("")+grantConfig, "no credentials"),
			"no api_url":       errorStep("provider \"sensu\" {\n"+admin+"\n}\n"+grantConfig, "Missing Sensu API URL"),
			"url without scheme": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n}\n", strings.TrimPrefix(b.url, "http://"), admin)+grantConfig,
				"must start with http:// or https://"),
			"url with path": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n}\n", b.url+"/api/core/v2", admin)+grantConfig,
				"has a path"),
			"unreachable": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n  max_retries = 0\n}\n", "http://127.0.0.1:1", admin)+grantConfig,
				"Could not reach the Sensu API at http://127.0.0.1:1"),
			"wrong port": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n  max_retries = 0\n}\n", notSensu(t), admin)+grantConfig,
				"answered with something that is not a Sensu API response"),
			"bad timeout": errorStep(withURL(admin+"\n  timeout = \"fast\"")+grantConfig, "Invalid Sensu Request Timeout"),
		}
		for name, step := range cases {
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { runSteps(t, b, step) })
		}
		if got := len(b.server.APIKeys()); got != 0 {
			t.Errorf("failed applies left %d keys on the server", got)
		}
	})
}

func TestAccProviderTLS(t *testing.T) {
	if realBackend() {
		t.Skip("needs the in-memory Sensu API")
	}
	clearSensuEnv(t)
	cert, caPEM := selfSignedCert(t)
	s := sensutest.New(sensutest.Options{Generation: sensutest.Generation6})
	if err := s.StartTLS("127.0.0.1:0", cert); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	admin, err := sensu.New(sensu.Config{APIURL: s.URL(), Username: sensutest.AdminUsername, Password: sensutest.AdminPassword, TrustedCAPEM: string(caPEM)})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{gen: sensu.Generation6, server: s, url: s.URL(), admin: admin, username: sensutest.AdminUsername, caPEM: string(caPEM)}
	provider := func(extra string) string {
		return fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  username = %q\n  password = %q\n%s\n}\n",
			s.URL(), sensutest.AdminUsername, sensutest.AdminPassword, extra)
	}
	t.Run("without CA", func(t *testing.T) {
		runSteps(t, b, errorStep(provider("  max_retries = 0")+grantConfig, "set trusted_ca_file"))
	})
	t.Run("trusted_ca_file", func(t *testing.T) {
		runSteps(t, b, grantStep(b, provider(fmt.Sprintf("  trusted_ca_file = %q", caFile))))
	})
	t.Run("trusted_ca_pem", func(t *testing.T) {
		runSteps(t, b, grantStep(b, provider(fmt.Sprintf("  trusted_ca_pem = %q", string(caPEM)))))
	})
	t.Run("unreadable CA file", func(t *testing.T) {
		runSteps(t, b, errorStep(provider(fmt.Sprintf("  trusted_ca_file = %q", caFile+".missing"))+grantConfig, "Invalid Trusted CA File"))
	})
	t.Run("CA PEM without a certificate", func(t *testing.T) {
		runSteps(t, b, errorStep(provider("  trusted_ca_pem = \"not a certificate\"")+grantConfig, "Invalid Trusted CA"))
	})
	t.Run("insecure_skip_tls_verify", func(t *testing.T) {
		runSteps(t, b, grantStep(b, provider("  insecure_skip_tls_verify = true")))
	})
}

// selfSignedCert makes a certificate for 127.0.0.1 that is its own CA.
func selfSignedCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sensu-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM
}

// TestAccProviderBadResponses is a URL that answers, but not like the Sensu API: a web UI or a
// proxy's error page, truncated JSON, an oversized body, or JSON of the wrong shape.
func TestAccProviderBadResponses(t *testing.T) {
	forEachMemoryBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		cases := map[string]struct {
			fault  sensutest.Fault
			phrase string
		}{
			"html": {sensutest.Fault{Status: 200, ContentType: "text/html", Body: "<!DOCTYPE html><html><body>Sensu Web UI</body></html>"},
				"the body is not valid JSON"},
			"truncated json": {sensutest.Fault{Status: 200, ContentType: "application/json", Body: `{"sensu_backend":"6.`},
				"the JSON body is empty or truncated"},
			"oversized": {sensutest.Fault{Status: 200, ContentType: "application/json", Body: `{"x":"` + strings.Repeat("a", 9<<20) + `"}`},
				"the body exceeds 8 MiB"},
			"wrong shape": {sensutest.Fault{Status: 200, ContentType: "application/json", Body: `["not","an","object"]`},
				"the JSON has the wrong shape"},
			"html error page": {sensutest.Fault{Status: 502, ContentType: "text/html", Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
				"an HTML page instead of a Sensu API response"},
		}
		for name, c := range cases {
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
				f := c.fault
				f.Method, f.Route, f.Count = "GET", "/version", 100
				b.server.InjectFault(f)
				defer b.server.ClearFaults()
				config := fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  username = %q\n  password = %q\n  max_retries = 0\n}\n",
					b.url, sensutest.AdminUsername, sensutest.AdminPassword) + grantConfig
				runSteps(t, b, errorStep(config, c.phrase))
			})
		}
		// A 6.x key is never accepted as a data source id, which is not sensitive.
		if b.gen.NamesAreSecret() {
			key := b.server.GrantAPIKey(sensutest.AdminUsername)
			runSteps(t, b, errorStep(b.providerConfig+fmt.Sprintf("data \"sensu_api_key\" \"raw\" {\n  id = %q\n}\n", key.Key),
				"Pass sha256(key), never the key itself"))
			b.server.RevokeAPIKey(key.Name)
		}
		if got := len(b.server.APIKeys()); got != 0 {
			t.Errorf("failed applies left %d keys on the server", got)
		}
	})
}

// notSensu is the URL of a web server that is not Sensu: what a wrong port often reaches.
func notSensu(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>It works!</body></html>"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
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

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

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

// grantStep grants one key with the given provider block and proves the key works.
func grantStep(b *testBackend, provider string) resource.TestStep {
	return resource.TestStep{Config: provider + b.grantConfig(), Check: checkGrantedKey(b)}
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

// grantThroughCLI grants one key with the given provider block through the CLI at TRACE,
// proves it works, plans nothing more, destroys it and proves it revoked. It returns what the
// CLI printed, the provider processes' DEBUG logs included, for counting what they did.
func grantThroughCLI(t *testing.T, b *testBackend, provider string) string {
	t.Helper()
	run := newCLIRun(t, provider+b.grantConfig())
	b.revokeStateKeysAtEnd(t, run)
	run.mustRun("apply", "-auto-approve", "-input=false")
	keys := stateKeyAttributes(run.dir)
	if len(keys) != 1 {
		t.Fatalf("the state holds %d keys, want 1", len(keys))
	}
	b.expectKeyWorks(t, keys[0]["key"], true)
	run.mustRun("plan", "-input=false", "-detailed-exitcode")
	run.mustRun("destroy", "-auto-approve", "-input=false")
	b.expectKeyWorks(t, keys[0]["key"], false)
	return run.output.String()
}

// expectKeyWorks checks that Sensu accepts (or, with want false, rejects) a key.
func (b *testBackend) expectKeyWorks(t *testing.T, key string, want bool) {
	t.Helper()
	ok, err := b.keyAuthenticates(key)
	switch {
	case err != nil:
		t.Fatalf("trying the key: %v", err)
	case ok != want && want:
		t.Fatal("the granted key does not authenticate against the Sensu API")
	case ok != want:
		t.Fatal("the key still authenticates after destroy")
	}
}

// sensuctlEnv is what `eval $(sensuctl env)` exports for the backend and a token pair, empty
// values included (shared/sensu-api/sensuctl-env.md).
func (b *testBackend) sensuctlEnv(tok tokens, expiresAt int64) map[string]string {
	return map[string]string{
		"SENSU_API_URL":                  b.url,
		"SENSU_NAMESPACE":                "default",
		"SENSU_FORMAT":                   "tabular",
		"SENSU_API_KEY":                  "",
		"SENSU_ACCESS_TOKEN":             tok.AccessToken,
		"SENSU_ACCESS_TOKEN_EXPIRES_AT":  strconv.FormatInt(expiresAt, 10),
		"SENSU_REFRESH_TOKEN":            tok.RefreshToken,
		"SENSU_TRUSTED_CA_FILE":          b.trustedCAFile,
		"SENSU_INSECURE_SKIP_TLS_VERIFY": strconv.FormatBool(b.insecure),
		"SENSU_TIMEOUT":                  "15s",
	}
}

func TestAccProviderAuthModes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		username, password := b.adminLogin()
		t.Run("password", func(t *testing.T) {
			out := grantThroughCLI(t, b, b.adminProvider(t, ""))
			// Each provider process that calls the API logs in once, from its own logs.
			logins, processes, most := providerLogins(out)
			if most > 1 {
				t.Errorf("a provider process logged in %d times, want once", most)
			}
			if logins == 0 || logins > processes {
				t.Errorf("%d logins for %d provider processes that called the API, want 1 each", logins, processes)
			}
		})
		t.Run("api_key", func(t *testing.T) {
			key := b.grantKeyOutsideTerraform(t)
			out := grantThroughCLI(t, b, b.provider(fmt.Sprintf("  api_key = %q", key.Key)))
			if logins, processes, _ := providerLogins(out); logins != 0 || processes == 0 {
				t.Errorf("API key authentication: %d logins in %d provider processes that called the API, want none", logins, processes)
			}
		})
		t.Run("access_token", func(t *testing.T) {
			tok := b.login(t)
			runSteps(t, b, grantStep(b, b.provider(fmt.Sprintf("  access_token = %q\n  refresh_token = %q", tok.AccessToken, tok.RefreshToken))))
		})
		t.Run("username_in_config_password_from_env", func(t *testing.T) {
			// The environment completes the method the configuration picked, and its other
			// credentials (an API key here) do not count as a second method.
			t.Setenv("SENSU_PASSWORD", password)
			t.Setenv("SENSU_API_KEY", "11111111-2222-3333-4444-555555555555")
			defer clearSensuEnv(t)
			runSteps(t, b, grantStep(b, b.provider(fmt.Sprintf("  username = %q", username))))
		})
		t.Run("empty_strings_are_unset", func(t *testing.T) {
			// A variable whose default is "" must not hide the environment's credentials.
			t.Setenv("SENSU_USERNAME", username)
			t.Setenv("SENSU_PASSWORD", password)
			defer clearSensuEnv(t)
			runSteps(t, b, grantStep(b, b.provider("  api_key = \"\"\n  access_token = \"\"")))
		})
		t.Run("sensuctl_env", func(t *testing.T) {
			// Exactly what `eval $(sensuctl env)` exports, empty values included.
			tok := b.login(t)
			for name, value := range b.sensuctlEnv(tok, tok.ExpiresAt) {
				t.Setenv(name, value)
			}
			defer clearSensuEnv(t)
			runSteps(t, b, grantStep(b, "provider \"sensu\" {}\n"))
		})
	})
}

// TestAccProviderExpiredAccessToken is a shell exported by `sensuctl env` a while ago: the
// access token has expired and the provider renews it with the refresh token rather than
// fail. On 6.x a refresh token works once, so only the first provider process of a run can
// renew; the next one gets an error that says so and what to do.
func TestAccProviderExpiredAccessToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		t.Run("sensuctl_env", func(t *testing.T) {
			// A token pair from GET /auth, exported with an expiry that has passed: what an
			// old shell holds. Sensu itself would take the access token for up to 5 more
			// minutes, but the provider goes by the exported expiry and renews first
			// (internal/sensu/auth.go), so what it sends is only the refresh.
			tok := b.login(t)
			run := newCLIRun(t, "provider \"sensu\" {}\n"+b.grantConfig())
			for name, value := range b.sensuctlEnv(tok, time.Now().Add(-time.Minute).Unix()) {
				run.env = append(run.env, name+"="+value)
			}
			b.revokeStateKeysAtEnd(t, run)
			mark := run.output.Len()
			run.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
			out := run.since(mark)
			if !strings.Contains(out, "Refreshed the Sensu access token") {
				t.Error("the apply did not renew the expired access token")
			}
			if logins, _, _ := providerLogins(out); logins != 0 {
				t.Errorf("the apply logged in %d times without a password", logins)
			}
			keys := stateKeyAttributes(run.dir)
			if len(keys) != 1 {
				t.Fatalf("the state holds %d keys, want 1", len(keys))
			}
			b.expectKeyWorks(t, keys[0]["key"], true)

			// The next process holds the same refresh token.
			mark = run.output.Len()
			planned := run.run("plan", "-input=false", "-detailed-exitcode", "-no-color")
			out = flatten(run.since(mark))
			if b.gen.NamesAreSecret() {
				if planned || !strings.Contains(out, "a refresh token works only once") {
					t.Errorf("6.x: a second process renewing with a used refresh token did not fail saying why:\n%s", tail(run.since(mark), 30))
				}
			} else if !planned {
				t.Errorf("7.x accepts a refresh token again, but the plan failed:\n%s", tail(run.since(mark), 30))
			}

			// Destroy as from a shell exported again.
			fresh := b.login(t)
			for name, value := range b.sensuctlEnv(fresh, fresh.ExpiresAt) {
				run.env = append(run.env, name+"="+value)
			}
			run.mustRun("destroy", "-auto-approve", "-input=false")
			b.expectKeyWorks(t, keys[0]["key"], false)
		})
		t.Run("in_configuration", func(t *testing.T) {
			if b.server == nil {
				t.Skip("needs an access token that Sensu itself finds expired: a real backend's live 5 minutes, " +
					"which the test does not wait for; sensuctl_env renews against the real backend")
			}
			// A token Sensu rejects with 401: the provider renews it then.
			short := newMemoryBackend(t, sensutest.Options{Generation: sensutest.Generation(b.gen), TokenTTL: time.Second})
			tok := short.login(t)
			for deadline := time.Now().Add(10 * time.Second); time.Now().Unix() <= tok.ExpiresAt; {
				if time.Now().After(deadline) {
					t.Fatal("the access token did not expire")
				}
				time.Sleep(100 * time.Millisecond)
			}
			expired := short.provider(fmt.Sprintf("  access_token = %q\n  refresh_token = %q", tok.AccessToken, tok.RefreshToken))
			first := grantStep(short, expired)
			if short.gen.NamesAreSecret() {
				// The apply's process renews; the refresh plan's process finds the token used.
				first.Check = nil
				first.ExpectError = diagPattern("a refresh token works only once")
			}
			runSteps(t, short,
				first,
				// Clean up with credentials every process can use.
				grantStep(short, short.providerConfig),
			)
			// Without a refresh token there is no way to renew: a clear error, not a panic.
			runSteps(t, short, errorStep(short.provider(fmt.Sprintf("  access_token = %q", tok.AccessToken))+short.grantConfig(),
				"Access tokens expire after 5 minutes"))
		})
	})
}

func TestAccProviderErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		username, password := b.adminLogin()
		admin := fmt.Sprintf("  username = %q\n  password = %q", username, password)
		// A key that worked, then was revoked: what a pipeline holds after a rotation.
		revoked := b.grantKeyOutsideTerraform(t)
		if err := b.admin.DeleteAPIKey(context.Background(), revoked.Name); err != nil {
			t.Fatalf("revoking the key: %v", err)
		}
		// A user with a role in namespace default, but no cluster admin. The failing grants
		// are for this user, whose keys no one else makes on a shared backend: none may exist
		// at the end.
		dev := newTestUser(t, b)
		bindGroupInDefault(t, b, dev.name)
		grant := fmt.Sprintf("\nresource \"sensu_api_key\" \"test\" {\n  username = %q\n}\n", dev.name)
		_, hostAndPort, _ := strings.Cut(b.url, "://")
		cases := map[string]resource.TestStep{
			"unknown user": errorStep(b.adminProvider(t, "")+fmt.Sprintf(`
resource "sensu_api_key" "test" {
  username = "no-such-user-%s"
}
`, acctest.RandString(8)), "Sensu has no such user"),
			"empty username": errorStep(b.adminProvider(t, "")+`
resource "sensu_api_key" "test" {
  username = ""
}
`, "must be a Sensu username"),
			"wrong password": errorStep(b.provider(fmt.Sprintf("  username = %q\n  password = %q", username, "wrong-"+password))+grant,
				"rejected the provider's username or password"),
			"revoked api key": errorStep(b.provider(fmt.Sprintf("  api_key = %q", revoked.Key))+grant, "rejected the provider's API key"),
			"non-admin": errorStep(b.provider(fmt.Sprintf("  username = %q\n  password = %q", dev.name, dev.password))+grant,
				"only cluster admins (members of the cluster-admins group) can grant, view or revoke them"),
			"two auth methods": errorStep(b.provider(admin+"\n  api_key = \"abc\"")+grant, "more than one way to authenticate"),
			"no auth method":   errorStep(b.provider("")+grant, "no credentials"),
			"no api_url":       errorStep("provider \"sensu\" {\n"+admin+"\n}\n"+grant, "Missing Sensu API URL"),
			"url without scheme": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n}\n", hostAndPort, admin)+grant,
				"must start with http:// or https://"),
			"url with path": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s%s\n}\n", b.url+"/api/core/v2", b.tlsArguments(), admin)+grant,
				"has a path"),
			"unreachable": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n  max_retries = 0\n}\n", "http://127.0.0.1:1", admin)+grant,
				"Could not reach the Sensu API at http://127.0.0.1:1"),
			"wrong port": errorStep(fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s\n  max_retries = 0\n}\n", notSensu(t), admin)+grant,
				"answered with something that is not a Sensu API response"),
			"bad timeout": errorStep(b.provider(admin+"\n  timeout = \"fast\"")+grant, "Invalid Sensu Request Timeout"),
		}
		for name, step := range cases {
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { runSteps(t, b, step) })
		}
		if err := b.noKeysBeyond(dev.name, nil); err != nil {
			t.Errorf("failed applies left keys: %v", err)
		}
	})
}

// TestAccProviderTLS puts a TLS-terminating proxy with the test's own self-signed
// certificate in front of the backend, in memory or real, and connects through it.
func TestAccProviderTLS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		cert, caPEM := selfSignedCert(t)
		tb := b.via(startProxy(t, b, &cert), string(caPEM))
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		username, password := b.adminLogin()
		provider := func(extra string) string {
			return fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  username = %q\n  password = %q\n%s\n}\n",
				tb.url, username, password, extra)
		}
		t.Run("without CA", func(t *testing.T) {
			runSteps(t, tb, errorStep(provider("  max_retries = 0")+tb.grantConfig(), "set trusted_ca_file"))
		})
		t.Run("trusted_ca_file", func(t *testing.T) {
			runSteps(t, tb, grantStep(tb, provider(fmt.Sprintf("  trusted_ca_file = %q", caFile))))
		})
		t.Run("trusted_ca_pem", func(t *testing.T) {
			runSteps(t, tb, grantStep(tb, provider(fmt.Sprintf("  trusted_ca_pem = %q", string(caPEM)))))
		})
		t.Run("unreadable CA file", func(t *testing.T) {
			runSteps(t, tb, errorStep(provider(fmt.Sprintf("  trusted_ca_file = %q", caFile+".missing"))+tb.grantConfig(), "Invalid Trusted CA File"))
		})
		t.Run("CA PEM without a certificate", func(t *testing.T) {
			runSteps(t, tb, errorStep(provider("  trusted_ca_pem = \"not a certificate\"")+tb.grantConfig(), "Invalid Trusted CA"))
		})
		t.Run("insecure_skip_tls_verify", func(t *testing.T) {
			runSteps(t, tb, grantStep(tb, provider("  insecure_skip_tls_verify = true")))
		})
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
	forEachMemoryBackend(t, "needs the in-memory Sensu API to answer unlike Sensu (HTML, truncated, oversized or misshapen JSON)", func(t *testing.T, b *testBackend) {
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
					b.url, sensutest.AdminUsername, sensutest.AdminPassword) + b.grantConfig()
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

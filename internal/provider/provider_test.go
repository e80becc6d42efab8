package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"sensu": func() (tfprotov6.ProviderServer, error) { return NewProtocol6Server("test")(), nil },
}

// testBackend is a Sensu an acceptance test runs against: the in-memory API of one
// generation, or a real backend when SENSU_API_URL and credentials are set.
type testBackend struct {
	gen    sensu.Generation
	server *sensutest.Server // nil on a real backend
	url    string
	// providerConfig is a provider block that authenticates as a cluster admin. On a real
	// backend it sets nothing and relies on the SENSU_* environment; tests that clear that
	// environment use adminProvider instead.
	providerConfig string
	// admin is a client for checks made outside Terraform (revoke, CheckDestroy).
	admin *sensu.Client
	// adminUsername and adminPassword log in as a cluster admin (see adminLogin).
	adminUsername, adminPassword string
	// adminAuthorization authorizes adminRequest without a login (a real backend's
	// SENSU_API_KEY).
	adminAuthorization string
	// username receives keys; otherUsername is a second existing user ("" when unknown: see
	// otherUser).
	username      string
	otherUsername string
	// caPEM is trusted by keyAuthenticates (a TLS test server's own CA); trustedCAFile and
	// insecure are the real backend's SENSU_TRUSTED_CA_FILE and SENSU_INSECURE_SKIP_TLS_VERIFY.
	caPEM         string
	trustedCAFile string
	insecure      bool
}

// realEnv is the SENSU_* environment the test binary started with. Tests clear and set
// SENSU_* variables for the provider they run; which backend the suite targets, and with
// which admin credentials, does not change with them.
var realEnv = struct {
	apiURL, username, password, apiKey, accessToken, refreshToken string
	trustedCAFile, testUsername, otherUsername                    string
	insecure                                                      bool
}{
	apiURL:        os.Getenv("SENSU_API_URL"),
	username:      os.Getenv("SENSU_USERNAME"),
	password:      os.Getenv("SENSU_PASSWORD"),
	apiKey:        os.Getenv("SENSU_API_KEY"),
	accessToken:   os.Getenv("SENSU_ACCESS_TOKEN"),
	refreshToken:  os.Getenv("SENSU_REFRESH_TOKEN"),
	trustedCAFile: os.Getenv("SENSU_TRUSTED_CA_FILE"),
	testUsername:  os.Getenv("SENSU_TEST_USERNAME"),
	otherUsername: os.Getenv("SENSU_TEST_OTHER_USERNAME"),
	insecure:      os.Getenv("SENSU_INSECURE_SKIP_TLS_VERIFY") == "true",
}

// realBackend reports whether the acceptance tests target a real Sensu backend.
func realBackend() bool { return realEnv.apiURL != "" }

// forEachBackend runs fn once per backend: both generations of the in-memory API, or the
// real backend from the environment.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *testBackend)) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		// Before anything is made on a real backend, as resource.Test would skip anyway.
		t.Skip("acceptance test: set TF_ACC=1 to run it (make testacc does)")
	}
	if realBackend() {
		t.Run("real", func(t *testing.T) {
			b := newRealBackend(t)
			if b.adminPassword == "" {
				// Logins need a password; this user lives, enabled, as long as the test.
				u := newTestUser(t, b, "cluster-admins")
				b.adminUsername, b.adminPassword = u.name, u.password
			}
			fn(t, b)
		})
		return
	}
	for _, gen := range []sensutest.Generation{sensutest.Generation6, sensutest.Generation7} {
		t.Run(fmt.Sprintf("sensu%d", gen), func(t *testing.T) {
			fn(t, newMemoryBackend(t, sensutest.Options{Generation: gen}))
		})
	}
}

// maxMemoryOnlyTests bounds the top-level tests that skip on a real backend: everything that
// needs no fault injection or look inside the server runs against real Sensu too.
const maxMemoryOnlyTests = 4

// memoryOnlyTests are the top-level tests that skipped for want of the in-memory API in this
// run; TestMain fails a real-backend run that skipped more than maxMemoryOnlyTests.
var memoryOnlyTests = struct {
	sync.Mutex
	names map[string]bool
}{names: map[string]bool{}}

// skipOnRealBackend skips a test that a real backend cannot run; reason says what it needs
// from the in-memory API.
func skipOnRealBackend(t *testing.T, reason string) {
	t.Helper()
	if !realBackend() {
		return
	}
	top, _, _ := strings.Cut(t.Name(), "/")
	memoryOnlyTests.Lock()
	memoryOnlyTests.names[top] = true
	memoryOnlyTests.Unlock()
	t.Skip(reason + "; SENSU_API_URL is set")
}

// forEachMemoryBackend is forEachBackend for tests that need the in-memory API's knobs;
// reason says which (it is the skip message on a real backend).
func forEachMemoryBackend(t *testing.T, reason string, fn func(t *testing.T, b *testBackend)) {
	t.Helper()
	skipOnRealBackend(t, reason)
	forEachBackend(t, fn)
}

func newMemoryBackend(t *testing.T, opts sensutest.Options) *testBackend {
	t.Helper()
	s := sensutest.NewTest(t, opts)
	admin, err := sensu.New(sensu.Config{APIURL: s.URL(), Username: sensutest.AdminUsername, Password: sensutest.AdminPassword})
	if err != nil {
		t.Fatal(err)
	}
	return &testBackend{
		gen:    sensu.Generation(opts.Generation),
		server: s,
		url:    s.URL(),
		providerConfig: fmt.Sprintf(`
provider "sensu" {
  api_url  = %q
  username = %q
  password = %q
}
`, s.URL(), sensutest.AdminUsername, sensutest.AdminPassword),
		admin:         admin,
		adminUsername: sensutest.AdminUsername,
		adminPassword: sensutest.AdminPassword,
		username:      sensutest.AdminUsername,
		otherUsername: sensutest.DevUsername,
	}
}

// newRealBackend configures the provider from the environment (as `eval $(sensuctl env)`
// does) and checks from the same credentials. SENSU_TEST_USERNAME (default: the admin) gets
// the keys; SENSU_TEST_OTHER_USERNAME names a second existing user (else otherUser creates
// one).
func newRealBackend(t *testing.T) *testBackend {
	t.Helper()
	cfg := sensu.Config{
		APIURL:                realEnv.apiURL,
		Username:              realEnv.username,
		Password:              realEnv.password,
		APIKey:                realEnv.apiKey,
		AccessToken:           realEnv.accessToken,
		RefreshToken:          realEnv.refreshToken,
		TrustedCAFile:         realEnv.trustedCAFile,
		InsecureSkipTLSVerify: realEnv.insecure,
		MaxRetries:            sensu.DefaultMaxRetries,
	}
	admin, err := sensu.New(cfg)
	if err != nil {
		t.Fatalf("SENSU_API_URL is set but the environment does not configure a client: %v", err)
	}
	gen, err := admin.Generation(context.Background())
	if err != nil {
		t.Fatalf("cannot reach the Sensu backend at %s: %v", cfg.APIURL, err)
	}
	username := realEnv.testUsername
	if username == "" {
		username = cfg.Username
	}
	if username == "" {
		username = "admin"
	}
	b := &testBackend{
		gen:            gen,
		url:            cfg.APIURL,
		providerConfig: "provider \"sensu\" {}\n",
		admin:          admin,
		username:       username,
		otherUsername:  realEnv.otherUsername,
		trustedCAFile:  cfg.TrustedCAFile,
		insecure:       cfg.InsecureSkipTLSVerify,
	}
	// An access token from the environment expires within minutes, and on 6.x its refresh
	// token is b.admin's to use: with one, adminRequest logs in as adminLogin does.
	switch {
	case cfg.Username != "" && cfg.Password != "":
		b.adminUsername, b.adminPassword = cfg.Username, cfg.Password
	case cfg.APIKey != "":
		b.adminAuthorization = "Key " + cfg.APIKey
	}
	return b
}

// keyAuthenticates asks the backend whether `Authorization: Key <key>` is accepted, the way
// any script using the key would: 401 means no; anything else means Sensu knew the key.
func (b *testBackend) keyAuthenticates(key string) (bool, error) {
	c, err := sensu.New(sensu.Config{
		APIURL:                b.url,
		APIKey:                key,
		Generation:            b.gen,
		TrustedCAFile:         b.trustedCAFile,
		TrustedCAPEM:          b.caPEM,
		InsecureSkipTLSVerify: b.insecure,
	})
	if err != nil {
		return false, err
	}
	_, err = c.GetAPIKey(context.Background(), "terraform-provider-sensu-probe")
	switch {
	case err == nil, sensu.IsNotFound(err), sensu.IsForbidden(err):
		return true, nil
	case sensu.IsUnauthorized(err):
		return false, nil
	}
	return false, err
}

// sensuName is how the backend addresses a key in state.
func (b *testBackend) sensuName(attrs map[string]string) string {
	if b.gen.NamesAreSecret() {
		return attrs["key"]
	}
	return attrs["id"]
}

// checkDestroy is a CheckDestroy that asks Sensu whether every key in state is revoked.
func (b *testBackend) checkDestroy(s *terraform.State) error {
	for address, rs := range s.RootModule().Resources {
		if rs.Type != "sensu_api_key" || strings.HasPrefix(address, "data.") {
			continue
		}
		_, err := b.admin.GetAPIKey(context.Background(), b.sensuName(rs.Primary.Attributes))
		if err == nil {
			return fmt.Errorf("sensu_api_key %s still exists after destroy", rs.Primary.ID)
		}
		if !sensu.IsNotFound(err) {
			return fmt.Errorf("checking sensu_api_key %s: %w", rs.Primary.ID, err)
		}
	}
	return nil
}

func stateAttrs(s *terraform.State, address string) (map[string]string, error) {
	rs, ok := s.RootModule().Resources[address]
	if !ok {
		return nil, fmt.Errorf("%s is not in state", address)
	}
	return rs.Primary.Attributes, nil
}

// adminLogin is a cluster admin's username and password: the in-memory admin, the real
// backend's SENSU_USERNAME and SENSU_PASSWORD, or (when its environment authenticates
// otherwise) a cluster-admin user that forEachBackend created for the test.
func (b *testBackend) adminLogin() (username, password string) {
	return b.adminUsername, b.adminPassword
}

// tlsArguments are the provider arguments that reach the backend's URL: the real backend's
// SENSU_TRUSTED_CA_FILE and SENSU_INSECURE_SKIP_TLS_VERIFY.
func (b *testBackend) tlsArguments() string {
	var args string
	if b.trustedCAFile != "" {
		args += fmt.Sprintf("  trusted_ca_file = %q\n", b.trustedCAFile)
	}
	if b.insecure {
		args += "  insecure_skip_tls_verify = true\n"
	}
	return args
}

// provider is a provider block for the backend's URL with the given arguments (indented
// lines), and nothing from the environment.
func (b *testBackend) provider(args string) string {
	return fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n%s%s\n}\n", b.url, b.tlsArguments(), args)
}

// adminProvider is a provider block that logs in as a cluster admin with a password, plus
// extra arguments; unlike providerConfig it needs no SENSU_* environment.
func (b *testBackend) adminProvider(t *testing.T, extra string) string {
	t.Helper()
	username, password := b.adminLogin()
	return b.provider(fmt.Sprintf("  username = %q\n  password = %q\n%s", username, password, extra))
}

// grantConfig is one sensu_api_key (sensu_api_key.test) of the backend's key user.
func (b *testBackend) grantConfig() string {
	return fmt.Sprintf("\nresource \"sensu_api_key\" \"test\" {\n  username = %q\n}\n", b.username)
}

// otherUser is a second existing user that can receive keys: the in-memory dev,
// SENSU_TEST_OTHER_USERNAME, or a user the test creates (and disables at its end).
func (b *testBackend) otherUser(t *testing.T) string {
	t.Helper()
	if b.otherUsername == "" {
		b.otherUsername = newTestUser(t, b).name
	}
	return b.otherUsername
}

// grantKeyOutsideTerraform grants a key to b.username through the admin API, revoked when
// the test ends (a test may revoke it earlier itself).
func (b *testBackend) grantKeyOutsideTerraform(t *testing.T) *sensu.APIKey {
	t.Helper()
	k, err := b.admin.CreateAPIKey(context.Background(), sensu.CreateAPIKeyRequest{Username: b.username})
	if err != nil {
		t.Fatalf("granting a key outside Terraform: %v", err)
	}
	t.Cleanup(func() {
		if err := b.admin.DeleteAPIKey(context.Background(), k.Name); err != nil && !sensu.IsNotFound(err) {
			t.Errorf("revoking the key %s granted outside Terraform: %v", k.ID, err)
		}
	})
	return k
}

// revokeStateKeysAtEnd revokes, when the test ends, every key that a CLI run's state (or its
// backup) still holds: what a failed test would otherwise leave on the backend. A test that
// destroys finds nothing left to revoke.
func (b *testBackend) revokeStateKeysAtEnd(t *testing.T, run *cliRun) {
	t.Helper()
	t.Cleanup(func() {
		for _, attrs := range stateKeyAttributes(run.dir) {
			name := b.sensuName(attrs)
			if name == "" {
				continue
			}
			if err := b.admin.DeleteAPIKey(context.Background(), name); err != nil && !sensu.IsNotFound(err) {
				t.Errorf("revoking key %s left by the test: %v", attrs["id"], err)
			}
		}
	})
}

// stateKeyAttributes is the id and key of every sensu_api_key in a CLI run's state and its
// backup, once per id.
func stateKeyAttributes(dir string) []map[string]string {
	var keys []map[string]string
	seen := map[string]bool{}
	for _, name := range []string{"terraform.tfstate", "terraform.tfstate.backup"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var st stateFile
		if json.Unmarshal(data, &st) != nil {
			continue
		}
		for _, r := range st.Resources {
			if r.Mode != "managed" || r.Type != "sensu_api_key" {
				continue
			}
			for _, in := range r.Instances {
				if a := in.Attributes; a.ID != "" && !seen[a.ID] {
					seen[a.ID] = true
					keys = append(keys, map[string]string{"id": a.ID, "key": a.Key})
				}
			}
		}
	}
	return keys
}

// tokens is the answer of GET /auth, as sensuctl stores it.
type tokens struct {
	AccessToken  string `json:"access_token"`
	ExpiresAt    int64  `json:"expires_at"`
	RefreshToken string `json:"refresh_token"`
}

// login gets a token pair for the admin the way sensuctl does.
func (b *testBackend) login(t *testing.T) tokens {
	t.Helper()
	username, password := b.adminLogin()
	req, err := http.NewRequest(http.MethodGet, b.url+"/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(username, password)
	resp, err := b.httpClient(t).Do(req)
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

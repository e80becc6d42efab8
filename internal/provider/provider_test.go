package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
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
	// providerConfig is a provider block that authenticates as a cluster admin.
	providerConfig string
	// admin is a client for checks made outside Terraform (revoke, CheckDestroy).
	admin *sensu.Client
	// username receives keys; otherUsername is a second existing user ("" when unknown).
	username      string
	otherUsername string
	// caPEM is trusted by keyAuthenticates (a TLS test server's own CA).
	caPEM string
}

// realBackend reports whether the acceptance tests target a real Sensu backend.
func realBackend() bool { return os.Getenv("SENSU_API_URL") != "" }

// forEachBackend runs fn once per backend: both generations of the in-memory API, or the
// real backend from the environment.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *testBackend)) {
	t.Helper()
	if realBackend() {
		t.Run("real", func(t *testing.T) { fn(t, newRealBackend(t)) })
		return
	}
	for _, gen := range []sensutest.Generation{sensutest.Generation6, sensutest.Generation7} {
		t.Run(fmt.Sprintf("sensu%d", gen), func(t *testing.T) {
			fn(t, newMemoryBackend(t, sensutest.Options{Generation: gen}))
		})
	}
}

// forEachMemoryBackend is forEachBackend for tests that need the in-memory API's knobs.
func forEachMemoryBackend(t *testing.T, fn func(t *testing.T, b *testBackend)) {
	t.Helper()
	if realBackend() {
		t.Skip("needs the in-memory Sensu API (fault injection or inspection); SENSU_API_URL is set")
	}
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
		username:      sensutest.AdminUsername,
		otherUsername: sensutest.DevUsername,
	}
}

// newRealBackend configures the provider from the environment (as `eval $(sensuctl env)`
// does) and checks from the same credentials. SENSU_TEST_USERNAME (default: the admin) gets
// the keys; SENSU_TEST_OTHER_USERNAME names a second existing user.
func newRealBackend(t *testing.T) *testBackend {
	t.Helper()
	cfg := sensu.Config{
		APIURL:        os.Getenv("SENSU_API_URL"),
		Username:      os.Getenv("SENSU_USERNAME"),
		Password:      os.Getenv("SENSU_PASSWORD"),
		APIKey:        os.Getenv("SENSU_API_KEY"),
		AccessToken:   os.Getenv("SENSU_ACCESS_TOKEN"),
		RefreshToken:  os.Getenv("SENSU_REFRESH_TOKEN"),
		TrustedCAFile: os.Getenv("SENSU_TRUSTED_CA_FILE"),
		MaxRetries:    sensu.DefaultMaxRetries,
	}
	cfg.InsecureSkipTLSVerify = os.Getenv("SENSU_INSECURE_SKIP_TLS_VERIFY") == "true"
	admin, err := sensu.New(cfg)
	if err != nil {
		t.Fatalf("SENSU_API_URL is set but the environment does not configure a client: %v", err)
	}
	gen, err := admin.Generation(context.Background())
	if err != nil {
		t.Fatalf("cannot reach the Sensu backend at %s: %v", cfg.APIURL, err)
	}
	username := os.Getenv("SENSU_TEST_USERNAME")
	if username == "" {
		username = cfg.Username
	}
	if username == "" {
		username = "admin"
	}
	return &testBackend{
		gen:            gen,
		url:            cfg.APIURL,
		providerConfig: "provider \"sensu\" {}\n",
		admin:          admin,
		username:       username,
		otherUsername:  os.Getenv("SENSU_TEST_OTHER_USERNAME"),
	}
}

// keyAuthenticates asks the backend whether `Authorization: Key <key>` is accepted, the way
// any script using the key would: 401 means no; anything else means Sensu knew the key.
func (b *testBackend) keyAuthenticates(key string) (bool, error) {
	c, err := sensu.New(sensu.Config{
		APIURL:                b.url,
		APIKey:                key,
		Generation:            b.gen,
		TrustedCAFile:         os.Getenv("SENSU_TRUSTED_CA_FILE"),
		TrustedCAPEM:          b.caPEM,
		InsecureSkipTLSVerify: os.Getenv("SENSU_INSECURE_SKIP_TLS_VERIFY") == "true",
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

package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// testAccEchoProviderFactories adds terraform-plugin-testing's echo provider, which copies
// what its configuration is given into the state of an echo resource: the way to look at
// the results of an ephemeral resource, which Terraform itself never stores.
var testAccEchoProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"sensu": testAccProtoV6ProviderFactories["sensu"],
	"echo":  echoprovider.NewProviderServer(),
}

// ephemeralConfig opens an ephemeral key and uses it as the documentation shows: as the
// credentials of a second provider block, which lists the user's keys with it. The echo
// resource records the non-secret results (and the key's length, not the key).
func ephemeralConfig(b *testBackend, extra string) string {
	return b.providerConfig + fmt.Sprintf(`
ephemeral "sensu_api_key" "test" {
  username = %[1]q
}

provider "sensu" {
  alias   = "with_key"
  api_url = %[2]q
  api_key = ephemeral.sensu_api_key.test.key
}

data "sensu_api_keys" "via_key" {
  provider = sensu.with_key
  username = %[1]q
}

provider "echo" {
  data = {
    id         = ephemeral.sensu_api_key.test.id
    username   = ephemeral.sensu_api_key.test.username
    key_length = length(ephemeral.sensu_api_key.test.key)
  }
}

resource "echo" "test" {}
%[3]s`, b.username, b.url, extra)
}

// ephemeralIDPattern is what an ephemeral key's id looks like on the backend's generation.
func ephemeralIDPattern(b *testBackend) *regexp.Regexp {
	if b.gen.NamesAreSecret() {
		return regexp.MustCompile(`^[0-9a-f]{64}$`)
	}
	return regexp.MustCompile(`^` + regexp.QuoteMeta(sensu.EphemeralNamePrefix) + `[0-9a-f]{32}$`)
}

// userKeyIDs lists the ids of a user's keys, as an admin outside Terraform sees them.
func (b *testBackend) userKeyIDs(username string) (map[string]bool, error) {
	keys, err := b.admin.ListAPIKeys(context.Background(), sensu.ListAPIKeysOptions{Username: username})
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(keys))
	for _, k := range keys {
		ids[k.ID] = true
	}
	return ids, nil
}

// noKeysBeyond fails when the user holds a key that was not there before: an ephemeral key
// that was not revoked.
func (b *testBackend) noKeysBeyond(username string, before map[string]bool) error {
	now, err := b.userKeyIDs(username)
	if err != nil {
		return err
	}
	var left []string
	for id := range now {
		if !before[id] {
			left = append(left, id)
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		return fmt.Errorf("%d key(s) of %s outlived the run that opened them: %s", len(left), username, strings.Join(left, ", "))
	}
	return nil
}

// TestAccAPIKeyEphemeralResource: the ephemeral key authenticates inside the run (a second
// provider block lists keys with it), is revoked at the end of every walk that opened it,
// plan, apply or a failed apply, and never reaches the state.
func TestAccAPIKeyEphemeralResource(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		before, err := b.userKeyIDs(b.username)
		if err != nil {
			t.Fatal(err)
		}
		if b.server != nil {
			b.server.ResetCounters()
		}
		noneLeft := func() {
			if err := b.noKeysBeyond(b.username, before); err != nil {
				t.Error(err)
			}
		}
		grantRoute := grantRouteOf(b)
		config := ephemeralConfig(b, "")

		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccEchoProviderFactories,
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
			CheckDestroy:             func(*terraform.State) error { return b.noKeysBeyond(b.username, before) },
			Steps: []resource.TestStep{
				{
					Config: config,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("id"), knownvalue.StringRegexp(ephemeralIDPattern(b))),
						statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("username"), knownvalue.StringExact(b.username)),
						statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("key_length"), knownvalue.Int64Exact(36)),
					},
					Check: resource.ComposeAggregateTestCheckFunc(
						// The list was read with the plan walk's key: it holds that key, which was new.
						checkListHasNewKey("data.sensu_api_keys.via_key", before, ephemeralIDPattern(b)),
						// After the apply, the apply walk's key is revoked, and nothing else is left.
						func(s *terraform.State) error { return b.noKeysBeyond(b.username, before) },
					),
				},
				// A plan alone opens (and closes) a key too.
				{Config: config, PlanOnly: true},
				// A failed apply still revokes. (When what fails uses the ephemeral key itself,
				// Terraform does not close it, and the provider revokes it as its process ends:
				// TestAccAPIKeyEphemeralResource_failedApplySkipsClose covers that through the
				// real CLI, since in-process providers here never end.)
				{
					PreConfig: func() {
						noneLeft()
						if b.server != nil {
							b.server.ResetCounters()
						}
					},
					Config: config + fmt.Sprintf(`
resource "sensu_api_key" "fails" {
  username = %q
}
`, "no-such-user-"+acctest.RandString(8)),
					ExpectError: diagPattern("Sensu has no such user"),
				},
				{
					PreConfig: func() {
						noneLeft()
						if b.server == nil {
							return
						}
						// Each walk of the failed apply that opened a key revoked it: Terraform opens
						// one in the plan and one in the apply walk; OpenTofu 1.12 skips the apply
						// walk's, which nothing there uses. The one other grant request was the
						// failing resource's, which Sensu refused (HTTP 400) without creating a key.
						counts := b.server.Requests()
						grants, revokes := counts[grantRoute]-1, counts["DELETE /api/core/v2/apikeys/{name}"]
						if grants < 1 || grants != revokes {
							t.Errorf("the failed apply made %d ephemeral grants and %d revocations; want one revocation per grant", grants, revokes)
						}
					},
					Config:   config,
					PlanOnly: true,
				},
			},
		})
		noneLeft()
	})
}

// checkListHasNewKey checks that a list data source holds a key that was not there before
// and has the shape of an ephemeral key's id.
func checkListHasNewKey(list string, before map[string]bool, shape *regexp.Regexp) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ds, ok := s.RootModule().Resources[list]
		if !ok {
			return fmt.Errorf("%s is not in state", list)
		}
		for k, v := range ds.Primary.Attributes {
			if regexp.MustCompile(`^api_keys\.\d+\.id$`).MatchString(k) && !before[v] && shape.MatchString(v) {
				return nil
			}
		}
		return fmt.Errorf("%s, read with the ephemeral key, does not list that key", list)
	}
}

// TestAccAPIKeyEphemeralResource_errors: an unknown user, a taken or 6.x name; and a chosen name on 7.x.
func TestAccAPIKeyEphemeralResource_errors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		named := func(name string) string {
			return b.providerConfig + fmt.Sprintf(`
ephemeral "sensu_api_key" "test" {
  username = %q
  name     = %q
}

provider "echo" {
  data = ephemeral.sensu_api_key.test.id
}

resource "echo" "test" {}
`, b.username, name)
		}
		// The unknown user first: the test's final destroy runs the last step's configuration.
		steps := []resource.TestStep{{
			Config: b.providerConfig + `
ephemeral "sensu_api_key" "test" {
  username = "no-such-user-` + acctest.RandString(8) + `"
}

provider "echo" {
  data = ephemeral.sensu_api_key.test.id
}

resource "echo" "test" {}
`,
			ExpectError: diagPattern("Sensu has no such user"),
		}}
		if b.gen.NamesAreSecret() {
			steps = append(steps, resource.TestStep{Config: named("ci-" + acctest.RandString(8)), ExpectError: diagPattern("Sensu API Key Names Need Sensu Go 7.x")})
		} else {
			taken := b.grantOutOfBand(t, "tf-acc-taken-"+acctest.RandString(8))
			steps = append(steps,
				resource.TestStep{Config: named(taken), ExpectError: diagPattern(fmt.Sprintf("already exists for user %q", b.username))},
				resource.TestStep{
					Config: named("tf-acc-eph-" + acctest.RandString(8)),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data"), knownvalue.StringRegexp(regexp.MustCompile(`^tf-acc-eph-`))),
					},
				})
		}
		if b.server != nil {
			steps = append(steps, revokeFailsSteps(t, b)...)
		}
		before, err := b.userKeyIDs(b.username)
		if err != nil {
			t.Fatal(err)
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccEchoProviderFactories,
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
			Steps:                    steps,
		})
		if err := b.noKeysBeyond(b.username, before); err != nil {
			t.Error(err)
		}
	})
}

// revokeFailsSteps make every revocation fail: the plan fails with an error that names the
// key and says how to revoke it by hand. The next step lifts the fault, checks that (7.x) the
// key left behind carries the label that finds it, and revokes it. In-memory only.
func revokeFailsSteps(t *testing.T, b *testBackend) []resource.TestStep {
	howTo := "Revoke it by hand with `sensuctl api-key revoke"
	if b.gen.NamesAreSecret() {
		howTo = "find it by its SHA-256 digest and revoke it by hand"
	}
	config := b.providerConfig + fmt.Sprintf(`
ephemeral "sensu_api_key" "test" {
  username = %q
}

provider "echo" {
  data = ephemeral.sensu_api_key.test.id
}

resource "echo" "test" {}
`, b.username)
	existed := map[string]bool{}
	return []resource.TestStep{
		{
			PreConfig: func() {
				for _, k := range b.server.APIKeys() {
					existed[k.Name] = true
				}
				b.server.InjectFault(sensutest.Fault{Method: "DELETE", Route: "/api/core/v2/apikeys/{name}", Status: 500, Count: 1000})
			},
			Config: config,
			ExpectError: regexp.MustCompile(`(?s)Error Revoking Ephemeral Sensu API Key.*could not be revoked, and it still.*authenticates.*` +
				strings.Join(strings.Fields(regexp.QuoteMeta(howTo)), `\s+`)),
		},
		{
			PreConfig: func() {
				b.server.ClearFaults()
				var left []sensutest.APIKey
				for _, k := range b.server.APIKeys() {
					if !existed[k.Name] {
						left = append(left, k)
					}
				}
				if len(left) == 0 {
					t.Error("no key was left behind by the failed revocation")
				}
				for _, k := range left {
					if !b.gen.NamesAreSecret() && k.Labels[sensu.EphemeralLabel] != "true" {
						t.Errorf("the ephemeral key %s left behind has no %s label", k.Name, sensu.EphemeralLabel)
					}
					b.server.RevokeAPIKey(k.Name)
				}
			},
			Config: config,
		},
	}
}

// grantOutOfBand grants a 7.x key with a chosen name outside Terraform, revoked when the
// test ends.
func (b *testBackend) grantOutOfBand(t *testing.T, name string) string {
	t.Helper()
	k, err := b.admin.CreateAPIKey(context.Background(), sensu.CreateAPIKeyRequest{Username: b.username, Name: name})
	if err != nil {
		t.Fatalf("granting %s out of band: %v", name, err)
	}
	t.Cleanup(func() {
		if err := b.admin.DeleteAPIKey(context.Background(), k.Name); err != nil && !sensu.IsNotFound(err) {
			t.Errorf("revoking %s: %v", k.Name, err)
		}
	})
	return k.Name
}

// TestAccAPIKeyEphemeralResource_failedApplySkipsClose runs the built provider through the real
// CLI, because what it tests happens as the provider process ends: when a resource that uses
// the ephemeral key's result fails, Terraform does not close the ephemeral resource (Terraform
// 1.11 to 1.16, OpenTofu 1.12), and the provider revokes the key itself before it exits.
func TestAccAPIKeyEphemeralResource_failedApplySkipsClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		before, err := b.userKeyIDs(b.username)
		if err != nil {
			t.Fatal(err)
		}
		run := newCLIRun(t, b.providerConfig+fmt.Sprintf(`
ephemeral "sensu_api_key" "test" {
  username = %[1]q
}

provider "sensu" {
  alias   = "with_key"
  api_url = %[2]q
  api_key = ephemeral.sensu_api_key.test.key
}

resource "sensu_api_key" "fails" {
  provider = sensu.with_key
  username = %[3]q
}
`, b.username, b.url, "no-such-user-"+acctest.RandString(8)))
		run.skipBelow("1.10.0")
		if b.server != nil {
			b.server.ResetCounters()
		}
		if run.run("apply", "-auto-approve", "-input=false") {
			t.Fatal("the apply succeeded, but it grants a key to a user that does not exist")
		}
		out := run.output.String()
		if !diagPattern("Sensu has no such user").MatchString(out) {
			t.Fatalf("the apply failed for another reason:\n%s", tail(out, 30))
		}
		// The provider processes have ended when the CLI returns: nothing may be left.
		if err := b.noKeysBeyond(b.username, before); err != nil {
			t.Error(err)
		}
		if b.server != nil {
			counts := b.server.Requests()
			grants, revokes := counts[grantRouteOf(b)]-1, counts["DELETE /api/core/v2/apikeys/{name}"]
			if grants < 2 || grants != revokes {
				t.Errorf("%d ephemeral grants and %d revocations (besides the failing grant); want one revocation per grant", grants, revokes)
			}
		}
		t.Logf("keys the provider revoked because Terraform did not close them: %d",
			strings.Count(out, "Revoked an ephemeral Sensu API key that Terraform did not close"))
	})
}

// grantRouteOf is the route of a grant on the backend's generation.
func grantRouteOf(b *testBackend) string {
	if b.gen.NamesAreSecret() {
		return "POST /api/core/v2/apikeys"
	}
	return "PUT /api/core/v2/apikeys"
}

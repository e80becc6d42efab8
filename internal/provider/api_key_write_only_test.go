package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// clientNamePattern is the name the provider gives a 7.x key when the configuration does not.
var clientNamePattern = regexp.MustCompile(`^tf-[0-9a-f]{32}$`)

// writeOnlyConfig is a key whose secret the configuration chooses, optionally named.
func writeOnlyConfig(b *testBackend, name, secret string, version int) string {
	named := ""
	if name != "" {
		named = fmt.Sprintf("\n  name           = %q", name)
	}
	return b.providerConfig + fmt.Sprintf(`
resource "sensu_api_key" "test" {
  username       = %q%s
  key_wo         = %q
  key_wo_version = %d
}
`, b.username, named, secret, version)
}

// checkSecretAuthenticates proves a secret does (or no longer does) authenticate.
func checkSecretAuthenticates(b *testBackend, secret string, want bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ok, err := b.keyAuthenticates(secret)
		if err != nil {
			return err
		}
		if ok != want {
			return fmt.Errorf("the chosen secret authenticates: %v, want %v", ok, want)
		}
		return nil
	}
}

// TestAccAPIKeyResource_writeOnly: on 7.x a chosen secret never reaches the state, works, and
// a new key_wo_version replaces the key with one for the new secret. On 6.x it is refused at
// plan time.
func TestAccAPIKeyResource_writeOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		first, second := acctest.RandString(40), acctest.RandString(48)
		steps := []resource.TestStep{{
			Config:      writeOnlyConfig(b, "", "too-short-for-a-bearer-key", 1),
			ExpectError: diagPattern("use at least 32 random characters"),
		}}
		if b.gen.NamesAreSecret() {
			steps = append(steps, resource.TestStep{
				Config:      writeOnlyConfig(b, "", first, 1),
				ExpectError: diagPattern("Write-Only Sensu API Keys Need Sensu Go 7.x"),
			})
		} else {
			steps = append(steps,
				resource.TestStep{
					Config: writeOnlyConfig(b, "", first, 1),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("key"), knownvalue.Null()),
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("key_wo"), knownvalue.Null()),
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("key_wo_version"), knownvalue.Int64Exact(1)),
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("id"), knownvalue.StringRegexp(clientNamePattern)),
					},
					Check: checkSecretAuthenticates(b, first, true),
				},
				resource.TestStep{Config: writeOnlyConfig(b, "", first, 1), PlanOnly: true},
				resource.TestStep{
					Config: writeOnlyConfig(b, "", second, 2),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionReplace)},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("key"), knownvalue.Null()),
					},
					Check: resource.ComposeAggregateTestCheckFunc(checkSecretAuthenticates(b, second, true), checkSecretAuthenticates(b, first, false)),
				},
			)
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
			CheckDestroy:             b.checkDestroy,
			Steps:                    steps,
		})
	})
}

// TestAccAPIKeyResource_writeOnlyNeedsTerraform111: Terraform before 1.11 cannot keep a value
// out of the state, so key_wo is refused with a message that says what is needed.
func TestAccAPIKeyResource_writeOnlyNeedsTerraform111(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipAbove(version.Must(version.NewVersion("1.10.99")))},
			Steps: []resource.TestStep{{
				Config:      writeOnlyConfig(b, "", acctest.RandString(40), 1),
				ExpectError: diagPattern("Terraform 1.11"),
			}},
		})
	})
}

// namedWithKeepers is a named key with a keeper, to replace it without renaming it.
func namedWithKeepers(b *testBackend, name, keeper string) string {
	return b.providerConfig + fmt.Sprintf("\nresource \"sensu_api_key\" \"test\" {\n  username = %q\n  name     = %q\n  keepers  = { rotation = %q }\n}\n", b.username, name, keeper)
}

// TestAccAPIKeyResource_name: on 7.x a chosen name becomes the id, changing it replaces the
// key, a taken name is refused with its owner, and an existing key adopted with an import
// block takes its name into the configuration without being replaced. On 6.x it is refused.
func TestAccAPIKeyResource_name(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		named := func(name string) string {
			return b.providerConfig + fmt.Sprintf("\nresource \"sensu_api_key\" \"test\" {\n  username = %q\n  name     = %q\n}\n", b.username, name)
		}
		if b.gen.NamesAreSecret() {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      named("ci-" + acctest.RandString(8)),
					ExpectError: diagPattern("Sensu API Key Names Need Sensu Go 7.x"),
				}},
			})
			return
		}
		first, second := "tf-acc-"+acctest.RandString(10), "tf-acc-"+acctest.RandString(10)
		taken := b.grantOutOfBand(t, "tf-acc-taken-"+acctest.RandString(8))
		adopted := b.grantOutOfBand(t, "tf-acc-adopt-"+acctest.RandString(8))
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy:             b.checkDestroy,
			Steps: []resource.TestStep{
				{
					Config: named(first),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("id"), knownvalue.StringExact(first)),
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("name"), knownvalue.StringExact(first)),
					},
					Check: checkGrantedKey(b),
				},
				{Config: named(first), PlanOnly: true},
				// Rotating a named key: Terraform plans the new key without prior state, and the
				// name it finds taken is the one of the key being replaced.
				{
					Config: namedWithKeepers(b, first, "2"),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionReplace)},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("id"), knownvalue.StringExact(first)),
					},
					Check: checkGrantedKey(b),
				},
				{
					Config: named(second),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionReplace)},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(testResource, tfjsonpath.New("id"), knownvalue.StringExact(second)),
					},
					Check: checkGrantedKey(b),
				},
				// Refused at plan time, before the key it would replace is revoked.
				{
					Config:      named(taken),
					ExpectError: diagPattern(fmt.Sprintf(`an API key named %q already exists for user %q`, taken, b.username)),
				},
				// An empty plan: the key named second is still there.
				{Config: named(second), PlanOnly: true},
				// Adopting a key with an import block that writes its name into the
				// configuration: an in-place update of the state, not a new key.
				{
					Config: b.providerConfig + fmt.Sprintf(`
import {
  to = sensu_api_key.adopted
  id = %[2]q
}

resource "sensu_api_key" "adopted" {
  username = %[1]q
  name     = %[2]q
}
`, b.username, adopted),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction("sensu_api_key.adopted", plancheck.ResourceActionUpdate),
							plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionDestroy),
						},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("sensu_api_key.adopted", tfjsonpath.New("id"), knownvalue.StringExact(adopted)),
						statecheck.ExpectKnownValue("sensu_api_key.adopted", tfjsonpath.New("name"), knownvalue.StringExact(adopted)),
					},
				},
			},
		})
	})
}

// keyConfig is a 7.x key with any of name, key_wo (with key_wo_version) set.
func keyConfig(b *testBackend, name, secret string, version int) string {
	var extra string
	if name != "" {
		extra += fmt.Sprintf("\n  name           = %q", name)
	}
	if secret != "" {
		extra += fmt.Sprintf("\n  key_wo         = %q", secret)
	}
	if version > 0 {
		extra += fmt.Sprintf("\n  key_wo_version = %d", version)
	}
	return b.providerConfig + fmt.Sprintf("\nresource \"sensu_api_key\" \"test\" {\n  username       = %q%s\n}\n", b.username, extra)
}

// TestAccAPIKeyResource_writeOnlyChanges: Terraform shows no change of a write-only value, so
// the provider replaces a key when key_wo is added or removed; and a named key rotates with
// key_wo_version under the same name. Also the errors of key_wo without key_wo_version and
// of a name kept for ephemeral keys.
func TestAccAPIKeyResource_writeOnlyChanges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		steps := []resource.TestStep{
			{
				Config: b.providerConfig + fmt.Sprintf("\nresource \"sensu_api_key\" \"test\" {\n  username = %q\n  key_wo   = %q\n}\n",
					b.username, acctest.RandString(40)),
				ExpectError: diagPattern(`"key_wo_version" must be specified when "key_wo" is specified`),
			},
			{
				Config:      keyConfig(b, "tf-ephemeral-"+acctest.RandString(8), "", 0),
				ExpectError: diagPattern("are kept for the keys of the sensu_api_key ephemeral resource"),
			},
		}
		if !b.gen.NamesAreSecret() {
			first, second := acctest.RandString(40), acctest.RandString(40)
			name := "tf-acc-wo-" + acctest.RandString(8)
			replace := func(address string) resource.ConfigPlanChecks {
				return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(address, plancheck.ResourceActionReplace)}}
			}
			keyIsNull := statecheck.ExpectKnownValue(testResource, tfjsonpath.New("key"), knownvalue.Null())
			steps = append(steps,
				// key_wo_version alone is a keeper; adding key_wo with the same version changes no
				// attribute Terraform can see, and must still replace the key, whose secret is in
				// the state.
				resource.TestStep{Config: keyConfig(b, "", "", 1), Check: checkGrantedKey(b)},
				resource.TestStep{
					Config:            keyConfig(b, "", first, 1),
					ConfigPlanChecks:  replace(testResource),
					ConfigStateChecks: []statecheck.StateCheck{keyIsNull},
					Check:             checkSecretAuthenticates(b, first, true),
				},
				resource.TestStep{Config: keyConfig(b, "", first, 1), PlanOnly: true},
				resource.TestStep{
					Config:           keyConfig(b, name, first, 1),
					ConfigPlanChecks: replace(testResource),
					ConfigStateChecks: []statecheck.StateCheck{
						keyIsNull, statecheck.ExpectKnownValue(testResource, tfjsonpath.New("id"), knownvalue.StringExact(name)),
					},
					Check: checkSecretAuthenticates(b, first, true),
				},
				// A named key rotates under the same name.
				resource.TestStep{
					Config:           keyConfig(b, name, second, 2),
					ConfigPlanChecks: replace(testResource),
					ConfigStateChecks: []statecheck.StateCheck{
						keyIsNull, statecheck.ExpectKnownValue(testResource, tfjsonpath.New("id"), knownvalue.StringExact(name)),
					},
					Check: resource.ComposeAggregateTestCheckFunc(checkSecretAuthenticates(b, second, true), checkSecretAuthenticates(b, first, false)),
				},
				// Removing key_wo (the version stays) replaces the key with one whose secret is in
				// the state again.
				resource.TestStep{
					Config:           keyConfig(b, name, "", 2),
					ConfigPlanChecks: replace(testResource),
					Check:            resource.ComposeAggregateTestCheckFunc(checkGrantedKey(b), checkSecretAuthenticates(b, second, false)),
				},
				resource.TestStep{Config: keyConfig(b, name, "", 2), PlanOnly: true},
			)
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
			CheckDestroy:             b.checkDestroy,
			Steps:                    steps,
		})
	})
}

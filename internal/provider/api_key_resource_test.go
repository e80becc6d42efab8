package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

const testResource = "sensu_api_key.test"

// apiKeyConfig is one sensu_api_key; an empty keeper leaves keepers out.
func apiKeyConfig(b *testBackend, username, keeper string) string {
	keepers := ""
	if keeper != "" {
		keepers = fmt.Sprintf("\n  keepers = {\n    rotation = %q\n  }", keeper)
	}
	return b.providerConfig + fmt.Sprintf(`
resource "sensu_api_key" "test" {
  username = %q%s
}
`, username, keepers)
}

// keyRecorder remembers a key across steps so later steps can prove the old key stopped
// working after a replacement.
type keyRecorder struct {
	id, key string
}

func (k *keyRecorder) record(s *terraform.State) error {
	attrs, err := stateAttrs(s, testResource)
	if err != nil {
		return err
	}
	k.id, k.key = attrs["id"], attrs["key"]
	return nil
}

// checkGrantedKey proves the key in state is a real, working key whose id is public.
func checkGrantedKey(b *testBackend) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attrs, err := stateAttrs(s, testResource)
		if err != nil {
			return err
		}
		id, key := attrs["id"], attrs["key"]
		if id == "" || key == "" {
			return errors.New("id and key must both be set after a grant")
		}
		if id == key {
			return errors.New("id equals the key: the secret would show in plans and logs")
		}
		if b.gen.NamesAreSecret() && id != sensu.Digest(key) {
			return fmt.Errorf("on 6.x id must be sha256(key), got %s", id)
		}
		ok, err := b.keyAuthenticates(key)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("the granted key does not authenticate against the Sensu API")
		}
		return nil
	}
}

func checkKeyRevoked(b *testBackend, old *keyRecorder) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ok, err := b.keyAuthenticates(old.key)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("the replaced key %s still authenticates", old.id)
		}
		return nil
	}
}

func TestAccAPIKeyResource_lifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		other := b.otherUser(t)
		first, second := &keyRecorder{}, &keyRecorder{}
		importIgnore := []string{"keepers"}
		if !b.gen.NamesAreSecret() {
			importIgnore = append(importIgnore, "key") // 7.x: the secret cannot be read back
		}

		steps := []resource.TestStep{
			{
				Config: apiKeyConfig(b, b.username, "1"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResource, tfjsonpath.New("username"), knownvalue.StringExact(b.username)),
					statecheck.ExpectSensitiveValue(testResource, tfjsonpath.New("key")),
					statecheck.ExpectKnownValue(testResource, tfjsonpath.New("keepers"), knownvalue.MapExact(map[string]knownvalue.Check{
						"rotation": knownvalue.StringExact("1"),
					})),
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkGrantedKey(b), first.record),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionCreate)},
				},
			},
			// Re-planning the same configuration changes nothing.
			{
				Config:   apiKeyConfig(b, b.username, "1"),
				PlanOnly: true,
			},
			// terraform import by id.
			{
				ResourceName:            testResource,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: importIgnore,
			},
			// An import {} block by id (without keepers, which an import cannot know).
			{
				Config:                  apiKeyConfig(b, b.username, ""),
				ResourceName:            testResource,
				ImportState:             true,
				ImportStateKind:         resource.ImportBlockWithID,
				ImportStateVerifyIgnore: importIgnore,
			},
		}
		if b.gen.NamesAreSecret() {
			// 6.x: importing by the key itself restores the same state, with the digest as id.
			steps = append(steps, resource.TestStep{
				ResourceName:            testResource,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"keepers"},
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					attrs, err := stateAttrs(s, testResource)
					return attrs["key"], err
				},
			})
		}
		steps = append(steps,
			// A keepers change replaces the key, and the old key stops working.
			resource.TestStep{
				Config: apiKeyConfig(b, b.username, "2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionReplace)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkGrantedKey(b), checkKeyRevoked(b, first), second.record),
			},
			// A key revoked outside Terraform is planned again and granted anew.
			resource.TestStep{
				PreConfig: func() {
					if err := b.admin.DeleteAPIKey(context.Background(), b.sensuNameOf(second)); err != nil {
						t.Fatalf("revoking the key out of band: %v", err)
					}
				},
				Config: apiKeyConfig(b, b.username, "2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionCreate)},
				},
				Check: checkGrantedKey(b),
			},
		)
		// A username change replaces the key.
		steps = append(steps, resource.TestStep{
			Config: apiKeyConfig(b, other, "2"),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionReplace)},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(testResource, tfjsonpath.New("username"), knownvalue.StringExact(other)),
			},
			Check: checkGrantedKey(b),
		})

		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy:             b.checkDestroy,
			Steps:                    steps,
		})
	})
}

// sensuNameOf is how the backend addresses a recorded key.
func (b *testBackend) sensuNameOf(k *keyRecorder) string {
	return b.sensuName(map[string]string{"id": k.id, "key": k.key})
}

func TestAccAPIKeyResource_importUnknownID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		id := "no-such-key"
		if b.gen.NamesAreSecret() {
			id = sensu.Digest("no-such-key")
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:        apiKeyConfig(b, b.username, "1"),
				ResourceName:  testResource,
				ImportState:   true,
				ImportStateId: id,
				ExpectError:   regexp.MustCompile(`(Cannot Import Sensu API Key|Cannot import non-existent remote object)`),
			}},
		})
	})
}

package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

func dataSourcesConfig(b *testBackend, otherUsername string) string {
	other := fmt.Sprintf(`
resource "sensu_api_key" "other" {
  username = %q
}

data "sensu_api_keys" "other" {
  username   = %q
  depends_on = [sensu_api_key.test, sensu_api_key.other]
}
`, otherUsername, otherUsername)
	return b.providerConfig + fmt.Sprintf(`
resource "sensu_api_key" "test" {
  username = %q
}

data "sensu_api_key" "test" {
  id = sensu_api_key.test.id
}

data "sensu_api_key" "by_digest" {
  # How a key held elsewhere is looked up on 6.x; on 7.x the id is the name.
  id = %s
}

data "sensu_api_keys" "mine" {
  username   = %q
  depends_on = [sensu_api_key.test]
}
%s`, b.username, byDigestExpr(b), b.username, other)
}

func byDigestExpr(b *testBackend) string {
	if b.gen.NamesAreSecret() {
		return "sha256(sensu_api_key.test.key)"
	}
	return "sensu_api_key.test.id"
}

func TestAccAPIKeyDataSources(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		other := b.otherUser(t)
		checks := []resource.TestCheckFunc{
			resource.TestCheckResourceAttrPair("data.sensu_api_key.test", "id", testResource, "id"),
			resource.TestCheckResourceAttrPair("data.sensu_api_key.by_digest", "id", testResource, "id"),
			resource.TestCheckResourceAttr("data.sensu_api_key.test", "username", b.username),
			resource.TestCheckResourceAttrSet("data.sensu_api_key.test", "created_by"),
			// The key's user is enabled (key_user_test.go disables one).
			resource.TestCheckResourceAttr("data.sensu_api_key.test", "user_disabled", "false"),
			resource.TestCheckTypeSetElemNestedAttrs("data.sensu_api_keys.mine", "api_keys.*", map[string]string{"user_disabled": "false"}),
			resource.TestCheckResourceAttrWith("data.sensu_api_key.test", "created_at", func(v string) error {
				created, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return err
				}
				if time.Since(created) > time.Hour || time.Until(created) > time.Minute {
					return fmt.Errorf("created_at %s is not the time of the grant", v)
				}
				return nil
			}),
			// The list holds the new key by its public id, never by the secret.
			checkListHasKey("data.sensu_api_keys.mine", b.username, true),
			checkListHasNoSecret("data.sensu_api_keys.mine"),
		}
		checks = append(checks,
			checkListHasKey("data.sensu_api_keys.other", other, false),
			checkListOnlyUser("data.sensu_api_keys.other", other),
			checkListOnlyUser("data.sensu_api_keys.mine", b.username),
		)
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy:             b.checkDestroy,
			Steps: []resource.TestStep{
				{
					Config: dataSourcesConfig(b, other),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.sensu_api_key.test", tfjsonpath.New("username"), knownvalue.StringExact(b.username)),
					},
					Check: resource.ComposeAggregateTestCheckFunc(checks...),
				},
				{
					Config: b.providerConfig + `
data "sensu_api_key" "missing" {
  id = "` + missingID(b) + `"
}
`,
					ExpectError: regexp.MustCompile(`Sensu API Key Not Found`),
				},
			},
		})
	})
}

func missingID(b *testBackend) string {
	if b.gen.NamesAreSecret() {
		return sensu.Digest("no-such-key")
	}
	return "no-such-key"
}

// checkListHasKey finds the key of resource sensu_api_key.test (or .other) in a list.
func checkListHasKey(list, username string, mine bool) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		address := "sensu_api_key.other"
		if mine {
			address = testResource
		}
		attrs, err := stateAttrs(s, address)
		if err != nil {
			return err
		}
		return resource.TestCheckTypeSetElemNestedAttrs(list, "api_keys.*", map[string]string{
			"id": attrs["id"], "username": username,
		})(s)
	}
}

func checkListOnlyUser(list, username string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ds, ok := s.RootModule().Resources[list]
		if !ok {
			return fmt.Errorf("%s is not in state", list)
		}
		for k, v := range ds.Primary.Attributes {
			if regexp.MustCompile(`^api_keys\.\d+\.username$`).MatchString(k) && v != username {
				return fmt.Errorf("%s lists a key of %q despite the username filter %q", list, v, username)
			}
		}
		return nil
	}
}

func checkListHasNoSecret(list string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attrs, err := stateAttrs(s, testResource)
		if err != nil {
			return err
		}
		ds, ok := s.RootModule().Resources[list]
		if !ok {
			return fmt.Errorf("%s is not in state", list)
		}
		for k, v := range ds.Primary.Attributes {
			if v == attrs["key"] {
				return fmt.Errorf("%s exposes the secret key in %s", list, k)
			}
		}
		return nil
	}
}

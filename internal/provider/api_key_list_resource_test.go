package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/querycheck"
	"github.com/hashicorp/terraform-plugin-testing/querycheck/queryfilter"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// adoptUsername owns the keys the list tests grant out of band: it exists on real backends
// (sensu-backend init creates it) and in the in-memory API, and nothing else grants it keys.
const adoptUsername = sensutest.AgentUsername

// grantKeyOutOfBand grants a key as an operator would with `sensuctl api-key grant`, and
// revokes it when the test ends unless Terraform did.
func (b *testBackend) grantKeyOutOfBand(t *testing.T, username string) *sensu.APIKey {
	t.Helper()
	k, err := b.admin.CreateAPIKey(context.Background(), sensu.CreateAPIKeyRequest{Username: username})
	if err != nil {
		t.Fatalf("granting a key to %s out of band: %v", username, err)
	}
	t.Cleanup(func() {
		if err := b.admin.DeleteAPIKey(context.Background(), k.Name); err != nil && !sensu.IsNotFound(err) {
			t.Errorf("revoking the out-of-band key %s: %v", k.ID, err)
		}
	})
	return k
}

var displayNamePattern = regexp.MustCompile(`^key of ` + adoptUsername + `, granted \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// TestAccAPIKeyListResource_query runs `terraform query` (Terraform 1.14 or later) over keys
// granted outside Terraform: every key, one user's, a limit, and the resource attributes of
// include_resource, with no secret among them; and on the in-memory API, one list request
// per list block.
func TestAccAPIKeyListResource_query(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		mine := []*sensu.APIKey{b.grantKeyOutOfBand(t, adoptUsername), b.grantKeyOutOfBand(t, adoptUsername)}
		other := b.grantKeyOutOfBand(t, b.username)
		identity := func(k *sensu.APIKey) map[string]knownvalue.Check {
			return map[string]knownvalue.Check{"id": knownvalue.StringExact(k.ID)}
		}

		checks := []querycheck.QueryResultCheck{
			querycheck.ExpectIdentity("sensu_api_key.all", identity(mine[0])),
			querycheck.ExpectIdentity("sensu_api_key.all", identity(mine[1])),
			querycheck.ExpectIdentity("sensu_api_key.all", identity(other)),
			querycheck.ExpectIdentity("sensu_api_key.mine", identity(mine[0])),
			querycheck.ExpectIdentity("sensu_api_key.mine", identity(mine[1])),
			querycheck.ExpectNoIdentity("sensu_api_key.mine", identity(other)),
			expectEveryResult("sensu_api_key.mine", func(r tfjson.ListResourceFoundData) error {
				if !displayNamePattern.MatchString(r.DisplayName) {
					return fmt.Errorf("display name %q does not say the user and when the key was granted", r.DisplayName)
				}
				return nil
			}),
			querycheck.ExpectLength("sensu_api_key.one", 1),
			querycheck.ExpectResourceKnownValues("sensu_api_key.full", queryfilter.ByResourceIdentity(identity(mine[0])), []querycheck.KnownValueCheck{
				{Path: tfjsonpath.New("id"), KnownValue: knownvalue.StringExact(mine[0].ID)},
				{Path: tfjsonpath.New("username"), KnownValue: knownvalue.StringExact(adoptUsername)},
				{Path: tfjsonpath.New("key"), KnownValue: knownvalue.Null()},
				{Path: tfjsonpath.New("name"), KnownValue: knownvalue.Null()},
				{Path: tfjsonpath.New("keepers"), KnownValue: knownvalue.Null()},
				{Path: tfjsonpath.New("key_wo_version"), KnownValue: knownvalue.Null()},
			}),
			expectNoSecretInResults(mine[0].Key, mine[1].Key, other.Key),
		}
		if b.server != nil {
			// Nothing else holds keys on the in-memory API: the counts are exact.
			checks = append(checks,
				querycheck.ExpectLength("sensu_api_key.all", 3),
				querycheck.ExpectLength("sensu_api_key.mine", 2),
				expectListRequests(b, 4),
			)
		} else {
			checks = append(checks, querycheck.ExpectLengthAtLeast("sensu_api_key.all", 3))
		}

		resource.Test(t, resource.TestCase{
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{Config: b.providerConfig},
				{
					PreConfig: func() {
						if b.server != nil {
							b.server.ResetCounters()
						}
					},
					Query: true,
					Config: fmt.Sprintf(`
list "sensu_api_key" "all" {
  provider = sensu
}

list "sensu_api_key" "mine" {
  provider = sensu
  config {
    username = %[1]q
  }
}

list "sensu_api_key" "one" {
  provider = sensu
  limit    = 1
}

list "sensu_api_key" "full" {
  provider         = sensu
  include_resource = true
  config {
    username = %[1]q
  }
}
`, adoptUsername),
					QueryResultChecks: checks,
				},
				// The filter is validated before any request (ValidateListResourceConfig).
				{
					Query: true,
					Config: `
list "sensu_api_key" "bad" {
  provider = sensu
  config {
    username = "two words"
  }
}
`,
					ExpectError: regexp.MustCompile(`must be a Sensu username`),
				},
			},
		})
	})
}

// TestAccAPIKeyListResource_pages lists more keys than fit in one page of Sensu's list and
// checks the requests each limit costs: no page beyond what the limit needs.
func TestAccAPIKeyListResource_pages(t *testing.T) {
	forEachMemoryBackend(t, "needs the in-memory Sensu API: it counts the server's list requests over exactly 520 keys, "+
		"which other users' keys on a shared backend would change (and which would slow every 7.x key check there)", func(t *testing.T, b *testBackend) {
		const keys = 520 // a page is 500 keys
		for range keys {
			b.server.GrantAPIKey(adoptUsername)
		}
		step := func(limit, results, requests int) resource.TestStep {
			return resource.TestStep{
				PreConfig: b.server.ResetCounters,
				Query:     true,
				Config: fmt.Sprintf(`
list "sensu_api_key" "page" {
  provider = sensu
  limit    = %d
}
`, limit),
				QueryResultChecks: []querycheck.QueryResultCheck{
					querycheck.ExpectLength("sensu_api_key.page", results),
					expectListRequests(b, requests),
				},
			}
		}
		resource.Test(t, resource.TestCase{
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{Config: b.providerConfig},
				step(3, 3, 1),
				step(500, 500, 1),
				step(501, 501, 2),
				step(1000, keys, 2),
				step(0, 0, 0),
			},
		})
	})
}

// expectEveryResult checks each result of one list block.
func expectEveryResult(address string, check func(tfjson.ListResourceFoundData) error) querycheck.QueryResultCheck {
	return queryCheckFunc(func(req querycheck.CheckQueryRequest) error {
		n := 0
		for _, r := range req.Query {
			if strings.TrimPrefix(r.Address, "list.") != address {
				continue
			}
			n++
			if err := check(r); err != nil {
				return fmt.Errorf("%s: %w", address, err)
			}
		}
		if n == 0 {
			return fmt.Errorf("%s has no results to check", address)
		}
		return nil
	})
}

// expectNoSecretInResults fails when a secret is anywhere in a result: identity, display
// name, resource object or generated configuration.
func expectNoSecretInResults(secrets ...string) querycheck.QueryResultCheck {
	return queryCheckFunc(func(req querycheck.CheckQueryRequest) error {
		if len(req.Query) == 0 {
			return fmt.Errorf("no results to scan")
		}
		for _, r := range req.Query {
			text := fmt.Sprintf("%s %v %v %s %s", r.DisplayName, r.Identity, r.ResourceObject, r.Config, r.ImportConfig)
			for i, s := range secrets {
				if s != "" && strings.Contains(text, s) {
					return fmt.Errorf("the secret of key %d is in a result of %s", i, r.Address)
				}
			}
		}
		return nil
	})
}

// expectListRequests checks how many key list requests the in-memory API answered since
// the step's PreConfig reset its counters.
func expectListRequests(b *testBackend, want int) querycheck.QueryResultCheck {
	return queryCheckFunc(func(querycheck.CheckQueryRequest) error {
		reqs := b.server.Requests()
		if got := reqs["GET "+"/api/core/v2/apikeys"]; got != want {
			return fmt.Errorf("the query made %d list requests, want %d (all requests: %v)", got, want, reqs)
		}
		return nil
	})
}

type queryCheckFunc func(querycheck.CheckQueryRequest) error

func (f queryCheckFunc) CheckQuery(_ context.Context, req querycheck.CheckQueryRequest, resp *querycheck.CheckQueryResponse) {
	resp.Error = f(req)
}

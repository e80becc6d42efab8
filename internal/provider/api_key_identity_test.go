package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

// TestAccAPIKeyResource_identity checks the identity a grant records, and import by identity
// and by id (which records the identity too), on Terraform 1.12 or later.
func TestAccAPIKeyResource_identity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		config := apiKeyConfig(b, b.username, "")
		tfresource.Test(t, tfresource.TestCase{
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy:             b.checkDestroy,
			Steps: []tfresource.TestStep{
				{
					Config: config,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectIdentityValueMatchesState(testResource, tfjsonpath.New("id")),
					},
					Check: checkGrantedKey(b),
				},
				// An import block with `identity = { id = … }`: a no-op import with the same identity.
				{
					Config:          config,
					ResourceName:    testResource,
					ImportState:     true,
					ImportStateKind: tfresource.ImportBlockWithResourceIdentity,
				},
				// An import block by id, as before identity.
				{
					Config:          config,
					ResourceName:    testResource,
					ImportState:     true,
					ImportStateKind: tfresource.ImportBlockWithID,
				},
			},
		})
	})
}

// TestAccAPIKeyResource_identityRefusesKey checks that on 6.x an identity holding the key
// itself, rather than its digest, is refused: an identity is public, and stored.
func TestAccAPIKeyResource_identityRefusesKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		if !b.gen.NamesAreSecret() {
			t.Skip("on 7.x the id is the name, and a key is never an id")
		}
		key, err := b.admin.CreateAPIKey(context.Background(), sensu.CreateAPIKeyRequest{Username: b.username})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := b.admin.DeleteAPIKey(context.Background(), key.Key); err != nil && !sensu.IsNotFound(err) {
				t.Errorf("revoking the test key: %v", err)
			}
		})
		tfresource.Test(t, tfresource.TestCase{
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []tfresource.TestStep{{
				Config: apiKeyConfig(b, b.username, "") + fmt.Sprintf(`
import {
  to       = sensu_api_key.test
  identity = { id = %q }
}
`, key.Key),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Invalid Sensu API Key Identity`),
			}},
		})
	})
}

// TestAccAPIKeyResource_identityUpgrade starts from a state written without identity, by the
// resource as it was before identity (the same schema, no identity schema), and checks that
// the current provider plans nothing for it and records the identity on refresh.
func TestAccAPIKeyResource_identityUpgrade(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		config := apiKeyConfig(b, b.username, "1")
		tfresource.Test(t, tfresource.TestCase{
			TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
			CheckDestroy:           b.checkDestroy,
			Steps: []tfresource.TestStep{
				{
					ProtoV6ProviderFactories: providerWithoutIdentityFactories,
					Config:                   config,
					ConfigStateChecks:        []statecheck.StateCheck{expectNoIdentity(testResource)},
					Check:                    checkGrantedKey(b),
				},
				{
					ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
					Config:                   config,
					ConfigPlanChecks: tfresource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectIdentityValueMatchesState(testResource, tfjsonpath.New("id")),
					},
					Check: checkGrantedKey(b),
				},
				{
					ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
					Config:                   config,
					PlanOnly:                 true,
				},
			},
		})
	})
}

// TestAccAPIKeyResource_identityUpgradeRevoked: a key in a state written before identity,
// revoked outside Terraform, is reported and planned again on the first refresh, as it was
// before identity (the framework would otherwise fail the Read for a missing identity).
func TestAccAPIKeyResource_identityUpgradeRevoked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		config := apiKeyConfig(b, b.username, "1")
		old := &keyRecorder{}
		tfresource.Test(t, tfresource.TestCase{
			TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
			CheckDestroy:           b.checkDestroy,
			Steps: []tfresource.TestStep{
				{
					ProtoV6ProviderFactories: providerWithoutIdentityFactories,
					Config:                   config,
					ConfigStateChecks:        []statecheck.StateCheck{expectNoIdentity(testResource)},
					Check:                    old.record,
				},
				{
					PreConfig: func() {
						if err := b.admin.DeleteAPIKey(context.Background(), b.sensuNameOf(old)); err != nil {
							t.Fatalf("revoking the key out of band: %v", err)
						}
					},
					ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
					Config:                   config,
					ConfigPlanChecks: tfresource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResource, plancheck.ResourceActionCreate)},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectIdentityValueMatchesState(testResource, tfjsonpath.New("id")),
					},
					Check: checkGrantedKey(b),
				},
			},
		})
	})
}

// providerWithoutIdentityFactories serve the provider with sensu_api_key as it was before
// it had an identity: the same resource, without IdentitySchema (and so without the list
// resource, which needs an identity).
var providerWithoutIdentityFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"sensu": func() (tfprotov6.ProviderServer, error) {
		p := &providerWithoutIdentity{sensuProvider: &sensuProvider{version: "test"}}
		return &detachingServer{ProviderServer: providerserver.NewProtocol6(p)()}, nil
	},
}

type providerWithoutIdentity struct {
	*sensuProvider
}

func (p *providerWithoutIdentity) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return &apiKeyResourceWithoutIdentity{r: &apiKeyResource{}} }}
}

func (p *providerWithoutIdentity) ListResources(context.Context) []func() list.ListResource {
	return nil
}

var _ provider.Provider = (*providerWithoutIdentity)(nil)

// apiKeyResourceWithoutIdentity forwards every method of apiKeyResource but IdentitySchema.
type apiKeyResourceWithoutIdentity struct {
	r *apiKeyResource
}

var (
	_ resource.ResourceWithConfigure   = (*apiKeyResourceWithoutIdentity)(nil)
	_ resource.ResourceWithImportState = (*apiKeyResourceWithoutIdentity)(nil)
	_ resource.ResourceWithModifyPlan  = (*apiKeyResourceWithoutIdentity)(nil)
)

func (w *apiKeyResourceWithoutIdentity) Metadata(ctx context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	w.r.Metadata(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	w.r.Schema(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) Configure(ctx context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	w.r.Configure(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	w.r.ModifyPlan(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	w.r.Create(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	w.r.Read(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	w.r.Update(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	w.r.Delete(ctx, req, resp)
}

func (w *apiKeyResourceWithoutIdentity) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	w.r.ImportState(ctx, req, resp)
}

// expectNoIdentity is a state check that the resource has no identity in state.
func expectNoIdentity(address string) statecheck.StateCheck { return noIdentityCheck{address} }

type noIdentityCheck struct{ address string }

func (c noIdentityCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = fmt.Errorf("no state to find %s in", c.address)
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address == c.address {
			if len(r.IdentityValues) > 0 {
				resp.Error = fmt.Errorf("%s has an identity in state: %v", c.address, r.IdentityValues)
			}
			return
		}
	}
	resp.Error = fmt.Errorf("%s is not in state", c.address)
}

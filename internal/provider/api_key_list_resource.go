package provider

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	listschema "github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

var (
	_ list.ListResource              = (*apiKeyListResource)(nil)
	_ list.ListResourceWithConfigure = (*apiKeyListResource)(nil)
)

// NewAPIKeyListResource is the sensu_api_key list resource, for `terraform query` (Terraform
// 1.14 or later): the keys a cluster has, to adopt with generated import configuration.
func NewAPIKeyListResource() list.ListResource {
	return &apiKeyListResource{}
}

type apiKeyListResource struct {
	client *sensu.Client
}

type apiKeyListConfigModel struct {
	Username   types.String `tfsdk:"username"`
	ExcludeIDs []string     `tfsdk:"exclude_ids"`
}

func (r *apiKeyListResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (r *apiKeyListResource) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = listschema.Schema{
		MarkdownDescription: "Lists the Sensu Go API keys, optionally only those of one user, for `terraform query` (Terraform 1.14 or later). " +
			"Each result is a key's identity (its `id`) with a display name that gives the key's user and when it was granted. " +
			"With `include_resource = true`, or `-generate-config-out`, a result also has the `sensu_api_key` attributes that are not secret: " +
			"`key` is always null in results. On Sensu Go 6.x, where the list holds the keys themselves, only their SHA-256 digests leave the provider; " +
			"importing a result restores the key into state. On Sensu Go 7.x a key's secret cannot be read back, so an imported key's `key` stays null. " +
			"A query costs one request to Sensu (plus one per further page of 500 keys), and asks for no more pages than `limit` needs.",
		Attributes: map[string]listschema.Attribute{
			"username": listschema.StringAttribute{
				MarkdownDescription: "Only list the keys that authenticate as this Sensu user.",
				Optional:            true,
				Validators: []validator.String{
					stringvalidator.RegexMatches(usernamePattern, "must be a Sensu username: not empty, without spaces or slashes"),
				},
			},
			"exclude_ids": listschema.ListAttribute{
				MarkdownDescription: "Leave out the keys with these ids. Terraform does not compare query results with the state, " +
					"so a key this configuration already manages is listed again, and importing it would put it in the state twice: " +
					"pass the ids of the managed keys, for example `[for k in sensu_api_key.ci : k.id]`.",
				ElementType: types.StringType,
				Optional:    true,
			},
		},
	}
}

func (r *apiKeyListResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// List streams the keys as Sensu lists them, a page at a time: the results are pulled by
// Terraform after List returns, and no page is requested once limit results are out.
func (r *apiKeyListResource) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var config apiKeyListConfigModel
	diags := req.Config.Get(ctx, &config)
	if r.client == nil {
		diags.AddError("Sensu Provider Not Configured",
			"The provider has no Sensu client to list API keys with. Please report this to the provider developers.")
	}
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	if req.Limit <= 0 {
		stream.Results = list.NoListResults
		return
	}
	stream.Results = func(push func(list.ListResult) bool) {
		gen, err := r.client.Generation(ctx)
		if err != nil {
			push(apiErrorResult(r.client, err))
			return
		}
		var sent int64
		warned := false
		excluded := make(map[string]bool, len(config.ExcludeIDs))
		for _, id := range config.ExcludeIDs {
			excluded[strings.ToLower(id)] = true
		}
		err = r.client.EachAPIKey(ctx, sensu.ListAPIKeysOptions{Username: config.Username.ValueString()}, func(k sensu.APIKey) bool {
			if excluded[strings.ToLower(k.ID)] {
				return true
			}
			if req.IncludeResource && !gen.NamesAreSecret() && !warned {
				// Once per query, before the first key: Terraform reads no further than limit keys.
				warned = true
				if !push(noSecretOnImportWarning()) {
					return false
				}
			}
			sent++
			return push(apiKeyListResult(ctx, req, k)) && sent < req.Limit
		})
		if err != nil {
			push(apiErrorResult(r.client, err))
			return
		}
		tflog.Debug(ctx, "Listed Sensu API keys", map[string]any{"results": sent})
	}
}

// apiKeyListResult is one key: its identity, and with include_resource the state an import
// of it starts from, without the secret (on 6.x, where k holds it, the import reads it back).
// name stays null as after an import, so the generated configuration plans nothing.
func apiKeyListResult(ctx context.Context, req list.ListRequest, k sensu.APIKey) list.ListResult {
	result := req.NewListResult(ctx)
	result.DisplayName = apiKeyDisplayName(k)
	result.Diagnostics.Append(result.Identity.Set(ctx, apiKeyIdentityModel{ID: types.StringValue(k.ID)})...)
	if req.IncludeResource {
		result.Diagnostics.Append(result.Resource.Set(ctx, apiKeyResourceModel{
			ID:           types.StringValue(k.ID),
			Username:     types.StringValue(k.Username),
			Name:         types.StringNull(),
			Key:          types.StringNull(),
			KeyWO:        types.StringNull(),
			KeyWOVersion: types.Int64Null(),
			Keepers:      types.MapNull(types.StringType),
		})...)
	}
	return result
}

// apiKeyDisplayName says whose key it is and when it was granted.
func apiKeyDisplayName(k sensu.APIKey) string {
	granted := "at an unknown time"
	if !k.CreatedAt.IsZero() {
		granted = k.CreatedAt.UTC().Format(time.RFC3339)
	}
	return "key of " + k.Username + ", granted " + granted
}

// noSecretOnImportWarning is a result with only a warning, which Terraform shows and does
// not count as a key: the generated configuration cannot carry a comment of the provider's.
func noSecretOnImportWarning() list.ListResult {
	var diags diag.Diagnostics
	diags.AddWarning("Imported Sensu API Keys Have No Secret In State",
		"On Sensu Go 7.x a key's secret cannot be read back: importing these keys (with the configuration "+
			"-generate-config-out writes, for example) leaves their key attribute null. Nothing is granted or changed; "+
			"the keys keep working wherever their secret is used today. To have Terraform hold a key's secret, replace "+
			"the key (for example by setting keepers) once its users can switch to the new one.")
	return list.ListResult{Diagnostics: diags}
}

func apiErrorResult(client *sensu.Client, err error) list.ListResult {
	var diags diag.Diagnostics
	addAPIError(&diags, client, "Error Listing Sensu API Keys", err, nil)
	return list.ListResult{Diagnostics: diags}
}

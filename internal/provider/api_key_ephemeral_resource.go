package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

var (
	_ ephemeral.EphemeralResource              = (*apiKeyEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*apiKeyEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithClose     = (*apiKeyEphemeralResource)(nil)
)

// NewAPIKeyEphemeralResource is the sensu_api_key ephemeral resource: a key granted for one
// Terraform walk and revoked at its end, never written to a plan or state.
func NewAPIKeyEphemeralResource() ephemeral.EphemeralResource {
	return &apiKeyEphemeralResource{}
}

type apiKeyEphemeralResource struct {
	client *sensu.Client
}

type apiKeyEphemeralModel struct {
	Username types.String `tfsdk:"username"`
	Name     types.String `tfsdk:"name"`
	ID       types.String `tfsdk:"id"`
	Key      types.String `tfsdk:"key"`
}

// openedKey is the private data Terraform hands back to Close: how to revoke the key. On 6.x
// the name is the key itself; private data never leaves Terraform's memory.
type openedKey struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Username   string           `json:"username"`
	Generation sensu.Generation `json:"generation"`
}

const openedKeyPrivateKey = "key"

// closeTimeout bounds a revocation, which runs even when Terraform is being interrupted.
const closeTimeout = 2 * time.Minute

func (e *apiKeyEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (e *apiKeyEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A Sensu Go API key that exists only while Terraform runs: granted when Terraform opens the ephemeral " +
			"resource and revoked when it closes it, at the end of the same plan or apply, even a failed one. It is never written to " +
			"a plan or the state. Terraform opens ephemeral resources in every walk, so a `terraform plan` grants and revokes one key, " +
			"and a `terraform apply` does so once for its plan and once more for the apply. Needs Terraform 1.10 or OpenTofu 1.11 or later.",
		Attributes: map[string]schema.Attribute{
			"username": schema.StringAttribute{
				MarkdownDescription: "The Sensu user the key authenticates as. The user must exist.",
				Required:            true,
				Validators: []validator.String{
					stringvalidator.RegexMatches(usernamePattern, "must be a Sensu username: not empty, without spaces or slashes"),
				},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Sensu Go 7.x only: the key's name, instead of `" + sensu.EphemeralNamePrefix + "` and 32 random " +
					"hexadecimal digits. The generated prefix makes a key whose revocation never ran (Terraform was killed) easy to find. " +
					"A name that a key already has is an error, since Sensu would overwrite that key. On Sensu Go 6.x setting it is an error.",
				Optional: true,
				Validators: []validator.String{
					clientValidator{describe: "a valid Sensu API key name", check: sensu.ValidateKeyName},
				},
			},
			"id": schema.StringAttribute{
				MarkdownDescription: "The key's public handle, as on the `sensu_api_key` resource: its name on Sensu Go 7.x, " +
					"the hex SHA-256 digest of the key on 6.x.",
				Computed: true,
			},
			"key": schema.StringAttribute{
				MarkdownDescription: "The secret API key, for `Authorization: Key <key>`: for example the `api_key` of another " +
					"`sensu` provider block, or a write-only argument of another resource.",
				Computed:  true,
				Sensitive: true,
			},
		},
	}
}

func (e *apiKeyEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (e *apiKeyEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var config apiKeyEphemeralModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if e.client == nil {
		resp.Diagnostics.AddError("Sensu Provider Not Configured",
			"The sensu_api_key ephemeral resource was opened before the provider was configured. Please report this issue to the provider developers.")
		return
	}
	checkGrantOptions(ctx, e.client, config.Name, types.StringNull(), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	gen, err := e.client.Generation(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, e.client, "Error Granting Ephemeral Sensu API Key", err, nil)
		return
	}
	key, err := e.client.CreateAPIKey(ctx, sensu.CreateAPIKeyRequest{
		Username:   config.Username.ValueString(),
		Name:       config.Name.ValueString(),
		NamePrefix: sensu.EphemeralNamePrefix,
	})
	if err != nil {
		addGrantError(&resp.Diagnostics, e.client, "Error Granting Ephemeral Sensu API Key", err)
		return
	}
	tflog.Debug(ctx, "Granted ephemeral Sensu API key", map[string]any{"id": key.ID, "username": key.Username})

	opened, err := json.Marshal(openedKey{ID: key.ID, Name: key.Name, Username: key.Username, Generation: gen})
	if err == nil {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, openedKeyPrivateKey, opened)...)
	}
	if err != nil || resp.Diagnostics.HasError() {
		// Without the private data Close could not revoke the key: revoke it now.
		e.revoke(ctx, openedKey{ID: key.ID, Name: key.Name, Username: key.Username, Generation: gen}, &resp.Diagnostics)
		return
	}
	config.ID = types.StringValue(key.ID)
	config.Key = types.StringValue(key.Key)
	resp.Diagnostics.Append(resp.Result.Set(ctx, config)...)
}

// Close revokes the key. Terraform calls it at the end of every walk that opened the key,
// a failed one included.
func (e *apiKeyEphemeralResource) Close(ctx context.Context, req ephemeral.CloseRequest, resp *ephemeral.CloseResponse) {
	data, diags := req.Private.GetKey(ctx, openedKeyPrivateKey)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() || data == nil {
		return
	}
	var opened openedKey
	if err := json.Unmarshal(data, &opened); err != nil || opened.Name == "" {
		resp.Diagnostics.AddError("Cannot Revoke Ephemeral Sensu API Key",
			"Terraform handed back no usable record of the key to revoke. Please report this issue to the provider developers; "+
				"meanwhile list the keys (sensuctl api-key list) and revoke those named "+sensu.EphemeralNamePrefix+"… that no run still uses.")
		return
	}
	e.revoke(ctx, opened, &resp.Diagnostics)
}

func (e *apiKeyEphemeralResource) revoke(ctx context.Context, k openedKey, diags *diag.Diagnostics) {
	if e.client == nil {
		diags.AddError("Cannot Revoke Ephemeral Sensu API Key",
			fmt.Sprintf("The provider is not configured, so the ephemeral key %s of user %q could not be revoked. It still authenticates. %s",
				k.ID, k.Username, revokeByHand(k.Generation, k.ID)))
		return
	}
	// Revoke even if Terraform is being interrupted: a key left behind is a live credential.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	err := e.client.DeleteAPIKey(rctx, k.Name)
	if err != nil && !sensu.IsNotFound(err) {
		diags.AddError("Error Revoking Ephemeral Sensu API Key",
			fmt.Sprintf("The ephemeral key %s of user %q could not be revoked, and it still authenticates: %s\n\n%s",
				k.ID, k.Username, err, revokeByHand(k.Generation, k.ID)))
		return
	}
	tflog.Debug(ctx, "Revoked ephemeral Sensu API key", map[string]any{"id": k.ID})
}

package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

var (
	_ datasource.DataSource              = (*apiKeyDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*apiKeyDataSource)(nil)
)

// NewAPIKeyDataSource is the sensu_api_key data source.
func NewAPIKeyDataSource() datasource.DataSource {
	return &apiKeyDataSource{}
}

type apiKeyDataSource struct {
	client *sensu.Client
}

// apiKeyInfoModel is what both data sources tell about a key: never the secret.
type apiKeyInfoModel struct {
	ID           types.String `tfsdk:"id"`
	Username     types.String `tfsdk:"username"`
	CreatedAt    types.String `tfsdk:"created_at"`
	CreatedBy    types.String `tfsdk:"created_by"`
	UserDisabled types.Bool   `tfsdk:"user_disabled"`
}

var apiKeyInfoDescriptions = map[string]string{
	"id": "The key's public handle: the name on Sensu Go 7.x, the hex SHA-256 digest of the key on 6.x " +
		"(the `id` of a `sensu_api_key` resource).",
	"username":   "The Sensu user the key authenticates as.",
	"created_at": "When the key was granted, as an RFC 3339 timestamp.",
	"created_by": "The Sensu user who granted the key.",
	"user_disabled": "Whether the key's user is disabled. Sensu refuses a disabled user's logins but not its API keys: " +
		"a key with `user_disabled = true` still authenticates as a user who no longer has access, so check it " +
		"(a `check` block or a postcondition) and revoke such keys. Null when the user could not be read " +
		"(unknown to Sensu, or the credentials may not read users); a warning then says why. " +
		"The provider reads each user at most once per run.",
}

// newAPIKeyInfo describes k; user is what was read of its user.
func newAPIKeyInfo(k sensu.APIKey, user sensu.UserResult) apiKeyInfoModel {
	created := types.StringNull()
	if !k.CreatedAt.IsZero() {
		created = types.StringValue(k.CreatedAt.UTC().Format(time.RFC3339))
	}
	return apiKeyInfoModel{
		ID:           types.StringValue(k.ID),
		Username:     types.StringValue(k.Username),
		CreatedAt:    created,
		CreatedBy:    types.StringValue(k.CreatedBy),
		UserDisabled: userDisabledValue(user),
	}
}

func (d *apiKeyDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (d *apiKeyDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up one Sensu Go API key by its id and tells who it belongs to, when it was granted and whether its user is disabled. " +
			"It never returns the secret key.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: apiKeyInfoDescriptions["id"] + " For a 6.x key held elsewhere, pass `sha256(var.key)`, never the key itself: `id` is not sensitive.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"username":      schema.StringAttribute{MarkdownDescription: apiKeyInfoDescriptions["username"], Computed: true},
			"created_at":    schema.StringAttribute{MarkdownDescription: apiKeyInfoDescriptions["created_at"], Computed: true},
			"created_by":    schema.StringAttribute{MarkdownDescription: apiKeyInfoDescriptions["created_by"], Computed: true},
			"user_disabled": schema.BoolAttribute{MarkdownDescription: apiKeyInfoDescriptions["user_disabled"], Computed: true},
		},
	}
}

func (d *apiKeyDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *apiKeyDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var config apiKeyInfoModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	gen, err := d.client.Generation(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, d.client, "Error Reading Sensu API Key", err, nil)
		return
	}
	if gen.NamesAreSecret() && !sensu.IsDigest(config.ID.ValueString()) {
		// id is not sensitive: a 6.x key passed here would show in every plan.
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Invalid Sensu API Key ID",
			"On Sensu Go 6.x a key's id is the hex SHA-256 digest of the key. Pass sha256(key), never the key itself: "+
				"id is not sensitive and would show in plans and logs.")
		return
	}
	key, err := d.client.LookupAPIKey(ctx, config.ID.ValueString())
	if sensu.IsNotFound(err) {
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Sensu API Key Not Found",
			"No Sensu API key has this id. On Sensu Go 7.x the id is the key's name; on 6.x it is the hex SHA-256 "+
				"digest of the key (sha256(key) in Terraform), as in the id of a sensu_api_key resource. "+
				"The key may also have been revoked.")
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, d.client, "Error Reading Sensu API Key", err, nil)
		return
	}
	user := d.client.CachedUsers(ctx, []string{key.Username})[key.Username]
	if user.Err != nil {
		addUserReadWarning(&resp.Diagnostics, "API key "+config.ID.ValueString(), key.Username, user.Err)
	}
	info := newAPIKeyInfo(*key, user)
	info.ID = config.ID
	resp.Diagnostics.Append(resp.State.Set(ctx, info)...)
}

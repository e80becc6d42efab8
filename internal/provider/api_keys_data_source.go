package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

var (
	_ datasource.DataSource              = (*apiKeysDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*apiKeysDataSource)(nil)
)

// NewAPIKeysDataSource is the sensu_api_keys data source.
func NewAPIKeysDataSource() datasource.DataSource {
	return &apiKeysDataSource{}
}

type apiKeysDataSource struct {
	client *sensu.Client
}

type apiKeysDataSourceModel struct {
	Username types.String      `tfsdk:"username"`
	APIKeys  []apiKeyInfoModel `tfsdk:"api_keys"`
}

func (d *apiKeysDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_keys"
}

func (d *apiKeysDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the Sensu Go API keys, optionally only those of one user, with whether each key's user is disabled. " +
			"It never returns a secret: on Sensu Go 6.x, where a key's name is the key, each key is identified by its SHA-256 digest.",
		Attributes: map[string]schema.Attribute{
			"username": schema.StringAttribute{
				MarkdownDescription: "Only list the keys that authenticate as this Sensu user.",
				Optional:            true,
			},
			"api_keys": schema.ListNestedAttribute{
				MarkdownDescription: "The keys, in the order Sensu lists them.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":            schema.StringAttribute{MarkdownDescription: apiKeyInfoDescriptions["id"], Computed: true},
						"username":      schema.StringAttribute{MarkdownDescription: apiKeyInfoDescriptions["username"], Computed: true},
						"created_at":    schema.StringAttribute{MarkdownDescription: apiKeyInfoDescriptions["created_at"], Computed: true},
						"created_by":    schema.StringAttribute{MarkdownDescription: apiKeyInfoDescriptions["created_by"], Computed: true},
						"user_disabled": schema.BoolAttribute{MarkdownDescription: apiKeyInfoDescriptions["user_disabled"], Computed: true},
					},
				},
			},
		},
	}
}

func (d *apiKeysDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *apiKeysDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var config apiKeysDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	keys, err := d.client.ListAPIKeys(ctx, sensu.ListAPIKeysOptions{Username: config.Username.ValueString()})
	if err != nil {
		addAPIError(&resp.Diagnostics, d.client, "Error Listing Sensu API Keys", err, nil)
		return
	}
	// The keys' users, read together: one GET for a single user, one list of users for
	// several (see sensu.Client.CachedUsers), nothing for users this process already read.
	var usernames []string
	keysOf := map[string]int{}
	for _, k := range keys {
		if keysOf[k.Username] == 0 {
			usernames = append(usernames, k.Username)
		}
		keysOf[k.Username]++
	}
	users := d.client.CachedUsers(ctx, usernames)
	for _, name := range usernames {
		if err := users[name].Err; err != nil {
			addUserReadWarning(&resp.Diagnostics, fmt.Sprintf("%d listed API key(s)", keysOf[name]), name, err)
		}
	}
	config.APIKeys = make([]apiKeyInfoModel, 0, len(keys))
	for _, k := range keys {
		config.APIKeys = append(config.APIKeys, newAPIKeyInfo(k, users[k.Username]))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, config)...)
}

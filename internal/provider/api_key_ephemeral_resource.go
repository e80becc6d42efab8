package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
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
					"hexadecimal digits. The generated prefix, and on every ephemeral key the label `" + sensu.EphemeralLabel + "=true`, make a key " +
					"whose revocation never ran (Terraform was killed) easy to find. A name that a key already has is an error, since Sensu " +
					"would overwrite that key; so is a name when two runs open the same named key at once. On Sensu Go 6.x setting it is an error.",
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
		Labels:     map[string]string{sensu.EphemeralLabel: "true"},
	})
	if err != nil {
		addGrantError(&resp.Diagnostics, e.client, "Error Granting Ephemeral Sensu API Key", err)
		if sensu.IsNameTaken(err) {
			resp.Diagnostics.AddAttributeWarning(path.Root("name"), "A Run That Was Killed Leaves Its Ephemeral Key",
				"If the key of this name is a leftover of a run that was killed before it could revoke it, revoke it by hand; "+
					"ephemeral keys are labelled: sensuctl api-key list --label-selector '"+sensu.EphemeralLabel+" == true'.")
		}
		return
	}
	tflog.Debug(ctx, "Granted ephemeral Sensu API key", map[string]any{"id": key.ID, "username": key.Username})
	opened := openedKey{ID: key.ID, Name: key.Name, Username: key.Username, Generation: gen}
	defer func() {
		if resp.Diagnostics.HasError() {
			// Terraform will not close what failed to open: revoke the key now.
			e.revoke(ctx, opened, &resp.Diagnostics)
		}
	}()

	data, err := json.Marshal(opened)
	if err != nil {
		resp.Diagnostics.AddError("Error Granting Ephemeral Sensu API Key", "Recording the key for its revocation failed: "+err.Error())
		return
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, openedKeyPrivateKey, data)...)
	if resp.Diagnostics.HasError() {
		return
	}
	config.ID = types.StringValue(key.ID)
	config.Key = types.StringValue(key.Key)
	resp.Diagnostics.Append(resp.Result.Set(ctx, config)...)
	if !resp.Diagnostics.HasError() {
		unclosed.add(e.client, opened)
	}
}

// Close revokes the key. Terraform calls it at the end of every walk that opened the key,
// a failed one included.
func (e *apiKeyEphemeralResource) Close(ctx context.Context, req ephemeral.CloseRequest, resp *ephemeral.CloseResponse) {
	data, diags := req.Private.GetKey(ctx, openedKeyPrivateKey)
	resp.Diagnostics.Append(diags...)
	var opened openedKey
	if err := json.Unmarshal(data, &opened); resp.Diagnostics.HasError() || err != nil || opened.Name == "" {
		resp.Diagnostics.AddError("Cannot Revoke Ephemeral Sensu API Key",
			"Terraform handed back no usable record of the key that this ephemeral resource granted, so it could not be revoked, "+
				"and it still authenticates. Please report this issue to the provider developers. "+findLeftovers)
		return
	}
	unclosed.remove(opened)
	e.revoke(ctx, opened, &resp.Diagnostics)
}

// findLeftovers says how to find ephemeral keys that were never revoked.
const findLeftovers = "On Sensu Go 7.x, ephemeral keys carry the label " + sensu.EphemeralLabel + "=true: " +
	"`sensuctl api-key list --label-selector '" + sensu.EphemeralLabel + " == true'` lists them, and " +
	"`sensuctl api-key revoke NAME --skip-confirm` revokes one. On 6.x, list the user's keys " +
	"(`sensuctl api-key list`) and revoke those created when the run was that nothing else holds."

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

// unclosed holds the ephemeral keys this provider process opened and Terraform has not
// closed yet. Terraform skips closing an ephemeral resource when something that uses its
// result fails (Terraform 1.11 to 1.16 and OpenTofu 1.12 alike): RevokeUnclosedEphemeralKeys,
// which main calls as the process ends, revokes those.
var unclosed = &unclosedKeys{keys: map[openedKey]*sensu.Client{}}

type unclosedKeys struct {
	mu   sync.Mutex
	keys map[openedKey]*sensu.Client
}

func (u *unclosedKeys) add(client *sensu.Client, k openedKey) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.keys[k] = client
}

func (u *unclosedKeys) remove(k openedKey) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.keys, k)
}

func (u *unclosedKeys) take() map[openedKey]*sensu.Client {
	u.mu.Lock()
	defer u.mu.Unlock()
	keys := u.keys
	u.keys = map[openedKey]*sensu.Client{}
	return keys
}

// RevokeUnclosedEphemeralKeys revokes, concurrently and within ctx, every ephemeral key this
// process opened that Terraform never closed, and returns the ids of those it could not
// revoke. Terraform gives a provider process 2 seconds to end once it has asked it to.
func RevokeUnclosedEphemeralKeys(ctx context.Context) (revoked []string, failed map[string]error) {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	failed = map[string]error{}
	for k, client := range unclosed.take() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := client.DeleteAPIKey(ctx, k.Name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !sensu.IsNotFound(err) {
				failed[k.ID] = err
				return
			}
			revoked = append(revoked, k.ID)
		}()
	}
	wg.Wait()
	return revoked, failed
}

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
)

var (
	_ resource.Resource                = (*apiKeyResource)(nil)
	_ resource.ResourceWithConfigure   = (*apiKeyResource)(nil)
	_ resource.ResourceWithImportState = (*apiKeyResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*apiKeyResource)(nil)
	_ resource.ResourceWithIdentity    = (*apiKeyResource)(nil)
)

// NewAPIKeyResource is the sensu_api_key resource.
func NewAPIKeyResource() resource.Resource {
	return &apiKeyResource{}
}

type apiKeyResource struct {
	client *sensu.Client
}

// apiKeyResourceModel is kept small on purpose: Terraform rewrites the whole state after
// every resource, so each byte per key is paid once per key in the configuration.
type apiKeyResourceModel struct {
	ID           types.String `tfsdk:"id"`
	Username     types.String `tfsdk:"username"`
	Name         types.String `tfsdk:"name"`
	Key          types.String `tfsdk:"key"`
	KeyWO        types.String `tfsdk:"key_wo"`
	KeyWOVersion types.Int64  `tfsdk:"key_wo_version"`
	Keepers      types.Map    `tfsdk:"keepers"`
}

// apiKeyIdentityModel is the resource identity (Terraform 1.12 or later): the key's id, the
// same value as the id attribute, so an identity is as public as an id.
type apiKeyIdentityModel struct {
	ID types.String `tfsdk:"id"`
}

// usernamePattern rejects what can never be a Sensu username before any request is made.
var usernamePattern = regexp.MustCompile(`^[^\s/]+$`)

func (r *apiKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (r *apiKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A Sensu Go API key: granted on create, revoked on destroy. " +
			"The key authenticates as `username` with `Authorization: Key <key>`. " +
			"A key revoked outside Terraform is planned again as a new key. Nothing can be changed in place: " +
			"changing `username` or `keepers` replaces the key. A refresh warns when the key's user is disabled " +
			"(Sensu refuses the user's logins, but its keys keep authenticating), unknown, or cannot be read; it never fails because of the user.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The key's public handle, safe to show in plans and logs. On Sensu Go 7.x it is the key's name. " +
					"On 6.x, where the name is the key itself, it is the hex SHA-256 digest of the key, so `sha256(key)` equals `id`.",
				Computed: true,
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(),
				},
			},
			"username": schema.StringAttribute{
				MarkdownDescription: "The Sensu user the key authenticates as. The user must exist. Changing it replaces the key: a new key is granted and the old one revoked.",
				Required:            true,
				Validators: []validator.String{
					stringvalidator.RegexMatches(usernamePattern, "must be a Sensu username: not empty, without spaces or slashes"),
				},
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.RequiresReplace(),
				},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Sensu Go 7.x only: the key's name (and so its `id`), instead of `tf-` and 32 random hexadecimal digits. " +
					"Letters, digits, `_`, `.`, `-` and `:`, at most 253; names starting with `tf-ephemeral-` are kept for ephemeral keys. " +
					"The provider first checks that no other key has the name, because Sensu would silently overwrite it, and fails with the " +
					"existing key's user if one does; so a replacement of a named key with `create_before_destroy` needs a new name too. " +
					"Changing it replaces the key. On Sensu Go 6.x, where the key is its own name, setting it is an error.",
				Optional: true,
				Validators: []validator.String{
					clientValidator{describe: "a valid Sensu API key name", check: sensu.ValidateKeyName},
					clientValidator{describe: "a name of its own", check: notEphemeralName},
				},
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.RequiresReplaceIf(nameChangeReplaces,
						"Changing the name replaces the key, except when an imported key's name is written into the configuration.",
						"Changing the name replaces the key, except when an imported key's name is written into the configuration."),
				},
			},
			"key": schema.StringAttribute{
				MarkdownDescription: "The secret API key, for `Authorization: Key <key>` or `sensuctl configure --api-key`. " +
					"It is stored in the Terraform state: protect the state, or use `key_wo` or the `sensu_api_key` ephemeral resource, " +
					"which keep the key out of it. On Sensu Go 7.x the key cannot be read back, so after `terraform import` it is null; " +
					"it is also null when `key_wo` sets the key.",
				Computed:  true,
				Sensitive: true,
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(),
				},
			},
			"key_wo": schema.StringAttribute{
				MarkdownDescription: "Sensu Go 7.x only, Terraform 1.11 or later: the secret of the key, chosen by you: random (for example " +
					"an ephemeral `random_password`), between 32 and 72 visible ASCII characters, and never reused for another key. Write-only: " +
					"Terraform never stores it, the provider sends Sensu only its bcrypt hash, and `key` stays null. Requires `key_wo_version`: " +
					"Terraform cannot see a change of a write-only value, so change `key_wo_version` to replace the key with one for the new " +
					"secret. Adding `key_wo` to a key granted without it (or imported), or removing it, replaces the key. On Sensu Go 6.x, " +
					"which generates every key itself, setting it is an error.",
				Optional: true,
				// Not Sensitive: Terraform never stores or shows a write-only value (plans show
				// "(write-only attribute)"; TestAccSecretsOutOfState scans for a literal one), and a
				// Sensitive mark would store a sensitive path in every instance's state: 131 bytes
				// per key, paid once per key by Terraform's state rewrites (see BENCHMARKS.md).
				WriteOnly: true,
				Validators: []validator.String{
					clientValidator{describe: "a usable API key secret", check: sensu.ValidateSecret},
					stringvalidator.AlsoRequires(path.MatchRoot("key_wo_version")),
				},
			},
			"key_wo_version": schema.Int64Attribute{
				MarkdownDescription: "A number to change whenever `key_wo` changes: changing it replaces the key, so the new secret takes " +
					"effect (with `create_before_destroy`, both keys work for a moment, as with `keepers`).",
				Optional: true,
				PlanModifiers: []planmodifier.Int64{
					int64planmodifier.RequiresReplace(),
				},
			},
			"keepers": schema.MapAttribute{
				MarkdownDescription: "Arbitrary values that, when changed, replace the key with a new one. " +
					"Use it to rotate keys, for example with the `time_rotating` resource of the time provider. " +
					"An imported key has no `keepers` in state, so setting `keepers` on an imported key replaces it.",
				ElementType: types.StringType,
				Optional:    true,
				PlanModifiers: []planmodifier.Map{
					mapplanmodifier.RequiresReplace(),
				},
			},
		},
	}
}

// IdentitySchema is the identity that `import { identity = { id = … } }` takes and that
// list results carry. Identity attributes have a plain Description only.
func (r *apiKeyResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description: "The key's id, as the id attribute: the name on Sensu Go 7.x, the hex SHA-256 digest of the key on 6.x. " +
					"Never the key itself.",
				RequiredForImport: true,
			},
		},
	}
}

func (r *apiKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *apiKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan apiKeyResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	// A write-only value is only in the configuration, never in the plan.
	var secret types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("key_wo"), &secret)...)
	if resp.Diagnostics.HasError() {
		return
	}

	key, err := r.client.CreateAPIKey(ctx, sensu.CreateAPIKeyRequest{
		Username: plan.Username.ValueString(),
		Name:     plan.Name.ValueString(),
		Secret:   secret.ValueString(),
	})
	if err != nil {
		addGrantError(&resp.Diagnostics, r.client, "Error Granting Sensu API Key", err)
		return
	}
	tflog.Debug(ctx, "Granted Sensu API key", map[string]any{"id": key.ID, "username": key.Username})

	plan.ID = types.StringValue(key.ID)
	plan.Key = types.StringValue(key.Key)
	if !secret.IsNull() {
		plan.Key = types.StringNull() // the configuration holds the secret; the state must not
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateKeyWO, []byte("true"))...)
	}
	plan.KeyWO = types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
	setIdentity(ctx, resp.Identity, plan.ID, &resp.Diagnostics)
}

// Keys of the resource's private state.
const (
	// privateReplacing holds, in the plan of a key that a replacement may re-grant under the
	// same name, that key's id: Terraform plans the new key a second time without prior state,
	// and that second plan must not take the name for another key's. Never stored in state.
	privateReplacing = "replacing"
	// privateKeyWO marks a key granted with key_wo, so that adding or removing key_wo, which
	// Terraform cannot see as a change of a write-only value, replaces the key.
	privateKeyWO = "key_wo"
)

// ModifyPlan refuses at plan time what the backend cannot do (a chosen name or secret on
// 6.x) and a name another key has, replaces a key when key_wo is added or removed, and plans
// `key` as null when key_wo sets it. It asks Sensu only when the configuration sets name or
// key_wo: for its version, once per provider process, and whether the name is free, when a
// key is to be granted under it.
func (r *apiKeyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var name, secret, priorName, priorID types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("name"), &name)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("key_wo"), &secret)...)
	prior := !req.State.Raw.IsNull()
	if prior {
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("name"), &priorName)...)
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("id"), &priorID)...)
	}
	replacing, diags := req.Private.GetKey(ctx, privateReplacing)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplacing, nil)...) // this plan only
	if resp.Diagnostics.HasError() {
		return
	}

	if prior {
		marked, diags := req.Private.GetKey(ctx, privateKeyWO)
		resp.Diagnostics.Append(diags...)
		if (len(marked) > 0) != !secret.IsNull() {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("key_wo"))
		}
		if !name.IsNull() && name.Equal(priorName) {
			id, _ := json.Marshal(priorID.ValueString())
			resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplacing, id)...)
		}
		return // a key is granted only in a plan without prior state (a replacement's second)
	}
	if secret.IsNull() && name.IsNull() {
		return
	}
	if !secret.IsNull() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("key"), types.StringNull())...)
	}
	checkGrantOptions(ctx, r.client, name, secret, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || r.client == nil || name.IsNull() || name.IsUnknown() {
		return
	}
	// Refuse a taken name now rather than after Terraform has revoked the key it replaces.
	// Create checks again: the name may be taken in between.
	existing, err := r.client.GetAPIKey(ctx, name.ValueString())
	switch {
	case err == nil:
		if id, _ := json.Marshal(existing.ID); string(id) == string(replacing) {
			return // the key this plan replaces (with create_before_destroy, Create refuses)
		}
		addGrantError(&resp.Diagnostics, r.client, "Sensu API Key Name Taken",
			&sensu.NameTakenError{Name: existing.Name, Username: existing.Username, CreatedBy: existing.CreatedBy})
	case !sensu.IsNotFound(err):
		addAPIError(&resp.Diagnostics, r.client, "Error Checking Sensu API Key Name", err, nil)
	}
}

// notEphemeralName keeps the names of ephemeral keys for them, so that a key whose run never
// revoked it can be told apart by its name.
func notEphemeralName(name string) error {
	if strings.HasPrefix(name, sensu.EphemeralNamePrefix) {
		return fmt.Errorf("names starting with %q are kept for the keys of the sensu_api_key ephemeral resource", sensu.EphemeralNamePrefix)
	}
	return nil
}

// nameChangeReplaces is name's RequiresReplaceIf: any change replaces the key, except adding
// to the configuration the name an imported 7.x key already has (its id).
func nameChangeReplaces(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	var id types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("id"), &id)...)
	resp.RequiresReplace = !req.StateValue.IsNull() || !req.PlanValue.Equal(id)
}

func (r *apiKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state apiKeyResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The identity is set first, from the id: a state written before the resource had an
	// identity (or by a CLI that keeps none) gets one here, and the framework (v1.19) wants
	// one after every Read that has no error, even when the key is gone and the resource is
	// removed.
	setIdentity(ctx, resp.Identity, state.ID, &resp.Diagnostics)
	name, ok := r.sensuName(ctx, state, &resp.Diagnostics)
	if !ok {
		return
	}

	key, err := r.client.GetAPIKey(ctx, name)
	if sensu.IsNotFound(err) {
		resp.Diagnostics.AddWarning("Sensu API Key Revoked Outside Terraform",
			fmt.Sprintf("The Sensu API key %s no longer exists. Terraform will plan to grant a new key.", state.ID.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, r.client, "Error Reading Sensu API Key", err, nil)
		return
	}

	warnAboutKeyUser(ctx, r.client, state.ID.ValueString(), key.Username, &resp.Diagnostics)
	// resp.State starts as a copy of the prior state; rewriting it unchanged would cost a
	// reflection pass per key on every refresh.
	if state.Username.ValueString() != key.Username {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("username"), key.Username)...)
	}
}

// Update is never called with a change Sensu could apply (every argument replaces the key,
// but for an imported key's name written into the configuration); it only carries the
// planned values over.
func (r *apiKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan apiKeyResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplacing, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
	setIdentity(ctx, resp.Identity, plan.ID, &resp.Diagnostics)
}

func (r *apiKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state apiKeyResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name, ok := r.sensuName(ctx, state, &resp.Diagnostics)
	if !ok {
		return
	}
	err := r.client.DeleteAPIKey(ctx, name)
	if err != nil && !sensu.IsNotFound(err) {
		addAPIError(&resp.Diagnostics, r.client, "Error Revoking Sensu API Key", err, nil)
		return
	}
	tflog.Debug(ctx, "Revoked Sensu API key", map[string]any{"id": state.ID.ValueString()})
}

// ImportState accepts the key's id, as the import ID or as the identity's id. On 7.x that
// is the name, read back by Read (the secret cannot be). On 6.x it is the SHA-256 digest,
// found in the key list (read once per provider process for all the keys it imports), or
// (as an import ID only) the key itself; either way the key is restored into state and id
// becomes the digest.
func (r *apiKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id, byIdentity := req.ID, req.ID == ""
	if byIdentity {
		var identity apiKeyIdentityModel
		resp.Diagnostics.Append(req.Identity.Get(ctx, &identity)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = identity.ID.ValueString()
	}
	gen, err := r.client.Generation(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, r.client, "Error Importing Sensu API Key", err, nil)
		return
	}
	if !gen.NamesAreSecret() {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
		setIdentity(ctx, resp.Identity, types.StringValue(id), &resp.Diagnostics)
		return
	}
	if byIdentity && !sensu.IsDigest(id) {
		// The identity is stored in state and shown as public: never accept a key there.
		resp.Diagnostics.AddError("Invalid Sensu API Key Identity",
			"On Sensu Go 6.x the identity's id is the hex SHA-256 digest of the key (sha256(key) in Terraform), "+
				"as `terraform query` lists it, never the key itself.")
		return
	}
	key, err := r.client.CachedLookupAPIKey(ctx, id)
	if sensu.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot Import Sensu API Key",
			"No Sensu API key has this id. On Sensu Go 6.x import by the key's id (the hex SHA-256 digest of the key, "+
				"as `sha256(key)` gives it) or by the key itself.")
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, r.client, "Error Importing Sensu API Key", err, nil)
		return
	}
	if !sensu.IsDigest(id) {
		resp.Diagnostics.AddWarning("Sensu API Key Imported By The Key Itself",
			"The import ID was the secret key, which Terraform prints and logs as any import ID. Import by the key's id, "+
				"the hex SHA-256 digest of the key (sha256(key) in Terraform), instead; and if the ID sits in an import block, "+
				"remove it from the configuration.")
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, apiKeyResourceModel{
		ID:           types.StringValue(key.ID),
		Username:     types.StringValue(key.Username),
		Name:         types.StringNull(),
		Key:          types.StringValue(key.Key),
		KeyWO:        types.StringNull(),
		KeyWOVersion: types.Int64Null(),
		Keepers:      types.MapNull(types.StringType),
	})...)
	setIdentity(ctx, resp.Identity, types.StringValue(key.ID), &resp.Diagnostics)
}

// sensuName is how Sensu addresses the key: the name (= id) on 7.x, the key itself on 6.x.
func (r *apiKeyResource) sensuName(ctx context.Context, state apiKeyResourceModel, diags *diag.Diagnostics) (string, bool) {
	gen, err := r.client.Generation(ctx)
	if err != nil {
		addAPIError(diags, r.client, "Error Contacting Sensu", err, nil)
		return "", false
	}
	if !gen.NamesAreSecret() {
		return state.ID.ValueString(), true
	}
	if state.Key.IsNull() || state.Key.ValueString() == "" {
		diags.AddError("Sensu API Key Missing From State",
			fmt.Sprintf("On Sensu Go 6.x the key itself is needed to read or revoke it, and the state of %s has none. "+
				"Remove it from the state (terraform state rm) and import it by id.", state.ID.ValueString()))
		return "", false
	}
	return state.Key.ValueString(), true
}

// setIdentity records the key's identity. identity is nil only when the resource is served
// without its identity schema, as TestAccAPIKeyResource_identityUpgrade does to write a
// state as the provider did before identity; a CLI without identity support (Terraform
// before 1.12) gets one and drops it.
func setIdentity(ctx context.Context, identity *tfsdk.ResourceIdentity, id types.String, diags *diag.Diagnostics) {
	if identity == nil {
		return
	}
	diags.Append(identity.Set(ctx, apiKeyIdentityModel{ID: id})...)
}

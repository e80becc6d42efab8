package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sensu-community/terraform-provider-sensu/internal/provider"
)

// The framework floor: the provider's own schemas served by terraform-plugin-framework, with
// CRUD that makes no request at all. Measured next to the real provider, it separates what
// any framework provider costs (gRPC, the framework's per-RPC work, its memory) from what
// this provider adds (the Sensu client, its I/O and its logs). Started by the launcher
// with envNullProvider set, in place of the real provider.
//
// It works on the raw values, not on a model of today's attributes: whatever the resource's
// schema and identity become, the floor serves exactly them.
const envNullProvider = "SENSU_BENCH_NULL_PROVIDER"

func serveNullProvider() error {
	quietLikeMain()
	return providerserver.Serve(context.Background(), newNullProvider,
		providerserver.ServeOpts{Address: providerAddress, ProtocolVersion: 6})
}

const providerAddress = "registry.terraform.io/sensu-community/sensu"

// quietLikeMain does what main.go does before serving: SDK logs off unless asked for, GOGC=400.
func quietLikeMain() {
	for _, name := range []string{"TF_LOG_PROVIDER", "TF_LOG_PROVIDER_SENSU", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if _, set := os.LookupEnv(name); !set {
			_ = os.Setenv(name, "off")
		}
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
}

func newNullProvider() fwprovider.Provider { return nullProvider{provider.New("bench-null")()} }

// nullProvider has the real provider's name and configuration schema, and one resource.
type nullProvider struct{ fwprovider.Provider }

func (nullProvider) Configure(context.Context, fwprovider.ConfigureRequest, *fwprovider.ConfigureResponse) {
}

func (nullProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource {
		real := provider.NewAPIKeyResource()
		if withIdentity, ok := real.(resource.ResourceWithIdentity); ok {
			return nullKeyWithIdentity{nullKey{real}, withIdentity}
		}
		return nullKey{real}
	}}
}

func (nullProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// nullKey is sensu_api_key with the real schema (and so the same state), minus the API.
type nullKey struct{ resource.Resource }

// nullKeyWithIdentity is nullKey for a resource that has an identity: the same identity schema.
type nullKeyWithIdentity struct {
	nullKey
	real resource.ResourceWithIdentity
}

func (r nullKeyWithIdentity) IdentitySchema(ctx context.Context, req resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	r.real.IdentitySchema(ctx, req, resp)
}

// Shapes of the framework floor's state entry, for section 10: the price of a byte of state.
const (
	envFloorShape      = "SENSU_BENCH_FLOOR_SHAPE"
	shapeNoSensitive   = "no-sensitive" // no attribute marked sensitive: no sensitive path in the state entry
	shapeCommunityLike = "community"    // only id (a UUID, as the community provider's) and username
)

func (r nullKey) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	r.Resource.Schema(ctx, req, resp)
	switch os.Getenv(envFloorShape) {
	case shapeNoSensitive:
		for name, a := range resp.Schema.Attributes {
			if s, ok := a.(schema.StringAttribute); ok && s.Sensitive {
				s.Sensitive = false
				resp.Schema.Attributes[name] = s
			}
		}
	case shapeCommunityLike:
		for name := range resp.Schema.Attributes {
			if name != "id" && name != "username" {
				delete(resp.Schema.Attributes, name)
			}
		}
	}
}

func (nullKey) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	state, err := fillUnknowns(req.Plan.Raw)
	if err != nil {
		resp.Diagnostics.AddError("framework floor", err.Error())
		return
	}
	resp.State.Raw = state
	setFloorIdentity(ctx, state, resp.Identity)
}

func (nullKey) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if resp.Identity != nil && resp.Identity.Raw.IsNull() {
		setFloorIdentity(ctx, req.State.Raw, resp.Identity)
	}
}

func (nullKey) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	state, err := fillUnknowns(req.Plan.Raw)
	if err != nil {
		resp.Diagnostics.AddError("framework floor", err.Error())
		return
	}
	resp.State.Raw = state
	setFloorIdentity(ctx, state, resp.Identity)
}

func (nullKey) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// setFloorIdentity fills each identity attribute from the state attribute of the same name
// (the identity's `id` is the state's `id`).
func setFloorIdentity(ctx context.Context, state tftypes.Value, identity *tfsdk.ResourceIdentity) {
	if identity == nil {
		return
	}
	var attrs map[string]tftypes.Value
	if err := state.As(&attrs); err != nil {
		return
	}
	typ, ok := identity.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		return
	}
	vals := map[string]tftypes.Value{}
	for name, t := range typ.AttributeTypes {
		if v, ok := attrs[name]; ok && v.Type().Is(t) {
			vals[name] = v
		} else {
			vals[name] = tftypes.NewValue(t, nil)
		}
	}
	identity.Raw = tftypes.NewValue(typ, vals)
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sensu-community/terraform-provider-sensu/internal/provider"
)

// The framework floor: the provider's own schemas served by terraform-plugin-framework, with
// CRUD that makes no request at all. Measured next to the real provider, it separates what
// any framework provider costs (gRPC, the framework's per-RPC work, its memory) from what
// this provider adds (the Sensu client, its I/O and its logs). Started by the launcher
// with envNullProvider set, in place of the real provider.
const envNullProvider = "SENSU_BENCH_NULL_PROVIDER"

func serveNullProvider() error {
	// What main.go does before serving: SDK logs off, GOGC=400.
	for _, name := range []string{"TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if _, set := os.LookupEnv(name); !set {
			_ = os.Setenv(name, "off")
		}
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	return providerserver.Serve(context.Background(), func() fwprovider.Provider {
		return nullProvider{provider.New("bench-null")()}
	}, providerserver.ServeOpts{Address: "registry.terraform.io/sensu-community/sensu", ProtocolVersion: 6})
}

// nullProvider has the real provider's name and configuration schema, and one resource.
type nullProvider struct{ fwprovider.Provider }

func (nullProvider) Configure(context.Context, fwprovider.ConfigureRequest, *fwprovider.ConfigureResponse) {
}

func (nullProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return nullKey{provider.NewAPIKeyResource()} }}
}

func (nullProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// nullKey is sensu_api_key with the real schema (and so the same state), minus the API.
type nullKey struct{ resource.Resource }

type nullKeyModel struct {
	ID       types.String `tfsdk:"id"`
	Username types.String `tfsdk:"username"`
	Key      types.String `tfsdk:"key"`
	Keepers  types.Map    `tfsdk:"keepers"`
}

func (nullKey) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan nullKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var b [48]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	plan.ID = types.StringValue(h[:64]) // like a 6.x id: a hex SHA-256
	plan.Key = types.StringValue(fmt.Sprintf("%s-%s-%s-%s-%s", h[64:72], h[72:76], h[76:80], h[80:84], h[84:96]))
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (nullKey) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state nullKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (nullKey) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan nullKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (nullKey) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

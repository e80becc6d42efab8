package provider

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

type ctxKey struct{}

// TestDetachedContext checks that a context kept by the callee still carries values and
// cancellation during the call, and no longer pins the caller's context after it.
func TestDetachedContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "request fields"))
	var kept context.Context
	_, err := detached(parent, 0, func(ctx context.Context, _ int) (int, error) {
		child, childCancel := context.WithCancel(ctx) // what the framework does, and keeps
		_ = childCancel
		kept = child
		if got := child.Value(ctxKey{}); got != "request fields" {
			t.Errorf("during the call the value is %v", got)
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Value(ctxKey{}) != nil {
		t.Error("after the call the kept context still reaches the caller's values")
	}
	cancel() // the RPC's context ends (gRPC cancels it when the call returns)
	select {
	case <-kept.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the caller's context did not reach the kept child")
	}
}

// TestDetachedContextFreesParent measures the leak the wrapper exists for: contexts kept by
// the callee must not keep the caller's context chain alive.
func TestDetachedContextFreesParent(t *testing.T) {
	const calls = 2000
	var kept []context.CancelFunc
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := 0; i < calls; i++ {
		big := context.WithValue(context.Background(), ctxKey{}, make([]byte, 16<<10))
		ctx, cancel := context.WithCancel(big)
		_, _ = detached(ctx, 0, func(ctx context.Context, _ int) (int, error) {
			_, c := context.WithCancel(ctx)
			kept = append(kept, c)
			return 0, nil
		})
		cancel()
	}
	grown := heap() - before
	if perCall := grown / calls; perCall > 2<<10 {
		t.Errorf("each call still holds %d bytes after it returned; the 16 KiB value leaks", perCall)
	}
	runtime.KeepAlive(kept)
}

// optionalServers are terraform-plugin-go's optional server interfaces: RPCs not (yet) in
// tfprotov6.ProviderServer, which tf6server finds by asserting its downstream server (here,
// detachingServer) to tfprotov6.ProviderServerWith…. An embedded ProviderServer does not
// promote them, so whatever the framework's server implements must be implemented, and
// wrapped, by detachingServer itself, or Terraform is told "not implemented".
// notServed says why an interface is deliberately left out.
var optionalServers = map[string]struct {
	rpcs      reflect.Type // the interface holding the RPCs
	full      reflect.Type // the ProviderServerWith… interface tf6server asserts
	notServed string
}{
	"ProviderServerWithListResource": {
		rpcs: reflect.TypeFor[tfprotov6.ListResourceServer](),
		full: reflect.TypeFor[tfprotov6.ProviderServerWithListResource](), //nolint:staticcheck // what tf6server asserts
	},
	"ProviderServerWithActions": {
		rpcs: reflect.TypeFor[tfprotov6.ActionServer](),
		full: reflect.TypeFor[tfprotov6.ProviderServerWithActions](), //nolint:staticcheck // what tf6server asserts
		// The provider defines no actions: Terraform only calls these RPCs for an action the
		// schema declares, so serving them would wrap calls that never come.
		notServed: "the provider has no actions",
	},
	"ProviderServerWithStateStores": {
		rpcs: reflect.TypeFor[tfprotov6.StateStoreServer](),
		full: reflect.TypeFor[tfprotov6.ProviderServerWithStateStores](), //nolint:staticcheck // what tf6server asserts
		// The provider offers no state store, and state store RPCs are per workspace, not
		// per resource: they would not pile up contexts as resource RPCs do.
		notServed: "the provider has no state store",
	},
}

// TestDetachingServerWrapsEveryResourceRPC fails when terraform-plugin-go gains a per-resource
// RPC (or the provider starts using one) that the wrapper would pass through undetached, and
// when the framework's server implements an optional server interface that the wrapper hides.
func TestDetachingServerWrapsEveryResourceRPC(t *testing.T) {
	perProcess := map[string]bool{
		"GetMetadata": true, "GetProviderSchema": true, "GetResourceIdentitySchemas": true,
		"ValidateProviderConfig": true, "ConfigureProvider": true, "StopProvider": true,
		"GetFunctions": true, "CallFunction": true, // the provider has no functions
	}
	wrapped := wrapperMethods(t)
	rpcs := []reflect.Type{reflect.TypeFor[tfprotov6.ProviderServer]()}

	for _, name := range optionalServerNames(t) {
		if _, known := optionalServers[name]; !known {
			t.Errorf("terraform-plugin-go has a new optional server interface tfprotov6.%s: add it to optionalServers, "+
				"and wrap its RPCs in detachingServer if the framework's server implements it", name)
		}
	}
	framework := reflect.TypeOf(providerserver.NewProtocol6(New("test")())())
	wrapper := reflect.TypeFor[*detachingServer]()
	for name, opt := range optionalServers {
		if !framework.Implements(opt.full) {
			continue
		}
		if opt.notServed != "" {
			t.Logf("tfprotov6.%s: implemented by the framework, not served: %s", name, opt.notServed)
			continue
		}
		if !wrapper.Implements(opt.full) {
			t.Errorf("the framework's server implements tfprotov6.%s but detachingServer does not: tf6server would answer "+
				"its RPCs with \"not implemented\"", name)
		}
		rpcs = append(rpcs, opt.rpcs)
	}
	for _, iface := range rpcs {
		for i := 0; i < iface.NumMethod(); i++ {
			name := iface.Method(i).Name
			if !perProcess[name] && !wrapped[name] {
				t.Errorf("%s is called per resource but detachingServer does not wrap it", name)
			}
		}
	}
}

// wrapperMethods are the methods server.go declares on *detachingServer.
func wrapperMethods(t *testing.T) map[string]bool {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "server.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := map[string]bool{}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "detachingServer" {
				wrapped[fn.Name.Name] = true
			}
		}
	}
	return wrapped
}

// optionalServerNames reads the tfprotov6.ProviderServerWith… interfaces from the source of
// the terraform-plugin-go this module builds with, so a new one cannot go unnoticed.
func optionalServerNames(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/hashicorp/terraform-plugin-go/tfprotov6").Output()
	if err != nil {
		t.Fatalf("locating terraform-plugin-go's tfprotov6 sources: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, entry := range entries {
		if !strings.HasSuffix(entry.Name(), ".go") || strings.HasSuffix(entry.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, entry.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if _, isInterface := ts.Type.(*ast.InterfaceType); ok && isInterface && strings.HasPrefix(ts.Name.Name, "ProviderServerWith") {
					names = append(names, ts.Name.Name)
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatalf("no ProviderServerWith… interface in %s: the check would prove nothing", dir)
	}
	return names
}

// listOnlyServer is a downstream server with only the list resource RPCs.
type listOnlyServer struct {
	tfprotov6.ProviderServer
	results int
	kept    context.Context
}

func (s *listOnlyServer) ValidateListResourceConfig(ctx context.Context, _ *tfprotov6.ValidateListResourceConfigRequest) (*tfprotov6.ValidateListResourceConfigResponse, error) {
	s.kept = ctx
	return &tfprotov6.ValidateListResourceConfigResponse{}, nil
}

// ListResource keeps its context, as the framework does, and uses it while the stream is
// consumed, as the provider's List does for its requests to Sensu.
func (s *listOnlyServer) ListResource(ctx context.Context, _ *tfprotov6.ListResourceRequest) (*tfprotov6.ListResourceServerStream, error) {
	s.kept = ctx
	return &tfprotov6.ListResourceServerStream{Results: func(push func(tfprotov6.ListResourceResult) bool) {
		for i := 0; i < s.results; i++ {
			name, _ := ctx.Value(ctxKey{}).(string)
			if !push(tfprotov6.ListResourceResult{DisplayName: name}) {
				return
			}
		}
	}}, nil
}

// TestDetachingServerListResource checks that the list stream sees the RPC's context while
// tf6server drains it, after ListResource has returned, and lets go of it once the stream
// ends or its consumer stops.
func TestDetachingServerListResource(t *testing.T) {
	for _, stopAfter := range []int{0, 2} {
		t.Run(fmt.Sprintf("stop after %d", stopAfter), func(t *testing.T) {
			downstream := &listOnlyServer{results: 3}
			server := &detachingServer{ProviderServer: downstream}
			ctx := context.WithValue(context.Background(), ctxKey{}, "request fields")
			stream, err := server.ListResource(ctx, &tfprotov6.ListResourceRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if downstream.kept.Value(ctxKey{}) == nil {
				t.Fatal("before the stream is consumed the context no longer reaches the RPC's")
			}
			got := 0
			for result := range stream.Results {
				if result.DisplayName != "request fields" {
					t.Errorf("result %d was made with a detached context", got)
				}
				got++
				if got == stopAfter {
					break
				}
			}
			want := 3
			if stopAfter > 0 {
				want = stopAfter
			}
			if got != want {
				t.Errorf("consumed %d results, want %d", got, want)
			}
			if downstream.kept.Value(ctxKey{}) != nil {
				t.Error("after the stream ended the kept context still reaches the RPC's")
			}
		})
	}
	t.Run("validate", func(t *testing.T) {
		downstream := &listOnlyServer{}
		server := &detachingServer{ProviderServer: downstream}
		ctx := context.WithValue(context.Background(), ctxKey{}, "request fields")
		if _, err := server.ValidateListResourceConfig(ctx, &tfprotov6.ValidateListResourceConfigRequest{}); err != nil {
			t.Fatal(err)
		}
		if downstream.kept.Value(ctxKey{}) != nil {
			t.Error("after ValidateListResourceConfig returned the kept context still reaches the RPC's")
		}
	})
	t.Run("no list resources downstream", func(t *testing.T) {
		server := &detachingServer{ProviderServer: struct{ tfprotov6.ProviderServer }{}}
		if _, err := server.ListResource(context.Background(), &tfprotov6.ListResourceRequest{}); !errors.Is(err, errNoListResources) {
			t.Errorf("got %v, want errNoListResources", err)
		}
	})
}

// TestNoPlanDestroy: the server withdraws the PlanDestroy capability, which only makes sense
// while no resource's ModifyPlan does anything on destroy: Terraform calls it on destroy only
// with PlanDestroy. Each ModifyPlan is called as for a destroy and must leave the plan alone.
func TestNoPlanDestroy(t *testing.T) {
	ctx := context.Background()
	srv := NewProtocol6Server("test")()
	schemaResp, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	metaResp, err := srv.GetMetadata(ctx, &tfprotov6.GetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*tfprotov6.ServerCapabilities{"GetProviderSchema": schemaResp.ServerCapabilities, "GetMetadata": metaResp.ServerCapabilities} {
		if c == nil {
			t.Fatalf("%s: no server capabilities", name)
		}
		if c.PlanDestroy {
			t.Errorf("%s announces PlanDestroy", name)
		}
		if !c.GetProviderSchemaOptional {
			t.Errorf("%s lost the framework's other capabilities: %+v", name, c)
		}
	}
	for _, newResource := range New("test")().Resources(ctx) {
		r := newResource()
		withPlan, ok := r.(resource.ResourceWithModifyPlan)
		if !ok {
			continue
		}
		var meta resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "sensu"}, &meta)
		var sch resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &sch)
		typ := sch.Schema.Type().TerraformType(ctx)
		null := tftypes.NewValue(typ, nil)
		req := resource.ModifyPlanRequest{
			Config: tfsdk.Config{Schema: sch.Schema, Raw: null},
			State:  tfsdk.State{Schema: sch.Schema, Raw: null},
			Plan:   tfsdk.Plan{Schema: sch.Schema, Raw: null},
		}
		resp := resource.ModifyPlanResponse{Plan: req.Plan}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: ModifyPlan panics on a destroy (%v)", meta.TypeName, p)
				}
			}()
			withPlan.ModifyPlan(ctx, req, &resp)
		}()
		if resp.Diagnostics.HasError() || !resp.Plan.Raw.IsNull() || len(resp.RequiresReplace) > 0 || resp.Private != nil {
			t.Errorf("%s: ModifyPlan acts on a destroy, which Terraform sends it only with PlanDestroy: stop withdrawing the capability in server.go", meta.TypeName)
		}
	}
}

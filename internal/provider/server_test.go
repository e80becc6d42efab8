package provider

import (
	"context"
	"runtime"
	"testing"
	"time"

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

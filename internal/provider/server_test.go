package provider

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
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

// TestDetachingServerWrapsEveryResourceRPC fails when terraform-plugin-go gains a per-resource
// RPC (or the provider starts using one) that the wrapper would pass through undetached.
func TestDetachingServerWrapsEveryResourceRPC(t *testing.T) {
	perProcess := map[string]bool{
		"GetMetadata": true, "GetProviderSchema": true, "GetResourceIdentitySchemas": true,
		"ValidateProviderConfig": true, "ConfigureProvider": true, "StopProvider": true,
		"GetFunctions": true, "CallFunction": true, // the provider has no functions
	}
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
	rpcs := reflect.TypeOf((*tfprotov6.ProviderServer)(nil)).Elem()
	for i := 0; i < rpcs.NumMethod(); i++ {
		name := rpcs.Method(i).Name
		if !perProcess[name] && !wrapped[name] {
			t.Errorf("%s is called per resource but detachingServer does not wrap it", name)
		}
	}
}

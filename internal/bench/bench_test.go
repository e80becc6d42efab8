package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-sdk/v2/diag"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkDecodeAPIKey/6.x-2    	   23864	      5300 ns/op	  23.40 MB/s	    1472 B/op	      19 allocs/op
BenchmarkToken/serial-2                          	 1606065	        76.53 ns/op	       0 B/op	       0 allocs/op
BenchmarkNoSuffix 	 10	 2000000 ns/op
PASS
`
	got := parseGoBench(out)
	want := []goBenchLine{
		{Name: "DecodeAPIKey/6.x", Iterations: 23864, NsPerOp: 5300, MBPerSec: 23.4, BytesPerOp: 1472, AllocsPerOp: 19},
		{Name: "Token/serial", Iterations: 1606065, NsPerOp: 76.53},
		{Name: "NoSuffix", Iterations: 10, NsPerOp: 2e6},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestIntList(t *testing.T) {
	got, err := intList(" 1000,100,100 ")
	if err != nil || !slices.Equal(got, []int{100, 1000}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "10,-1"} {
		if _, err := intList(bad); err == nil {
			t.Errorf("intList(%q) accepted", bad)
		}
	}
}

func TestParseGCTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.stderr")
	data := `{"@level":"info","@message":"configuring server automatic mTLS"}
gc 1 @1.223s 0%: 0.035+4.2+0.022 ms clock, 0.070+0.12/1.0/5.5+0.044 ms cpu, 15->15->4 MB, 16 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 2 @3.297s 2%: 0.14+94+0.004 ms clock, 0.28+0.061/53/23+0.009 ms cpu, 148->156->55 MB, 159 MB goal, 0 MB stacks, 0 MB globals, 2 P
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := parseGCTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	if tr.GCs != 2 || !slices.Equal(tr.LiveMB, []int{4, 55}) || tr.GoalMB != 159 || tr.MaxLiveMB != 55 || tr.LastLiveMB != 55 {
		t.Fatalf("got %+v", tr)
	}
}

func TestSameKeyRequests(t *testing.T) {
	got := map[string]int{routeGrant6: 100, routeLogin: 1, routeVersion: 1}
	if !sameKeyRequests(got, map[string]int{routeGrant6: 100}) {
		t.Error("auth and version requests must not count")
	}
	got[routeInfo] = 100
	if sameKeyRequests(got, map[string]int{routeGrant6: 100}) {
		t.Error("a read-back after the grant must count")
	}
	if sameKeyRequests(map[string]int{}, map[string]int{routeInfo: 1}) {
		t.Error("a missing request must count")
	}
	reads := map[string]int{routeInfo: 100, routeUserGet: 1, routeUserList: 1, routeVersion: 1}
	if !sameKeyRequests(reads, map[string]int{routeInfo: 100}) {
		t.Error("user reads are counted apart, not as key requests")
	}
	if r := (&tfRun{Requests: reads}); r.keyRequests() != 100 || r.userReads() != 2 {
		t.Errorf("key requests %d, user reads %d", r.keyRequests(), r.userReads())
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"A=1", envWrapReal + "=/p", envRecords + "=/r", envStderrDir + "=/s", envChildEnv + "=X=1"}, "GOGC=100;;B=2")
	if !slices.Equal(got, []string{"A=1", "GOGC=100", "B=2"}) {
		t.Fatalf("got %v", got)
	}
}

func TestLifecycleMedian(t *testing.T) {
	var l lifecycle
	for _, s := range []int{3, 1, 2} {
		l.runs[opApply] = append(l.runs[opApply], &tfRun{Wall: time.Duration(s) * time.Second})
	}
	if got := l.run(opApply).Wall; got != 2*time.Second {
		t.Fatalf("median %v", got)
	}
	if spread(l.runs[opApply]) != " (1.00–3.00)" {
		t.Fatalf("spread %q", spread(l.runs[opApply]))
	}
}

// TestRunFailsOnTerraformError: a failing Terraform command is an error (the benchmark then
// exits non-zero), a plan that reports changes (exit code 2) is not.
func TestRunFailsOnTerraformError(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "terraform")
	script := "#!/bin/sh\necho \"fake terraform $1\"\ncase \"$1\" in plan) exit 2;; *) exit 1;; esac\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &bencher{opts: options{parallelism: 10}, tmp: dir, terraform: fake}
	ws, err := b.newWorkspace("w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.run(nil, nil, b.applyArgs()...); err == nil {
		t.Error("a failing apply was not an error")
	}
	r, err := ws.run(nil, nil, b.planArgs()...)
	if err != nil || r.ExitCode != 2 {
		t.Errorf("plan with changes: %v, exit code %v", err, r)
	}
}

// TestSDKFloorSchema: the SDK floor's resource is the framework resource's schema, read at
// run time, attribute by attribute.
func TestSDKFloorSchema(t *testing.T) {
	ctx := context.Background()
	p, err := newSDKFloor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := frameworkSchemas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := p.ResourcesMap[apiKeyType]
	if res == nil {
		t.Fatalf("no %s in the SDK floor", apiKeyType)
	}
	if res.SchemaVersion != int(fw.resource.Version) {
		t.Errorf("schema version %d, want %d", res.SchemaVersion, fw.resource.Version)
	}
	// The SDK's own view of the schema, as it would send it to Terraform.
	core := res.CoreConfigSchema()
	if len(core.Attributes) != len(fw.resource.Block.Attributes) {
		t.Errorf("%d attributes in the SDK floor, %d in the provider", len(core.Attributes), len(fw.resource.Block.Attributes))
	}
	for _, a := range fw.resource.Block.Attributes {
		got := core.Attributes[a.Name]
		if got == nil {
			t.Errorf("attribute %s missing", a.Name)
			continue
		}
		if got.Required != a.Required || got.Optional != a.Optional || got.Computed != a.Computed ||
			got.Sensitive != a.Sensitive || got.WriteOnly != a.WriteOnly {
			t.Errorf("attribute %s: SDK %+v, framework %+v", a.Name, got, a)
		}
		if got.Type.FriendlyName() != friendlyName(a.Type) {
			t.Errorf("attribute %s: SDK type %s, framework %s", a.Name, got.Type.FriendlyName(), a.Type)
		}
	}
	if (fw.identity == nil) != (res.Identity == nil) {
		t.Errorf("identity: SDK %v, framework %v", res.Identity != nil, fw.identity != nil)
	}
	if fw.identity != nil {
		ids := res.Identity.SchemaFunc()
		for _, a := range fw.identity.IdentityAttributes {
			if s := ids[a.Name]; s == nil || s.RequiredForImport != a.RequiredForImport || s.OptionalForImport != a.OptionalForImport {
				t.Errorf("identity attribute %s: SDK %+v, framework %+v", a.Name, s, a)
			}
		}
	}
}

// TestSDKFloorTranslatesWhatIsComing: the attributes other branches add (an optional name, a
// write-only sensitive key with its version, an identity) translate and pass the SDK's own
// validation.
func TestSDKFloorTranslatesWhatIsComing(t *testing.T) {
	s := &tfprotov6.Schema{Version: 1, Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
		{Name: "id", Type: tftypes.String, Computed: true},
		{Name: "username", Type: tftypes.String, Required: true},
		{Name: "name", Type: tftypes.String, Optional: true, Computed: true},
		{Name: "key", Type: tftypes.String, Computed: true, Sensitive: true},
		{Name: "key_wo", Type: tftypes.String, Optional: true, Sensitive: true, WriteOnly: true},
		{Name: "key_wo_version", Type: tftypes.Number, Optional: true},
		{Name: "keepers", Type: tftypes.Map{ElementType: tftypes.String}, Optional: true},
	}}}
	id := &tfprotov6.ResourceIdentitySchema{Version: 0, IdentityAttributes: []*tfprotov6.ResourceIdentitySchemaAttribute{
		{Name: "id", Type: tftypes.String, RequiredForImport: true},
	}}
	res, err := sdkFloorResource(s, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &schema.Provider{ResourcesMap: map[string]*schema.Resource{apiKeyType: res}}
	if err := p.InternalValidate(); err != nil {
		t.Fatal(err)
	}
	core := res.CoreConfigSchema()
	if wo := core.Attributes["key_wo"]; wo == nil || !wo.WriteOnly || !wo.Sensitive {
		t.Errorf("key_wo: %+v", wo)
	}
	if res.Identity == nil || res.Identity.SchemaFunc()["id"] == nil || !res.Identity.SchemaFunc()["id"].RequiredForImport {
		t.Errorf("identity not translated: %+v", res.Identity)
	}
	if res.SchemaVersion != 1 {
		t.Errorf("schema version %d", res.SchemaVersion)
	}
	if _, _, err := sdkType(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"a": tftypes.String}}); err == nil {
		t.Error("an object type was translated")
	}
}

// The waiting SDK floor waits in Create, Read and Delete (at least as long as asked: a lower
// bound, which no scheduling can break) and gives up when Terraform cancels.
func TestSDKFloorWaits(t *testing.T) {
	s := &tfprotov6.Schema{Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
		{Name: "id", Type: tftypes.String, Computed: true},
		{Name: "username", Type: tftypes.String, Required: true},
	}}}
	const wait = 30 * time.Millisecond
	res, err := sdkFloorResource(s, nil, wait)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(context.Context, *schema.ResourceData, any) diag.Diagnostics{
		"create": res.CreateContext, "read": res.ReadContext, "delete": res.DeleteContext,
	}
	for name, op := range ops {
		d := res.TestResourceData()
		start := time.Now()
		if diags := op(context.Background(), d, nil); diags.HasError() {
			t.Fatalf("%s: %v", name, diags)
		}
		if took := time.Since(start); took < wait {
			t.Errorf("%s returned after %s, before the %s wait", name, took, wait)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if diags := op(ctx, res.TestResourceData(), nil); !diags.HasError() {
			t.Errorf("%s: no error when cancelled", name)
		}
	}
}

// friendlyName writes a primitive or collection type as cty's FriendlyName does.
func friendlyName(t tftypes.Type) string {
	switch c := t.(type) {
	case tftypes.List:
		return "list of " + friendlyName(c.ElementType)
	case tftypes.Set:
		return "set of " + friendlyName(c.ElementType)
	case tftypes.Map:
		return "map of " + friendlyName(c.ElementType)
	}
	switch {
	case t.Is(tftypes.String):
		return "string"
	case t.Is(tftypes.Number):
		return "number"
	case t.Is(tftypes.Bool):
		return "bool"
	}
	return t.String()
}

package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-sdk/v2/diag"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/hashicorp/terraform-plugin-sdk/v2/plugin"

	"github.com/sensu-community/terraform-provider-sensu/internal/provider"
)

// The SDK floor: this provider's own schemas served by terraform-plugin-sdk/v2 (protocol 5,
// as every SDK provider), with CRUD that makes no request. Next to the framework floor it
// tells what Terraform core does differently for a framework provider and an SDK provider
// with the same resource. Started by the launcher with envSDKProvider set.
//
// The schemas are not written out here: they are read at start from the framework provider
// itself (GetProviderSchema and GetResourceIdentitySchemas through terraform-plugin-go) and
// translated, attribute by attribute, so that the SDK floor always has exactly the
// resource's current schema: types, required/optional/computed, sensitive, write-only,
// schema version and identity. Only internal/bench may import the SDK (.golangci.yml).
const envSDKProvider = "SENSU_BENCH_SDK_PROVIDER"

// envSDKWait makes the SDK floor's Create, Read and Delete wait this long (a Go duration), as
// long as this provider waits for the one request each makes: Terraform core's threads then
// sleep and wake for every answer as they do for this provider, which a floor that answers at
// once spares them.
const envSDKWait = "SENSU_BENCH_SDK_WAIT"

const apiKeyType = "sensu_api_key"

func serveSDKProvider() error {
	quietLikeMain()
	p, err := newSDKFloor(context.Background())
	if err != nil {
		return err
	}
	// plugin.Serve as any SDK provider does (it routes the standard logger to hclog JSON).
	plugin.Serve(&plugin.ServeOpts{ProviderFunc: func() *schema.Provider { return p }, ProviderAddr: providerAddress})
	return nil
}

// newSDKFloor builds the SDK provider from the framework provider's schemas.
func newSDKFloor(ctx context.Context) (*schema.Provider, error) {
	fw, err := frameworkSchemas(ctx)
	if err != nil {
		return nil, err
	}
	providerSchema, err := sdkAttributes(fw.provider.Block)
	if err != nil {
		return nil, fmt.Errorf("provider schema: %w", err)
	}
	wait, err := time.ParseDuration(cmp.Or(os.Getenv(envSDKWait), "0s"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envSDKWait, err)
	}
	res, err := sdkFloorResource(fw.resource, fw.identity, wait)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", apiKeyType, err)
	}
	p := &schema.Provider{
		Schema:       providerSchema,
		ResourcesMap: map[string]*schema.Resource{apiKeyType: res},
	}
	if err := p.InternalValidate(); err != nil {
		return nil, fmt.Errorf("the SDK rejects the translated schema: %w", err)
	}
	return p, nil
}

type fwSchemas struct {
	provider, resource *tfprotov6.Schema
	identity           *tfprotov6.ResourceIdentitySchema // nil: no identity
}

// frameworkSchemas asks the real provider's protocol server for its schemas, as Terraform does.
func frameworkSchemas(ctx context.Context) (*fwSchemas, error) {
	srv := provider.NewProtocol6Server("bench")()
	resp, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return nil, err
	}
	if err := diagError(resp.Diagnostics); err != nil {
		return nil, err
	}
	out := &fwSchemas{provider: resp.Provider, resource: resp.ResourceSchemas[apiKeyType]}
	if out.provider == nil || out.resource == nil {
		return nil, fmt.Errorf("the provider serves no schema for itself or for %s", apiKeyType)
	}
	ids, err := srv.GetResourceIdentitySchemas(ctx, &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		return nil, err
	}
	if err := diagError(ids.Diagnostics); err != nil {
		return nil, err
	}
	out.identity = ids.IdentitySchemas[apiKeyType]
	return out, nil
}

func diagError(diags []*tfprotov6.Diagnostic) error {
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return fmt.Errorf("%s: %s", d.Summary, d.Detail)
		}
	}
	return nil
}

// sdkFloorResource is the resource with CRUD that makes no request: computed attributes get
// the same values as in the framework floor (floorvalues.go), identity attributes the state
// attribute of the same name. Create, Read and Delete wait for wait first, where Sensu would answer.
func sdkFloorResource(s *tfprotov6.Schema, identity *tfprotov6.ResourceIdentitySchema, wait time.Duration) (*schema.Resource, error) {
	attrs, err := sdkAttributes(s.Block)
	if err != nil {
		return nil, err
	}
	var identityNames []string
	if identity != nil {
		for _, a := range identity.IdentityAttributes {
			identityNames = append(identityNames, a.Name)
		}
	}
	r := &schema.Resource{
		Schema:        attrs,
		SchemaVersion: int(s.Version),
		CreateContext: func(ctx context.Context, d *schema.ResourceData, _ any) diag.Diagnostics {
			if err := sleep(ctx, wait); err != nil {
				return diag.FromErr(err)
			}
			for _, name := range sortedKeys(attrs) {
				a := attrs[name]
				if !a.Computed || (a.Optional && !d.GetRawConfig().GetAttr(name).IsNull()) {
					continue
				}
				if name == "id" {
					d.SetId(floorString(name))
					continue
				}
				if v := sdkFloorValue(name, a.Type); v != nil {
					if err := d.Set(name, v); err != nil {
						return diag.FromErr(err)
					}
				}
			}
			if d.Id() == "" {
				d.SetId(floorString("id"))
			}
			return setSDKIdentity(d, identityNames)
		},
		ReadContext: func(ctx context.Context, d *schema.ResourceData, _ any) diag.Diagnostics {
			if err := sleep(ctx, wait); err != nil {
				return diag.FromErr(err)
			}
			return setSDKIdentity(d, identityNames)
		},
		UpdateContext: func(context.Context, *schema.ResourceData, any) diag.Diagnostics { return nil },
		DeleteContext: func(ctx context.Context, _ *schema.ResourceData, _ any) diag.Diagnostics {
			return diag.FromErr(sleep(ctx, wait))
		},
	}
	if identity != nil {
		ids := map[string]*schema.Schema{}
		for _, a := range identity.IdentityAttributes {
			t, elem, err := sdkType(a.Type)
			if err != nil {
				return nil, fmt.Errorf("identity attribute %s: %w", a.Name, err)
			}
			ids[a.Name] = &schema.Schema{Type: t, Elem: elem, RequiredForImport: a.RequiredForImport,
				OptionalForImport: a.OptionalForImport, Description: a.Description}
		}
		r.Identity = &schema.ResourceIdentity{Version: identity.Version, SchemaFunc: func() map[string]*schema.Schema { return ids }}
	}
	return r, nil
}

// sleep waits for d, or until ctx ends; 0 returns at once.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func setSDKIdentity(d *schema.ResourceData, names []string) diag.Diagnostics {
	if len(names) == 0 {
		return nil
	}
	identity, err := d.Identity()
	if err != nil {
		return diag.FromErr(err)
	}
	for _, name := range names {
		v := d.Get(name)
		if name == "id" {
			v = d.Id()
		}
		if err := identity.Set(name, v); err != nil {
			return diag.FromErr(err)
		}
	}
	return nil
}

// sdkFloorValue is floorValue for an SDK type; nil leaves the attribute unset.
func sdkFloorValue(name string, t schema.ValueType) any {
	switch t {
	case schema.TypeString:
		return floorString(name)
	case schema.TypeFloat:
		return 0.0
	case schema.TypeBool:
		return false
	default:
		return nil
	}
}

// sdkAttributes translates a protocol 6 schema block into SDK schemas. Nested attributes
// (protocol 6 only) have no SDK equivalent and are refused: the translation would not be
// "exactly our schema" any more.
func sdkAttributes(b *tfprotov6.SchemaBlock) (map[string]*schema.Schema, error) {
	out := map[string]*schema.Schema{}
	for _, a := range b.Attributes {
		if a.NestedType != nil {
			return nil, fmt.Errorf("attribute %s is a nested attribute, which terraform-plugin-sdk/v2 cannot express", a.Name)
		}
		t, elem, err := sdkType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", a.Name, err)
		}
		s := &schema.Schema{
			Type: t, Elem: elem, Description: a.Description,
			Required: a.Required, Optional: a.Optional, Computed: a.Computed,
			Sensitive: a.Sensitive, WriteOnly: a.WriteOnly,
		}
		if a.Deprecated {
			s.Deprecated = "deprecated"
			if a.DeprecationMessage != "" {
				s.Deprecated = a.DeprecationMessage
			}
		}
		out[a.Name] = s
	}
	for _, nb := range b.BlockTypes {
		inner, err := sdkAttributes(nb.Block)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", nb.TypeName, err)
		}
		s := &schema.Schema{Elem: &schema.Resource{Schema: inner}, Optional: nb.MinItems == 0, Required: nb.MinItems > 0,
			MinItems: int(nb.MinItems), MaxItems: int(nb.MaxItems)}
		switch nb.Nesting {
		case tfprotov6.SchemaNestedBlockNestingModeList:
			s.Type = schema.TypeList
		case tfprotov6.SchemaNestedBlockNestingModeSet:
			s.Type = schema.TypeSet
		case tfprotov6.SchemaNestedBlockNestingModeSingle:
			s.Type, s.MaxItems = schema.TypeList, 1 // the SDK's way to write a single block
		default:
			return nil, fmt.Errorf("block %s: nesting mode %v has no SDK equivalent", nb.TypeName, nb.Nesting)
		}
		out[nb.TypeName] = s
	}
	return out, nil
}

// sdkType is the SDK type of a primitive or a collection of primitives. Numbers become
// TypeFloat: the framework's number and int64 are both a number on the wire.
func sdkType(t tftypes.Type) (schema.ValueType, any, error) {
	switch {
	case t.Is(tftypes.String):
		return schema.TypeString, nil, nil
	case t.Is(tftypes.Number):
		return schema.TypeFloat, nil, nil
	case t.Is(tftypes.Bool):
		return schema.TypeBool, nil, nil
	}
	var collection schema.ValueType
	var elemType tftypes.Type
	switch c := t.(type) {
	case tftypes.List:
		collection, elemType = schema.TypeList, c.ElementType
	case tftypes.Set:
		collection, elemType = schema.TypeSet, c.ElementType
	case tftypes.Map:
		collection, elemType = schema.TypeMap, c.ElementType
	default:
		return 0, nil, fmt.Errorf("type %s has no SDK equivalent here", t)
	}
	et, _, err := sdkType(elemType)
	if err != nil || et == schema.TypeList || et == schema.TypeSet || et == schema.TypeMap {
		return 0, nil, fmt.Errorf("type %s: only collections of primitives are translated", t)
	}
	return collection, &schema.Schema{Type: et}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

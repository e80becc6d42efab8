package provider

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// NewProtocol6Server returns the provider's protocol 6 server: the framework's, with each
// per-resource RPC given a context that lets go of the RPC's own once it returns.
//
// terraform-plugin-framework (v1.19) keeps a cancel function for every RPC's context until
// StopProvider, and with it the whole context chain: terraform-plugin-go's loggers and
// request fields, 11-14 KiB per RPC. Terraform makes about four RPCs per resource per walk,
// so at 1000 keys a provider process held over 30 MB of dead contexts and peaked near
// 180 MiB of RSS; with the contexts detached it stays near 40 MiB (see BENCHMARKS.md).
func NewProtocol6Server(version string) func() tfprotov6.ProviderServer {
	return func() tfprotov6.ProviderServer {
		return &detachingServer{ProviderServer: providerserver.NewProtocol6(New(version)())()}
	}
}

// detachingServer wraps the calls Terraform makes per resource (TestDetachingServerWrapsEveryResourceRPC
// keeps the list complete); the others (schema, configuration, stop, functions, which this
// provider has none of) happen a few times per process and pass straight through, except that
// the schema and metadata answers withdraw the PlanDestroy capability (see withoutPlanDestroy).
//
// The list resource RPCs are not (yet) part of tfprotov6.ProviderServer but of the optional
// tfprotov6.ListResourceServer, which tf6server looks for on this type: the embedded field
// alone would hide them, and `terraform query` would be told they are not implemented.
type detachingServer struct {
	tfprotov6.ProviderServer
}

var _ tfprotov6.ProviderServerWithListResource = (*detachingServer)(nil) //nolint:staticcheck // the interface tf6server asserts

func (s *detachingServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	resp, err := s.ProviderServer.GetProviderSchema(ctx, req)
	if resp != nil {
		withoutPlanDestroy(resp.ServerCapabilities)
	}
	return resp, err
}

func (s *detachingServer) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	resp, err := s.ProviderServer.GetMetadata(ctx, req)
	if resp != nil {
		withoutPlanDestroy(resp.ServerCapabilities)
	}
	return resp, err
}

// withoutPlanDestroy withdraws the capability the framework always announces, by which
// Terraform calls PlanResourceChange once more per resource on every destroy so that a
// resource's ModifyPlan may see it. No resource here does anything in ModifyPlan on a destroy
// (TestNoPlanDestroy calls each as for one), so that call only cost an RPC per key: Terraform
// plans the destroy itself, as for any SDK provider (measured in BENCHMARKS.md, section 8).
func withoutPlanDestroy(c *tfprotov6.ServerCapabilities) {
	if c != nil {
		c.PlanDestroy = false
	}
}

func (s *detachingServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return detached(ctx, req, s.ProviderServer.ValidateResourceConfig)
}

func (s *detachingServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	return detached(ctx, req, s.ProviderServer.UpgradeResourceState)
}

func (s *detachingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return detached(ctx, req, s.ProviderServer.ReadResource)
}

func (s *detachingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	return detached(ctx, req, s.ProviderServer.PlanResourceChange)
}

func (s *detachingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return detached(ctx, req, s.ProviderServer.ApplyResourceChange)
}

func (s *detachingServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return detached(ctx, req, s.ProviderServer.ImportResourceState)
}

func (s *detachingServer) MoveResourceState(ctx context.Context, req *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	return detached(ctx, req, s.ProviderServer.MoveResourceState)
}

func (s *detachingServer) UpgradeResourceIdentity(ctx context.Context, req *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	return detached(ctx, req, s.ProviderServer.UpgradeResourceIdentity)
}

func (s *detachingServer) GenerateResourceConfig(ctx context.Context, req *tfprotov6.GenerateResourceConfigRequest) (*tfprotov6.GenerateResourceConfigResponse, error) {
	return detached(ctx, req, s.ProviderServer.GenerateResourceConfig)
}

func (s *detachingServer) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return detached(ctx, req, s.ProviderServer.ValidateDataResourceConfig)
}

func (s *detachingServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return detached(ctx, req, s.ProviderServer.ReadDataSource)
}

func (s *detachingServer) ValidateEphemeralResourceConfig(ctx context.Context, req *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	return detached(ctx, req, s.ProviderServer.ValidateEphemeralResourceConfig)
}

func (s *detachingServer) OpenEphemeralResource(ctx context.Context, req *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	return detached(ctx, req, s.ProviderServer.OpenEphemeralResource)
}

func (s *detachingServer) RenewEphemeralResource(ctx context.Context, req *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	return detached(ctx, req, s.ProviderServer.RenewEphemeralResource)
}

func (s *detachingServer) CloseEphemeralResource(ctx context.Context, req *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	return detached(ctx, req, s.ProviderServer.CloseEphemeralResource)
}

func (s *detachingServer) ValidateListResourceConfig(ctx context.Context, req *tfprotov6.ValidateListResourceConfigRequest) (*tfprotov6.ValidateListResourceConfigResponse, error) {
	lister, err := s.lister()
	if err != nil {
		return nil, err
	}
	return detached(ctx, req, lister.ValidateListResourceConfig)
}

// ListResource returns a stream whose results tf6server pulls after this call has returned:
// the context stays attached until the stream is drained, or its consumer stops early.
func (s *detachingServer) ListResource(ctx context.Context, req *tfprotov6.ListResourceRequest) (*tfprotov6.ListResourceServerStream, error) {
	lister, err := s.lister()
	if err != nil {
		return nil, err
	}
	d := newDetachableContext(ctx)
	stream, err := lister.ListResource(d, req)
	if err != nil || stream == nil || stream.Results == nil {
		d.detach()
		return stream, err
	}
	results := stream.Results
	stream.Results = func(push func(tfprotov6.ListResourceResult) bool) {
		defer d.detach()
		results(push)
	}
	return stream, nil
}

var errNoListResources = errors.New("the provider server does not implement list resources")

func (s *detachingServer) lister() (tfprotov6.ListResourceServer, error) {
	lister, ok := s.ProviderServer.(tfprotov6.ListResourceServer)
	if !ok {
		return nil, errNoListResources
	}
	return lister, nil
}

// detached calls rpc with a context that delegates to ctx until rpc returns, then to an
// empty one, so whatever the callee keeps of it no longer pins ctx.
func detached[Req, Resp any](ctx context.Context, req Req, rpc func(context.Context, Req) (Resp, error)) (Resp, error) {
	d := newDetachableContext(ctx)
	defer d.detach()
	return rpc(d, req)
}

func newDetachableContext(parent context.Context) *detachableContext {
	d := &detachableContext{}
	d.parent.Store(&parent)
	return d
}

type detachableContext struct {
	parent atomic.Pointer[context.Context]
}

func (d *detachableContext) ctx() context.Context        { return *d.parent.Load() }
func (d *detachableContext) Deadline() (time.Time, bool) { return d.ctx().Deadline() }
func (d *detachableContext) Done() <-chan struct{}       { return d.ctx().Done() }
func (d *detachableContext) Err() error                  { return d.ctx().Err() }
func (d *detachableContext) Value(key any) any           { return d.ctx().Value(key) }

func (d *detachableContext) detach() {
	empty := context.Background()
	d.parent.Store(&empty)
}

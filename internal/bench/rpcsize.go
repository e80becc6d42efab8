package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5/tf5server"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sensu-community/terraform-provider-sensu/internal/provider"
)

// Message sizes per RPC. With envRPCDir set, the serving modes of this program (the two
// floors, and this provider's own protocol server served in-process with what main.go does
// before serving) run under go-plugin with a gRPC interceptor that records, per RPC, the
// calls and the protobuf size of requests and responses as Terraform sends and receives
// them, and a few fields of each: the bytes of every DynamicValue and of private state, the
// booleans set (legacy_type_system, server capabilities), the lengths of repeated fields.
// Each process writes <dir>/<pid>.rpc.json when Terraform shuts it down. These runs are
// separate from the timed ones: the interceptor costs CPU.
const (
	envRPCDir        = "SENSU_BENCH_RPC_DIR"
	envOursInProcess = "SENSU_BENCH_OURS_IN_PROCESS"
	rpcSuffix        = ".rpc.json"
	tfPluginCookie   = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
)

// rpcStat is what one kind of RPC carried in one provider process.
type rpcStat struct {
	Calls     int64            `json:"calls"`
	ReqBytes  int64            `json:"req_bytes"`
	RespBytes int64            `json:"resp_bytes"`
	Fields    map[string]int64 `json:"fields"` // "resp.planned_private" → bytes summed over calls, …
}

type rpcRecorder struct {
	mu    sync.Mutex
	stats map[string]*rpcStat
}

func (r *rpcRecorder) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	name := path.Base(info.FullMethod)
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats[name]
	if st == nil {
		st = &rpcStat{Fields: map[string]int64{}}
		r.stats[name] = st
	}
	st.Calls++
	if m, ok := req.(proto.Message); ok {
		st.ReqBytes += int64(proto.Size(m))
		messageFields("req.", m.ProtoReflect(), st.Fields)
	}
	if m, ok := resp.(proto.Message); ok && err == nil {
		st.RespBytes += int64(proto.Size(m))
		messageFields("resp.", m.ProtoReflect(), st.Fields)
	}
	return resp, err
}

// messageFields adds up the top-level fields of m worth comparing between plugin libraries.
func messageFields(prefix string, m protoreflect.Message, into map[string]int64) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		key := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			into[key+" (items)"] += int64(v.List().Len())
		case fd.IsMap():
		case fd.Kind() == protoreflect.BytesKind:
			into[key] += int64(len(v.Bytes()))
		case fd.Kind() == protoreflect.BoolKind:
			if v.Bool() {
				into[key]++
			}
		case fd.Kind() == protoreflect.MessageKind && fd.Message().Name() == "DynamicValue":
			into[key] += int64(proto.Size(v.Message().Interface()))
		case fd.Kind() == protoreflect.MessageKind && strings.HasSuffix(string(fd.Name()), "capabilities"):
			messageFields(key+".", v.Message(), into)
		}
		return true
	})
}

func (r *rpcRecorder) write(dir string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := json.Marshal(r.stats)
	if err != nil {
		return
	}
	tmp := filepath.Join(dir, fmt.Sprint(os.Getpid())+".tmp")
	if os.WriteFile(tmp, data, 0o600) == nil {
		_ = os.Rename(tmp, filepath.Join(dir, fmt.Sprint(os.Getpid())+rpcSuffix))
	}
}

// serveRecorded serves p (a tf5server or tf6server GRPCProviderPlugin) as tf5server.Serve and
// tf6server.Serve do, with the recorder in the gRPC server.
func serveRecorded(protocol uint, p plugin.Plugin, dir string) {
	rec := &rpcRecorder{stats: map[string]*rpcStat{}}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{ProtocolVersion: protocol, MagicCookieKey: "TF_PLUGIN_MAGIC_COOKIE", MagicCookieValue: tfPluginCookie},
		Plugins:         plugin.PluginSet{"provider": p},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(256<<20), grpc.MaxSendMsgSize(256<<20), grpc.ChainUnaryInterceptor(rec.unary))
			return grpc.NewServer(opts...)
		},
	})
	rec.write(dir)
}

// serveForRPCSizes serves the subject the environment names, recording its RPCs in dir.
func serveForRPCSizes(dir string) error {
	quietLikeMain()
	switch {
	case os.Getenv(envSDKProvider) != "":
		p, err := newSDKFloor(context.Background())
		if err != nil {
			return err
		}
		serveRecorded(5, &tf5server.GRPCProviderPlugin{Name: providerAddress,
			GRPCProvider: func() tfprotov5.ProviderServer { return schema.NewGRPCProviderServer(p) }}, dir)
	case os.Getenv(envNullProvider) != "":
		serveRecorded(6, &tf6server.GRPCProviderPlugin{Name: providerAddress, GRPCProvider: providerserver.NewProtocol6(newNullProvider())}, dir)
	case os.Getenv(envOursInProcess) != "":
		serveRecorded(6, &tf6server.GRPCProviderPlugin{Name: providerAddress,
			GRPCProvider: func() tfprotov6.ProviderServer { return provider.NewProtocol6Server("bench")() }}, dir)
	default:
		return fmt.Errorf("%s is set, but not which provider to serve", envRPCDir)
	}
	return nil
}

// readRPCStats adds up the records of every provider process of a command.
func readRPCStats(dir string) (map[string]*rpcStat, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*"+rpcSuffix))
	out := map[string]*rpcStat{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var one map[string]*rpcStat
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for name, s := range one {
			t := out[name]
			if t == nil {
				t = &rpcStat{Fields: map[string]int64{}}
				out[name] = t
			}
			t.Calls += s.Calls
			t.ReqBytes += s.ReqBytes
			t.RespBytes += s.RespBytes
			for k, v := range s.Fields {
				t.Fields[k] += v
			}
		}
	}
	return out, nil
}

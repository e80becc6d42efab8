package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// rpcSubjects are the subjects whose RPCs are recorded: the two floors and this provider on
// the first generation, served in-process by this program (rpcsize.go).
func (b *bencher) rpcSubjects() []string {
	return []string{subjSDK, subjFloor, subjOurs(b.opts.generations[0])}
}

// runRPCSizes runs one lifecycle of N keys per subject with the RPC recorder on (not timed).
func (b *bencher) runRPCSizes(n int) error {
	b.rpcN = n
	b.rpc = map[string][numOps]map[string]*rpcStat{}
	g := b.opts.generations[0]
	s := b.servers[g]
	for _, name := range b.rpcSubjects() {
		progress("N=%d: message sizes per RPC, %s", n, name)
		dir := filepath.Join(b.tmp, "rpc")
		mode := envNullProvider
		var srv *sensutest.Server
		switch name {
		case subjSDK:
			mode = envSDKProvider
		case subjFloor:
		default:
			mode, srv = envOursInProcess, s
		}
		ws, err := b.newWorkspace("rpc-" + strings.NewReplacer(" ", "-", ",", "", ".", "").Replace(name))
		if err != nil {
			return err
		}
		if err := ws.write(sensuConfig(s.URL(), passwordAuth(sensutest.AdminUsername, sensutest.AdminPassword), n)); err != nil {
			return err
		}
		env := []string{envWrapReal + "=" + b.self, envChildEnv + "=" + mode + "=1;" + envRPCDir + "=" + dir}
		var per [numOps]map[string]*rpcStat
		for op := range numOps {
			_ = os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			r, err := b.step(ws, srv, n, op, env)
			if err != nil {
				return err
			}
			if per[op], err = readRPCStats(dir); err != nil {
				return err
			}
			if len(per[op]) == 0 {
				return fmt.Errorf("%s: no RPC record from %d provider processes", name, len(r.Procs))
			}
			if op == opApply {
				b.rpcState[name] = r.StateBytes
				if err := b.breakDownState(name, ws); err != nil {
					return err
				}
			}
		}
		b.rpc[name] = per
	}
	// terraform_data's entry, for comparison.
	ws, err := b.newWorkspace("rpc-terraform_data")
	if err != nil {
		return err
	}
	if err := ws.write(dataConfig(n)); err != nil {
		return err
	}
	r, err := b.step(ws, nil, n, opApply, nil)
	if err != nil {
		return err
	}
	b.rpcState[subjData] = r.StateBytes
	if err := b.breakDownState(subjData, ws); err != nil {
		return err
	}
	_, err = b.step(ws, nil, n, opDestroy, nil)
	return err
}

// breakDownState records the bytes of one instance of the state in ws, by field.
func (b *bencher) breakDownState(name string, ws *workspace) error {
	fields, total, err := instanceBytes(filepath.Join(ws.dir, "terraform.tfstate"), 1)
	if err != nil {
		return err
	}
	b.instance[name] = instanceBreakdown{fields, total}
	return nil
}

type instanceBreakdown struct {
	Fields []fieldBytes
	Total  int
}

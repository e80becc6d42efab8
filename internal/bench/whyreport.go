package main

import (
	"fmt"
	"sort"
	"strings"
)

// whySection is the evidence: what the floors and this provider send Terraform per RPC, and
// what one instance weighs in the state file.
func (b *bencher) whySection() string {
	var m md
	if len(b.rpc) == 0 {
		return ""
	}
	n := b.rpcN
	subjects := b.rpcSubjects()
	m.p("## 9. What differs per key: RPC messages and the state entry")
	m.p("")
	m.p("One more lifecycle of N = %d keys per subject, local state, not timed: the floors and this provider (%s) are", n, genName(b.opts.generations[0]))
	m.p("served by this program under go-plugin with a gRPC interceptor (`internal/bench/rpcsize.go`) that records")
	m.p("each RPC's protobuf size as sent over the wire, and some of its fields. Figures are per key, over apply, the")
	m.p("no-change plan and destroy together (the schema and configuration RPCs are per process, divided by N too).")
	m.p("")

	// Calls and bytes per RPC.
	methods := map[string]bool{}
	for _, s := range subjects {
		for op := range numOps {
			for name := range b.rpc[s][op] {
				methods[name] = true
			}
		}
	}
	var names []string
	for k := range methods {
		names = append(names, k)
	}
	sort.Strings(names)
	header := []string{"RPC"}
	for _, s := range subjects {
		header = append(header, s+": calls/key", "request B/call", "response B/call")
	}
	var rows [][]string
	totals := make([]int64, len(subjects))
	for _, name := range names {
		row := []string{name}
		for i, s := range subjects {
			var calls, req, resp int64
			for op := range numOps {
				if st := b.rpc[s][op][name]; st != nil {
					calls, req, resp = calls+st.Calls, req+st.ReqBytes, resp+st.RespBytes
				}
			}
			totals[i] += req + resp
			if calls == 0 {
				row = append(row, "—", "", "")
				continue
			}
			row = append(row, fmt.Sprintf("%.2f", float64(calls)/float64(n)), fmt.Sprint(req/calls), fmt.Sprint(resp/calls))
		}
		rows = append(rows, row)
	}
	total := []string{"**all RPCs, bytes per key**"}
	for i := range subjects {
		total = append(total, fmt.Sprintf("**%.0f**", float64(totals[i])/float64(n)), "", "")
	}
	rows = append(rows, total)
	m.table(header, rows)

	// Fields that differ.
	fields := map[string]bool{}
	for _, s := range subjects {
		for op := range numOps {
			for name, st := range b.rpc[s][op] {
				for f := range st.Fields {
					fields[name+" "+f] = true
				}
			}
		}
	}
	var flist []string
	for f := range fields {
		flist = append(flist, f)
	}
	sort.Strings(flist)
	var frows [][]string
	for _, f := range flist {
		rpcName, field, _ := strings.Cut(f, " ")
		row := []string{"`" + rpcName + "` " + "`" + field + "`"}
		same := true
		var first string
		for i, s := range subjects {
			var v int64
			for op := range numOps {
				if st := b.rpc[s][op][rpcName]; st != nil {
					v += st.Fields[field]
				}
			}
			cell := fmt.Sprint(v)
			if i == 0 {
				first = cell
			} else if cell != first {
				same = false
			}
			row = append(row, cell)
		}
		if !same {
			frows = append(frows, row)
		}
	}
	m.p("**Fields that differ** between the subjects, summed over the lifecycle of %d keys: bytes for a DynamicValue", n)
	m.p("or private state, the number of calls where a boolean is true, the number of items of a repeated field (the")
	m.p("fields that are the same everywhere are left out):")
	m.p("")
	m.table(append([]string{"RPC and field"}, subjects...), frows)

	// The state entry.
	all := append([]string{subjData}, subjects...)
	byField := map[string][]string{}
	var order []string
	for i, s := range all {
		for _, f := range b.instance[s].Fields {
			if byField[f.Field] == nil {
				byField[f.Field] = make([]string, len(all))
				order = append(order, f.Field)
			}
			byField[f.Field][i] = fmt.Sprint(f.Bytes)
		}
	}
	var srows [][]string
	for _, f := range order {
		srows = append(srows, append([]string{"`" + f + "`"}, byField[f]...))
	}
	tot := []string{"**one instance (computed)**"}
	file := []string{fmt.Sprintf("terraform.tfstate ÷ N, N = %d", n)}
	for _, s := range all {
		tot = append(tot, fmt.Sprintf("**%d**", b.instance[s].Total))
		file = append(file, fmt.Sprintf("%.0f", float64(b.rpcState[s])/float64(n)))
	}
	srows = append(srows, tot, file)
	m.p("**The state entry**: the bytes one instance adds to `terraform.tfstate`, by field, as Terraform writes it")
	m.p("(indented JSON: the fields of an instance are indented by 10 spaces, its attributes by 12), and the file's")
	m.p("size ÷ N. Every one of these bytes is serialised N times with local state (section 10).")
	m.p("")
	m.table(append([]string{"Field"}, all...), srows)
	return m.String()
}

package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Targets of the comparison with the SDK floor (issue 13).
const (
	targetCoreVsSDK = 1.1 // Terraform core's CPU per key, ours ÷ SDK floor, at the largest N
	targetWallVsSDK = 1.1 // wall time, ours ÷ (SDK floor + ideal I/O), at the largest N
)

// coreSubjects are the subjects of runN in the order the tables show them.
func (b *bencher) coreSubjects() []string {
	list := []string{subjData, subjSDK, subjSDKWait, subjFloor}
	for _, g := range b.opts.generations {
		list = append(list, subjOurs(g))
	}
	return list
}

func (b *bencher) coreSection(targets *[]target) string {
	var m md
	maxN := b.maxN()
	m.p("## 8. Terraform core's CPU: this provider, the framework floor and the SDK floor")
	m.p("")
	m.p("The same N keys, with local state and with remote state (`backend \"pg\"`), for these subjects run interleaved")
	m.p("(every apply, then every plan, then every destroy): built-in `terraform_data`; the **SDK floor**, this")
	m.p("provider's own schemas served by terraform-plugin-sdk/v2 over protocol 5 with CRUD that makes no request")
	m.p("(`internal/bench/sdkprovider.go`: the schemas are read from the framework provider when it starts, so they")
	m.p("are always exactly ours); the **SDK floor, waiting**, the same with a %s wait in Create, Read and Delete,", b.opts.latency)
	m.p("where this provider makes its one request and the in-memory Sensu API answers after the same %s;", b.opts.latency)
	m.p("the **framework floor**, the same as the SDK floor with terraform-plugin-framework over protocol 6")
	m.p("(`internal/bench/nullprovider.go`); and this provider on each generation. The floors store the same values")
	m.p("as ours (a 64-hex `id`, a UUID-shaped `key`).")
	m.p("")
	m.p("**Terraform core's CPU** is the `terraform` command's user + system CPU (its rusage includes every child it")
	m.p("waited for) less the provider processes' (each one's `wait4` rusage, recorded by the launcher) and the")
	m.p("launchers' own. **Provider CPU** is the sum over the command's provider processes. The PostgreSQL server's")
	m.p("CPU is in neither. Ratios are to the SDK floor measured in the same run, seconds apart. Where a command ran")
	m.p("more than once (local state at N ≤ 200 and at the largest N, and every plan; pg state three times), each figure is the median of its")
	m.p("runs.")
	m.p("")
	if b.pg == nil && b.opts.remoteState {
		m.p("> Remote state was **not measured**: %s", b.pgSkipped)
		m.p("")
	}
	for _, backend := range b.backends() {
		var rows [][]string
		for _, n := range b.opts.ns {
			sdk := b.core[coreKey{backend, subjSDK, n}]
			if sdk == nil {
				continue
			}
			for _, o := range ops {
				sc := medianOf(sdk.runs[o.idx], (*tfRun).coreCPU)
				row := []string{fmt.Sprint(n), o.name}
				for _, s := range b.coreSubjects() {
					row = append(row, secs(medianOf(b.core[coreKey{backend, s, n}].runs[o.idx], (*tfRun).coreCPU)))
				}
				row = append(row, fmt.Sprintf("%.2f", msPerKey(sc, n)))
				for _, s := range b.coreSubjects()[2:] {
					rc := medianOf(b.core[coreKey{backend, s, n}].runs[o.idx], (*tfRun).coreCPU)
					x := rc.Seconds() / sc.Seconds()
					cell := ratio(x)
					if b.isOurs(s) {
						cell = "**" + cell + "**"
					}
					row = append(row, cell)
					if n == maxN && b.isOurs(s) {
						*targets = append(*targets, target{
							fmt.Sprintf("Terraform core's CPU per key ≤ %.1f× the SDK floor's at N = %d, %s state, %s, %s", targetCoreVsSDK, maxN, backend, s, o.name),
							ratio(x) + fmt.Sprintf(" (%.2f vs %.2f ms/key%s)", msPerKey(rc, n), msPerKey(sc, n), runsNote(sdk.runs[o.idx])), x <= targetCoreVsSDK})
					}
				}
				rows = append(rows, row)
			}
		}
		m.p("**Terraform core's CPU, %s state** (seconds; then the SDK floor's per key, and each subject ÷ the SDK floor):", backend)
		m.p("")
		header := append([]string{"N", "Command"}, b.coreSubjects()...)
		header = append(header, "SDK floor ms/key")
		for _, s := range b.coreSubjects()[2:] {
			header = append(header, s+" ÷ SDK")
		}
		m.table(header, rows)

		// The provider processes' CPU, and wall times against the SDK floor plus the ideal I/O.
		var prow, wrow [][]string
		for _, n := range b.opts.ns {
			sdk := b.core[coreKey{backend, subjSDK, n}]
			if sdk == nil {
				continue
			}
			for _, o := range ops {
				row := []string{fmt.Sprint(n), o.name}
				for _, s := range b.coreSubjects()[1:] {
					lc := b.core[coreKey{backend, s, n}]
					r := o.get(lc)
					row = append(row, secs(medianOf(lc.runs[o.idx], (*tfRun).providerCPU))+fmt.Sprintf(" (%d, %s)", len(r.Procs), bytesIEC(r.stderrBytes())))
				}
				prow = append(prow, row)

				sr := o.get(sdk)
				ideal := b.idealIO(o, n)
				w := []string{fmt.Sprint(n), o.name, secs(o.get(b.core[coreKey{backend, subjData, n}]).Wall), secs(sr.Wall),
					secs(o.get(b.core[coreKey{backend, subjFloor, n}]).Wall), secs(ideal)}
				for _, g := range b.opts.generations {
					r := o.get(b.core[coreKey{backend, subjOurs(g), n}])
					x := r.Wall.Seconds() / (sr.Wall + ideal).Seconds()
					w = append(w, secs(r.Wall), secs(r.providerCPU()-sr.providerCPU()), secs(r.BenchCPU), "**"+ratio(x)+"**")
					if n == maxN && o.idx != opPlan {
						*targets = append(*targets, target{
							fmt.Sprintf("Wall time ≤ %.1f× (SDK floor + ideal I/O) at N = %d, %s state, %s, %s", targetWallVsSDK, maxN, backend, genName(g), o.name),
							ratio(x) + fmt.Sprintf(" (%s vs %s + %s%s)", secs(r.Wall), secs(sr.Wall), secs(ideal), runsNote(sdk.runs[o.idx])), x <= targetWallVsSDK})
					}
				}
				wrow = append(wrow, w)
			}
		}
		m.p("**Provider processes' CPU, %s state** (seconds; the number of processes and the bytes they wrote to stderr,", backend)
		m.p("which Terraform reads and decodes line by line):")
		m.p("")
		m.table(append([]string{"N", "Command"}, b.coreSubjects()[1:]...), prow)

		m.p("**Wall time, %s state.** *ideal I/O* is the operation's key requests × latency ÷ parallelism (N for apply and", backend)
		m.p("plan, 2N for destroy), which the floors do not make: **ratio = ours ÷ (SDK floor + ideal I/O)**. The ideal I/O")
		m.p("counts only the waits: on %s CPUs shared by Terraform, the provider and the in-memory Sensu API, the CPU that doing", b.machine.nproc)
		m.p("the I/O costs is not in it, and is shown beside each run: the provider's CPU beyond the SDK floor's (the Sensu")
		m.p("client; the bcrypt hash of every 7.x grant), and the API server's (this program's CPU during the command).")
		m.p("")
		wh := []string{"N", "Command", subjData, subjSDK, subjFloor, "ideal I/O"}
		for _, g := range b.opts.generations {
			wh = append(wh, subjOurs(g), "provider CPU beyond the SDK floor's", "API server CPU", "ratio")
		}
		m.table(wh, wrow)
		m.p("%s", b.waitingFloorTable(backend))
	}

	// Every run of this provider in the comparison makes 1 request per key per operation,
	// whatever the state backend.
	var bad []string
	for _, backend := range b.backends() {
		for _, n := range b.opts.ns {
			for _, g := range b.opts.generations {
				lc := b.core[coreKey{backend, subjOurs(g), n}]
				if lc == nil {
					continue
				}
				for _, o := range ops {
					for _, r := range lc.runs[o.idx] {
						if r.keyRequests() != o.keyReqs*n {
							bad = append(bad, fmt.Sprintf("%s N=%d %s %s: %d", backend, n, genName(g), o.name, r.keyRequests()))
						}
					}
				}
			}
		}
	}
	*targets = append(*targets, target{"1 key request per key per operation (destroy: refresh read + revoke), every run of section 8, local and pg state",
		everyRun(bad), len(bad) == 0})
	return m.String()
}

// isOurs tells this provider's subjects from the floors and terraform_data.
func (b *bencher) isOurs(subject string) bool {
	return slices.ContainsFunc(b.opts.generations, func(g int) bool { return subjOurs(g) == subject })
}

// waitingFloorTable compares this provider with the SDK floor that waits as long as it does for
// the API: Terraform core's CPU and the wall time, each ours ÷ the waiting floor.
func (b *bencher) waitingFloorTable(backend string) string {
	var m md
	var rows [][]string
	for _, n := range b.opts.ns {
		wait := b.core[coreKey{backend, subjSDKWait, n}]
		if wait == nil {
			continue
		}
		for _, o := range ops {
			wc := medianOf(wait.runs[o.idx], (*tfRun).coreCPU)
			ww := medianOf(wait.runs[o.idx], (*tfRun).wall)
			row := []string{fmt.Sprint(n), o.name, secs(wc)}
			for _, g := range b.opts.generations {
				row = append(row, "**"+ratio(medianOf(b.core[coreKey{backend, subjOurs(g), n}].runs[o.idx], (*tfRun).coreCPU).Seconds()/wc.Seconds())+"**")
			}
			row = append(row, secs(ww))
			for _, g := range b.opts.generations {
				lc := b.core[coreKey{backend, subjOurs(g), n}]
				row = append(row, ratio(medianOf(lc.runs[o.idx], (*tfRun).wall).Seconds()/ww.Seconds()))
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	m.p("**Against the SDK floor that waits, %s state**: Terraform core's CPU and the wall time, each this provider's ÷", backend)
	m.p("the waiting SDK floor's (medians where a command ran more than once). What is left is what this provider")
	m.p("costs beyond waiting for the API: its own CPU, the in-memory API's, and any difference in what Terraform core does.")
	m.p("")
	header := []string{"N", "Command", "core CPU, SDK floor, waiting"}
	for _, g := range b.opts.generations {
		header = append(header, subjOurs(g)+" ÷ it")
	}
	header = append(header, "wall, SDK floor, waiting")
	for _, g := range b.opts.generations {
		header = append(header, subjOurs(g)+" ÷ it")
	}
	m.table(header, rows)
	return m.String()
}

func msPerKey(d time.Duration, n int) float64 { return 1000 * d.Seconds() / float64(n) }

func everyRun(bad []string) string {
	if len(bad) == 0 {
		return "every run"
	}
	return "missed: " + strings.Join(bad, "; ")
}

// medianOf is the median of f over runs.
func medianOf(runs []*tfRun, f func(*tfRun) time.Duration) time.Duration {
	v := make([]time.Duration, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

func runsNote(runs []*tfRun) string {
	if len(runs) < 2 {
		return ""
	}
	return fmt.Sprintf(", medians of %d", len(runs))
}

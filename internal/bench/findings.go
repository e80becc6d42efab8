package main

import (
	"fmt"
	"strings"
)

// findingsSection says why Terraform core spends more CPU per key for this provider than for
// the community (SDK) provider, with this run's figures where the benchmark measures them, and
// figures measured by hand where it cannot (a profile of Terraform, the community provider
// against a real backend): those are marked as such, with how they were taken.
func (b *bencher) findingsSection() string {
	var m md
	maxN := b.maxN()
	m.p("## 11. Findings: why Terraform core works harder per key for this provider than for the community provider")
	m.p("")
	m.p("**It is not the plugin framework.** With this provider's exact schema and values, Terraform core spends the same")
	m.p("CPU per key on the framework floor as on the SDK floor (section 8%s). The RPC messages are small (about 4 KB per", b.floorRatioNote())
	m.p("key over a whole lifecycle, section 9) and their differences are the SDK's: private state (`bnVsbA==`, 33 bytes in")
	m.p("every state entry), `legacy_type_system`, protocol 5. The one framework difference that costs something is the")
	m.p("PlanDestroy capability, which it always announces: Terraform then calls PlanResourceChange once more per key on")
	m.p("destroy (5 PlanResourceChange calls per key over a lifecycle, against the SDK's 4). This provider withdraws it")
	m.p("(`internal/provider/server.go`; no resource has a ModifyPlan to call on destroy), so it makes the SDK's 4.")
	m.p("")
	m.p("**It is the state entry.** With local state, Terraform serialises the whole state file after every resource it")
	m.p("creates or destroys (`statemgr.(*Filesystem).writeState`: `statefile.Write`, and once a state file exists")
	m.p("`statefile.StatesMarshalEqual`, which serialises the new and the previous state once more to compare them). Work")
	m.p("∝ N × the bytes of the state, that is N² × bytes per key. This provider's entry is %s bytes per key (section 9);", b.instanceTotal(subjOurs(b.opts.generations[0])))
	m.p("the community provider's (`id` = the key itself, `username`, SDKv1 private state) is 279 (its state file ÷ N at")
	m.p("N = 600). The extra bytes: the paths of the sensitive attributes in `sensitive_attributes` (+%s over an empty", b.sensitiveExtra())
	m.p("list; each sensitive attribute adds its path to every instance, even a write-only one, whose value is always null), the separate `key`")
	m.p("attribute (+59: the community provider puts the secret in `id`, where every plan and log shows it), a 64-hex")
	m.p("`id` instead of a 36-character one (+28), `keepers: null` (+29), `name`, `key_wo` and `key_wo_version` (null")
	m.p("unless set: +90); the community provider's private state is 33")
	m.p("bytes we don't have. Section 10 measures the price on the framework floor itself: %s.", b.shapesNote())
	m.p("")
	m.p("**A CPU profile of Terraform** (measured by hand on 2026-12-01, not by `make bench`: `perf record -e cpu-clock -F 999 -g`")
	m.p("on Terraform 1.8.5 built from source, so with symbols; samples of the `terraform` process only; N = 1000, parallelism")
	m.p("10; this provider against the real Sensu Go 6.12.0 on loopback, the SDK floor making no request):")
	m.p("")
	m.table([]string{"share of Terraform core's CPU under…", "SDK floor, apply", "ours, apply", "SDK floor, destroy", "ours, destroy"}, [][]string{
		{"local state: Terraform core's CPU", "7.49 s", "7.71 s", "15.90 s", "14.46 s"},
		{"…`statefile.Write` (all serialisations of the state file)", "50%", "49%", "51%", "52%"},
		{"…of which under `statefile.StatesMarshalEqual`", "24%", "25%", "38%", "39%"},
		{"…`states.(*State).DeepCopy`", "7.5%", "7.9%", "5.0%", "4.1%"},
		{"…the Go garbage collector (`gcBgMarkWorker`)", "19%", "19%", "20%", "20%"},
		{"…gRPC to the provider (client calls, transport)", "2.9%", "2.8%", "1.8%", "1.9%"},
		{"pg state: Terraform core's CPU", "1.93 s", "2.20 s", "3.62 s", "3.89 s"},
		{"…`states.(*State).DeepCopy` (the state hook copies the whole state per resource)", "19%", "19%", "8.3%", "8.7%"},
		{"…the Go garbage collector", "18%", "20%", "20%", "21%"},
		{"…kernel, system calls (waking up for the provider's answers)", "7.0%", "16%", "4.9%", "9.6%"},
	})
	m.p("The shares are the same for both libraries: with local state half of Terraform core's CPU at N = 1000 is spent")
	m.p("serialising the state file, in proportion to its bytes. With remote state (`pg`) the state is persisted every")
	m.p("20 s instead, and the per-resource cost left is a deep copy of the state in memory; there, the only difference")
	m.p("is in the kernel: a provider that waits for an API makes Terraform's threads sleep and wake for each answer,")
	m.p("while a floor answers at once (about +0.2 s of system time per 1000 keys above). The messages themselves are")
	m.p("the same size (section 9), so this is the waiting, not anything this provider sends.")
	m.p("")
	m.p("**The waiting, measured.** %s", b.waitingNote())
	m.p("")
	m.p("**What was changed, and what was not.** Withdrawn: PlanDestroy (one RPC per key less on destroy; Terraform core's")
	m.p("CPU for a 1000-key destroy with pg state against the real 6.12.0, medians of 3: 3.85 s → 3.49 s). Not changed: the")
	m.p("sensitive mark on `key` (the key must never be shown), the separate non-secret `id` (same reason), `keepers`")
	m.p("(a feature). Shortening the 6.x `id` from 64 to 16 hex digits would save 48 bytes per key, %s, for a", b.bytesNote(48))
	m.p("documented contract (`sha256(key)` equals `id`), a state upgrade and every import: not worth it. Every attribute")
	m.p("added to the resource costs the same way: a null string attribute is about 25 bytes per key, an identity about")
	m.p("100 (Terraform ≥ 1.12 stores it next to the attributes).")
	m.p("")
	m.p("**Against the community provider** (measured by hand on 2026-12-01 outside the checkout, its source built with")
	m.p("its own go.mod: N = 600, one user, parallelism 10, the real Sensu Go 6.12.0, runs interleaved, medians of 3, this")
	m.p("provider with PlanDestroy withdrawn; core = Terraform's CPU less the provider processes' and launchers'):")
	m.p("")
	m.table([]string{"state", "command", "wall, ours", "wall, community", "core CPU, ours", "core CPU, community", "provider CPU, ours", "provider CPU, community"}, [][]string{
		{"local", "apply", "4.45 s", "3.89 s", "3.15 s", "2.33 s", "0.88 s", "0.73 s"},
		{"local", "destroy", "6.13 s", "4.36 s", "5.52 s", "3.96 s", "1.04 s", "0.96 s"},
		{"pg", "apply", "1.51 s", "1.87 s", "1.20 s", "1.10 s", "0.66 s", "0.59 s"},
		{"pg", "destroy", "2.22 s", "2.97 s", "1.88 s", "1.54 s", "0.81 s", "0.73 s"},
	})
	m.p("With remote state this provider is faster on both (1 request per key on apply against 2, 2 on destroy against")
	m.p("3), though Terraform core still works 10–20%% harder for it (a deep copy of a larger state per resource, and the")
	m.p("sleeps and wake-ups of waiting for the API). With local state the community provider's smaller entry wins:")
	m.p("Terraform core's CPU is 1.35–1.4× for ours, in line with section 10, and the wall time follows.")
	m.p("")
	m.p("**Reported upstream (text for the lead's notes)**: Terraform core stores the paths of schema-sensitive attributes")
	m.p("in every instance's `sensitive_attributes` although it derives them from the schema again whenever it reads the")
	m.p("resource (even for a write-only attribute, always null in state); here that is %s of this provider's %s bytes per key, and with local state", b.sensitiveExtra(), b.instanceTotal(subjOurs(b.opts.generations[0])))
	m.p("Terraform pays each byte N times (section 10: %s).", b.noSensitiveNote())
	_ = maxN
	return m.String()
}

func (b *bencher) instanceTotal(subject string) string {
	if in, ok := b.instance[subject]; ok {
		return fmt.Sprint(in.Total)
	}
	return "≈ 500"
}

// floorRatioNote is the framework floor ÷ SDK floor of this run, at the largest N, local state.
func (b *bencher) floorRatioNote() string {
	n := b.maxN()
	sdk, fw := b.core[coreKey{stateLocal, subjSDK, n}], b.core[coreKey{stateLocal, subjFloor, n}]
	if sdk == nil || fw == nil {
		return ""
	}
	core := func(l *lifecycle, op int) float64 { return medianOf(l.runs[op], (*tfRun).coreCPU).Seconds() }
	return fmt.Sprintf(": framework floor ÷ SDK floor at N = %d, local state, %s for apply, %s for destroy", n,
		ratio(core(fw, opApply)/core(sdk, opApply)), ratio(core(fw, opDestroy)/core(sdk, opDestroy)))
}

func (b *bencher) shapesNote() string {
	if len(b.shapes) < 3 {
		return "not measured in this run"
	}
	base, noSens, comm := b.shapes[0], b.shapes[1], b.shapes[2]
	return fmt.Sprintf("at N = %d, the community provider's entry (%.0f bytes) costs Terraform core %s of the CPU of ours (%.0f bytes) on apply and %s on destroy",
		b.maxN(), comm.BytesPerKey, pct(comm.Apply.coreCPU().Seconds()/base.Apply.coreCPU().Seconds()), base.BytesPerKey,
		pct(comm.Destroy.coreCPU().Seconds()/base.Destroy.coreCPU().Seconds())) +
		fmt.Sprintf("; without the sensitive path (%.0f bytes), %s and %s", noSens.BytesPerKey,
			pct(noSens.Apply.coreCPU().Seconds()/base.Apply.coreCPU().Seconds()), pct(noSens.Destroy.coreCPU().Seconds()/base.Destroy.coreCPU().Seconds()))
}

func (b *bencher) noSensitiveNote() string {
	if len(b.shapes) < 2 {
		return "not measured in this run"
	}
	base, noSens := b.shapes[0], b.shapes[1]
	return fmt.Sprintf("at N = %d without it Terraform core's CPU is %s of ours on apply and %s on destroy", b.maxN(),
		pct(noSens.Apply.coreCPU().Seconds()/base.Apply.coreCPU().Seconds()), pct(noSens.Destroy.coreCPU().Seconds()/base.Destroy.coreCPU().Seconds()))
}

// bytesNote is what n bytes per key fewer would save, from section 10's straight line.
func (b *bencher) bytesNote(n int) string {
	if len(b.shapes) < 2 {
		return "a saving not measured in this run"
	}
	var xs, ys []float64
	for _, s := range b.shapes {
		xs = append(xs, s.BytesPerKey)
		ys = append(ys, (s.Apply.coreCPU() + s.Destroy.coreCPU()).Seconds())
	}
	slope, _ := fitLine(xs, ys)
	base := b.shapes[0]
	total := (base.Apply.coreCPU() + base.Destroy.coreCPU()).Seconds()
	return fmt.Sprintf("about %.1f s of Terraform core's %.1f s for apply + destroy at N = %d with local state (%s), nothing measurable with pg state",
		slope*float64(n), total, b.maxN(), pct(slope*float64(n)/total))
}

// waitingNote is what waiting alone costs Terraform core at the largest N (the SDK floor that
// waits ÷ the SDK floor), and this provider against the floor that waits, for each state backend.
func (b *bencher) waitingNote() string {
	n := b.maxN()
	core := func(backend, subject string, op int) float64 {
		l := b.core[coreKey{backend, subject, n}]
		if l == nil {
			return 0
		}
		return medianOf(l.runs[op], (*tfRun).coreCPU).Seconds()
	}
	var parts []string
	for _, backend := range b.backends() {
		sdk, wait := core(backend, subjSDK, opApply), core(backend, subjSDKWait, opApply)
		if sdk == 0 || wait == 0 {
			continue
		}
		var ours []string
		for _, g := range b.opts.generations {
			var r []string
			for _, op := range []int{opApply, opPlan, opDestroy} {
				r = append(r, ratio(core(backend, subjOurs(g), op)/core(backend, subjSDKWait, op)))
			}
			ours = append(ours, fmt.Sprintf("%s: %s, %s and %s", genName(g), r[0], r[1], r[2]))
		}
		parts = append(parts, fmt.Sprintf("With %s state, the SDK floor that waits %s per request costs Terraform core %s, %s and %s "+
			"of the SDK floor's CPU (apply, plan, destroy); this provider, against the floor that waits: %s.", backend, b.opts.latency,
			ratio(wait/sdk), ratio(core(backend, subjSDKWait, opPlan)/core(backend, subjSDK, opPlan)),
			ratio(core(backend, subjSDKWait, opDestroy)/core(backend, subjSDK, opDestroy)), strings.Join(ours, "; ")))
	}
	if len(parts) == 0 {
		return "Not measured in this run."
	}
	return fmt.Sprintf("At N = %d (section 8). ", n) + strings.Join(parts, " ")
}

func pct(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// sensitiveExtra is the bytes of this provider's sensitive_attributes beyond terraform_data's empty list.
func (b *bencher) sensitiveExtra() string {
	field := func(subject string) (int, bool) {
		for _, f := range b.instance[subject].Fields {
			if f.Field == "sensitive_attributes" {
				return f.Bytes, true
			}
		}
		return 0, false
	}
	ours, ok1 := field(subjOurs(b.opts.generations[0]))
	empty, ok2 := field(subjData)
	if !ok1 || !ok2 {
		return "≈ 138"
	}
	return fmt.Sprint(ours - empty)
}

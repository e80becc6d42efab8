package main

import (
	"fmt"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// What a byte of state costs: the framework floor at the largest N with local state, as it is
// and with two other state entries (nullprovider.go's shapes), interleaved: every apply, then
// every destroy. Same plugin library, same RPCs; only the bytes per key differ.
type shapeRun struct {
	Name, How      string
	BytesPerKey    float64
	Apply, Destroy *tfRun
}

func (b *bencher) runShapes() error {
	n := b.maxN()
	first := b.servers[b.opts.generations[0]]
	list := []struct{ name, how, shape string }{
		{"as ours", "the framework floor as in section 8: this provider's schema and values", ""},
		{"no sensitive path", "the same, with `key` not marked sensitive: no path in `sensitive_attributes`", shapeNoSensitive},
		{"the community provider's entry", "only `id` (a UUID: the community provider's id is the key) and `username`", shapeCommunityLike},
	}
	type item struct {
		ws  *workspace
		env []string
		sr  *shapeRun
	}
	var items []item
	for _, s := range list {
		ws, err := b.newWorkspace("shape-" + map[string]string{"": "ours", shapeNoSensitive: "nosensitive", shapeCommunityLike: "community"}[s.shape])
		if err != nil {
			return err
		}
		if err := ws.write(sensuConfig(first.URL(), passwordAuth(sensutest.AdminUsername, sensutest.AdminPassword), n)); err != nil {
			return err
		}
		child := envNullProvider + "=1"
		if s.shape != "" {
			child += ";" + envFloorShape + "=" + s.shape
		}
		items = append(items, item{ws, []string{envWrapReal + "=" + b.self, envChildEnv + "=" + child}, &shapeRun{Name: s.name, How: s.how}})
	}
	progress("N=%d, local state: the framework floor with three state entries (apply, then destroy)", n)
	for _, op := range []int{opApply, opDestroy} {
		for _, it := range items {
			r, err := b.step(it.ws, nil, n, op, it.env)
			if err != nil {
				return err
			}
			if op == opApply {
				it.sr.Apply, it.sr.BytesPerKey = r, float64(r.StateBytes)/float64(n)
			} else {
				it.sr.Destroy = r
			}
		}
	}
	for _, it := range items {
		b.shapes = append(b.shapes, it.sr)
	}
	return nil
}

func (b *bencher) shapesSection() string {
	var m md
	if len(b.shapes) < 2 {
		return ""
	}
	n := b.maxN()
	m.p("## 10. What a byte of state costs Terraform core (framework floor, N = %d, local state)", n)
	m.p("")
	m.p("The framework floor with three state entries, run interleaved (every apply, then every destroy): the same")
	m.p("plugin library and RPCs, only the bytes per key differ.")
	m.p("")
	for _, s := range b.shapes {
		m.p("- **%s**: %s.", s.Name, s.How)
	}
	m.p("")
	var rows [][]string
	base := b.shapes[0]
	for _, s := range b.shapes {
		rows = append(rows, []string{s.Name, fmt.Sprintf("%.0f", s.BytesPerKey),
			secs(s.Apply.coreCPU()), ratio(s.Apply.coreCPU().Seconds() / base.Apply.coreCPU().Seconds()),
			secs(s.Destroy.coreCPU()), ratio(s.Destroy.coreCPU().Seconds() / base.Destroy.coreCPU().Seconds()),
			secs(s.Apply.Wall), secs(s.Destroy.Wall)})
	}
	m.table([]string{"State entry", "bytes per key", "core CPU, apply", "÷ as ours", "core CPU, destroy", "÷ as ours", "wall, apply", "wall, destroy"}, rows)
	// Least-squares slope of core CPU (apply + destroy) against bytes per key.
	var xs, ys []float64
	for _, s := range b.shapes {
		xs = append(xs, s.BytesPerKey)
		ys = append(ys, (s.Apply.coreCPU() + s.Destroy.coreCPU()).Seconds())
	}
	slope, intercept := fitLine(xs, ys)
	m.p("A straight line through the three points (core CPU of apply + destroy against bytes per key): **%.1f ms per byte", slope*1000)
	m.p("per key** at N = %d, and %s at 0 bytes; so %.0f%% of the floor's apply + destroy core CPU as ours is paid for the", n, secs(time.Duration(intercept*float64(time.Second))), 100*slope*base.BytesPerKey/(base.Apply.coreCPU()+base.Destroy.coreCPU()).Seconds())
	m.p("bytes of its state entry. Terraform serialises the whole state after every resource (and, once a state file")
	m.p("exists, twice more to compare it with the previous one), so this part grows with N × N × bytes per key.")
	m.p("")
	return m.String()
}

func fitLine(xs, ys []float64) (slope, intercept float64) {
	var sx, sy, sxx, sxy float64
	n := float64(len(xs))
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, 0
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n
}

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// gcTrace is what the Go runtime of the busiest provider process reported about its heap
// during one no-change plan (GODEBUG=gctrace=1).
type gcTrace struct {
	Run        *tfRun
	GCs        int   // collections in the process that collected most
	LiveMB     []int // heap live after each collection ("A->B->C MB": C)
	GoalMB     int   // heap goal at the last collection
	MaxLiveMB  int   // largest live heap
	LastLiveMB int   // live heap at the last collection
}

// gctraceLine matches "gc 5 @3.297s 2%: ... ms cpu, 148->156->55 MB, 159 MB goal, ...".
var gctraceLine = regexp.MustCompile(`^gc \d+ @[\d.]+s \d+%: .* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// traceGC runs a no-change plan with the runtime's GC trace on, copying the provider's
// stderr to files, and keeps the process with the most collections (the plan walk's).
func (b *bencher) traceGC(ws *workspace, s *sensutest.Server) (*gcTrace, error) {
	dir := filepath.Join(b.tmp, "gctrace")
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r, err := b.step(ws, s, b.maxN(), opPlan, []string{envChildEnv + "=GODEBUG=gctrace=1", envStderrDir + "=" + dir})
	if err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.stderr"))
	best := &gcTrace{Run: r}
	for _, f := range files {
		t, err := parseGCTrace(f)
		if err != nil {
			return nil, err
		}
		if t.GCs > best.GCs {
			t.Run = r
			best = t
		}
	}
	return best, nil
}

func parseGCTrace(path string) (*gcTrace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	t := &gcTrace{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := gctraceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		live, _ := strconv.Atoi(m[3])
		goal, _ := strconv.Atoi(m[4])
		t.GCs++
		t.LiveMB = append(t.LiveMB, live)
		t.GoalMB = goal
		t.MaxLiveMB = max(t.MaxLiveMB, live)
		t.LastLiveMB = live
	}
	return t, sc.Err()
}

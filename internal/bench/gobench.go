package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// goBenchLine is one result line of `go test -bench`.
type goBenchLine struct {
	Name        string
	Iterations  int64
	NsPerOp     float64
	MBPerSec    float64 // 0 when not reported
	BytesPerOp  int64
	AllocsPerOp int64
}

type goBenchResult struct {
	Command string
	Lines   []goBenchLine
	Wall    time.Duration
}

// runGoBench runs the Go benchmarks of the client and parses their results.
func runGoBench(root string, quick bool) (*goBenchResult, error) {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1"}
	if quick {
		args = append(args, "-benchtime", "50ms")
	}
	args = append(args, "./internal/sensu/")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		_, _ = os.Stderr.Write(out.Bytes())
		return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	res := &goBenchResult{Command: "go " + strings.Join(args, " "), Wall: time.Since(start), Lines: parseGoBench(out.String())}
	if len(res.Lines) == 0 {
		_, _ = os.Stderr.Write(out.Bytes())
		return nil, fmt.Errorf("go %s printed no benchmark results", strings.Join(args, " "))
	}
	return res, nil
}

// parseGoBench reads the benchmark lines of `go test -bench -benchmem` output:
//
//	BenchmarkX/sub-2   1000   1234 ns/op   5.00 MB/s   144 B/op   1 allocs/op
func parseGoBench(out string) []goBenchLine {
	var lines []goBenchLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		iters, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		l := goBenchLine{Name: trimProcs(strings.TrimPrefix(f[0], "Benchmark")), Iterations: iters}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				l.NsPerOp = v
			case "MB/s":
				l.MBPerSec = v
			case "B/op":
				l.BytesPerOp = int64(v)
			case "allocs/op":
				l.AllocsPerOp = int64(v)
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// trimProcs drops the "-2" GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	i := strings.LastIndex(name, "-")
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The launcher. Terraform starts whatever executable its dev_overrides directory holds; the
// benchmark puts a copy of itself there. Started with envWrapReal set, this program runs the
// real provider as its child with the same stdin, stdout (the go-plugin handshake) and
// arguments, copies the child's stderr through a byte counter, and when the child exits
// writes one JSON record with what the kernel says the child used (wait4 rusage: peak RSS,
// user and system CPU) into the envRecords directory. The kernel's peak is exact, unlike
// sampling /proc, and every provider process Terraform starts is counted, including those
// that only serve the schema and never call the API.
const (
	envWrapReal  = "SENSU_BENCH_PROVIDER"  // path of the real provider binary
	envRecords   = "SENSU_BENCH_RECORDS"   // directory for the per-process records
	envChildEnv  = "SENSU_BENCH_CHILD_ENV" // "K=V;K=V" set for the provider only
	envStderrDir = "SENSU_BENCH_STDERR"    // when set, a copy of each provider's stderr goes to <dir>/<pid>.stderr (debugging)
	recordSuffix = ".json"
	startSuffix  = ".start"
)

// procRecord is what one provider process used.
type procRecord struct {
	PID         int     `json:"pid"`
	WallMS      float64 `json:"wall_ms"`
	MaxRSSKiB   int64   `json:"max_rss_kib"`
	UserMS      float64 `json:"user_ms"`
	SysMS       float64 `json:"sys_ms"`
	StderrBytes int64   `json:"stderr_bytes"`
	ExitCode    int     `json:"exit_code"`
	// The launcher's own CPU (copying stderr, waiting): Terraform's CPU includes it, and
	// Terraform core's alone is what is left once the provider's and this are taken away.
	LauncherMS float64 `json:"launcher_ms"`
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// runWrapper runs the real provider and returns its exit code.
func runWrapper(real string) int {
	start := time.Now()
	dir := os.Getenv(envRecords)
	id := fmt.Sprint(os.Getpid())
	if dir != "" {
		_ = os.WriteFile(filepath.Join(dir, id+startSuffix), nil, 0o600)
	}

	cmd := exec.Command(real, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout = os.Stdin, os.Stdout
	stderr := &countingWriter{w: os.Stderr}
	if d := os.Getenv(envStderrDir); d != "" {
		if f, err := os.Create(filepath.Join(d, id+".stderr")); err == nil {
			defer func() { _ = f.Close() }()
			stderr.w = io.MultiWriter(os.Stderr, f)
		}
	}
	cmd.Stderr = stderr
	cmd.Env = childEnv(os.Environ(), os.Getenv(envChildEnv))

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "bench launcher: %v\n", err)
		return 1
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)

	rec := procRecord{PID: cmd.Process.Pid, WallMS: ms(time.Since(start)), StderrBytes: stderr.n.Load(), ExitCode: cmd.ProcessState.ExitCode()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rec.MaxRSSKiB = ru.Maxrss // KiB on Linux
	}
	rec.UserMS, rec.SysMS = ms(cmd.ProcessState.UserTime()), ms(cmd.ProcessState.SystemTime())
	var self syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil {
		rec.LauncherMS = ms(time.Duration(self.Utime.Nano() + self.Stime.Nano()))
	}
	if dir != "" {
		if data, jerr := json.Marshal(rec); jerr == nil {
			tmp := filepath.Join(dir, id+".tmp")
			if os.WriteFile(tmp, data, 0o600) == nil {
				_ = os.Rename(tmp, filepath.Join(dir, id+recordSuffix))
			}
		}
	}
	if err != nil && rec.ExitCode < 0 {
		return 1 // killed by a signal
	}
	return rec.ExitCode
}

// childEnv is env without the launcher's own variables, plus the "K=V;K=V" overrides.
func childEnv(env []string, overrides string) []string {
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		if strings.HasPrefix(kv, envWrapReal+"=") || strings.HasPrefix(kv, envChildEnv+"=") || strings.HasPrefix(kv, envRecords+"=") ||
			strings.HasPrefix(kv, envStderrDir+"=") {
			continue
		}
		out = append(out, kv)
	}
	for _, kv := range strings.Split(overrides, ";") {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

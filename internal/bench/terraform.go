package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// tfRun is one measured Terraform command.
type tfRun struct {
	Args       []string
	Wall       time.Duration
	CPU        time.Duration // Terraform's user+system CPU, including the provider processes it waited for
	ExitCode   int
	Requests   map[string]int // what the in-memory Sensu API received, by route
	Procs      []procRecord   // one per provider process (empty for terraform_data)
	StateBytes int64          // terraform.tfstate after the command
	// BenchCPU is this program's own CPU during the command: the in-memory Sensu API
	// answering the provider (nothing else of it runs meanwhile).
	BenchCPU time.Duration
}

// Sensu API routes as sensutest counts them.
const (
	routeVersion = "GET /version"
	routeLogin   = "GET /auth"
	routeRefresh = "POST /auth/token"
	routeGrant6  = "POST /api/core/v2/apikeys"
	routeGrant7  = "PUT /api/core/v2/apikeys"
	routeList    = "GET /api/core/v2/apikeys"
	routeInfo    = "GET /api/core/v2/apikeys/{name}"
	routeRevoke  = "DELETE /api/core/v2/apikeys/{name}"
	// The users of refreshed keys, read to warn about disabled ones: counted apart.
	routeUserGet  = "GET /api/core/v2/users/{name}"
	routeUserList = "GET /api/core/v2/users"
)

// keyRequests counts the requests that concern API keys (everything but /version, auth and
// user reads).
func (r *tfRun) keyRequests() int {
	n := 0
	for route, c := range r.Requests {
		switch route {
		case routeVersion, routeLogin, routeRefresh, routeUserGet, routeUserList:
		default:
			n += c
		}
	}
	return n
}

// userReads counts the requests that read users.
func (r *tfRun) userReads() int { return r.Requests[routeUserGet] + r.Requests[routeUserList] }

func (r *tfRun) peakRSSKiB() int64 {
	var m int64
	for _, p := range r.Procs {
		m = max(m, p.MaxRSSKiB)
	}
	return m
}

func (r *tfRun) providerCPU() time.Duration {
	var t float64
	for _, p := range r.Procs {
		t += p.UserMS + p.SysMS
	}
	return time.Duration(t * float64(time.Millisecond))
}

// launcherCPU is the CPU of the launchers that ran the provider processes.
func (r *tfRun) launcherCPU() time.Duration {
	var t float64
	for _, p := range r.Procs {
		t += p.LauncherMS
	}
	return time.Duration(t * float64(time.Millisecond))
}

// coreCPU is Terraform core's own CPU: the command's, less its provider processes and their
// launchers (Terraform's rusage includes every child it waited for).
func (r *tfRun) coreCPU() time.Duration { return r.CPU - r.providerCPU() - r.launcherCPU() }

func (r *tfRun) wall() time.Duration { return r.Wall }

func (r *tfRun) stderrBytes() int64 {
	var n int64
	for _, p := range r.Procs {
		n += p.StderrBytes
	}
	return n
}

// routes renders the request counts, most frequent first.
func (r *tfRun) routes() string {
	type rc struct {
		route string
		n     int
	}
	var list []rc
	for k, v := range r.Requests {
		list = append(list, rc{k, v})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].route < list[j].route
	})
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = fmt.Sprintf("`%s` %d", x.route, x.n)
	}
	return strings.Join(parts, ", ")
}

// workspace is one Terraform working directory.
type workspace struct {
	dir string
	b   *bencher
	seq int
}

func (b *bencher) newWorkspace(name string) (*workspace, error) {
	dir := filepath.Join(b.tmp, "ws", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &workspace{dir: dir, b: b}, nil
}

func (w *workspace) write(config string) error {
	return os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(config), 0o600)
}

func sensuConfig(url, auth string, n int) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

provider "sensu" {
  api_url = %q
%s}

resource "sensu_api_key" "k" {
  count    = %d
  username = "admin"
}
`, url, auth, n)
}

func passwordAuth(user, password string) string {
	return fmt.Sprintf("  username = %q\n  password = %q\n", user, password)
}

func apiKeyAuth(key string) string { return fmt.Sprintf("  api_key = %q\n", key) }

func dataConfig(n int) string {
	return fmt.Sprintf(`resource "terraform_data" "k" {
  count = %d
  input = "admin"
}
`, n)
}

// Terraform commands exactly as measured.
func (b *bencher) applyArgs() []string {
	return []string{"apply", "-input=false", "-auto-approve", "-no-color", fmt.Sprintf("-parallelism=%d", b.opts.parallelism)}
}

func (b *bencher) planArgs() []string {
	return []string{"plan", "-input=false", "-refresh=true", "-detailed-exitcode", "-no-color", fmt.Sprintf("-parallelism=%d", b.opts.parallelism)}
}

func (b *bencher) destroyArgs() []string {
	return []string{"destroy", "-input=false", "-auto-approve", "-no-color", fmt.Sprintf("-parallelism=%d", b.opts.parallelism)}
}

// run executes one Terraform command in w with extra environment, measuring it. A command
// that fails is an error; `plan -detailed-exitcode` answering 2 (changes) is not, and is
// returned in ExitCode.
func (w *workspace) run(srv server, extraEnv []string, args ...string) (*tfRun, error) {
	b := w.b
	w.seq++
	records := filepath.Join(b.tmp, "records")
	_ = os.RemoveAll(records)
	if err := os.MkdirAll(records, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(w.dir, fmt.Sprintf("%02d-%s.log", w.seq, args[0]))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }()

	cmd := exec.Command(b.terraform, args...)
	cmd.Dir = w.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(b.baseEnv(), envRecords+"="+records)
	cmd.Env = append(cmd.Env, extraEnv...)

	if srv != nil {
		srv.ResetCounters()
	}
	before := selfCPU()
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	run := &tfRun{Args: args, Wall: wall, BenchCPU: selfCPU() - before}
	if cmd.ProcessState != nil {
		run.ExitCode = cmd.ProcessState.ExitCode()
		run.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var exitErr *exec.ExitError
	planChanges := args[0] == "plan" && run.ExitCode == 2
	if err != nil && (!errors.As(err, &exitErr) || !planChanges) {
		return nil, fmt.Errorf("terraform %s in %s failed (%w); last lines of %s:\n%s", strings.Join(args, " "), w.dir, err, logPath, tail(logPath, 40))
	}
	if srv != nil {
		run.Requests = srv.Requests()
	}
	if run.Procs, err = readRecords(records); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(w.dir, "terraform.tfstate")); err == nil {
		run.StateBytes = fi.Size()
	}
	return run, nil
}

// readRecords collects the launcher records, waiting briefly for launchers that are still
// writing theirs (Terraform waits for its plugins to exit, so this is normally immediate).
func readRecords(dir string) ([]procRecord, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		starts, _ := filepath.Glob(filepath.Join(dir, "*"+startSuffix))
		done, _ := filepath.Glob(filepath.Join(dir, "*"+recordSuffix))
		if len(done) >= len(starts) || time.Now().After(deadline) {
			if len(done) < len(starts) {
				return nil, fmt.Errorf("%d provider processes left no record", len(starts)-len(done))
			}
			var out []procRecord
			for _, f := range done {
				data, err := os.ReadFile(f)
				if err != nil {
					return nil, err
				}
				var r procRecord
				if err := json.Unmarshal(data, &r); err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				out = append(out, r)
			}
			return out, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// selfCPU is this process's user + system CPU so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Remote state: Terraform's `pg` backend on a throwaway PostgreSQL server that the benchmark
// creates, runs on 127.0.0.1 and a free port, and removes at the end. PostgreSQL refuses to
// run as root, so when the benchmark runs as root the server runs as the `postgres` user the
// Debian package creates, or else as `nobody`.
//
// With a backend, `terraform init` is required and ignores dev_overrides: the workspaces of
// remote state use a CLI configuration with a filesystem_mirror holding the launcher as
// version 0.0.1 of sensu-community/sensu, so the same launcher (and so the same choice of
// provider, by environment) runs as with local state.

type pgServer struct {
	bin, data, port string
	cred            *syscall.Credential // nil: run as ourselves
	runAs           string
	started         bool
}

// startPG installs PostgreSQL if needed (.ci/install-postgres.sh), then creates and starts a
// cluster with trust authentication on loopback. fsync is off: the state is thrown away,
// and what is measured is Terraform's CPU, not the disk.
func startPG(root string) (*pgServer, error) {
	install := exec.Command(filepath.Join(root, ".ci", "install-postgres.sh"))
	install.Stderr = os.Stderr
	out, err := install.Output()
	if err != nil {
		return nil, fmt.Errorf(".ci/install-postgres.sh: %w", err)
	}
	s := &pgServer{bin: strings.TrimSpace(string(out))}
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			u, err := user.Lookup(name)
			if err != nil {
				continue
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			s.cred, s.runAs = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, name
			break
		}
		if s.cred == nil {
			return nil, fmt.Errorf("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
		}
	} else if u, err := user.Current(); err == nil {
		s.runAs = u.Username
	}
	// Not under the benchmark's own temporary directory, which only root may enter.
	if s.data, err = os.MkdirTemp("", "sensu-bench-pg-"); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.data, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	cluster := filepath.Join(s.data, "cluster")
	if err := s.run("initdb", "-D", cluster, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %s -k '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off", s.port)
	if err := s.run("pg_ctl", "start", "-D", cluster, "-w", "-t", "60", "-l", filepath.Join(s.data, "server.log"), "-o", opts); err != nil {
		return nil, err
	}
	s.started = true
	return s, nil
}

// connStr is what every workspace's backend block uses; each workspace has its own schema.
func (s *pgServer) connStr() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", s.port)
}

func (s *pgServer) run(prog string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.data
	cmd.Env = append(os.Environ(), "HOME="+s.data, "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s (as %s): %w\n%s", prog, strings.Join(args, " "), s.runAs, err, out)
	}
	return nil
}

// stop stops the server and removes the cluster.
func (s *pgServer) stop() {
	if s == nil {
		return
	}
	if s.started {
		if err := s.run("pg_ctl", "stop", "-D", filepath.Join(s.data, "cluster"), "-m", "fast", "-w", "-t", "60"); err != nil {
			progress("stopping PostgreSQL: %v", err)
		}
		s.started = false
	}
	if s.data != "" {
		_ = os.RemoveAll(s.data)
		s.data = ""
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// pgBackend is the backend block of a remote-state workspace.
func pgBackend(connStr, schema string) string {
	return fmt.Sprintf("  backend \"pg\" {\n    conn_str    = %q\n    schema_name = %q\n  }\n", connStr, schema)
}

// withBackend adds a backend block to a configuration's terraform block (or one with it).
func withBackend(config, backend string) string {
	const head = "terraform {\n"
	if strings.HasPrefix(config, head) {
		return head + backend + config[len(head):]
	}
	return head + backend + "}\n\n" + config
}

// mirrorVersion is the version the filesystem mirror serves the launcher as.
const mirrorVersion = "0.0.1"

// writeMirror lays out the launcher in a filesystem mirror and writes the CLI configuration
// that installs sensu-community/sensu from it and nothing from anywhere else.
func (b *bencher) writeMirror() (string, error) {
	platform := runtime.GOOS + "_" + runtime.GOARCH
	dir := filepath.Join(b.tmp, "mirror", "registry.terraform.io", "sensu-community", "sensu", mirrorVersion, platform)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := copyFile(b.self, filepath.Join(dir, "terraform-provider-sensu_v"+mirrorVersion), 0o755); err != nil {
		return "", err
	}
	cfg := filepath.Join(b.tmp, "cli-mirror.tfrc")
	text := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.terraform.io/sensu-community/sensu\"]\n  }\n}\n",
		filepath.Join(b.tmp, "mirror"))
	return cfg, os.WriteFile(cfg, []byte(text), 0o644)
}

// initWorkspace runs `terraform init` in a remote-state workspace (not measured).
func (w *workspace) init(env []string) error {
	cmd := exec.Command(w.b.terraform, "init", "-input=false", "-no-color")
	cmd.Dir = w.dir
	cmd.Env = append(w.b.baseEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("terraform init in %s: %w\n%s", w.dir, err, out)
	}
	return os.WriteFile(filepath.Join(w.dir, "00-init.log"), out, 0o644)
}

package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// cliRun is one command of a real Terraform (or OpenTofu) CLI driving the built provider.
type cliRun struct {
	t      *testing.T
	bin    string
	dir    string
	env    []string
	output bytes.Buffer // stdout and stderr of every command, TRACE logs included
}

// newCLIRun builds the provider binary and prepares a working directory whose CLI config
// points at it with dev_overrides, so no registry is contacted.
func newCLIRun(t *testing.T, config string) *cliRun {
	t.Helper()
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || bin == "" {
		t.Skip("set TF_ACC=1 and TF_ACC_TERRAFORM_PATH to run the CLI (make testacc does)")
	}
	pluginDir := providerBinaryDir(t)
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "cli.tfrc")
	overrides := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"sensu-community/sensu\" = %q\n  }\n  direct {}\n}\n", pluginDir)
	if err := os.WriteFile(cliConfig, []byte(overrides), 0o600); err != nil {
		t.Fatal(err)
	}
	main := "terraform {\n  required_providers {\n    sensu = { source = \"sensu-community/sensu\" }\n  }\n}\n" + config
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_LOG=TRACE"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		// A real backend is configured from SENSU_*; the in-memory one never is.
		sensuEnv := strings.HasPrefix(name, "SENSU_") && !realBackend()
		if !strings.HasPrefix(name, "TF_") && !sensuEnv && name != "CHECKPOINT_DISABLE" {
			env = append(env, kv)
		}
	}
	return &cliRun{t: t, bin: bin, dir: dir, env: env}
}

// cliVersion is the version of the CLI at TF_ACC_TERRAFORM_PATH (Terraform or OpenTofu).
func (r *cliRun) cliVersion() *version.Version {
	r.t.Helper()
	out, err := exec.Command(r.bin, "version", "-json").Output()
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err == nil {
		err = json.Unmarshal(out, &v)
	}
	parsed, perr := version.NewVersion(v.Version)
	if err != nil || perr != nil {
		r.t.Fatalf("reading the version of %s: %v %v", r.bin, err, perr)
	}
	return parsed.Core()
}

// skipBelow skips a test that the CLI's version cannot run, as tfversion.SkipBelow does for
// resource.Test.
func (r *cliRun) skipBelow(minimum string) {
	r.t.Helper()
	if v := r.cliVersion(); v.LessThan(version.Must(version.NewVersion(minimum))) {
		r.t.Skipf("%s %s cannot run this test; it needs %s or later", filepath.Base(r.bin), v, minimum)
	}
}

var (
	buildOnce      sync.Once
	builtPluginDir string
	buildErr       error
)

// providerBinaryDir builds the provider once per test binary, as Terraform would run it.
func providerBinaryDir(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		builtPluginDir, buildErr = os.MkdirTemp("", "sensu-provider-")
		if buildErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(builtPluginDir, "terraform-provider-sensu"), "../..")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the provider: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPluginDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtPluginDir != "" {
		_ = os.RemoveAll(builtPluginDir)
	}
	os.Exit(code)
}

// run runs one CLI command, recording everything it printed, and reports whether it succeeded.
func (r *cliRun) run(args ...string) bool {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir, cmd.Env = r.dir, r.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r.output.Write(out.Bytes())
	if ctx.Err() != nil {
		r.t.Fatalf("%s %s timed out", filepath.Base(r.bin), strings.Join(args, " "))
	}
	return err == nil
}

func (r *cliRun) mustRun(args ...string) {
	r.t.Helper()
	if !r.run(args...) {
		r.t.Fatalf("%s %s failed; last output lines:\n%s", filepath.Base(r.bin), strings.Join(args, " "), tail(r.output.String(), 40))
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// assertNoSecrets fails for every secret that appears anywhere in the recorded output.
func assertNoSecrets(t *testing.T, output string, secrets map[string]string) {
	t.Helper()
	for what, secret := range secrets {
		if secret == "" {
			continue
		}
		if n := strings.Count(output, secret); n > 0 {
			t.Errorf("%s appears %d times in the CLI output and TRACE logs", what, n)
		}
	}
}

// TestAccSecretsNeverPrinted runs the real CLI with TF_LOG=TRACE through apply, plan,
// refresh, import, show, destroy and error paths, and scans everything it printed for the
// keys, the password and every token the server issued.
func TestAccSecretsNeverPrinted(t *testing.T) {
	if realBackend() {
		t.Skip("needs the in-memory Sensu API to know every secret it issued")
	}
	forEachMemoryBackend(t, func(t *testing.T, b *testBackend) {
		const password = sensutest.AdminPassword
		provider := fmt.Sprintf("provider \"sensu\" {\n  api_url = %q\n  username = %q\n  password = %q\n}\n", b.url, sensutest.AdminUsername, password)
		resources := `
resource "sensu_api_key" "ci" {
  count    = 3
  username = "admin"
}

data "sensu_api_keys" "all" {
  depends_on = [sensu_api_key.ci]
}

data "sensu_api_key" "first" {
  id = sensu_api_key.ci[0].id
}

output "first_id" {
  value = sensu_api_key.ci[0].id
}
`
		run := newCLIRun(t, provider+resources)
		run.mustRun("apply", "-auto-approve", "-input=false")
		if n := len(b.server.APIKeys()); n != 3 {
			t.Fatalf("apply left %d keys on the server, want 3", n)
		}
		// The secrets from state: on 7.x the server only holds hashes of them.
		granted := keysEverSeen(run.dir)
		if len(granted) != 3 {
			t.Fatalf("the state holds %d keys, want 3", len(granted))
		}
		run.mustRun("plan", "-input=false", "-detailed-exitcode")
		run.mustRun("apply", "-refresh-only", "-auto-approve", "-input=false")
		run.mustRun("show")
		run.mustRun("output")
		id := run.stateID("sensu_api_key.ci[2]")
		run.mustRun("state", "rm", "sensu_api_key.ci[2]")
		run.mustRun("import", "-input=false", "sensu_api_key.ci[2]", id)

		// Error paths: unknown user, then wrong password.
		bad := newCLIRun(t, provider+"resource \"sensu_api_key\" \"bad\" {\n  username = \"nosuchuser\"\n}\n")
		if bad.run("apply", "-auto-approve", "-input=false") {
			t.Error("granting a key to an unknown user succeeded")
		}
		wrong := newCLIRun(t, strings.Replace(provider, password, "wrong-"+password, 1)+resources)
		if wrong.run("apply", "-auto-approve", "-input=false") {
			t.Error("applying with a wrong password succeeded")
		}

		run.mustRun("destroy", "-auto-approve", "-input=false")
		if left := b.server.APIKeys(); len(left) != 0 {
			t.Errorf("destroy left %d keys on the server", len(left))
		}

		secrets := map[string]string{"the password": password, "the wrong password": "wrong-" + password}
		for i, k := range granted {
			secrets[fmt.Sprintf("granted key %d", i)] = k
		}
		for i, s := range b.server.IssuedSecrets() {
			secrets[fmt.Sprintf("issued token %d", i)] = s
		}
		all := run.output.String() + bad.output.String() + wrong.output.String()
		if !strings.Contains(all, "TRACE") {
			t.Fatal("the CLI wrote no TRACE logs: the scan would prove nothing")
		}
		assertNoSecrets(t, all, secrets)
		t.Logf("scanned %d bytes of CLI output and TRACE logs for %d secrets", len(all), len(secrets))
	})
}

var stateIDPattern = regexp.MustCompile(`(?m)^\s*id\s+=\s+"([^"]+)"`)

// stateID reads a resource's id from `state show`, which prints sensitive values masked.
func (r *cliRun) stateID(address string) string {
	r.t.Helper()
	before := r.output.Len()
	r.mustRun("state", "show", "-no-color", address)
	m := stateIDPattern.FindStringSubmatch(r.output.String()[before:])
	if m == nil {
		r.t.Fatalf("no id in `state show %s`", address)
	}
	return m[1]
}

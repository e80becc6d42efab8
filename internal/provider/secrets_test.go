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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
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
	if n := len(memoryOnlyTests.names); n > maxMemoryOnlyTests {
		names := make([]string, 0, n)
		for name := range memoryOnlyTests.names {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "FAIL: %d top-level tests skipped on the real backend, at most %d may: %s\n",
			n, maxMemoryOnlyTests, strings.Join(names, ", "))
		code = 1
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
// refresh, import, show, destroy, token authentication and error paths, and scans everything
// it printed for the secrets the test knows: the keys in state, the passwords it used, the
// tokens it obtained itself, and every token and key Sensu handed out through the test's
// proxy (in memory, also every secret the server ever issued).
func TestAccSecretsNeverPrinted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		clearSensuEnv(t)
		proxy := startProxy(t, b, nil)
		pb := b.via(proxy, "")
		username, password := b.adminLogin()
		provider := pb.provider(fmt.Sprintf("  username = %q\n  password = %q", username, password))
		resources := fmt.Sprintf(`
resource "sensu_api_key" "ci" {
  count    = 3
  username = %q
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
`, b.username)
		run := newCLIRun(t, provider+resources)
		b.revokeStateKeysAtEnd(t, run)
		run.mustRun("apply", "-auto-approve", "-input=false")
		// The secrets from state: on 7.x the server only holds hashes of them.
		granted := keysEverSeen(run.dir)
		if len(granted) != 3 {
			t.Fatalf("the state holds %d keys, want 3", len(granted))
		}
		// The proxy saw the provider's login tokens and, on 6.x where Sensu makes the key,
		// every key (on 7.x the provider makes the secret and sends Sensu only its hash).
		recorded := map[string]bool{}
		for _, s := range proxy.issuedSecrets() {
			recorded[s] = true
		}
		if len(recorded) == 0 {
			t.Fatal("the proxy saw no token pass: the scan would miss what Sensu issued")
		}
		for i, k := range granted {
			if b.gen.NamesAreSecret() && !recorded[k] {
				t.Fatalf("the proxy did not see granted key %d pass: the scan would miss what Sensu issued", i)
			}
		}
		run.mustRun("plan", "-input=false", "-detailed-exitcode")
		run.mustRun("apply", "-refresh-only", "-auto-approve", "-input=false")
		run.mustRun("show")
		run.mustRun("output")
		id := run.stateID("sensu_api_key.ci[2]")
		run.mustRun("state", "rm", "sensu_api_key.ci[2]")
		run.mustRun("import", "-input=false", "sensu_api_key.ci[2]", id)

		// Token authentication, with tokens the test got itself as sensuctl does.
		tok := b.login(t)
		viaToken := newCLIRun(t, pb.provider(fmt.Sprintf("  access_token = %q\n  refresh_token = %q", tok.AccessToken, tok.RefreshToken))+
			"data \"sensu_api_keys\" \"all\" {}\n")
		viaToken.mustRun("plan", "-input=false")

		// Error paths: unknown user, then wrong password.
		bad := newCLIRun(t, provider+"resource \"sensu_api_key\" \"bad\" {\n  username = \"no-such-user-"+acctest.RandString(8)+"\"\n}\n")
		if bad.run("apply", "-auto-approve", "-input=false") {
			t.Error("granting a key to an unknown user succeeded")
		}
		b.revokeStateKeysAtEnd(t, bad)
		wrong := newCLIRun(t, strings.Replace(provider, password, "wrong-"+password, 1)+resources)
		if wrong.run("apply", "-auto-approve", "-input=false") {
			t.Error("applying with a wrong password succeeded")
		}
		b.revokeStateKeysAtEnd(t, wrong)

		run.mustRun("destroy", "-auto-approve", "-input=false")
		for _, attrs := range stateKeyAttributes(run.dir) {
			if _, err := b.admin.GetAPIKey(context.Background(), b.sensuName(attrs)); !sensu.IsNotFound(err) {
				t.Errorf("key %s after destroy: %v, want not found", attrs["id"], err)
			}
		}

		secrets := map[string]string{
			"the password": password, "the wrong password": "wrong-" + password,
			"the test's access token": tok.AccessToken, "the test's refresh token": tok.RefreshToken,
		}
		for i, k := range granted {
			secrets[fmt.Sprintf("granted key %d", i)] = k
		}
		for i, s := range proxy.issuedSecrets() {
			secrets[fmt.Sprintf("secret %d Sensu issued through the proxy", i)] = s
		}
		if b.server != nil {
			for i, s := range b.server.IssuedSecrets() {
				secrets[fmt.Sprintf("issued token %d", i)] = s
			}
		}
		all := run.output.String() + viaToken.output.String() + bad.output.String() + wrong.output.String()
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

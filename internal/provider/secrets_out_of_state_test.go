package provider

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// TestAccSecretsOutOfState runs the real CLI at TRACE through a saved plan, its apply, a
// refresh and a destroy of the ways to keep a key out of the state: an ephemeral key used as
// another provider block's credentials, and (7.x) keys whose secret the configuration chooses
// with key_wo, one of them named. It scans the CLI's output, the state files and every file
// in the saved plan for each secret.
func TestAccSecretsOutOfState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		// Secrets come in as ephemeral variables, as they should in a real configuration: a
		// literal in a .tf file is copied into every saved plan.
		password, providerConfig := os.Getenv("SENSU_PASSWORD"), b.providerConfig
		if !realBackend() {
			password = sensutest.AdminPassword
			providerConfig = fmt.Sprintf(`
variable "sensu_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

provider "sensu" {
  api_url  = %q
  username = %q
  password = var.sensu_password
}
`, b.url, sensutest.AdminUsername)
		}
		variables := []string{"TF_VAR_sensu_password=" + password}
		config := fmt.Sprintf(`
ephemeral "sensu_api_key" "run" {
  username = %[1]q
}

provider "sensu" {
  alias   = "with_key"
  api_url = %[2]q
  api_key = ephemeral.sensu_api_key.run.key
}

data "sensu_api_keys" "via_key" {
  provider = sensu.with_key
  username = %[1]q
}
`, b.username, b.url)
		secrets := map[string]string{"the password": password}
		// A secret written as a literal in the configuration is in the saved plan's copy of the
		// configuration source (tfconfig/), as any literal is; it is scanned everywhere else.
		literal := acctest.RandString(40)
		if !b.gen.NamesAreSecret() {
			first, second := acctest.RandString(40), acctest.RandString(64)
			secrets["the first key_wo secret"], secrets["the second key_wo secret"] = first, second
			variables = append(variables, "TF_VAR_first_secret="+first, "TF_VAR_second_secret="+second)
			config += fmt.Sprintf(`
variable "first_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "second_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "sensu_api_key" "chosen_secret" {
  username       = %[1]q
  key_wo         = var.first_secret
  key_wo_version = 1
}

resource "sensu_api_key" "named" {
  username       = %[1]q
  name           = "tf-acc-named-%[2]s"
  key_wo         = var.second_secret
  key_wo_version = 1
}

# A literal: nothing marks it sensitive but the attribute being write-only.
resource "sensu_api_key" "literal" {
  username       = %[1]q
  key_wo         = %[3]q
  key_wo_version = 1
}
`, b.username, acctest.RandString(8), literal)
		}
		run := newCLIRun(t, providerConfig+config)
		run.skipBelow("1.11.0")
		run.env = append(run.env, variables...)

		run.mustRun("plan", "-input=false", "-out=tfplan")
		showStart := run.output.Len()
		run.mustRun("show", "-json", "tfplan")
		showEnd := run.output.Len()
		run.mustRun("apply", "-input=false", "tfplan")
		if !b.gen.NamesAreSecret() {
			if ok, err := b.keyAuthenticates(literal); err != nil || !ok {
				t.Errorf("the literal key_wo secret does not authenticate after the apply (%v)", err)
			}
		}
		if !b.gen.NamesAreSecret() {
			for what, secret := range secrets {
				if strings.HasPrefix(what, "the first") || strings.HasPrefix(what, "the second") {
					if ok, err := b.keyAuthenticates(secret); err != nil || !ok {
						t.Errorf("%s does not authenticate after the apply (%v)", what, err)
					}
				}
			}
		}
		if !run.run("plan", "-input=false", "-detailed-exitcode") {
			t.Errorf("the plan after the apply is not empty:\n%s", tail(run.output.String(), 30))
		}
		run.mustRun("show", "-json")
		planFiles := readZip(t, filepath.Join(run.dir, "tfplan"))
		stateFiles := readFiles(t, run.dir, "terraform.tfstate", "terraform.tfstate.backup")
		run.mustRun("destroy", "-auto-approve", "-input=false")

		if b.server != nil {
			for i, s := range b.server.IssuedSecrets() {
				secrets[fmt.Sprintf("issued token %d", i)] = s
			}
			// Every API key secret the server knew: the ephemeral keys (7.x: once they
			// authenticated, which the data source made them do).
			known := b.server.KeySecrets()
			if len(known) < 2 {
				t.Fatalf("the server knew %d key secrets; the plan and the apply should each have used an ephemeral key", len(known))
			}
			for i, s := range known {
				if s != literal { // scanned on its own, below
					secrets[fmt.Sprintf("API key secret %d", i)] = s
				}
			}
			if left := b.server.APIKeys(); len(left) != 0 {
				t.Errorf("%d keys left on the server after destroy", len(left))
			}
		}
		output := run.output.String()
		if !strings.Contains(output, "TRACE") || len(planFiles) == 0 || len(stateFiles) == 0 {
			t.Fatalf("nothing to scan (TRACE logs: %v, files in the plan: %d, state files: %d)",
				strings.Contains(output, "TRACE"), len(planFiles), len(stateFiles))
		}
		assertNoSecrets(t, output, secrets)
		for name, data := range planFiles {
			assertNotIn(t, "the saved plan's "+name, data, secrets)
			if !strings.HasPrefix(name, "tfconfig/") {
				assertNotIn(t, "the saved plan's "+name, data, map[string]string{"the literal key_wo secret": literal})
			}
		}
		// `show -json` of the plan echoes the configuration's literals in its "configuration"
		// section, sensitive attributes' included: scan the rest of it.
		assertNoSecrets(t, output[:showStart]+withoutConfigurationSection(t, output[showStart:showEnd])+output[showEnd:],
			map[string]string{"the literal key_wo secret": literal})
		for name, data := range stateFiles {
			assertNotIn(t, name, data, map[string]string{"the literal key_wo secret": literal})
		}
		for name, data := range stateFiles {
			assertNotIn(t, name, data, secrets)
		}
		t.Logf("scanned %d bytes of output and TRACE logs, %d files of the saved plan and %d state files for %d secrets",
			len(output), len(planFiles), len(stateFiles), len(secrets))
	})
}

// assertNotIn fails for every secret in data.
func assertNotIn(t *testing.T, where, data string, secrets map[string]string) {
	t.Helper()
	for what, secret := range secrets {
		if secret != "" && strings.Contains(data, secret) {
			t.Errorf("%s appears in %s", what, where)
		}
	}
}

// readZip returns the contents of every file in a zip archive (a saved Terraform plan).
func readZip(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("opening the saved plan: %v", err)
	}
	defer func() { _ = zr.Close() }()
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = string(data)
	}
	return files
}

// readFiles returns the files of dir that exist among names.
func readFiles(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	return files
}

// withoutConfigurationSection returns the output of `show -json PLAN` with the plan's JSON
// minus its "configuration" section, which reproduces the configuration's expressions.
func withoutConfigurationSection(t *testing.T, out string) string {
	t.Helper()
	var kept strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `{"format_version"`) {
			var plan map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &plan); err != nil {
				t.Fatalf("reading the JSON plan: %v", err)
			}
			if _, ok := plan["configuration"]; !ok {
				t.Fatal("the JSON plan has no configuration section")
			}
			delete(plan, "configuration")
			data, _ := json.Marshal(plan)
			line = string(data)
		}
		kept.WriteString(line + "\n")
	}
	return kept.String()
}

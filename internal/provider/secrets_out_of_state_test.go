package provider

import (
	"archive/zip"
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
`, b.username, acctest.RandString(8))
		}
		run := newCLIRun(t, providerConfig+config)
		run.skipBelow("1.11.0")
		run.env = append(run.env, variables...)

		run.mustRun("plan", "-input=false", "-out=tfplan")
		run.mustRun("show", "-json", "tfplan")
		run.mustRun("apply", "-input=false", "tfplan")
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
				secrets[fmt.Sprintf("API key secret %d", i)] = s
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

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// The adoption workflow through the real CLI (Terraform 1.14 or later): keys granted
// outside Terraform, found by `terraform query`, imported with the configuration
// `-generate-config-out` writes, and destroyed.

// adoptRun is a CLI working directory with the provider configured for b.
func adoptRun(t *testing.T, b *testBackend, config string) *cliRun {
	t.Helper()
	providerConfig := b.providerConfig
	run := newCLIRun(t, providerConfig+config)
	run.skipBelow("1.14.0")
	return run
}

// writeQuery writes the list block that finds adoptUsername's keys.
func (r *cliRun) writeQuery(name string) {
	r.t.Helper()
	query := fmt.Sprintf("list \"sensu_api_key\" %q {\n  provider = sensu\n  config {\n    username = %q\n  }\n}\n", name, adoptUsername)
	if err := os.WriteFile(filepath.Join(r.dir, "adopt.tfquery.hcl"), []byte(query), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

var generatedImportID = regexp.MustCompile(`(?s)import \{[^}]*?identity = \{\s*id\s*=\s*"([^"]+)"`)

// generatedIDs reads generated.tf: its text and the ids of its import blocks, sorted.
func (r *cliRun) generatedIDs() (string, []string) {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, "generated.tf"))
	if err != nil {
		r.t.Fatalf("terraform query wrote no generated.tf: %v", err)
	}
	var ids []string
	for _, m := range generatedImportID.FindAllStringSubmatch(string(data), -1) {
		ids = append(ids, m[1])
	}
	slices.Sort(ids)
	return string(data), ids
}

// stateKeys reads terraform.tfstate: each sensu_api_key instance's attributes and identity.
type stateKey struct {
	Address  string
	ID, Key  *string
	Identity map[string]any
}

func (r *cliRun) stateKeys() []stateKey {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, "terraform.tfstate"))
	if err != nil {
		r.t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Attributes struct {
					ID  *string `json:"id"`
					Key *string `json:"key"`
				} `json:"attributes"`
				Identity map[string]any `json:"identity"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		r.t.Fatal(err)
	}
	var keys []stateKey
	for _, res := range st.Resources {
		if res.Type != "sensu_api_key" {
			continue
		}
		for _, in := range res.Instances {
			keys = append(keys, stateKey{Address: res.Type + "." + res.Name, ID: in.Attributes.ID, Key: in.Attributes.Key, Identity: in.Identity})
		}
	}
	return keys
}

// secretsOf are the secrets a scan of b's CLI output looks for: the keys, and on the
// in-memory API every key secret and token it issued.
func (b *testBackend) secretsOf(keys ...*sensu.APIKey) map[string]string {
	secrets := map[string]string{"the password": os.Getenv("SENSU_PASSWORD")}
	for i, k := range keys {
		secrets[fmt.Sprintf("key %d", i)] = k.Key
	}
	if b.server != nil {
		secrets["the password"] = sensutest.AdminPassword
		for i, s := range b.server.KeySecrets() {
			secrets[fmt.Sprintf("API key secret %d", i)] = s
		}
		for i, s := range b.server.IssuedSecrets() {
			secrets[fmt.Sprintf("issued token %d", i)] = s
		}
	}
	return secrets
}

// TestAccAPIKeyListResource_adopt walks the adoption guide: two keys granted out of band are
// found by `terraform query -generate-config-out`, the generated configuration is applied
// (imports 2, grants nothing), the plan after it is empty, and destroy revokes both. The
// query's output, the generated file and every command's TRACE logs are scanned for secrets.
func TestAccAPIKeyListResource_adopt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		run := adoptRun(t, b, "")
		keys := []*sensu.APIKey{b.grantKeyOutOfBand(t, adoptUsername), b.grantKeyOutOfBand(t, adoptUsername)}
		want := []string{keys[0].ID, keys[1].ID}
		slices.Sort(want)
		run.writeQuery("adopt")

		run.mustRun("init", "-input=false")
		before := run.output.Len()
		run.mustRun("query", "-no-color", "-generate-config-out=generated.tf")
		queryOutput := run.output.String()[before:]
		for _, k := range keys {
			if !strings.Contains(queryOutput, "id="+k.ID) {
				t.Errorf("the query output does not list key %s", k.ID)
			}
		}
		if !regexp.MustCompile(`key of ` + adoptUsername + `, granted \d{4}-`).MatchString(queryOutput) {
			t.Error("the query output has no display name giving the user and when the key was granted")
		}
		generated, ids := run.generatedIDs()
		if !slices.Equal(ids, want) {
			// On a shared real backend someone else's key of the same user would be imported
			// and then revoked by the destroy below: stop here.
			t.Fatalf("generated.tf imports %v, want exactly the keys granted by this test %v", ids, want)
		}
		if strings.Contains(generated, "\n  key ") || !strings.Contains(generated, "username       = \""+adoptUsername+"\"") {
			t.Errorf("generated.tf should set username and never key:\n%s", generated)
		}
		warned := strings.Contains(queryOutput, "Imported Sensu API Keys Have No Secret In State")
		if warned != !b.gen.NamesAreSecret() {
			t.Errorf("the 7.x warning about keys without secret in state: shown %v on %s", warned, b.gen)
		}

		if b.server != nil {
			b.server.ResetCounters()
		}
		before = run.output.Len()
		run.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
		if applied := run.output.String()[before:]; !strings.Contains(applied, "Resources: 2 imported, 0 added, 0 changed, 0 destroyed.") {
			t.Errorf("the apply of the generated configuration did not just import the 2 keys:\n%s", tail(applied, 20))
		}
		if b.server != nil {
			reqs := b.server.Requests()
			if n := reqs["POST /api/core/v2/apikeys"] + reqs["PUT /api/core/v2/apikeys/{name}"]; n != 0 {
				t.Errorf("the import made %d grant requests", n)
			}
			if b.gen.NamesAreSecret() && reqs["GET /api/core/v2/apikeys"] != 1 {
				t.Errorf("the 6.x imports made %d list requests, want 1 for both keys", reqs["GET /api/core/v2/apikeys"])
			}
		}
		for _, k := range keys {
			if ok, err := b.keyAuthenticates(k.Key); err != nil || !ok {
				t.Errorf("key %s no longer authenticates after the import (%v)", k.ID, err)
			}
		}
		for _, sk := range run.stateKeys() {
			id := ""
			if sk.ID != nil {
				id = *sk.ID
			}
			if sk.Identity["id"] != id {
				t.Errorf("%s: identity %v, want id %q", sk.Address, sk.Identity, id)
			}
			k := keys[slices.IndexFunc(keys, func(k *sensu.APIKey) bool { return k.ID == id })]
			switch {
			case b.gen.NamesAreSecret() && (sk.Key == nil || *sk.Key != k.Key):
				t.Errorf("%s: on 6.x the import should restore the key into state", sk.Address)
			case !b.gen.NamesAreSecret() && sk.Key != nil:
				t.Errorf("%s: on 7.x key should be null after the import", sk.Address)
			}
		}
		if !run.run("plan", "-input=false", "-detailed-exitcode", "-no-color") {
			t.Errorf("the plan after the import is not empty:\n%s", tail(run.output.String(), 30))
		}

		before = run.output.Len()
		run.mustRun("destroy", "-auto-approve", "-input=false", "-no-color")
		if destroyed := run.output.String()[before:]; !strings.Contains(destroyed, "Resources: 2 destroyed.") {
			t.Errorf("destroy did not destroy the 2 keys:\n%s", tail(destroyed, 10))
		}
		for _, k := range keys {
			if _, err := b.admin.LookupAPIKey(context.Background(), k.ID); !sensu.IsNotFound(err) {
				t.Errorf("key %s after destroy: %v, want revoked", k.ID, err)
			}
		}

		output := run.output.String()
		if !strings.Contains(output, "TRACE") {
			t.Fatal("the CLI wrote no TRACE logs: the scan would prove nothing")
		}
		secrets := b.secretsOf(keys...)
		assertNoSecrets(t, output, secrets)
		assertNotIn(t, "generated.tf", generated, secrets)
		t.Logf("scanned %d bytes of CLI output and TRACE logs and the %d bytes of generated.tf for %d secrets",
			len(output), len(generated), len(secrets))
	})
}

// TestAccAPIKeyListResource_alreadyManaged: with exclude_ids naming the managed keys, the
// query leaves a key the configuration already manages out. Without it, `terraform query`
// lists it again (Terraform does not compare list results with the state), and applying the
// generated configuration imports it a second time, under another address. The adoption guide says to delete the blocks of
// ids `terraform state list`/`show` already has before applying; this test pins the behaviour
// the guide warns about, so a Terraform that starts filtering them is noticed.
func TestAccAPIKeyListResource_alreadyManaged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		run := adoptRun(t, b, fmt.Sprintf("resource \"sensu_api_key\" \"managed\" {\n  username = %q\n}\n", adoptUsername))
		run.mustRun("apply", "-auto-approve", "-input=false")
		managed := run.stateKeys()
		if len(managed) != 1 || managed[0].ID == nil {
			t.Fatalf("the apply left %d keys in state, want the managed one", len(managed))
		}
		id := *managed[0].ID

		// With the managed keys' ids in exclude_ids, the query leaves the key out, and there
		// is nothing to import.
		excluding := fmt.Sprintf("list \"sensu_api_key\" \"found\" {\n  provider = sensu\n  config {\n    username    = %q\n"+
			"    exclude_ids = [sensu_api_key.managed.id]\n  }\n}\n", adoptUsername)
		if err := os.WriteFile(filepath.Join(run.dir, "adopt.tfquery.hcl"), []byte(excluding), 0o600); err != nil {
			t.Fatal(err)
		}
		before := run.output.Len()
		run.mustRun("query", "-no-color", "-generate-config-out=excluded.tf")
		if out := run.output.String()[before:]; strings.Contains(out, "id="+id) {
			t.Errorf("the query lists the managed key %s despite exclude_ids:\n%s", id, tail(out, 20))
		}
		if data, err := os.ReadFile(filepath.Join(run.dir, "excluded.tf")); err == nil && strings.Contains(string(data), id) {
			t.Errorf("the generated configuration imports the excluded key %s", id)
		}
		_ = os.Remove(filepath.Join(run.dir, "excluded.tf"))

		// Without it, Terraform lists the managed key again.
		run.writeQuery("found")
		before = run.output.Len()
		run.mustRun("query", "-no-color", "-generate-config-out=generated.tf")
		if !strings.Contains(run.output.String()[before:], "id="+id) {
			t.Fatalf("the query does not list the managed key %s: Terraform now leaves managed keys out; update the guide", id)
		}
		_, ids := run.generatedIDs()
		if !slices.Equal(ids, []string{id}) {
			t.Fatalf("generated.tf imports %v, want the managed key %s only", ids, id)
		}

		before = run.output.Len()
		run.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
		if !strings.Contains(run.output.String()[before:], "Resources: 1 imported, 0 added, 0 changed, 0 destroyed.") {
			t.Errorf("the apply did not import the managed key again:\n%s", tail(run.output.String()[before:], 20))
		}
		var addresses []string
		for _, sk := range run.stateKeys() {
			if sk.ID != nil && *sk.ID == id {
				addresses = append(addresses, sk.Address)
			}
		}
		if len(addresses) != 2 {
			t.Errorf("key %s is in state at %v, want at the managed address and at the generated one", id, addresses)
		}
		t.Logf("Terraform listed the managed key %s again and imported it a second time: %v", id, addresses)

		before = run.output.Len()
		run.mustRun("destroy", "-auto-approve", "-input=false", "-no-color")
		if !strings.Contains(run.output.String()[before:], "Resources: 2 destroyed.") {
			t.Errorf("destroy of the two addresses of one key failed:\n%s", tail(run.output.String()[before:], 20))
		}
		if _, err := b.admin.LookupAPIKey(context.Background(), id); !sensu.IsNotFound(err) {
			t.Errorf("the key after destroy: %v, want revoked", err)
		}
	})
}

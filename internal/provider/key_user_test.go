package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// usersPath is where the provider reads users (internal/sensu/users.go).
const usersPath = "/api/core/v2/users"

// testUser is a Sensu user a test creates for itself. Sensu never deletes users: the test
// gives it a random name and disables it when it ends, pass or fail.
type testUser struct {
	name, password string
}

// newTestUser creates a user in the given groups, or else in a group of its own name (which
// holds no role: bindGroupInDefault gives it one).
func newTestUser(t *testing.T, b *testBackend, groups ...string) testUser {
	t.Helper()
	u := testUser{
		name:     "tf-acc-" + acctest.RandStringFromCharSet(10, "abcdefghijklmnopqrstuvwxyz0123456789"),
		password: acctest.RandString(24),
	}
	if len(groups) == 0 {
		groups = []string{u.name}
	}
	ctx := context.Background()
	if err := b.admin.CreateUser(ctx, sensu.CreateUserRequest{Username: u.name, Password: u.password, Groups: groups}); err != nil {
		t.Fatalf("creating the test user: %v", err)
	}
	t.Cleanup(func() {
		if err := b.admin.DisableUser(context.Background(), u.name); err != nil {
			t.Errorf("disabling the test user %s at the end: %v", u.name, err)
		}
	})
	return u
}

// bindGroupInDefault gives group the ClusterRole admin in namespace default, as step 35 of
// the records does, so that its keys can really work there; the binding is deleted when the
// test ends. The client has no RBAC calls (the provider manages none), so this helper talks
// to the API itself.
func bindGroupInDefault(t *testing.T, b *testBackend, group string) {
	t.Helper()
	name := group + "-admin"
	spec := fmt.Sprintf(`"role_ref":{"type":"ClusterRole","name":"admin"},"subjects":[{"type":"Group","name":%q}]`, group)
	meta := fmt.Sprintf(`"metadata":{"name":%q,"namespace":"default"}`, name)
	body := "{" + meta + "," + spec + "}"
	if !b.gen.NamesAreSecret() {
		body = `{"type":"RoleBinding","api_version":"core/v2","spec":{` + meta + "," + spec + "}}"
	}
	const bindings = "/api/core/v2/namespaces/default/rolebindings"
	if status, text := b.adminRequest(t, http.MethodPost, bindings, body); status != http.StatusCreated {
		t.Fatalf("creating role binding %s: HTTP %d: %s", name, status, text)
	}
	t.Cleanup(func() {
		if status, text := b.adminRequest(t, http.MethodDelete, bindings+"/"+name, ""); status != http.StatusNoContent {
			t.Errorf("deleting role binding %s: HTTP %d: %s", name, status, text)
		}
	})
}

// adminRequest sends one request as the backend's admin (the in-memory admin, or the real
// backend's SENSU_API_KEY, else a login as adminLogin), and returns the status and body.
func (b *testBackend) adminRequest(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	client := b.httpClient(t)
	auth := b.adminAuthorization
	if auth == "" {
		auth = "Bearer " + b.login(t).AccessToken
	}
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	text, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(text)
}

// httpClient trusts what the tests' sensu clients trust.
func (b *testBackend) httpClient(t *testing.T) *http.Client {
	t.Helper()
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: b.insecure} // #nosec G402 -- only when the environment asks
	pool, _ := x509.SystemCertPool()
	if pool == nil {
		pool = x509.NewCertPool()
	}
	if f := b.trustedCAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pem)
	}
	pool.AppendCertsFromPEM([]byte(b.caPEM))
	tlsConfig.RootCAs = pool
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
}

// keyStatusInDefault reports the status of GET checks in namespace default with the key.
func (b *testBackend) keyStatusInDefault(t *testing.T, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.url+"/api/core/v2/namespaces/default/checks", nil)
	req.Header.Set("Authorization", "Key "+key)
	resp, err := b.httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// newBackendCLIRun is newCLIRun for b: on a real backend the provider takes its
// configuration from the SENSU_* environment, which newCLIRun does not pass on by itself.
func newBackendCLIRun(t *testing.T, b *testBackend, config string) *cliRun {
	t.Helper()
	run := newCLIRun(t, b.providerConfig+config)
	if realBackend() {
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "SENSU_") {
				run.env = append(run.env, kv)
			}
		}
	}
	return run
}

// since returns what the run printed after mark (a length of run.output).
func (r *cliRun) since(mark int) string { return r.output.String()[mark:] }

// flatten undoes the CLI's word wrapping of diagnostics (box drawing, line breaks) so that a
// sentence can be matched whole.
func flatten(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "│", " ")), " ")
}

// outputs reads the root module outputs as JSON values.
func (r *cliRun) outputs() map[string]json.RawMessage {
	r.t.Helper()
	cmd := r.outputJSON()
	var out map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(cmd), &out); err != nil {
		r.t.Fatalf("terraform output -json: %v\n%s", err, cmd)
	}
	values := map[string]json.RawMessage{}
	for k, v := range out {
		var compact bytes.Buffer
		if err := json.Compact(&compact, v.Value); err != nil {
			r.t.Fatal(err)
		}
		values[k] = compact.Bytes()
	}
	return values
}

func (r *cliRun) outputJSON() string {
	r.t.Helper()
	mark := r.output.Len()
	// TF_LOG would interleave logs with the JSON: this one command runs without them.
	saved := r.env
	r.env = append(append([]string(nil), r.env...), "TF_LOG=")
	defer func() { r.env = saved }()
	r.mustRun("output", "-json")
	return strings.TrimSpace(r.since(mark))
}

// expectOutputs compares outputs as compact JSON; Terraform leaves a null output out.
func expectOutputs(t *testing.T, run *cliRun, want map[string]string) {
	t.Helper()
	got := run.outputs()
	for name, value := range want {
		v, ok := got[name]
		if !ok {
			v = json.RawMessage("null")
		}
		if string(v) != value {
			t.Errorf("output %s = %s, want %s", name, v, value)
		}
	}
}

const disabledUserConfig = `
resource "sensu_api_key" "test" {
  username = %[1]q
}

data "sensu_api_key" "test" {
  id = sensu_api_key.test.id
}

data "sensu_api_keys" "user" {
  username   = %[1]q
  depends_on = [sensu_api_key.test]
}

# As the docs show: warn about keys that outlive their user's access.
check "no_keys_of_disabled_users" {
  assert {
    condition     = !anytrue([for k in data.sensu_api_keys.user.api_keys : coalesce(k.user_disabled, false)])
    error_message = "API keys of disabled users still authenticate: revoke them."
  }
}

output "one_disabled" {
  value = data.sensu_api_key.test.user_disabled
}

output "list_disabled" {
  value = [for k in data.sensu_api_keys.user.api_keys : k.user_disabled]
}
`

// TestAccAPIKeyOfDisabledUser: disable the key's user, refresh, see the warning and
// user_disabled = true while the key still works; reinstate, and the warning is gone.
func TestAccAPIKeyOfDisabledUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		user := newTestUser(t, b)
		bindGroupInDefault(t, b, user.name)
		run := newBackendCLIRun(t, b, fmt.Sprintf(disabledUserConfig, user.name))
		t.Cleanup(func() {
			if !run.run("destroy", "-auto-approve", "-input=false", "-no-color") {
				t.Errorf("destroy at the end failed:\n%s", tail(run.output.String(), 30))
			}
		})
		ctx := context.Background()

		run.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
		expectOutputs(t, run, map[string]string{"one_disabled": "false", "list_disabled": "[false]"})
		id := run.stateID("sensu_api_key.test")
		secret := keysEverSeen(run.dir)
		if len(secret) != 1 {
			t.Fatalf("%d keys in state", len(secret))
		}
		if status := b.keyStatusInDefault(t, secret[0]); status != http.StatusOK {
			t.Fatalf("the new key gets HTTP %d in namespace default", status)
		}

		if err := b.admin.DisableUser(ctx, user.name); err != nil {
			t.Fatal(err)
		}
		mark := run.output.Len()
		run.mustRun("plan", "-input=false", "-no-color")
		out := flatten(run.since(mark))
		detail := "The Sensu user \"" + user.name + "\" is disabled: Sensu refuses its logins, but its API key " + id + " still authenticates"
		if !strings.Contains(out, "Warning: "+summaryDisabledUser) || !strings.Contains(out, detail) {
			t.Fatalf("plan after disabling the user shows no warning naming the key and the user:\n%s", tail(run.since(mark), 60))
		}
		if !strings.Contains(out, "revoke the key: remove this sensu_api_key") || !strings.Contains(out, "sensuctl user reinstate "+user.name) {
			t.Errorf("the warning does not say how to revoke or reinstate:\n%s", tail(run.since(mark), 60))
		}
		if !strings.Contains(out, "Check block assertion failed") {
			t.Errorf("the documented check block did not fire:\n%s", tail(run.since(mark), 60))
		}
		run.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
		expectOutputs(t, run, map[string]string{"one_disabled": "true", "list_disabled": "[true]"})
		if status := b.keyStatusInDefault(t, secret[0]); status != http.StatusOK {
			t.Fatalf("the disabled user's key gets HTTP %d; Sensu keeps such keys working", status)
		}

		if err := b.admin.ReinstateUser(ctx, user.name); err != nil {
			t.Fatal(err)
		}
		mark = run.output.Len()
		run.mustRun("plan", "-input=false", "-no-color")
		out = flatten(run.since(mark))
		for _, gone := range []string{summaryDisabledUser, "Check block assertion failed", summaryUnknownUser, summaryUserNotRead} {
			if strings.Contains(out, gone) {
				t.Errorf("after reinstating the user the plan still says %q:\n%s", gone, tail(run.since(mark), 40))
			}
		}
		run.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
		expectOutputs(t, run, map[string]string{"one_disabled": "false", "list_disabled": "[false]"})
		assertNoSecrets(t, run.output.String(), map[string]string{"the key": secret[0], "the user's password": user.password})
	})
}

// TestAccAPIKeyOfUnknownUser: a key whose user Sensu does not know (granted out of band,
// imported) warns on refresh, and the data sources report user_disabled as null with a
// warning; a plan never fails because of the user. Real Sensu refuses such grants and never
// deletes users, so this needs the in-memory API.
func TestAccAPIKeyOfUnknownUser(t *testing.T) {
	forEachMemoryBackend(t, "needs the in-memory Sensu API: a real one refuses keys for unknown users, never deletes a user, "+
		"and does not fail user reads on demand", func(t *testing.T, b *testBackend) {
		ghost := "ghost-" + acctest.RandStringFromCharSet(8, "abcdefghijklmnopqrstuvwxyz")
		key := b.server.GrantAPIKey(ghost)
		id := key.Name
		if b.gen.NamesAreSecret() {
			id = sensu.Digest(key.Key)
		}
		run := newCLIRun(t, b.providerConfig+fmt.Sprintf(`
resource "sensu_api_key" "ghost" {
  username = %[1]q
}

data "sensu_api_key" "ghost" {
  id = %[2]q
}

data "sensu_api_keys" "ghost" {
  username = %[1]q
}

output "one_disabled" {
  value = data.sensu_api_key.ghost.user_disabled
}

output "list_disabled" {
  value = [for k in data.sensu_api_keys.ghost.api_keys : k.user_disabled]
}
`, ghost, id))
		mark := run.output.Len()
		run.mustRun("import", "-input=false", "-no-color", "sensu_api_key.ghost", id)
		if out := flatten(run.since(mark)); !strings.Contains(out, "Warning: "+summaryUnknownUser) ||
			!strings.Contains(out, fmt.Sprintf("Sensu has no user %q, the user of API key %s.", ghost, id)) {
			t.Errorf("import of a key of an unknown user: no warning naming the key:\n%s", tail(run.since(mark), 40))
		}
		mark = run.output.Len()
		run.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
		out := flatten(run.since(mark))
		// The resource and both data sources warn; Terraform folds same-titled warnings.
		if !strings.Contains(out, "Warning: "+summaryUnknownUser) || !strings.Contains(out, "2 more similar warnings") {
			t.Errorf("apply: not 3 unknown-user warnings:\n%s", tail(run.since(mark), 80))
		}
		if strings.Contains(out, summaryDisabledUser) {
			t.Error("an unknown user is not a disabled one")
		}
		expectOutputs(t, run, map[string]string{"one_disabled": "null", "list_disabled": "[null]"})

		// Credentials that may not read users: a warning of its own, and the plan succeeds.
		b.server.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/users/{name}", Status: 403,
			Body: `{"Code":4,"Message":"unauthorized to perform action"}`, Count: 100})
		b.server.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/users", Status: 403,
			Body: `{"Code":4,"Message":"unauthorized to perform action"}`, Count: 100})
		mark = run.output.Len()
		run.mustRun("plan", "-input=false", "-no-color")
		out = flatten(run.since(mark))
		if !strings.Contains(out, "Warning: "+summaryUserNotRead) || !strings.Contains(out, fmt.Sprintf("may not read Sensu user %q", ghost)) {
			t.Errorf("plan with users unreadable: no warning:\n%s", tail(run.since(mark), 60))
		}
		b.server.ClearFaults()
		run.mustRun("destroy", "-auto-approve", "-input=false", "-no-color")
	})
}

// TestAccUserReadsPerProcess: refreshing many keys of one user reads the user once; a plan
// without refresh and an apply that only creates read none; keys of several users listed
// by the data source cost at most one read per distinct user. The reads are counted from the
// provider's own DEBUG logs in the CLI's TRACE output, so a real backend counts too; in memory
// the server's counters must agree.
func TestAccUserReadsPerProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		other := b.otherUser(t)
		run := newBackendCLIRun(t, b, fmt.Sprintf(`
resource "sensu_api_key" "many" {
  count    = 25
  username = %q
}

resource "sensu_api_key" "other" {
  username = %q
}
`, b.username, other))
		b.revokeStateKeysAtEnd(t, run)
		// userReads counts the user reads of the commands run since mark.
		userReads := func(r *cliRun, mark int) (gets, lists int) {
			t.Helper()
			for request, n := range providerRequests(r.since(mark)) {
				switch {
				case request == "GET "+usersPath:
					lists += n
				case strings.HasPrefix(request, "GET "+usersPath+"/"):
					gets += n
				}
			}
			if b.server != nil {
				counts := b.server.Requests()
				if g, l := counts["GET /api/core/v2/users/{name}"], counts["GET /api/core/v2/users"]; g != gets || l != lists {
					t.Errorf("the provider logged %d user GETs and %d lists; the server received %d and %d", gets, lists, g, l)
				}
				b.server.ResetCounters()
			}
			return gets, lists
		}
		if b.server != nil {
			b.server.ResetCounters()
		}

		mark := run.output.Len()
		run.mustRun("apply", "-auto-approve", "-input=false", "-parallelism=25")
		if gets, lists := userReads(run, mark); gets+lists != 0 {
			t.Errorf("an apply that only creates read users %d+%d times; nothing was refreshed", gets, lists)
		}
		mark = run.output.Len()
		run.mustRun("plan", "-input=false", "-parallelism=25", "-detailed-exitcode")
		if gets, lists := userReads(run, mark); gets != 2 || lists != 0 {
			t.Errorf("a plan refreshing 25 keys of %s and 1 of %s made %d user GETs and %d lists, want 2 GETs", b.username, other, gets, lists)
		}
		mark = run.output.Len()
		run.mustRun("plan", "-input=false", "-refresh=false")
		if gets, lists := userReads(run, mark); gets+lists != 0 {
			t.Errorf("plan -refresh=false read users %d+%d times", gets, lists)
		}

		// The list data source over keys of both users, next to the refreshes.
		list := newBackendCLIRun(t, b, "data \"sensu_api_keys\" \"all\" {}\n")
		list.mustRun("plan", "-input=false")
		if gets, lists := userReads(list, 0); gets != 0 || lists != 1 {
			t.Errorf("listing keys of 2 users made %d user GETs and %d lists, want one list", gets, lists)
		}
		run.mustRun("destroy", "-auto-approve", "-input=false", "-parallelism=25")
	})
}

package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// faultCase is one row of the fault matrix: what goes wrong while Terraform applies keys.
type faultCase struct {
	name     string
	keys     int
	opts     sensutest.Options
	timeout  string
	onApply  func(s *sensutest.Server, grantRoute string) // faults for the first apply
	onReread func(s *sensutest.Server)                    // faults for the converging apply
	during   func(s *sensutest.Server)                    // runs concurrently with the first apply
}

type faultResult struct {
	fault, generation      string
	firstApply, converged  string
	orphans, lost          int
	logins, processes      int
	refreshes, requests    int
	grants, lists          int
	firstApplyErrorSummary string
}

func faultCases() []faultCase {
	grantFault := func(f sensutest.Fault) func(*sensutest.Server, string) {
		return func(s *sensutest.Server, route string) {
			f.Route = route
			s.InjectFault(f)
		}
	}
	return []faultCase{
		{name: "503 with Retry-After on grants", keys: 20, onApply: grantFault(sensutest.Fault{Status: 503, RetryAfter: "1", Count: 8})},
		{name: "429 on grants", keys: 20, onApply: grantFault(sensutest.Fault{Status: 429, Count: 8})},
		{name: "500 on reads", keys: 20, onReread: func(s *sensutest.Server) {
			s.InjectFault(sensutest.Fault{Method: "GET", Route: "/api/core/v2/apikeys/{name}", Status: 500, Count: 8})
		}},
		{name: "connection reset after the grant", keys: 20, onApply: grantFault(sensutest.Fault{AfterProcess: true, Count: 5})},
		{name: "502 after the grant", keys: 20, onApply: grantFault(sensutest.Fault{AfterProcess: true, Status: 502, Count: 5})},
		{name: "grant timeouts", keys: 20, timeout: "1s", onApply: grantFault(sensutest.Fault{Delay: 3 * time.Second, Count: 3})},
		{name: "grant committed after the client timed out", keys: 20, timeout: "1s",
			onApply: grantFault(sensutest.Fault{Delay: 1500 * time.Millisecond, ProcessLate: true, Count: 3})},
		{name: "token expiry mid-apply", keys: 40, opts: sensutest.Options{TokenTTL: time.Second, Latency: 400 * time.Millisecond}},
		{name: "API restart mid-apply", keys: 20, opts: sensutest.Options{Latency: 100 * time.Millisecond}, during: func(s *sensutest.Server) {
			time.Sleep(400 * time.Millisecond)
			if err := s.Restart(); err != nil {
				panic(err)
			}
		}},
	}
}

// TestAccFaultMatrix applies 20+ keys at parallelism 10 through the real CLI while the
// in-memory API misbehaves, then checks that a second apply converges and that the keys on
// the server are exactly the keys in state. It prints the matrix as a table.
func TestAccFaultMatrix(t *testing.T) {
	if realBackend() {
		t.Skip("needs the in-memory Sensu API to inject faults")
	}
	var (
		mu      sync.Mutex
		results []faultResult
	)
	for _, fc := range faultCases() {
		for _, gen := range []sensutest.Generation{sensutest.Generation6, sensutest.Generation7} {
			t.Run(fmt.Sprintf("%s/sensu%d", strings.ReplaceAll(fc.name, " ", "_"), gen), func(t *testing.T) {
				r := runFault(t, fc, gen)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			})
		}
	}
	printFaultTable(results)
}

func runFault(t *testing.T, fc faultCase, gen sensutest.Generation) faultResult {
	opts := fc.opts
	opts.Generation = gen
	b := newMemoryBackend(t, opts)
	s := b.server
	timeout := fc.timeout
	if timeout == "" {
		timeout = "15s"
	}
	config := fmt.Sprintf(`
provider "sensu" {
  api_url  = %q
  username = %q
  password = %q
  timeout  = %q
}

resource "sensu_api_key" "k" {
  count    = %d
  username = "admin"
}
`, b.url, sensutest.AdminUsername, sensutest.AdminPassword, timeout, fc.keys)
	run := newCLIRun(t, config)
	grantRoute := "POST /api/core/v2/apikeys"
	if gen == sensutest.Generation7 {
		grantRoute = "PUT /api/core/v2/apikeys"
	}
	res := faultResult{fault: fc.name, generation: fmt.Sprintf("%d.x", gen)}

	s.ResetCounters()
	if fc.onApply != nil {
		fc.onApply(s, grantRoute)
	}
	var wg sync.WaitGroup
	if fc.during != nil {
		wg.Add(1)
		go func() { defer wg.Done(); fc.during(s) }()
	}
	before := run.output.Len()
	firstOK := run.run("apply", "-auto-approve", "-input=false", "-parallelism=10")
	wg.Wait()
	firstOut := run.output.String()[before:]
	assertNoPanic(t, firstOut)
	res.firstApply = "ok"
	if !firstOK {
		res.firstApply = "failed"
		res.firstApplyErrorSummary = firstErrorSummary(firstOut)
		if res.firstApplyErrorSummary == "" {
			t.Errorf("the first apply failed without an Error diagnostic:\n%s", tail(firstOut, 30))
		}
	}
	s.ClearFaults()

	if fc.onReread != nil {
		fc.onReread(s)
	}
	run.mustRun("apply", "-auto-approve", "-input=false", "-parallelism=10")
	s.ClearFaults()
	res.converged = "no"
	if run.run("plan", "-input=false", "-detailed-exitcode") {
		res.converged = "yes"
	} else {
		t.Errorf("a plan after the converging apply is not empty")
	}

	counts := s.Requests()
	res.logins, res.processes, res.refreshes = counts["GET /auth"], counts["GET /version"], counts["POST /auth/token"]
	res.grants, res.lists = counts[grantRoute], counts["GET /api/core/v2/apikeys"]
	for _, n := range counts {
		res.requests += n
	}
	// Each provider process that calls the API detects the generation once and logs in once;
	// token expiry is handled by refreshes, not new logins. A process restarted under a
	// restarted API may detect again, so logins may not exceed detections.
	if res.logins > res.processes {
		t.Errorf("%d logins for %d provider processes", res.logins, res.processes)
	}

	res.orphans, res.lost = compareServerAndState(t, b, run.dir)
	if res.orphans != 0 || res.lost != 0 {
		t.Errorf("after converging: %d orphaned keys on the server, %d keys in state that the server lacks", res.orphans, res.lost)
	}
	if got := len(s.APIKeys()); got != fc.keys {
		t.Errorf("the server holds %d keys, want %d", got, fc.keys)
	}

	run.mustRun("destroy", "-auto-approve", "-input=false", "-parallelism=10")
	if left := s.APIKeys(); len(left) != 0 {
		t.Errorf("destroy left %d keys on the server", len(left))
	}
	secrets := map[string]string{"the password": sensutest.AdminPassword}
	for i, sec := range s.IssuedSecrets() {
		secrets[fmt.Sprintf("issued token %d", i)] = sec
	}
	for i, k := range keysEverSeen(run.dir) {
		secrets[fmt.Sprintf("key %d from state", i)] = k
	}
	assertNoSecrets(t, run.output.String(), secrets)
	return res
}

func assertNoPanic(t *testing.T, out string) {
	t.Helper()
	for _, bad := range []string{"panic:", "The plugin encountered an error", "goroutine "} {
		if strings.Contains(out, bad) {
			t.Errorf("the CLI output shows a crash (%q):\n%s", bad, tail(out, 40))
		}
	}
}

func firstErrorSummary(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "Error: "); i >= 0 && !strings.Contains(line, "[ERROR]") {
			return strings.TrimSpace(line[i+len("Error: "):])
		}
	}
	return ""
}

type stateFile struct {
	Resources []struct {
		Type      string `json:"type"`
		Instances []struct {
			Attributes struct {
				ID  string `json:"id"`
				Key string `json:"key"`
			} `json:"attributes"`
		} `json:"instances"`
	} `json:"resources"`
}

func readState(t *testing.T, dir string) stateFile {
	t.Helper()
	var st stateFile
	data, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		t.Fatalf("reading the state: %v", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("decoding the state: %v", err)
	}
	return st
}

// compareServerAndState counts keys on the server that no state holds (orphans) and keys in
// state that the server lacks (lost), by public id.
func compareServerAndState(t *testing.T, b *testBackend, dir string) (orphans, lost int) {
	t.Helper()
	inState := map[string]bool{}
	for _, r := range readState(t, dir).Resources {
		if r.Type == "sensu_api_key" {
			for _, in := range r.Instances {
				inState[in.Attributes.ID] = true
			}
		}
	}
	onServer := map[string]bool{}
	for _, k := range b.server.APIKeys() {
		id := k.Name
		if b.gen.NamesAreSecret() {
			id = sensu.Digest(k.Key)
		}
		onServer[id] = true
		if !inState[id] {
			orphans++
		}
	}
	for id := range inState {
		if !onServer[id] {
			lost++
		}
	}
	return orphans, lost
}

// keysEverSeen returns the keys in the last state backup and state, for the secret scan.
func keysEverSeen(dir string) []string {
	var keys []string
	for _, name := range []string{"terraform.tfstate", "terraform.tfstate.backup"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var st stateFile
		if json.Unmarshal(data, &st) != nil {
			continue
		}
		for _, r := range st.Resources {
			for _, in := range r.Instances {
				if in.Attributes.Key != "" {
					keys = append(keys, in.Attributes.Key)
				}
			}
		}
	}
	return keys
}

func printFaultTable(results []faultResult) {
	if len(results) == 0 {
		return
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].fault < results[j].fault })
	var b strings.Builder
	b.WriteString("\nFault matrix (20+ keys, parallelism 10; second apply converges; logins vs provider processes)\n\n")
	b.WriteString("| fault | generation | first apply | converged | orphans | lost | logins / processes | refreshes | grant requests | lists | requests |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		first := r.firstApply
		if r.firstApplyErrorSummary != "" {
			first += ": " + r.firstApplyErrorSummary
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d / %d | %d | %d | %d | %d |\n",
			r.fault, r.generation, first, r.converged, r.orphans, r.lost, r.logins, r.processes, r.refreshes, r.grants, r.lists, r.requests)
	}
	fmt.Print(b.String())
}

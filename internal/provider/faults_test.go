package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu"
	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// faultCase is one row of the fault matrix: what goes wrong while Terraform applies keys.
type faultCase struct {
	name string
	keys int
	// ephemeralKeys, when set, is keys for the ephemeral variant. Terraform closes the
	// instances of an ephemeral resource one after another, so each revocation's latency
	// adds up at the end of every walk.
	ephemeralKeys int
	opts          sensutest.Options
	timeout       string
	onApply       func(s *sensutest.Server, grantRoute string) // faults for the first apply
	onReread      func(s *sensutest.Server)                    // faults for the converging apply
	during        func(s *sensutest.Server)                    // runs concurrently with the first apply
}

type faultResult struct {
	fault, generation, kind string
	firstApply, converged   string
	orphans, lost           int
	logins, processes       int // GET /auth and GET /version requests the server received
	clientLogins            int // logins the provider processes completed, from their logs
	clientProcesses         int // provider processes that detected the generation, from their logs
	refreshes, requests     int
	grants, lists           int
	firstApplyErrorSummary  string
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
		// 10 ephemeral keys still revoke for 4 s at the end of each walk: several token lifetimes.
		{name: "token expiry mid-apply", keys: 40, ephemeralKeys: 10, opts: sensutest.Options{TokenTTL: time.Second, Latency: 400 * time.Millisecond}},
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
	skipOnRealBackend(t, "needs the in-memory Sensu API to inject faults and restart it mid-apply")
	var (
		mu      sync.Mutex
		results []faultResult
	)
	for _, fc := range faultCases() {
		for _, gen := range []sensutest.Generation{sensutest.Generation6, sensutest.Generation7} {
			for _, ephemeral := range []bool{false, true} {
				if ephemeral && fc.onReread != nil {
					continue // an ephemeral key is never read back
				}
				name := fmt.Sprintf("%s/sensu%d", strings.ReplaceAll(fc.name, " ", "_"), gen)
				if ephemeral {
					name += "/ephemeral"
				}
				t.Run(name, func(t *testing.T) {
					r := runFault(t, fc, gen, ephemeral)
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				})
			}
		}
	}
	printFaultTable(results)
}

// runFault applies fc.keys keys while the fault happens, then converges and destroys. With
// ephemeral, the keys are ephemeral: every walk opens and closes all of them, and none may
// remain on the server after any run.
func runFault(t *testing.T, fc faultCase, gen sensutest.Generation, ephemeral bool) faultResult {
	opts := fc.opts
	opts.Generation = gen
	b := newMemoryBackend(t, opts)
	s := b.server
	timeout := fc.timeout
	if timeout == "" {
		timeout = "15s"
	}
	if ephemeral && fc.ephemeralKeys > 0 {
		fc.keys = fc.ephemeralKeys
	}
	config := fmt.Sprintf(`
provider "sensu" {
  api_url  = %q
  username = %q
  password = %q
  timeout  = %q
}

%s "sensu_api_key" "k" {
  count    = %d
  username = "admin"
}
`, b.url, sensutest.AdminUsername, sensutest.AdminPassword, timeout, kind(ephemeral), fc.keys)
	run := newCLIRun(t, config)
	if ephemeral {
		run.skipBelow("1.10.0")
	}
	grantRoute := "POST /api/core/v2/apikeys"
	if gen == sensutest.Generation7 {
		grantRoute = "PUT /api/core/v2/apikeys"
	}
	res := faultResult{fault: fc.name, generation: fmt.Sprintf("%d.x", gen), kind: kind(ephemeral)}

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
	// token expiry is handled by refreshes, not new logins. The server's request counts can't
	// show that: a login or detection whose answer a fault (or a restart) lost is retried and
	// reaches the server twice. So count what the processes themselves completed, from their
	// DEBUG logs in the TRACE output.
	var maxLogins int
	res.clientLogins, res.clientProcesses, maxLogins = providerLogins(run.output.String())
	if maxLogins > 1 {
		t.Errorf("a provider process logged in %d times; each should log in once and refresh its token after that", maxLogins)
	}
	if res.clientLogins == 0 || res.clientLogins > res.clientProcesses {
		t.Errorf("provider processes completed %d logins and %d generation detections; want one of each per process that calls the API",
			res.clientLogins, res.clientProcesses)
	}

	res.orphans, res.lost = compareServerAndState(t, b, run.dir)
	if res.orphans != 0 || res.lost != 0 {
		t.Errorf("after converging: %d orphaned keys on the server, %d keys in state that the server lacks", res.orphans, res.lost)
	}
	want := fc.keys
	if ephemeral {
		want = 0 // every walk revoked what it opened
	}
	if got := len(s.APIKeys()); got != want {
		t.Errorf("the server holds %d keys, want %d", got, want)
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
	for i, k := range s.KeySecrets() {
		secrets[fmt.Sprintf("key secret %d the server knew", i)] = k
	}
	assertNoSecrets(t, run.output.String(), secrets)
	return res
}

// kind is how a fault row's keys are declared.
func kind(ephemeral bool) string {
	if ephemeral {
		return "ephemeral"
	}
	return "resource"
}

var (
	loginLogLine     = regexp.MustCompile(`Logged in to Sensu:.*\blogins_by_this_client=(\d+)`)
	detectionLogLine = regexp.MustCompile(`Detected the Sensu API generation:`)
	requestLogLine   = regexp.MustCompile(`Sending Sensu API request:.*`)
	methodLogField   = regexp.MustCompile(`\bmethod=(\S+)`)
	pathLogField     = regexp.MustCompile(`\bpath=(\S+)`)
)

// providerRequests reads the provider's DEBUG logs in a CLI's TRACE output: how many requests
// its processes sent, by "METHOD path" (6.x key paths are redacted there). A request that the
// HTTP client retried counts once.
func providerRequests(out string) map[string]int {
	counts := map[string]int{}
	for _, line := range requestLogLine.FindAllString(out, -1) {
		m, p := methodLogField.FindStringSubmatch(line), pathLogField.FindStringSubmatch(line)
		if m != nil && p != nil {
			counts[m[1]+" "+p[1]]++
		}
	}
	return counts
}

// providerLogins reads the provider's DEBUG logs in a CLI's TRACE output: the logins its
// processes completed, the generation detections (one per process that called the API), and
// the most logins any one process made.
func providerLogins(out string) (logins, detections, maxPerProcess int) {
	for _, m := range loginLogLine.FindAllStringSubmatch(out, -1) {
		logins++
		if n, err := strconv.Atoi(m[1]); err == nil && n > maxPerProcess {
			maxPerProcess = n
		}
	}
	return logins, len(detectionLogLine.FindAllStringIndex(out, -1)), maxPerProcess
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
		Mode      string `json:"mode"`
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
	sort.SliceStable(results, func(i, j int) bool {
		if results[i].fault != results[j].fault {
			return results[i].fault < results[j].fault
		}
		return results[i].kind > results[j].kind
	})
	var b strings.Builder
	b.WriteString("\nFault matrix (20+ keys, parallelism 10; second apply converges; logins vs provider processes; " +
		"ephemeral keys are granted in the plan and the apply walk and revoked at each walk's end)\n\n")
	b.WriteString("| fault | generation | keys | first apply | converged | orphans | lost | logins / processes (provider logs) | GET /auth / GET /version (server) | refreshes | grant requests | lists | requests |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		first := r.firstApply
		if r.firstApplyErrorSummary != "" {
			first += ": " + r.firstApplyErrorSummary
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %d | %d / %d | %d / %d | %d | %d | %d | %d |\n",
			r.fault, r.generation, r.kind, first, r.converged, r.orphans, r.lost, r.clientLogins, r.clientProcesses, r.logins, r.processes,
			r.refreshes, r.grants, r.lists, r.requests)
	}
	fmt.Print(b.String())
}

// TestProviderLogins checks the log reading the fault matrix relies on, on lines in the
// format Terraform prints the provider's DEBUG logs in.
func TestProviderLogins(t *testing.T) {
	out := strings.Join([]string{
		`2026-12-01T08:00:00.100Z [DEBUG] provider.terraform-provider-sensu: Detected the Sensu API generation: @module=sensu generation=6 sensu_backend=6.12.0 tf_rpc=ApplyResourceChange`,
		`2026-12-01T08:00:00.200Z [DEBUG] provider.terraform-provider-sensu: Logged in to Sensu: @module=sensu logins_by_this_client=1 tf_rpc=ApplyResourceChange username=admin`,
		`2026-12-01T08:00:01.100Z [DEBUG] provider.terraform-provider-sensu: Detected the Sensu API generation: @module=sensu generation=6 sensu_backend=6.12.0 tf_rpc=ReadResource`,
		`2026-12-01T08:00:01.200Z [DEBUG] provider.terraform-provider-sensu: Logged in to Sensu: @module=sensu logins_by_this_client=1 tf_rpc=ReadResource username=admin`,
		`2026-12-01T08:00:09.200Z [DEBUG] provider.terraform-provider-sensu: Logged in to Sensu: @module=sensu logins_by_this_client=2 tf_rpc=ReadResource username=admin`,
	}, "\n")
	logins, detections, most := providerLogins(out)
	if logins != 3 || detections != 2 || most != 2 {
		t.Errorf("providerLogins = %d logins, %d detections, at most %d per process; want 3, 2, 2", logins, detections, most)
	}
}

// TestProviderRequests checks the log reading TestAccUserReadsPerProcess relies on: hclog
// prints a line's fields in any order.
func TestProviderRequests(t *testing.T) {
	out := strings.Join([]string{
		`2026-12-01T09:14:36.755Z [DEBUG] provider.terraform-provider-sensu: Sending Sensu API request: path=/version tf_rpc=ReadDataSource @module=sensu method=GET tf_data_source_type=sensu_api_keys`,
		`2026-12-01T09:14:36.758Z [DEBUG] provider.terraform-provider-sensu: Sending Sensu API request: tf_rpc=ReadResource @module=sensu method=GET path=/api/core/v2/users/admin`,
		`2026-12-01T09:14:36.759Z [DEBUG] provider.terraform-provider-sensu: Sending Sensu API request: @module=sensu path=/api/core/v2/users/admin method=GET tf_rpc=ReadResource`,
		`2026-12-01T09:14:36.760Z [DEBUG] provider.terraform-provider-sensu: Sending Sensu API request: @module=sensu path=/api/core/v2/apikeys/{key:sha256:0123456789ab} tf_rpc=DeleteResource method=DELETE`,
		`2026-12-01T09:14:36.761Z [DEBUG] provider.terraform-provider-sensu: Logged in to Sensu: @module=sensu logins_by_this_client=1 username=admin`,
	}, "\n")
	got := providerRequests(out)
	want := map[string]int{"GET /version": 1, "GET /api/core/v2/users/admin": 2, "DELETE /api/core/v2/apikeys/{key:sha256:0123456789ab}": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("providerRequests = %v, want %v", got, want)
	}
}

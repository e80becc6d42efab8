package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

// server is what a run needs of the in-memory Sensu API.
type server interface {
	ResetCounters()
	Requests() map[string]int
}

// Operation indexes of a lifecycle.
const (
	opApply = iota
	opPlan
	opDestroy
	numOps
)

// lifecycle is apply, a no-change plan and destroy of one configuration, possibly repeated.
type lifecycle struct {
	runs [numOps][]*tfRun
}

// run is the repetition of operation op with the median wall time.
func (l *lifecycle) run(op int) *tfRun {
	rs := append([]*tfRun(nil), l.runs[op]...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Wall < rs[j].Wall })
	return rs[len(rs)/2]
}

type lifecycleKey struct {
	gen, n int
	auth   string // "password" or "api_key"
}

// variant is one framework cost: apply and a no-change plan with one change of environment.
type variant struct {
	Name, How   string
	Apply, Plan *tfRun
}

type bencher struct {
	opts    options
	root    string
	tmp     string
	started time.Time

	terraform, tfVersion string
	realProvider         string
	self                 string // this program's copy in the dev_overrides directory
	cliConfig            string
	buildTime            time.Duration

	servers map[int]*sensutest.Server
	apiKeys map[int]string // an admin API key per generation, for api_key auth

	machine  machineInfo
	baseline map[int]*lifecycle
	floor    map[int]*lifecycle // the framework floor (nullprovider.go), by N
	ours     map[lifecycleKey]*lifecycle
	variants []variant
	gcTrace  *gcTrace
	goBench  *goBenchResult
	cleaned  bool

	core      map[coreKey]*lifecycle // every subject of runN, by state backend (core.go)
	pg        *pgServer              // remote state; nil when not measured
	pgSkipped string                 // why remote state was not measured
	mirrorCLI string                 // CLI configuration installing the launcher from a filesystem mirror

	rpc      map[string][numOps]map[string]*rpcStat // RPCs by subject, operation and method (rpcrun.go)
	rpcN     int
	rpcState map[string]int64 // terraform.tfstate bytes after the apply of the RPC runs
	instance map[string]instanceBreakdown
	shapes   []*shapeRun // section 10 (shapes.go)
}

func newBencher(opts options) (*bencher, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "sensu-bench-")
	if err != nil {
		return nil, err
	}
	return &bencher{
		opts: opts, root: root, tmp: tmp, started: time.Now(),
		servers: map[int]*sensutest.Server{}, apiKeys: map[int]string{},
		baseline: map[int]*lifecycle{}, floor: map[int]*lifecycle{}, ours: map[lifecycleKey]*lifecycle{},
		core: map[coreKey]*lifecycle{}, rpcState: map[string]int64{}, instance: map[string]instanceBreakdown{},
	}, nil
}

func (b *bencher) cleanup() {
	if b.cleaned {
		return
	}
	b.cleaned = true
	for _, s := range b.servers {
		s.Close()
	}
	b.pg.stop()
	if b.opts.keep {
		fmt.Fprintf(os.Stderr, "bench: working directories kept in %s\n", b.tmp)
		return
	}
	_ = os.RemoveAll(b.tmp)
}

// repoRoot is the directory of the go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/sensu-community/terraform-provider-sensu\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the terraform-provider-sensu repository")
		}
		dir = parent
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func (b *bencher) run() error {
	if err := b.setup(); err != nil {
		return err
	}
	if err := b.warmUp(); err != nil {
		return err
	}
	for _, n := range b.opts.ns {
		for _, backend := range b.backends() {
			if err := b.runN(n, backend); err != nil {
				return err
			}
		}
	}
	if err := b.runShapes(); err != nil {
		return err
	}
	if err := b.runRPCSizes(b.opts.ns[0]); err != nil {
		return err
	}
	for _, g := range b.opts.generations {
		if err := b.runAPIKey(g, b.opts.ns[0]); err != nil {
			return err
		}
	}
	if b.opts.variants && b.has6() {
		if err := b.runVariants(); err != nil {
			return err
		}
	}
	if b.opts.goBench {
		progress("Go benchmarks of internal/sensu")
		gb, err := runGoBench(b.root, b.opts.quick)
		if err != nil {
			return err
		}
		b.goBench = gb
	}
	b.machine.loadEnd = loadAvg()
	report := b.report()
	fmt.Print(report)
	if b.opts.out != "" {
		out := b.opts.out
		if !filepath.IsAbs(out) {
			out = filepath.Join(b.root, out)
		}
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			return err
		}
		progress("wrote %s in %s", out, time.Since(b.started).Round(time.Second))
	}
	return nil
}

func (b *bencher) has6() bool {
	for _, g := range b.opts.generations {
		if g == 6 {
			return true
		}
	}
	return false
}

// setup builds the provider, finds Terraform, writes the CLI configuration and starts one
// in-memory Sensu API per generation.
func (b *bencher) setup() error {
	b.machine = collectMachine()

	progress("building the provider")
	real := filepath.Join(b.tmp, "provider", "terraform-provider-sensu")
	start := time.Now()
	build := exec.Command("go", "build", "-o", real, ".")
	build.Dir, build.Stdout, build.Stderr = b.root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build of the provider: %w", err)
	}
	b.buildTime = time.Since(start)
	b.realProvider = real

	// The dev_overrides directory holds this program as the launcher of the real provider.
	plugins := filepath.Join(b.tmp, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b.self = filepath.Join(plugins, "terraform-provider-sensu")
	if err := copyFile(self, b.self, 0o755); err != nil {
		return err
	}
	b.cliConfig = filepath.Join(b.tmp, "cli.tfrc")
	cfg := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"sensu-community/sensu\" = %q\n  }\n  direct {}\n}\n", plugins)
	if err := os.WriteFile(b.cliConfig, []byte(cfg), 0o644); err != nil {
		return err
	}

	progress("installing Terraform if missing (.ci/install-cli.sh terraform)")
	install := exec.Command(filepath.Join(b.root, ".ci", "install-cli.sh"), "terraform")
	install.Dir, install.Stderr = b.root, os.Stderr
	out, err := install.Output()
	if err != nil {
		return fmt.Errorf(".ci/install-cli.sh terraform: %w", err)
	}
	b.terraform = strings.TrimSpace(string(out))
	ver := exec.Command(b.terraform, "version")
	ver.Env = b.baseEnv()
	vout, err := ver.Output()
	if err != nil {
		return fmt.Errorf("terraform version: %w", err)
	}
	b.tfVersion = strings.SplitN(strings.TrimSpace(string(vout)), "\n", 2)[0]

	if b.opts.remoteState {
		progress("starting a throwaway PostgreSQL for remote state (.ci/install-postgres.sh)")
		pg, err := startPG(b.root)
		if err != nil {
			b.pgSkipped = err.Error()
			progress("remote state not measured: %v", err)
		} else {
			b.pg = pg
			progress("PostgreSQL on 127.0.0.1:%s, running as %s", pg.port, pg.runAs)
			if b.mirrorCLI, err = b.writeMirror(); err != nil {
				return err
			}
		}
	}

	for _, g := range b.opts.generations {
		s := sensutest.New(sensutest.Options{Generation: sensutest.Generation(g), Latency: b.opts.latency})
		if err := s.Start("127.0.0.1:0"); err != nil {
			return fmt.Errorf("starting the in-memory Sensu API: %w", err)
		}
		b.servers[g] = s
		b.apiKeys[g] = s.GrantAPIKey(sensutest.AdminUsername).Key
		progress("in-memory Sensu API %d.x at %s, latency %s", g, s.URL(), b.opts.latency)
	}
	return nil
}

// baseEnv is the environment of every Terraform command: the caller's, without anything
// that changes Terraform's or the provider's behavior, plus the CLI configuration.
func (b *bencher) baseEnv() []string {
	drop := []string{"TF_LOG", "TF_CLI_CONFIG_FILE", "TF_CLI_ARGS", "TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR",
		"TF_WORKSPACE", "TF_INPUT", "TF_VAR_", "TF_STATE_PERSIST", "TF_REATTACH_PROVIDERS", "SENSU_", "GOGC", "GOMEMLIMIT", "GODEBUG"}
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range drop {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return append(env,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"TF_CLI_CONFIG_FILE="+b.cliConfig,
		envWrapReal+"="+b.realProvider,
	)
}

// warmUp runs one key of each kind, unmeasured, so that the first measured command does not
// pay for cold caches; it also fails fast when something is broken.
func (b *bencher) warmUp() error {
	progress("warm-up (1 key, not measured)")
	g := b.opts.generations[0]
	for _, w := range []struct {
		name, config string
		srv          *sensutest.Server
	}{
		{"warmup-data", dataConfig(1), nil},
		{"warmup-sensu", sensuConfig(b.servers[g].URL(), passwordAuth(sensutest.AdminUsername, sensutest.AdminPassword), 1), b.servers[g]},
	} {
		ws, err := b.newWorkspace(w.name)
		if err != nil {
			return err
		}
		if err := ws.write(w.config); err != nil {
			return err
		}
		for op := range numOps {
			if _, err := b.step(ws, w.srv, 1, op, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// repsFor is how many times the lifecycle of N keys is repeated: small runs are cheap and
// dominated by fixed costs, so their median is worth having; the largest N carries the
// targets, and one run of it on a shared machine is too noisy to judge a 10% margin.
func (b *bencher) repsFor(n int) int {
	if n <= 200 || n == b.maxN() {
		return 3
	}
	return 1
}

// runN measures N keys with one kind of state: terraform_data, the framework floor, the SDK
// floor and each generation with password auth. The commands are interleaved (every apply,
// then every plan, then every destroy) so that each comparison is between runs made seconds
// apart.
func (b *bencher) runN(n int, backend string) error {
	subjects, err := b.subjects(n, backend)
	if err != nil {
		return err
	}
	reps := b.repsFor(n)
	if backend != stateLocal {
		reps = 3 // cheap: the state is not rewritten per resource, and its CPU figures are small
	}
	for rep := 1; rep <= reps; rep++ {
		progress("N=%d, %s state, repetition %d of %d: terraform_data, framework floor, SDK floor (and waiting), sensu_api_key (%s)", n, backend, rep, reps, b.genList())
		for _, sub := range subjects {
			if err := sub.ws.write(sub.config); err != nil {
				return err
			}
			if rep == 1 && backend != stateLocal {
				if err := sub.ws.init(sub.env); err != nil {
					return err
				}
			}
		}
		for op := range numOps {
			// A no-change plan changes nothing and is cheap: when the lifecycle runs once
			// with local state, the plan still runs three times, so that the target most
			// exposed to noise has a median.
			times := 1
			if op == opPlan && reps == 1 && backend == stateLocal {
				times = 3
			}
			for range times {
				for _, sub := range subjects {
					r, err := b.step(sub.ws, sub.srv, n, op, sub.env)
					if err != nil {
						return err
					}
					sub.lc.runs[op] = append(sub.lc.runs[op], r)
				}
			}
		}
	}
	return nil
}

// subject is one configuration measured in runN.
type subject struct {
	name   string
	ws     *workspace
	srv    *sensutest.Server
	config string
	env    []string
	lc     *lifecycle
}

// subjects are the configurations of N keys for one kind of state; their lifecycles are
// registered in b.core (and, for local state, in the maps the older sections read).
func (b *bencher) subjects(n int, backend string) ([]*subject, error) {
	password := passwordAuth(sensutest.AdminUsername, sensutest.AdminPassword)
	first := b.servers[b.opts.generations[0]]
	list := []*subject{
		{name: subjData, config: dataConfig(n)},
		{name: subjFloor, env: b.floorEnv(), config: sensuConfig(first.URL(), password, n)},
		{name: subjSDK, env: b.sdkFloorEnv(0), config: sensuConfig(first.URL(), password, n)},
		{name: subjSDKWait, env: b.sdkFloorEnv(b.opts.latency), config: sensuConfig(first.URL(), password, n)},
	}
	for _, g := range b.opts.generations {
		s := b.servers[g]
		list = append(list, &subject{name: subjOurs(g), srv: s, config: sensuConfig(s.URL(), password, n)})
	}
	for _, sub := range list {
		dir := strings.ToLower(strings.NewReplacer(" ", "-", ",", "", ".", "").Replace(fmt.Sprintf("%s-%s-%d", backend, sub.name, n)))
		ws, err := b.newWorkspace(dir)
		if err != nil {
			return nil, err
		}
		sub.ws, sub.lc = ws, &lifecycle{}
		if backend == statePG {
			sub.config = withBackend(sub.config, pgBackend(b.pg.connStr(), "tf_"+strings.ReplaceAll(dir, "-", "_")))
			sub.env = append(append([]string(nil), sub.env...), "TF_CLI_CONFIG_FILE="+b.mirrorCLI)
		}
		b.core[coreKey{backend, sub.name, n}] = sub.lc
		if backend != stateLocal {
			continue
		}
		switch sub.name {
		case subjData:
			b.baseline[n] = sub.lc
		case subjFloor:
			b.floor[n] = sub.lc
		case subjSDK:
		default:
			for _, g := range b.opts.generations {
				if sub.name == subjOurs(g) {
					b.ours[lifecycleKey{g, n, "password"}] = sub.lc
				}
			}
		}
	}
	return list, nil
}

func (b *bencher) genList() string {
	var s []string
	for _, g := range b.opts.generations {
		s = append(s, genName(g))
	}
	return strings.Join(s, ", ")
}

// step runs one operation of a lifecycle and checks the keys the in-memory API holds.
func (b *bencher) step(ws *workspace, s *sensutest.Server, n, op int, env []string) (*tfRun, error) {
	var srv server
	if s != nil {
		srv = s
	}
	var args []string
	switch op {
	case opApply:
		args = b.applyArgs()
	case opPlan:
		args = b.planArgs()
	default:
		args = b.destroyArgs()
	}
	r, err := ws.run(srv, env, args...)
	if err != nil {
		return nil, err
	}
	if s != nil {
		want := n
		if op == opDestroy {
			want = 0
		}
		if got := b.ownKeys(s); got != want {
			return nil, fmt.Errorf("%s: after %s the API holds %d keys of the benchmark, want %d", ws.dir, args[0], got, want)
		}
	}
	return r, nil
}

// ownKeys counts the keys in s other than the one api_key auth uses.
func (b *bencher) ownKeys(s *sensutest.Server) int {
	n := 0
	for _, k := range s.APIKeys() {
		if !b.isAuthKey(k.Key) {
			n++
		}
	}
	return n
}

func (b *bencher) isAuthKey(key string) bool {
	for _, k := range b.apiKeys {
		if k == key {
			return true
		}
	}
	return false
}

// floorEnv makes the launcher run the framework floor (this program in null-provider mode)
// instead of the real provider.
func (b *bencher) floorEnv() []string {
	return []string{envWrapReal + "=" + b.self, envChildEnv + "=" + envNullProvider + "=1"}
}

// sdkFloorEnv makes the launcher run the SDK floor (sdkprovider.go), waiting for wait where
// this provider makes a request.
func (b *bencher) sdkFloorEnv(wait time.Duration) []string {
	child := envSDKProvider + "=1"
	if wait > 0 {
		child += ";" + envSDKWait + "=" + wait.String()
	}
	return []string{envWrapReal + "=" + b.self, envChildEnv + "=" + child}
}

// runAPIKey is one lifecycle of generation g with api_key auth: it must never log in.
func (b *bencher) runAPIKey(g, n int) error {
	progress("N=%d: sensu_api_key on %s with api_key auth", n, genName(g))
	s := b.servers[g]
	ws, err := b.newWorkspace(fmt.Sprintf("sensu-%d-%d-api_key", g, n))
	if err != nil {
		return err
	}
	if err := ws.write(sensuConfig(s.URL(), apiKeyAuth(b.apiKeys[g]), n)); err != nil {
		return err
	}
	lc := &lifecycle{}
	for op := range numOps {
		r, err := b.step(ws, s, n, op, nil)
		if err != nil {
			return err
		}
		lc.runs[op] = append(lc.runs[op], r)
	}
	b.ours[lifecycleKey{g, n, "api_key"}] = lc
	return nil
}

// runVariants measures the framework's costs at the largest N on 6.x: an apply and a
// no-change plan per variant, the provider as built first. Between variants the keys are
// revoked and the state deleted out of band, which is much faster than a destroy.
func (b *bencher) runVariants() error {
	n := b.maxN()
	s := b.servers[6]
	trace := []string{"TF_LOG_SDK=TRACE", "TF_LOG_SDK_PROTO=TRACE", "TF_LOG_SDK_FRAMEWORK=TRACE", "TF_LOG_PROVIDER=TRACE"}
	list := []struct {
		name, how string
		env       []string
	}{
		{variantAsBuilt, "the provider as built, run again next to the variants", nil},
		{variantTraceProvider, "`TF_LOG_SDK`, `TF_LOG_SDK_PROTO`, `TF_LOG_SDK_FRAMEWORK`, `TF_LOG_PROVIDER` = TRACE in the provider's environment only: " +
			"the SDK's own default, i.e. the provider without main.go's quietSDKLogs",
			[]string{envChildEnv + "=" + strings.Join(trace, ";")}},
		{variantTraceTF, "the same four variables = TRACE in Terraform's environment, which the provider inherits; Terraform reads " +
			"`TF_LOG_PROVIDER` too and then also writes the provider's logs to its own stderr",
			trace},
		{variantQuiet, "`TF_LOG_PROVIDER_SENSU=DEBUG` in the provider's environment: the provider's own tflog lines on " +
			"(terraform-plugin-go reads this provider's level from `TF_LOG_PROVIDER_SENSU`, which quietSDKLogs sets off when TF_LOG is unset)",
			[]string{envChildEnv + "=TF_LOG_PROVIDER_SENSU=DEBUG"}},
		{variantGOGC100, "`GOGC=100` in the environment: main.go's tuneGC then leaves Go's default instead of setting 400",
			[]string{"GOGC=100"}},
	}
	ws, err := b.newWorkspace("variants")
	if err != nil {
		return err
	}
	if err := ws.write(sensuConfig(s.URL(), passwordAuth(sensutest.AdminUsername, sensutest.AdminPassword), n)); err != nil {
		return err
	}
	for i, v := range list {
		progress("N=%d on 6.x, variant %d of %d: %s", n, i+1, len(list), v.name)
		apply, err := b.step(ws, s, n, opApply, v.env)
		if err != nil {
			return err
		}
		plan, err := b.step(ws, s, n, opPlan, v.env)
		if err != nil {
			return err
		}
		b.variants = append(b.variants, variant{Name: v.name, How: v.how, Apply: apply, Plan: plan})
		if v.name == variantAsBuilt {
			progress("N=%d on 6.x: a no-change plan with GODEBUG=gctrace=1, for the provider's live heap", n)
			if b.gcTrace, err = b.traceGC(ws, s); err != nil {
				return err
			}
		}
		if err := b.resetOutOfBand(ws, s); err != nil {
			return err
		}
	}
	return nil
}

// resetOutOfBand revokes the benchmark's keys in the in-memory API and deletes the state.
func (b *bencher) resetOutOfBand(ws *workspace, s *sensutest.Server) error {
	for _, k := range s.APIKeys() {
		if !b.isAuthKey(k.Key) {
			s.RevokeAPIKey(k.Name)
		}
	}
	for _, f := range []string{"terraform.tfstate", "terraform.tfstate.backup"} {
		if err := os.Remove(filepath.Join(ws.dir, f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

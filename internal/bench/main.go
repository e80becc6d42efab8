// Command bench is `make bench`: a reproducible benchmark of the provider through a real
// Terraform CLI against the in-memory Sensu API (internal/sensu/sensutest) on loopback, with
// an added latency per request. It measures request economy, wall time against a baseline
// of Terraform's own cost, scaling, the provider's peak memory, the client's hot paths (Go
// benchmarks) and the costs the plugin framework brings, and writes BENCHMARKS.md.
//
// It exits non-zero when a Terraform command or the Go benchmarks fail, never because a
// performance target is missed: misses are reported in the file.
//
//	go run ./internal/bench [-n 100,300,1000] [-pg=false] [-latency 5ms] [-generations 6,7] [-out BENCHMARKS.md] [-quick]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	ns          []int
	latency     time.Duration
	generations []int
	out         string
	quick       bool
	parallelism int
	keep        bool
	goBench     bool
	variants    bool
	remoteState bool
}

func main() {
	// A copy of this program is the provider Terraform starts (see wrap.go), and the
	// framework floor or the SDK floor it may run instead of the real provider (see
	// nullprovider.go and sdkprovider.go).
	if dir := os.Getenv(envRPCDir); dir != "" {
		if err := serveForRPCSizes(dir); err != nil {
			fail(err)
		}
		return
	}
	if os.Getenv(envNullProvider) != "" {
		if err := serveNullProvider(); err != nil {
			fail(err)
		}
		return
	}
	if os.Getenv(envSDKProvider) != "" {
		if err := serveSDKProvider(); err != nil {
			fail(err)
		}
		return
	}
	if real := os.Getenv(envWrapReal); real != "" {
		os.Exit(runWrapper(real))
	}

	var (
		opts    options
		nFlag   = flag.String("n", "100,300,1000", "numbers of keys, comma-separated")
		genFlag = flag.String("generations", "6,7", "Sensu API generations, comma-separated (6, 7)")
	)
	flag.DurationVar(&opts.latency, "latency", 5*time.Millisecond, "latency the in-memory Sensu API adds to every request")
	flag.StringVar(&opts.out, "out", "BENCHMARKS.md", "the Markdown report to write (relative to the repository root); empty: stdout only")
	flag.BoolVar(&opts.quick, "quick", false, "smoke run: N=100 only, short Go benchmarks, and no file unless -out is given")
	flag.IntVar(&opts.parallelism, "parallelism", 10, "terraform -parallelism")
	flag.BoolVar(&opts.keep, "keep", false, "keep the working directories (Terraform logs, state) and print where")
	flag.BoolVar(&opts.goBench, "gobench", true, "run the Go benchmarks of internal/sensu")
	flag.BoolVar(&opts.variants, "variants", true, "measure the framework's costs (SDK logs, GC) at the largest N on 6.x")
	flag.BoolVar(&opts.remoteState, "pg", true, "also measure with remote state (backend \"pg\" on a throwaway PostgreSQL)")
	flag.Parse()

	outSet := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "out" {
			outSet = true
		}
	})
	var err error
	if opts.ns, err = intList(*nFlag); err != nil {
		fail(fmt.Errorf("-n: %w", err))
	}
	if opts.generations, err = intList(*genFlag); err != nil {
		fail(fmt.Errorf("-generations: %w", err))
	}
	for _, g := range opts.generations {
		if g != 6 && g != 7 {
			fail(fmt.Errorf("-generations: %d is not 6 or 7", g))
		}
	}
	if opts.quick {
		opts.ns = []int{100}
		if !outSet {
			opts.out = ""
		}
	}
	if opts.parallelism < 1 || opts.latency < 0 {
		fail(fmt.Errorf("-parallelism must be positive and -latency not negative"))
	}

	b, err := newBencher(opts)
	if err != nil {
		fail(err)
	}
	defer b.cleanup()
	// An interrupted benchmark still stops its PostgreSQL and removes its files.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		progress("%v: cleaning up", s)
		b.cleanup()
		os.Exit(1)
	}()
	if err := b.run(); err != nil {
		b.cleanup()
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}

// intList parses "100,1000" into sorted, distinct positive integers.
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	slices.Sort(out)
	return out, nil
}

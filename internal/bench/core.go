package main

// State backends the lifecycles of runN are measured with.
const (
	stateLocal = "local"
	statePG    = "pg"
)

// The subjects of runN.
const (
	subjData  = "terraform_data"
	subjFloor = "framework floor"
	subjSDK   = "SDK floor"
	// The SDK floor that waits for the benchmark's latency where this provider makes a
	// request: what is left between it and this provider is not the waiting.
	subjSDKWait = "SDK floor, waiting"
)

func subjOurs(g int) string { return "ours, " + genName(g) }

// coreKey names a lifecycle of runN.
type coreKey struct {
	backend, subject string
	n                int
}

// backends are the kinds of state measured: local, and pg unless it could not be set up.
func (b *bencher) backends() []string {
	if b.pg != nil {
		return []string{stateLocal, statePG}
	}
	return []string{stateLocal}
}

// Command terraform-provider-sensu is the Terraform and OpenTofu provider for Sensu Go API keys.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"runtime/debug"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/sensu-community/terraform-provider-sensu/internal/provider"
)

// version is set at release time through -ldflags "-X main.version=…".
var version = "dev"

func main() {
	var debugMode bool
	flag.BoolVar(&debugMode, "debug", false, "start the provider in debug mode, for a debugger such as delve")
	flag.Parse()

	quietSDKLogs()
	tuneGC()

	var opts []tf6server.ServeOpt
	if debugMode {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	// Serve swaps os.Stderr for a pipe that ends with it; Terraform reads the original.
	stderr := os.Stderr
	err := tf6server.Serve("registry.terraform.io/sensu-community/sensu", provider.NewProtocol6Server(version), opts...)
	revokeUnclosedEphemeralKeys(stderr)
	if err != nil {
		log.Fatal(err)
	}
}

// revokeUnclosedEphemeralKeys revokes the ephemeral keys that Terraform opened in this process
// and did not close, which it skips when something using them failed. Serve has returned:
// Terraform asked the process to end and kills it 2 seconds later. The outcome goes to
// Terraform's log (TF_LOG=INFO), by key id.
func revokeUnclosedEphemeralKeys(stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	revoked, failed := provider.RevokeUnclosedEphemeralKeys(ctx)
	if len(revoked) == 0 && len(failed) == 0 {
		return
	}
	// go-plugin logs a plugin's stderr line at the level its "[LEVEL]" prefix names.
	logger := log.New(stderr, "", 0)
	for _, id := range revoked {
		logger.Printf("[INFO] Revoked an ephemeral Sensu API key that Terraform did not close: id=%s", id)
	}
	for id, err := range failed {
		logger.Printf("[ERROR] Could not revoke an ephemeral Sensu API key that Terraform did not close, and it still authenticates: id=%s error=%q", id, err.Error())
	}
}

// quietSDKLogs makes the plugin SDK's log levels follow Terraform's own. Left unset, the SDK
// logs every RPC at TRACE to stderr (about 120 lines per resource), which Terraform decodes
// and then drops unless TF_LOG asks for them. A level the user set explicitly is kept.
func quietSDKLogs() {
	level := os.Getenv("TF_LOG_PROVIDER")
	if level == "" {
		level = os.Getenv("TF_LOG")
	}
	if level == "" {
		level = "off"
	}
	// TF_LOG_PROVIDER_SENSU is what terraform-plugin-go reads for this provider's own logs.
	for _, name := range []string{"TF_LOG_PROVIDER", "TF_LOG_PROVIDER_SENSU", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if _, set := os.LookupEnv(name); !set {
			_ = os.Setenv(name, level)
		}
	}
}

// tuneGC trades a little memory for fewer collections: a provider process lives for one
// Terraform walk and allocates mostly short-lived RPC messages. GOGC from the user wins.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
}

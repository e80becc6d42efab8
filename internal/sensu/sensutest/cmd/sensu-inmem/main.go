// Command sensu-inmem runs the sensutest fake Sensu Go backend as a process, for demos
// and scripts. It is test-only: it has built-in users with known passwords
// (admin/P@ssw0rd!, agent/P@ssw0rd!, dev/P@ssw0rd!dev unless -dev-user=false) and
// unauthenticated control routes under /_sensutest/, so it refuses to listen on anything
// but a loopback address. Users can be created, listed, disabled and reinstated through
// the API, as with sensuctl on a real backend.
//
//	sensu-inmem -listen 127.0.0.1:0 -generation 7 -url-file /tmp/sensu.url
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "loopback address to listen on (port 0 picks a free port)")
	generation := flag.Int("generation", 6, "Sensu Go generation to imitate: 6 (6.12.0) or 7 (7.0.0-alpha1)")
	tokenTTL := flag.Duration("token-ttl", 300*time.Second, "access token lifetime")
	latency := flag.Duration("latency", 0, "delay added to every request")
	urlFile := flag.String("url-file", "", "write the server URL to this file once listening (removed on exit)")
	devUser := flag.Bool("dev-user", true, "add the built-in non-admin user dev (false: admin and agent only, as a fresh backend)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("sensu-inmem: ")
	if flag.NArg() > 0 {
		log.Printf("unexpected arguments: %v", flag.Args())
		os.Exit(2)
	}
	if *generation != 6 && *generation != 7 {
		log.Printf("-generation must be 6 or 7, not %d", *generation)
		os.Exit(2)
	}
	if err := run(*listen, sensutest.Options{
		Generation: sensutest.Generation(*generation),
		TokenTTL:   *tokenTTL,
		Latency:    *latency,
		NoDevUser:  !*devUser,
	}, *urlFile); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(listen string, opts sensutest.Options, urlFile string) error {
	if err := checkLoopback(listen); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := sensutest.New(opts)
	if err := srv.Start(listen); err != nil {
		return err
	}
	defer srv.Close()
	// "localhost" could resolve elsewhere: check what was actually bound.
	if u, err := url.Parse(srv.URL()); err != nil || checkLoopback(u.Host) != nil {
		return fmt.Errorf("refusing to serve on non-loopback address %s", srv.URL())
	}
	if urlFile != "" {
		if err := writeAtomic(urlFile, srv.URL()+"\n"); err != nil {
			return err
		}
		defer func() { _ = os.Remove(urlFile) }()
	}
	gen := "6.12.0"
	if opts.Generation == sensutest.Generation7 {
		gen = "7.0.0-alpha1"
	}
	log.Printf("fake Sensu Go %s (test only) listening on %s", gen, srv.URL())
	<-ctx.Done()
	return nil
}

// checkLoopback accepts "localhost" and loopback IPs only: the fake has well-known
// passwords and unauthenticated control routes.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("invalid -listen address %q: %w", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("refusing to listen on non-loopback address " + hostport + " (test-only server)")
}

// writeAtomic writes the file in one step so that a script polling for it never reads
// a partial URL.
func writeAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sensu-inmem-url-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}

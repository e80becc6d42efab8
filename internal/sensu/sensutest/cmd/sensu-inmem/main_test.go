package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sensu-community/terraform-provider-sensu/internal/sensu/sensutest"
)

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:0": true, "[::1]:0": true, "127.0.0.2:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:80": false, "10.0.0.1:80": false, "example.invalid:80": false, "nonsense": false,
	} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// send makes one request as username: basic auth on /auth, a fresh bearer token elsewhere.
func send(t *testing.T, method, url, username, password, body string) int {
	t.Helper()
	auth := ""
	if !strings.HasSuffix(url, "/auth") {
		req, _ := http.NewRequest("GET", url[:strings.Index(url, "/api/")]+"/auth", nil)
		req.SetBasicAuth(username, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			Access string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tok)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatalf("login: %d %v", resp.StatusCode, err)
		}
		auth = "Bearer " + tok.Access
	}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	} else {
		req.SetBasicAuth(username, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestRunServesAndStopsOnSIGTERM(t *testing.T) {
	urlFile := filepath.Join(t.TempDir(), "url")
	done := make(chan error, 1)
	go func() { done <- run("127.0.0.1:0", sensutest.Options{Generation: sensutest.Generation7}, urlFile) }()

	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(urlFile); err == nil {
			base = strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatal("no URL file")
		}
	}
	resp, err := http.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), "7.0.0-alpha1") {
		t.Fatalf("version %q", body)
	}
	// The process serves users: sensuctl's user create, then a login as the new user.
	if code := send(t, "POST", base+"/api/core/v2/users", "admin", "P@ssw0rd!",
		`{"type":"User","api_version":"core/v2","metadata":{},"spec":{"username":"ci-bot","password":"ci-bot-secret","groups":["ci"]}}`); code != 201 {
		t.Fatalf("user create: %d", code)
	}
	if code := send(t, "GET", base+"/auth", "ci-bot", "ci-bot-secret", ""); code != 200 {
		t.Fatalf("new user login: %d", code)
	}
	// The URL file is written after the signal handler is installed.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
	if _, err := os.Stat(urlFile); !os.IsNotExist(err) {
		t.Fatal("URL file not removed on exit")
	}
	if err := run("0.0.0.0:0", sensutest.Options{}, ""); err == nil {
		t.Fatal("non-loopback address accepted")
	}
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestBackground starts the built command with -background, as ci.yml does:
// the env file is there when it returns, its variables work for the
// product's client, /status counts, and POST /quit stops the server, which
// removes the env file and logs no token.
func TestBackground(t *testing.T) {
	t.Parallel()
	ctx, cancel := harness.Context(t.Context(), t, "go build and fakeserver -background", 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fakeserver")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", harness.Err(ctx, err), out)
	}
	envFile := filepath.Join(dir, "sub", "fakes.env")
	out, err := exec.CommandContext(ctx, bin, "-background", "-env-file", envFile, "-dir", filepath.Join(dir, "ca"), "-deadline", "2m").CombinedOutput()
	env := map[string]string{}
	call := func(method, path string) string { // on the status server
		req, _ := http.NewRequestWithContext(ctx, method, env["FAKE_STATUS_URL"]+path, nil)
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	// No waiting: the file is there when -background returns.
	data, rerr := os.ReadFile(envFile)
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if k, v, _ := strings.Cut(line, "="); v != "" { // a key without a value is missing from keys
			env[k], keys = v, append(keys, k)
		}
	}
	if env["FAKE_STATUS_URL"] != "" {
		t.Cleanup(func() { _, _ = http.Post(env["FAKE_STATUS_URL"]+"/quit", "", nil) }) // also when the test fails early
	}
	if err != nil || rerr != nil || !strings.Contains(string(out), "fakeserver: started, pid ") {
		t.Fatalf("-background: %v, env file: %v\n%s", harness.Err(ctx, err), rerr, out)
	}
	if got, want := strings.Join(keys, " "), "ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN SSL_CERT_FILE CARGO_HTTP_CAINFO "+
		"FAKE_JFROG_URL FAKE_JFROG_PROVIDER_NAME FAKE_JFROG_REPOSITORY FAKE_JFROG_INDEX FAKE_CRATES_IO_URL FAKE_CRATE FAKE_CRATE_VERSION FAKE_STATUS_URL"; got != want {
		t.Fatalf("env file keys with a value: %s, want %s", got, want)
	}
	if ca := filepath.Join(dir, "ca", "ca.pem"); env["SSL_CERT_FILE"] != ca || env["CARGO_HTTP_CAINFO"] != ca {
		t.Errorf("CA files %q, %q; want %s", env["SSL_CERT_FILE"], env["CARGO_HTTP_CAINFO"], ca)
	}
	for _, k := range []string{"ACTIONS_ID_TOKEN_REQUEST_URL", "FAKE_JFROG_URL", "FAKE_CRATES_IO_URL", "FAKE_STATUS_URL"} {
		if !strings.Contains(env[k], "://127.0.0.1:") {
			t.Errorf("%s=%s is not on 127.0.0.1", k, env[k])
		}
	}
	if env["FAKE_JFROG_INDEX"] != "sparse+"+env["FAKE_JFROG_URL"]+"/artifactory/api/cargo/"+env["FAKE_JFROG_REPOSITORY"]+"/index/" {
		t.Errorf("FAKE_JFROG_INDEX=%s does not match the URL and repository", env["FAKE_JFROG_INDEX"])
	}

	getenv := func(k string) string { return env[k] }
	hc, err := exchange.BaseHTTPClient(getenv)
	testenv.Must(t, err)
	secrets := []string{env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]} // and every ID and crates.io token
	keep := func(s string) { secrets = append(secrets, s) }
	client := exchange.NewClient(exchange.HTTPConfig{Base: hc})
	cio := &exchange.CratesIO{Client: client, BaseURL: env["FAKE_CRATES_IO_URL"], Mask: keep}
	tok, err := cio.Exchange(ctx, exchange.Masked(exchange.GitHubIDTokens(getenv, client), keep))
	if err != nil {
		t.Fatalf("crates.io exchange: %v", err)
	}
	status := func(revocations, live int) string {
		return fmt.Sprintf("exchanges_jfrog=0\nexchanges_crates_io=1\nrevocations=%d\nlive_jfrog_tokens=0\nlive_crates_io_tokens=%d\nregistry_ok_requests=0\n", revocations, live)
	}
	if got, want := call("GET", "/status"), status(0, 1); got != want {
		t.Errorf("status after the exchange:\n%swant\n%s", got, want)
	}
	if err := cio.Revoke(ctx, tok.Value); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got, want := call("GET", "/status"), status(1, 0); got != want {
		t.Errorf("status after the revocation:\n%swant\n%s", got, want)
	}
	call("POST", "/quit")
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(envFile); os.IsNotExist(err) {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the env file is still there 30 s after POST /quit")
		}
	}
	log, err := os.ReadFile(envFile + ".log")
	if err != nil || !strings.Contains(string(log), "POST /quit, stopping") {
		t.Errorf("server log (%v):\n%s", err, log)
	}
	if len(secrets) < 3 {
		t.Errorf("%d secrets seen, want the request token, an ID token and a crates.io token", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(string(log), s) {
			t.Error("the server's log shows a token")
		}
	}
}

// TestDeadline checks that the server stops by itself.
func TestDeadline(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	start := time.Now()
	testenv.Must(t, run(t.Context(), []string{"-env-file", filepath.Join(t.TempDir(), "fakes.env"), "-deadline", "300ms"}, &out))
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("stopped after %s, want about 300ms", d)
	}
	if !strings.Contains(out.String(), "deadline of 300ms reached") {
		t.Errorf("log:\n%s", out.String())
	}
}

package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// keyValues parses KEY=VALUE lines, checking that they are keys, in order,
// each with a value.
func keyValues(t *testing.T, text string, keys ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || v == "" {
			t.Fatalf("line %q is not KEY=VALUE", line)
		}
		m[k] = v
		got = append(got, k)
	}
	if strings.Join(got, " ") != strings.Join(keys, " ") {
		t.Fatalf("keys %v, want %v", got, keys)
	}
	return m
}

// getStatus reads GET /status.
func getStatus(t *testing.T, statusURL string) map[string]string {
	t.Helper()
	resp, err := http.Get(statusURL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %s %s", resp.Status, body.String())
	}
	return keyValues(t, body.String(), "exchanges_jfrog", "exchanges_crates_io", "revocations",
		"live_jfrog_tokens", "live_crates_io_tokens", "registry_ok_requests")
}

// TestBackground starts the built command with -background, as ci.yml
// does: it returns only once the env file is there; the server's variables
// work for the product's client as they do in the CI job (an ID token in
// GitHub's protocol, a crates.io exchange and revocation, the CA from
// SSL_CERT_FILE), /status counts what happened, and POST /quit stops the
// server, which removes the env file and logs no token.
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
	quit := func() error {
		data, err := os.ReadFile(envFile)
		if err != nil {
			return err
		}
		_, statusURL, _ := strings.Cut(string(data), "FAKE_STATUS_URL=")
		resp, err := http.Post(strings.TrimSpace(statusURL)+"/quit", "text/plain", nil)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	t.Cleanup(func() { _ = quit() }) // also when the test fails early
	if err != nil {
		t.Fatalf("-background: %v\n%s", harness.Err(ctx, err), out)
	}
	if !strings.Contains(string(out), "fakeserver: started, pid ") {
		t.Errorf("output: %s", out)
	}
	// No waiting: the file is there when -background returns.
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := keyValues(t, string(data), "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
		"SSL_CERT_FILE", "CARGO_HTTP_CAINFO", "FAKE_JFROG_URL", "FAKE_JFROG_PROVIDER_NAME", "FAKE_JFROG_REPOSITORY",
		"FAKE_JFROG_INDEX", "FAKE_CRATES_IO_URL", "FAKE_CRATE", "FAKE_CRATE_VERSION", "FAKE_STATUS_URL")
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
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]} // and every ID and crates.io token
	keep := func(s string) { secrets = append(secrets, s) }
	client := exchange.NewClient(exchange.HTTPConfig{Base: hc})
	cio := &exchange.CratesIO{Client: client, BaseURL: env["FAKE_CRATES_IO_URL"], Mask: keep}
	tok, err := cio.Exchange(ctx, exchange.Masked(exchange.GitHubIDTokens(getenv, client), keep))
	if err != nil {
		t.Fatalf("crates.io exchange: %v", err)
	}
	if st := getStatus(t, env["FAKE_STATUS_URL"]); st["exchanges_crates_io"] != "1" || st["live_crates_io_tokens"] != "1" || st["revocations"] != "0" {
		t.Errorf("status after the exchange: %v; want 1 exchange, 1 live token, 0 revocations", st)
	}
	if err := cio.Revoke(ctx, tok.Value); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if st := getStatus(t, env["FAKE_STATUS_URL"]); st["live_crates_io_tokens"] != "0" || st["revocations"] != "1" {
		t.Errorf("status after the revocation: %v; want 0 live tokens, 1 revocation", st)
	}

	if err := quit(); err != nil {
		t.Fatal(err)
	}
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
	if err := run(t.Context(), []string{"-env-file", filepath.Join(t.TempDir(), "fakes.env"), "-deadline", "300ms"}, &out); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("stopped after %s, want about 300ms", d)
	}
	if !strings.Contains(out.String(), "deadline of 300ms reached") {
		t.Errorf("log:\n%s", out.String())
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
)

// readEnv reads an env file into a map, checking it has every EnvKeys line
// in order, each with a value.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || v == "" {
			t.Fatalf("env file line %q is not KEY=VALUE", sc.Text())
		}
		env[k] = v
		keys = append(keys, k)
	}
	if strings.Join(keys, " ") != strings.Join(EnvKeys, " ") {
		t.Fatalf("env file keys %v, want %v", keys, EnvKeys)
	}
	return env
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the server returned before writing %s: %v", path, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30s", path)
		}
	}
}

// getStatus reads GET /status into a map.
func getStatus(t *testing.T, statusURL string) map[string]string {
	t.Helper()
	resp, err := http.Get(statusURL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %s %s", resp.Status, body)
	}
	out := map[string]string{}
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		out[k] = v
		keys = append(keys, k)
	}
	if strings.Join(keys, " ") != strings.Join(StatusKeys, " ") {
		t.Fatalf("status keys %v, want %v", keys, StatusKeys)
	}
	return out
}

// TestServe runs the server in the foreground, uses its env file the way
// the CI job does (an ID token from the issuer in GitHub's protocol, a
// crates.io exchange, a revocation, trusting SSL_CERT_FILE), checks that
// /status counts what happened, then stops it with POST /quit.
func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "sub", "fakes.env")
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-env-file", envFile, "-dir", filepath.Join(dir, "ca"), "-deadline", "2m"}, &out)
	}()
	waitFile(t, envFile, done)
	env := readEnv(t, envFile)
	if env["SSL_CERT_FILE"] != filepath.Join(dir, "ca", "ca.pem") || env["CARGO_HTTP_CAINFO"] != env["SSL_CERT_FILE"] {
		t.Errorf("CA files %q, %q; want %s", env["SSL_CERT_FILE"], env["CARGO_HTTP_CAINFO"], filepath.Join(dir, "ca", "ca.pem"))
	}
	for _, k := range []string{"ACTIONS_ID_TOKEN_REQUEST_URL", "FAKE_JFROG_URL", "FAKE_CRATES_IO_URL", "FAKE_STATUS_URL"} {
		if !strings.Contains(env[k], "://127.0.0.1:") {
			t.Errorf("%s=%s is not on 127.0.0.1", k, env[k])
		}
	}
	if env["FAKE_JFROG_INDEX"] != "sparse+"+env["FAKE_JFROG_URL"]+"/artifactory/api/cargo/"+env["FAKE_JFROG_REPOSITORY"]+"/index/" {
		t.Errorf("FAKE_JFROG_INDEX=%s does not match the URL and repository", env["FAKE_JFROG_INDEX"])
	}

	// The client the CI job's tools would build: the CA from the file only.
	ca, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	client := caClient(t, ca)
	do := func(method, url, auth string, body any) *http.Response {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, url, r)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	var idTok struct{ Value string }
	if err := json.NewDecoder(do(http.MethodGet, env["ACTIONS_ID_TOKEN_REQUEST_URL"]+"&audience=crates.io", env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], nil).Body).Decode(&idTok); err != nil || idTok.Value == "" {
		t.Fatalf("ID token: %v %q", err, idTok.Value)
	}
	var cio struct{ Token string }
	if err := json.NewDecoder(do(http.MethodPost, env["FAKE_CRATES_IO_URL"]+fakes.CratesIOTokenPath, "", map[string]string{"jwt": idTok.Value}).Body).Decode(&cio); err != nil || cio.Token == "" {
		t.Fatalf("crates.io exchange: %v", err)
	}
	st := getStatus(t, env["FAKE_STATUS_URL"])
	if st["exchanges_crates_io"] != "1" || st["live_crates_io_tokens"] != "1" || st["revocations"] != "0" {
		t.Errorf("status after the exchange: %v; want 1 exchange, 1 live token, 0 revocations", st)
	}
	if resp := do(http.MethodDelete, env["FAKE_CRATES_IO_URL"]+fakes.CratesIOTokenPath, cio.Token, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %s", resp.Status)
	}
	st = getStatus(t, env["FAKE_STATUS_URL"])
	if st["live_crates_io_tokens"] != "0" || st["revocations"] != "1" {
		t.Errorf("status after the revocation: %v; want 0 live tokens, 1 revocation", st)
	}

	resp, err := http.Post(env["FAKE_STATUS_URL"]+"/quit", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-timer.C:
		t.Fatal("the server did not stop after POST /quit")
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("the env file is still there after the server stopped (%v)", err)
	}
	if !strings.Contains(out.String(), "POST /quit, stopping") {
		t.Errorf("log:\n%s", out.String())
	}
	// Read only now: run has returned, nothing writes to out any more.
	if strings.Contains(out.String(), cio.Token) || strings.Contains(out.String(), idTok.Value) {
		t.Error("the server's log shows a token")
	}
}

// TestDeadline checks that the server stops by itself.
func TestDeadline(t *testing.T) {
	t.Parallel()
	envFile := filepath.Join(t.TempDir(), "fakes.env")
	var out bytes.Buffer
	start := time.Now()
	if err := run(context.Background(), []string{"-env-file", envFile, "-deadline", "300ms"}, &out); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("stopped after %s, want about 300ms", d)
	}
	if !strings.Contains(out.String(), "deadline of 300ms reached") {
		t.Errorf("log:\n%s", out.String())
	}
}

// TestBackground starts the built command with -background, as the CI job
// does: it must return only once the env file is there, leave a server
// running that answers /status, and that server must stop on POST /quit.
func TestBackground(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping in -short mode: builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fakeserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	envFile := filepath.Join(dir, "fakes.env")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-background", "-env-file", envFile, "-deadline", "2m").CombinedOutput()
	if err != nil {
		t.Fatalf("-background: %v\n%s", err, out)
	}
	// No waiting: the file is there when -background returns.
	env := readEnv(t, envFile)
	if !strings.Contains(string(out), "fakeserver: started, pid ") {
		t.Errorf("output: %s", out)
	}
	if st := getStatus(t, env["FAKE_STATUS_URL"]); st["revocations"] != "0" {
		t.Errorf("status %v", st)
	}
	resp, err := http.Post(env["FAKE_STATUS_URL"]+"/quit", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(envFile); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background server did not stop within 30s of POST /quit")
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, err := os.ReadFile(envFile + ".log")
	if err != nil || !strings.Contains(string(log), "POST /quit, stopping") {
		t.Errorf("server log (%v):\n%s", err, log)
	}
}

// caClient returns a client that trusts only the PEM certificates in ca.
func caClient(t *testing.T, ca []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no certificate in the CA file")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

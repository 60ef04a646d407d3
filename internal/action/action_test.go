package action

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// fakeJWT builds an unsigned JWT with the given claims (the action never
// verifies it; it only reads non-secret claims for its hints).
func fakeJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	p, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(p) + ".c2ln"
}

// world is one fake job: an ID token endpoint, a token service, and the
// runner's files.
type world struct {
	t         *testing.T
	srv       *httptest.Server
	env       map[string]string
	dir       string
	idToken   string
	issued    atomic.Int32
	revoked   atomic.Int32
	serviceFn func(w http.ResponseWriter, r *http.Request)
}

const accessToken = "eyJ2ZXIiOiIyIn0.ACCESS-TOKEN-SECRET"

// eol ends each log line the action writes to stdout: the system's line
// end, as go-githubactions writes it ("\r\n" on Windows; the runner reads
// either). The file commands end their lines in "\n" everywhere.
var eol = map[bool]string{false: "\n", true: "\r\n"}[runtime.GOOS == "windows"]

// exe is the suffix of the installed credential provider: ".exe" on
// Windows, where Cargo runs only files named so.
var exe = map[bool]string{false: "", true: ".exe"}[runtime.GOOS == "windows"]

func newWorld(t *testing.T, inputs map[string]string) *world {
	t.Helper()
	w := &world{t: t, dir: testenv.TempDir(t)}
	w.idToken = fakeJWT(map[string]any{"iss": "https://token.actions.githubusercontent.com", "aud": "https://github.com/octo-org",
		"sub": "repo:octo-org/octo-repo:ref:refs/heads/main", "repository": "octo-org/octo-repo", "ref": "refs/heads/main"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_apis/token", func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer request-token" {
			http.Error(rw, "bad request token", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(rw, `{"value":%q,"count":1}`, w.idToken)
	})
	mux.HandleFunc("POST /access/api/v1/oidc/token", func(rw http.ResponseWriter, r *http.Request) {
		if w.serviceFn != nil {
			w.serviceFn(rw, r)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["subject_token"] != w.idToken || body["provider_name"] != "github-oidc" {
			rw.WriteHeader(http.StatusForbidden)
			fmt.Fprint(rw, `{"errors":[{"code":"FORBIDDEN","message":"Failed to find a matching identity mapping"}]}`)
			return
		}
		w.issued.Add(1)
		fmt.Fprintf(rw, `{"access_token":%q,"token_type":"Bearer","expires_in":3600,"username":"oidc/octo-org"}`, accessToken)
	})
	mux.HandleFunc("POST /api/v1/trusted_publishing/tokens", func(rw http.ResponseWriter, r *http.Request) {
		w.issued.Add(1)
		fmt.Fprint(rw, `{"token":"cio_tp_SECRET123"}`)
	})
	mux.HandleFunc("DELETE /api/v1/trusted_publishing/tokens", func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer cio_tp_SECRET123" {
			rw.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(rw, `{"errors":[{"detail":"invalid token"}]}`)
			return
		}
		w.revoked.Add(1)
		rw.WriteHeader(http.StatusNoContent)
	})
	w.srv = httptest.NewTLSServer(mux)
	t.Cleanup(w.srv.Close)

	ws := filepath.Join(w.dir, "workspace")
	tmp := filepath.Join(w.dir, "temp")
	for _, d := range []string{ws, tmp, filepath.Join(tmp, "_github_home"), filepath.Join(w.dir, "cmd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.env = map[string]string{
		"GITHUB_WORKSPACE": ws, "RUNNER_TEMP": tmp, "HOME": filepath.Join(tmp, "_github_home"),
		"GITHUB_ENV": w.cmdFile("env"), "GITHUB_OUTPUT": w.cmdFile("output"), "GITHUB_STATE": w.cmdFile("state"),
		"GITHUB_STEP_SUMMARY": w.cmdFile("summary"), "GITHUB_REPOSITORY": "octo-org/octo-repo",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   w.srv.URL + "/_apis/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
		"INPUT_URL":                      w.srv.URL,
	}
	defaults := map[string]string{"export-env": "true", "default-registry": "false", "credential-mode": "token",
		"replace-crates-io": "false", "config-file": ".cargo/config.toml", "cleanup": "true", "revoke": "true",
		"retries": "1", "timeout": "10s"}
	for k, v := range defaults {
		w.env["INPUT_"+strings.ToUpper(k)] = v
	}
	for k, v := range inputs {
		w.env["INPUT_"+strings.ToUpper(k)] = v
	}
	return w
}

func (w *world) cmdFile(name string) string { return filepath.Join(w.dir, "cmd", name) }

func (w *world) read(name string) string {
	b, _ := os.ReadFile(w.cmdFile(name))
	return string(b)
}

func (w *world) envFn() Env {
	return Env{
		Getenv: func(k string) string { return w.env[k] },
		HTTP:   w.srv.Client(),
		Now:    func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) },
	}
}

func (w *world) run(stage func(context.Context, Env) error) (string, error) {
	var out bytes.Buffer
	e := w.envFn()
	e.Stdout = &out
	err := stage(context.Background(), e)
	return out.String(), err
}

// mustMain runs the main stage and returns what it printed; a failure
// stops the test, with that output.
func (w *world) mustMain() string {
	w.t.Helper()
	out, err := w.run(Main)
	if err != nil {
		w.t.Fatalf("Main: %v\n%s", err, out)
	}
	return out
}

// userConfig writes the user's own .cargo/config.toml (mode 0644) into the
// workspace and returns its path.
func (w *world) userConfig(content string) string {
	w.t.Helper()
	cfg := filepath.Join(w.env["GITHUB_WORKSPACE"], ".cargo", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return cfg
}

// parseEntries reads a file-command file as the runner does.
func parseEntries(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		k, delim, ok := strings.Cut(lines[i], "<<")
		if !ok || i+2 >= len(lines) || lines[i+2] != delim {
			t.Fatalf("malformed entry at line %d: %q", i, lines[i])
		}
		out[k] = lines[i+1]
		i += 2
	}
	return out
}

var jfrogInputs = map[string]string{"provider": "jfrog", "provider-name": "github-oidc", "repository": "cargo-local"}

func TestMainJFrogTokenMode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	w.env["INPUT_DEFAULT-REGISTRY"] = "true"
	out := w.mustMain()
	env := parseEntries(t, w.read("env"))
	index := "sparse+" + w.srv.URL + "/artifactory/api/cargo/cargo-local/index/"
	want := map[string]string{
		"CARGO_REGISTRIES_ARTIFACTORY_INDEX":               index,
		"CARGO_REGISTRIES_ARTIFACTORY_TOKEN":               "Bearer " + accessToken,
		"CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER": "cargo:token",
		"CARGO_REGISTRY_DEFAULT":                           "artifactory",
	}
	if fmt.Sprint(env) != fmt.Sprint(want) {
		t.Errorf("GITHUB_ENV = %v\nwant %v", env, want)
	}
	outs := parseEntries(t, w.read("output"))
	if outs["token"] != accessToken || outs["index-url"] != index || outs["registry-name"] != "artifactory" ||
		outs["username"] != "oidc/octo-org" || outs["expires-at"] != "2026-11-21T13:00:00Z" {
		t.Errorf("outputs = %v", outs)
	}
	if !strings.Contains(w.read("summary"), "| Expires | 2026-11-21T13:00:00Z |") {
		t.Errorf("summary = %s", w.read("summary"))
	}
	if !strings.Contains(out, "::notice title=Cargo registry ready::registry artifactory") {
		t.Errorf("no notice in\n%s", out)
	}
	assertMaskedFirst(t, out, w.idToken, accessToken)
}

// assertMaskedFirst checks that every secret is masked before any other
// line and never appears outside its ::add-mask:: line.
func assertMaskedFirst(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		maskLine := "::add-mask::" + s
		i := strings.Index(out, maskLine)
		if i < 0 {
			t.Errorf("secret %.8s... never masked", s)
			continue
		}
		if strings.Count(out, s) != 1 {
			t.Errorf("secret %.8s... appears outside its ::add-mask:: line:\n%s", s, out)
		}
	}
}

func TestMainIDTokenMaskedBeforeExchange(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	var sawMask atomic.Bool
	var buf bytes.Buffer
	w.serviceFn = func(rw http.ResponseWriter, r *http.Request) {
		sawMask.Store(strings.Contains(buf.String(), "::add-mask::"+w.idToken))
		rw.WriteHeader(http.StatusForbidden)
		fmt.Fprint(rw, `{"errors":[{"code":"FORBIDDEN","message":"Failed to find a matching identity mapping"}]}`)
	}
	e := w.envFn()
	e.Stdout = &syncWriter{w: &buf}
	err := Main(context.Background(), e)
	if err == nil {
		t.Fatal("Main succeeded against a 403")
	}
	if !sawMask.Load() {
		t.Error("the ID token was sent to the service before it was masked")
	}
	out := buf.String()
	for _, want := range []string{"::error title=cargo-oidc%3A JFrog refused the token exchange::",
		"Failed to find a matching identity mapping", "repository: octo-org/octo-repo"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if s := w.read("summary"); !strings.Contains(s, "repository: octo-org/octo-repo") {
		t.Errorf("summary lacks the claims block:\n%s", s)
	}
	if w.read("env") != "" || w.read("output") != "" {
		t.Error("a failed exchange wrote env or outputs")
	}
}

type syncWriter struct{ w io.Writer }

func (s *syncWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

func TestMainInputErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"provider": "jfrog", "retries": "-1"})
	out, err := w.run(Main)
	if err == nil {
		t.Fatal("Main accepted bad inputs")
	}
	for _, want := range []string{"input provider-name: is required", "input retries:", "input repository: is required"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if w.issued.Load() != 0 {
		t.Error("a token was requested despite invalid inputs")
	}
}

func TestMainMissingIDTokenPermission(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	delete(w.env, "ACTIONS_ID_TOKEN_REQUEST_URL")
	out, err := w.run(Main)
	if err == nil || !strings.Contains(out, "id-token: write") {
		t.Fatalf("err %v, output does not name id-token: write:\n%s", err, out)
	}
}

func TestMainReplaceCratesIOKeepsUserConfig(t *testing.T) {
	t.Parallel()
	w := newWorld(t, merge(jfrogInputs, "replace-crates-io", "true"))
	orig := "# my settings\n[build]\njobs = 2 # keep\n"
	cfg := w.userConfig(orig)
	for i := 0; i < 2; i++ { // a re-run updates in place
		w.mustMain()
	}
	got, _ := os.ReadFile(cfg)
	if !strings.HasPrefix(string(got), orig) || strings.Count(string(got), "[registries.artifactory]") != 1 ||
		!strings.Contains(string(got), `replace-with = "artifactory"`) || strings.Contains(string(got), accessToken) {
		t.Errorf("config file =\n%s", got)
	}
	outs := parseEntries(t, w.read("output"))
	if outs["config-file"] != cfg {
		t.Errorf("config-file output %q, want %q", outs["config-file"], cfg)
	}
}

func TestMainFailuresLeaveFilesUntouched(t *testing.T) {
	type test struct {
		config string
		setup  func(w *world)
		want   string
	}
	testenv.Run(t, map[string]test{
		"config does not parse": {"[registries\n", nil, "config.toml"},
		"config conflict":       {"[registries.artifactory]\nindex = \"sparse+https://other.example/\"\n", nil, "sparse+https://other.example/"},
		"service refuses": {"[build]\n", func(w *world) {
			w.serviceFn = func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusUnauthorized) }
		}, "401"},
		"GITHUB_ENV not writable": {"[build]\n", func(w *world) { w.env["GITHUB_ENV"] = filepath.Join(w.dir, "nope", "env") }, "cannot write GITHUB_ENV"},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t, merge(jfrogInputs, "replace-crates-io", "true"))
		w.env["INPUT_CREDENTIALS-FILE"] = "creds/credentials.toml"
		if tt.setup != nil {
			tt.setup(w)
		}
		cfg := w.userConfig(tt.config)
		out, err := w.run(Main)
		if err == nil {
			t.Fatal("Main succeeded")
		}
		if !strings.Contains(out, tt.want) {
			t.Errorf("output lacks %q:\n%s", tt.want, out)
		}
		if got, _ := os.ReadFile(cfg); string(got) != tt.config {
			t.Errorf("config changed to\n%s", got)
		}
		if _, err := os.Stat(filepath.Join(w.env["GITHUB_WORKSPACE"], "creds", "credentials.toml")); !os.IsNotExist(err) {
			t.Errorf("credentials file exists after a failure: %v", err)
		}
	})
}

func TestMainCredentialsFileAndPostCleanup(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	w.env["INPUT_CREDENTIALS-FILE"] = "creds.toml"
	w.mustMain()
	path := filepath.Join(w.env["GITHUB_WORKSPACE"], "creds.toml")
	fi, err := os.Stat(path)
	if err != nil || !testenv.PermIs(t, fi.Mode(), 0o600) {
		t.Fatalf("credentials file: %v mode %v", err, fi)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `token = "Bearer `+accessToken+`"`) {
		t.Errorf("credentials =\n%s", data)
	}
	for k, v := range parseEntries(t, w.read("state")) {
		w.env["STATE_"+k] = v
	}
	testenv.SkipUnderWine(t, testenv.RemoveDefect)
	out, err := w.run(Post)
	if err != nil {
		t.Fatalf("Post: %v\n%s", err, out)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("credentials file not removed by the post stage: %v", err)
	}
	// The step created the file, so the post stage deleted it: it says so,
	// not that it took a token out of it.
	if !strings.Contains(out, "Deleted the credentials file the main stage created."+eol) || strings.Contains(out, "Removed the token") {
		t.Errorf("the post stage does not say it deleted the file:\n%s", out)
	}
}

func TestMainSymlinkCredentialsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	target := filepath.Join(w.dir, "elsewhere.toml")
	if err := os.WriteFile(target, []byte("# theirs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Symlink(t, target, filepath.Join(w.env["GITHUB_WORKSPACE"], "creds.toml"))
	w.env["INPUT_CREDENTIALS-FILE"] = "creds.toml"
	out, err := w.run(Main)
	if err == nil || !strings.Contains(out, "symbolic link") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
	if got, _ := os.ReadFile(target); string(got) != "# theirs\n" || w.issued.Load() != 0 {
		t.Errorf("target changed (%q) or token issued (%d)", got, w.issued.Load())
	}
}

func TestMainProviderMode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	runProviderMode(t, w)
	env := parseEntries(t, w.read("env"))
	installed := filepath.Join(w.env["HOME"], ".cargo-oidc", "bin", "cargo-oidc"+exe)
	cp := env["CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER"]
	if !strings.HasPrefix(cp, installed+" --provider=jfrog --url="+w.srv.URL+" --provider-name=github-oidc") {
		t.Errorf("credential provider = %q", cp)
	}
	if _, ok := env["CARGO_REGISTRIES_ARTIFACTORY_TOKEN"]; ok || strings.Contains(w.read("env"), accessToken) || strings.Contains(w.read("output"), accessToken) {
		t.Error("provider mode exported a token")
	}
	if fi, err := os.Stat(installed); err != nil || !testenv.PermIs(t, fi.Mode(), 0o755) {
		t.Errorf("binary not installed: %v", err)
	}
}

func TestCratesIOTokenAndRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"provider": "crates-io"})
	w.mustMain()
	env := parseEntries(t, w.read("env"))
	if len(env) != 1 || env["CARGO_REGISTRY_TOKEN"] != "cio_tp_SECRET123" {
		t.Errorf("GITHUB_ENV = %v", env)
	}
	state := parseEntries(t, w.read("state"))
	for k, v := range state {
		w.env["STATE_"+k] = v
	}
	out, err := w.run(Post)
	if err != nil {
		t.Fatalf("Post: %v\n%s", err, out)
	}
	if w.revoked.Load() != 1 {
		t.Errorf("revoked %d times, want 1", w.revoked.Load())
	}
	if !strings.HasPrefix(out, "::add-mask::cio_tp_SECRET123"+eol) {
		t.Errorf("post stage does not mask the token first:\n%s", out)
	}
}

func TestPostRevokeFailureIsAWarning(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"provider": "crates-io"})
	w.env["STATE_provider"] = "crates-io"
	w.env["STATE_url"] = w.srv.URL
	w.env["STATE_revoke"] = "true"
	w.env["STATE_token"] = "cio_tp_WRONG"
	out, err := w.run(Post)
	if err != nil {
		t.Fatalf("Post failed the job: %v", err)
	}
	if !strings.Contains(out, "::warning title=cargo-oidc%3A crates.io token not revoked::") || !strings.Contains(out, "401") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Count(out, "cio_tp_WRONG") != 1 {
		t.Errorf("token shown outside its mask line:\n%s", out)
	}
}

func TestProviderModeRefusesWhitespace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	w.env["INPUT_CREDENTIAL-MODE"] = "provider"
	w.env["INPUT_PROVIDER-NAME"] = "github oidc"
	out, err := w.run(Main)
	if err == nil || !strings.Contains(out, "input provider-name: holds the space character U+0020") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
	if w.issued.Load() != 0 {
		t.Error("exchanged although the provider setting cannot be written")
	}
}

// A step that fails after the exchange (here its log breaks, found just
// before the file commands are written) revokes the crates.io token it got.
func TestCratesIORevokedWhenTheStepFailsLate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"provider": "crates-io"})
	e := w.envFn()
	e.Stdout = &brokenLog{limit: 0}
	if err := Main(context.Background(), e); err == nil {
		t.Fatal("Main succeeded with a broken log")
	}
	if w.issued.Load() != 1 || w.revoked.Load() != 1 {
		t.Errorf("issued %d, revoked %d; want the failed step's token revoked", w.issued.Load(), w.revoked.Load())
	}
	if env := w.read("env"); env != "" {
		t.Errorf("a failed step wrote GITHUB_ENV:\n%s", env)
	}
}

// A step that fails after the exchange (here the credential provider cannot
// be installed) writes the failure as its summary, not the success summary
// it had planned, and lists nothing as exported.
func TestLateFailureWritesTheFailureSummaryOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	w.env["INPUT_CREDENTIAL-MODE"] = "provider"
	e := w.envFn()
	var out bytes.Buffer
	e.Stdout = &out
	e.Executable = func() (string, error) { return "", errors.New("no executable here") }
	if err := Main(context.Background(), e); err == nil {
		t.Fatal("Main succeeded without a binary to install")
	}
	if w.issued.Load() != 1 {
		t.Fatalf("issued %d tokens; want the step to fail after the exchange\n%s", w.issued.Load(), out.String())
	}
	sum := w.read("summary")
	if strings.Contains(sum, "registry ready") || strings.Contains(sum, "CREDENTIAL_PROVIDER") || !strings.Contains(sum, "no executable here") {
		t.Errorf("summary of a failed step:\n%s", sum)
	}
	if strings.Contains(out.String(), "Exported ") {
		t.Errorf("a failed step lists exported variables:\n%s", out.String())
	}
}

// The failure summary quotes outside text verbatim in a code block (no
// escaping that could split a secret the runner masks by exact match),
// after removing every secret the step knows.
func TestFailureSummaryKeepsSecretsMaskable(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	sig := strings.Split(w.idToken, ".")[1] // the payload: the fake signature is short
	w.serviceFn = func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(rw, `{"errors":[{"message":"sig %s; weird_name *x* `+"```"+` [link](x) <b>"}]}`, sig)
	}
	out, err := w.run(Main)
	if err == nil {
		t.Fatal("Main succeeded")
	}
	sum := w.read("summary")
	if !strings.Contains(sum, "sig *** weird_name *x* ``` [link](x) <b>") && !strings.Contains(sum, "sig ***; weird_name *x* ``` [link](x) <b>") {
		t.Errorf("summary does not quote the message verbatim:\n%s", sum)
	}
	if !strings.Contains(sum, "\n````text\n") {
		t.Errorf("summary fence is not longer than the backticks inside:\n%s", sum)
	}
	_, shown, _ := strings.Cut(out, "::endgroup::") // after the mask lines
	for _, where := range []string{sum, shown} {
		if strings.Contains(strings.ReplaceAll(where, `\`, ""), sig[:20]) {
			t.Errorf("the signature shows:\n%s", where)
		}
	}
}

// runProviderMode runs the main stage of w in credential-mode provider,
// with a stand-in for the binary it installs, and returns its log.
func runProviderMode(t *testing.T, w *world) *bytes.Buffer {
	t.Helper()
	out, err := tryProviderMode(t, w)
	if err != nil {
		t.Fatalf("Main: %v\n%s", err, out.String())
	}
	return out
}

// tryProviderMode is runProviderMode for a step that may fail: it returns
// Main's error too.
func tryProviderMode(t *testing.T, w *world) (*bytes.Buffer, error) {
	t.Helper()
	w.env["INPUT_CREDENTIAL-MODE"] = "provider"
	bin := filepath.Join(w.dir, "fake-binary")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := w.envFn()
	var out bytes.Buffer
	e.Stdout = &out
	e.Executable = func() (string, error) { return bin, nil }
	return &out, Main(context.Background(), e)
}

// mainProviderMode runs the main stage with provider crates-io in
// credential-mode provider and returns the record of minted tokens its
// credential provider would append to, checked to be in a private folder.
func mainProviderMode(t *testing.T, w *world) string {
	t.Helper()
	runProviderMode(t, w)
	cp := parseEntries(t, w.read("env"))["CARGO_REGISTRY_CREDENTIAL_PROVIDER"]
	_, record, ok := strings.Cut(cp, " --minted-record=")
	if !ok {
		t.Fatalf("no record argument in %q", cp)
	}
	record, _, _ = strings.Cut(record, " ")
	if !strings.HasPrefix(record, filepath.Join(w.env["RUNNER_TEMP"], "_github_home", ".cargo-oidc", "minted-")) {
		t.Fatalf("record %q is not beside the provider under the runner's temp folder", record)
	}
	if fi, err := os.Lstat(filepath.Dir(record)); err != nil || !fi.IsDir() || !testenv.PermIs(t, fi.Mode(), 0o700) {
		t.Fatalf("record folder: %v, %v; want a 0700 folder", fi, err)
	}
	for k, v := range parseEntries(t, w.read("state")) {
		w.env["STATE_"+k] = v
	}
	return record
}

func TestPostRevokesEveryTokenTheProviderMinted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"provider": "crates-io"})
	record := mainProviderMode(t, w)
	if w.revoked.Load() != 0 {
		t.Fatalf("the main stage revoked %d tokens; want its own kept (it seeds the cache) for the post stage", w.revoked.Load())
	}
	// What the credential provider would have appended: two tokens (the
	// fake accepts only its own, so one revocation fails and is reported).
	if err := os.WriteFile(record, []byte("cio_tp_SECRET123\ncio_tp_OTHER456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	post, err := w.run(Post)
	if err != nil {
		t.Fatalf("Post: %v\n%s", err, post)
	}
	if w.revoked.Load() != 1 || !strings.Contains(post, "1 of 2 token(s) not revoked") {
		t.Errorf("revoked %d; post stage:\n%s", w.revoked.Load(), post)
	}
	if !strings.Contains(post, "::add-mask::cio_tp_OTHER456") || strings.Count(post, "cio_tp_OTHER456") != 1 {
		t.Errorf("a minted token is not masked, or shown:\n%s", post)
	}
	testenv.SkipUnderWine(t, testenv.RemoveDefect)
	if _, err := os.Stat(filepath.Dir(record)); !os.IsNotExist(err) {
		t.Errorf("the record folder is left: %v", err)
	}
}

// A later step replaces the record's folder with a link to a folder outside
// the workspace and the runner's temp folder: the post stage reads nothing
// there and deletes nothing, not even the link, and says so.
func TestPostLeavesARecordFolderLinkedOutside(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"provider": "crates-io"})
	record := mainProviderMode(t, w)
	outside := filepath.Join(testenv.TempDir(t), "elsewhere")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "tokens"), []byte("cio_tp_OUTSIDE789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Dir(record)); err != nil {
		t.Fatal(err)
	}
	testenv.Symlink(t, outside, filepath.Dir(record))
	post, err := w.run(Post)
	if err != nil {
		t.Fatalf("Post: %v\n%s", err, post)
	}
	if strings.Contains(post, "OUTSIDE789") {
		t.Errorf("the post stage read the file outside:\n%s", post)
	}
	if w.revoked.Load() != 1 || !strings.Contains(post, "Revoked the crates.io token.") {
		t.Errorf("revoked %d; want only the step's own token revoked, from the state; post stage:\n%s", w.revoked.Load(), post)
	}
	if !strings.Contains(post, "minted by the credential provider not revoked") || !strings.Contains(post, "symbolic link") {
		t.Errorf("the post stage does not warn about the link:\n%s", post)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "tokens")); err != nil || string(b) != "cio_tp_OUTSIDE789\n" {
		t.Errorf("the file outside is %q, %v; want it untouched", b, err)
	}
	if fi, err := os.Lstat(filepath.Dir(record)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was deleted or replaced: %v, %v", fi, err)
	}
}

// A step that fails after creating the record's folder and the token
// cache deletes both again
// (here the outputs cannot be written: /dev/full refuses every write).
func TestMainFailureRemovesTheRecordFolder(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("skipping: Windows has no /dev/full to fail the outputs with; the folder goes through cargoconf.RemoveAllBeneath, the same code on every system")
	}
	_, err := os.Stat("/dev/full")
	testenv.Require(t, "/dev/full (to fail the outputs with)", err)
	w := newWorld(t, map[string]string{"provider": "crates-io"})
	w.env["GITHUB_OUTPUT"] = "/dev/full"
	out, _ := tryProviderMode(t, w)
	if !strings.Contains(out.String(), "::error") {
		t.Fatalf("the step did not fail:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(w.env["HOME"], ".cargo-oidc", "bin", "cargo-oidc")); err != nil {
		t.Fatalf("the step failed before installing the provider (so before the record folder): %v\n%s", err, out.String())
	}
	for _, glob := range []string{"minted-*", "cache-*"} {
		matches, _ := filepath.Glob(filepath.Join(w.env["HOME"], ".cargo-oidc", glob))
		if len(matches) != 0 {
			t.Errorf("the failed step left the folder %v", matches)
		}
	}
	if w.revoked.Load() != 1 {
		t.Errorf("revoked %d, want the step's token revoked since the step failed", w.revoked.Load())
	}
}

// brokenLog fails every write after the first limit bytes, like a closed
// pipe on the step's standard output.
type brokenLog struct{ limit int }

func (b *brokenLog) Write(p []byte) (int, error) {
	if b.limit < len(p) {
		return 0, errors.New("write /dev/stdout: broken pipe")
	}
	b.limit -= len(p)
	return len(p), nil
}

// TestMainBrokenLogExportsNothing: a step whose log broke before the file
// commands were written fails with nothing exported and the user's config
// file as it was.
func TestMainBrokenLogExportsNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, merge(jfrogInputs, "replace-crates-io", "true"))
	orig := "# mine\n"
	cfg := w.userConfig(orig)
	e := w.envFn()
	e.Stdout = &brokenLog{limit: 0}
	if err := Main(context.Background(), e); err == nil {
		t.Fatal("Main succeeded with a broken log")
	}
	if env := w.read("env"); strings.Contains(env, "TOKEN") {
		t.Errorf("GITHUB_ENV holds a token entry:\n%s", env)
	}
	if got, _ := os.ReadFile(cfg); string(got) != orig {
		t.Errorf("config file changed to:\n%s", got)
	}
}

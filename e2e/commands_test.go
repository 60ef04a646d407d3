package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// cliRun is one run of the built binary's terminal commands.
type cliRun struct {
	stdout, stderr string
	code           int
}

// cliEnv is a job's environment outside GitHub Actions: a private HOME and
// CARGO_HOME, the machine's rustup, the stack's CA, and extra on top.
func cliEnv(t *testing.T, s *fakes.Stack, extra map[string]string) map[string]string {
	t.Helper()
	home := t.TempDir()
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": home, "CARGO_HOME": filepath.Join(home, ".cargo"),
		"SSL_CERT_FILE": s.CAFile, "CARGO_HTTP_CAINFO": s.CAFile,
		"CARGO_TERM_COLOR": "never", "CARGO_NET_RETRY": "0", "CARGO_HTTP_TIMEOUT": "20",
		"TMPDIR": t.TempDir(), // the provider's default token cache, not the machine's /tmp
	}
	if rh := os.Getenv("RUSTUP_HOME"); rh != "" {
		env["RUSTUP_HOME"] = rh
	} else if h, err := os.UserHomeDir(); err == nil {
		env["RUSTUP_HOME"] = filepath.Join(h, ".rustup")
	}
	if v, ok := os.LookupEnv("RUSTUP_TOOLCHAIN"); ok {
		env["RUSTUP_TOOLCHAIN"] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// cliExec runs the binary in dir with env and args, and fails the test
// when a secret the fakes issued shows in its output.
func cliExec(t *testing.T, s *fakes.Stack, dir string, env map[string]string, args ...string) cliRun {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), provBinary(t), args...)
	cmd.Dir = dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, stderr, code, err := harness.Output(cmd)
	if err != nil {
		t.Fatalf("cargo-oidc %v: %v", args, err)
	}
	t.Logf("$ cargo-oidc %s (exit %d)\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	noIssuedSecret(t, s, "stderr of cargo-oidc "+args[0], stderr)
	if args[0] != "token" { // token's stdout is the token, by design
		noIssuedSecret(t, s, "stdout of cargo-oidc "+args[0], stdout)
	}
	return cliRun{stdout, stderr, code}
}

// cliInputs are --name=value arguments.
func cliInputs(in map[string]string) []string {
	var out []string
	for k, v := range in {
		out = append(out, "--"+k+"="+v)
	}
	return out
}

// TestCLIExecGitLabPublishesToCratesIO: in a GitLab job, `cargo-oidc exec
// --provider=crates-io -- cargo publish` exchanges the job's id_tokens
// variable (GitLab's issuer and claims) with crates.io, the real cargo
// publishes with the token, and the token is revoked after; the ID token
// is then spent, and a second exec says so without running its command.
// A project crates.io does not trust is refused with GitLab's claims shown.
func TestCommandExecGitLabPublishesToCratesIO(t *testing.T) {
	t.Parallel()
	harness.Tool(t, "cargo", "install Rust (rustup) to run this test")
	s := provStack(t)
	gl, err := s.StartGitLab()
	if err != nil {
		t.Fatal(err)
	}
	s.TrustGitLab(gl, &fakes.GitLabPublisher{Namespace: "GRP", Project: "app", WorkflowFilepath: ".gitlab-ci.yml", Environment: "release"})
	idt, err := gl.MintGitLab("crates.io", nil)
	if err != nil {
		t.Fatal(err)
	}
	env := cliEnv(t, s, map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": idt, fakes.CratesIOURLEnv: s.CratesIOIndex})
	dir := t.TempDir()
	writeFiles(t, dir, project("gl-published", "0.1.0", ""))

	r := cliExec(t, s, dir, env, "exec", "--provider=crates-io", "--url="+s.CratesIOURL, "--", "cargo", "publish", "--allow-dirty", "--no-verify")
	if r.code != 0 {
		t.Fatalf("exec cargo publish: exit %d", r.code)
	}
	if got := strings.Join(s.Registry.Published(), ","); got != "gl-published@0.1.0" {
		t.Errorf("published %q", got)
	}
	if s.Store.Exchanges("crates-io") != 1 || s.Store.Revocations() != 1 || !strings.Contains(r.stderr, "revoked the crates.io token") {
		t.Errorf("%d exchanges, %d revocations, want 1 and 1", s.Store.Exchanges("crates-io"), s.Store.Revocations())
	}
	if entries, _ := os.ReadDir(env["CARGO_HOME"]); len(entries) > 0 {
		for _, e := range entries {
			if e.Name() == "credentials.toml" || e.Name() == "config.toml" {
				t.Errorf("exec wrote %s", e.Name())
			}
		}
	}

	marker := filepath.Join(dir, "ran")
	r = cliExec(t, s, dir, env, "exec", "--provider=crates-io", "--url="+s.CratesIOURL, "--", "touch", marker)
	if r.code != 1 || !strings.Contains(r.stderr, "JWT has already been used") {
		t.Errorf("a second exec with the spent ID token: exit %d", r.code)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the command ran without a token")
	}

	other, err := gl.MintGitLab("crates.io", map[string]any{"project_path": "grp/other", "ci_config_ref_uri": "gitlab.com/grp/other//ci/release.yml@refs/heads/main"})
	if err != nil {
		t.Fatal(err)
	}
	env["CARGO_OIDC_ID_TOKEN"] = other
	r = cliExec(t, s, dir, env, "exec", "--provider=crates-io", "--url="+s.CratesIOURL, "--", "touch", marker)
	for _, w := range []string{"crates.io refused the token exchange of the ID token from GitLab CI's CARGO_OIDC_ID_TOKEN",
		"No Trusted Publishing config found for repository `grp/other`", "hint: check the crate's GitLab trusted publisher",
		"hint:   project_path: grp/other", "hint:   namespace_id: 72",
		"hint:   ci_config_ref_uri: gitlab.com/grp/other//ci/release.yml@refs/heads/main", "hint:   environment: release"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the refusal does not say %q", w)
		}
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
}

// TestCLIConfigureThenCargoFetch: configure writes the registry and
// cargo-oidc as its provider into $CARGO_HOME/config.toml (the file's
// comments kept); plain cargo then fetches from the registry that needs a
// token, the provider finding the ID token in the named variable.
func TestCommandConfigureThenCargoFetch(t *testing.T) {
	t.Parallel()
	harness.Tool(t, "cargo", "install Rust (rustup) to run this test")
	s := provStack(t)
	idt, err := s.Issuer.Mint("", nil)
	if err != nil {
		t.Fatal(err)
	}
	env := cliEnv(t, s, map[string]string{"REG_ID_TOKEN": idt})
	writeFiles(t, env["CARGO_HOME"], map[string]string{"config.toml": "# the machine's own\n[net]\ngit-fetch-with-cli = false\n"})
	dir := t.TempDir()
	writeFiles(t, dir, project("uses-dep", "0.1.0", `prov-a = { version = "1", registry = "artifactory" }`+"\n"))

	args := append([]string{"configure", "--audience=" + s.Issuer.DefaultAudience(), "--id-token-env=REG_ID_TOKEN"}, cliInputs(s.JFrogInputs())...)
	r := cliExec(t, s, dir, env, args...)
	if r.code != 0 {
		t.Fatalf("configure: exit %d", r.code)
	}
	cfg, _ := os.ReadFile(filepath.Join(env["CARGO_HOME"], "config.toml"))
	for _, w := range []string{"# the machine's own\n[net]\ngit-fetch-with-cli = false\n", "[registries.artifactory]", "index = \"" + s.JFrogIndex + "\"",
		"credential-provider = \"" + provBinary(t) + " --provider=jfrog", "--id-token-env=REG_ID_TOKEN\""} {
		if !strings.Contains(string(cfg), w) {
			t.Errorf("config.toml lacks %q:\n%s", w, cfg)
		}
	}
	if strings.Contains(string(cfg), idt) || s.Store.Exchanges("jfrog") != 0 {
		t.Errorf("configure exchanged or wrote the ID token")
	}
	cmd := exec.CommandContext(t.Context(), "cargo", "fetch")
	cmd.Dir = dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, stderr, code, err := harness.Output(cmd)
	if err != nil || code != 0 {
		t.Fatalf("cargo fetch: exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	noIssuedSecret(t, s, "cargo's output", stdout+stderr)
	if s.Store.Exchanges("jfrog") == 0 {
		t.Errorf("cargo fetched without asking cargo-oidc for a token")
	}
}

// TestCLITokenAndPluginPosition: token prints a token the registry
// accepts, alone on stdout, and warns on stderr; --cargo-plugin starts the
// credential provider only as the first argument, so exec runs a tool that
// takes --cargo-plugin itself.
func TestCommandTokenAndPluginPosition(t *testing.T) {
	t.Parallel()
	s := provStack(t)
	idt, err := s.Issuer.Mint("", nil)
	if err != nil {
		t.Fatal(err)
	}
	env := cliEnv(t, s, map[string]string{"REG_ID_TOKEN": idt})
	in := append([]string{"--audience=" + s.Issuer.DefaultAudience(), "--id-token-env=REG_ID_TOKEN"}, cliInputs(s.JFrogInputs())...)

	r := cliExec(t, s, t.TempDir(), env, append([]string{"token"}, in...)...)
	tok := strings.TrimSuffix(r.stdout, "\n")
	if r.code != 0 || strings.Contains(tok, "\n") || !s.Store.Valid(tok) {
		t.Fatalf("token: exit %d, stdout is not one valid token", r.code)
	}
	if !strings.Contains(r.stderr, "now in your hands") {
		t.Errorf("token gave no warning")
	}

	sh := harness.Tool(t, "sh", "install a POSIX shell")
	r = cliExec(t, s, t.TempDir(), env, append(append([]string{"exec"}, in...), "--", sh, "-c", `echo "ran $0 ${CARGO_REGISTRIES_ARTIFACTORY_TOKEN%% *}"`, "--cargo-plugin")...)
	if r.code != 0 || r.stdout != "ran --cargo-plugin Bearer\n" {
		t.Errorf("exec -- sh ... --cargo-plugin: exit %d, stdout %q, want the tool's output", r.code, r.stdout)
	}
}

// noIssuedSecret fails t when text holds a token the fakes issued.
func noIssuedSecret(t testing.TB, s *fakes.Stack, where, text string) {
	t.Helper()
	for _, l := range secretLeaks(where, text, s.Store.Secrets()) {
		t.Error("LEAK: " + l)
	}
}

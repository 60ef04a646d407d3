package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// TestCLI runs the built binary as a user, the runner or Cargo does, one
// row per command line: the exit status and what stdout and stderr must
// hold. A usage error (exit 2) writes nothing to stdout.
func TestCLI(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-ca.pem")
	empty := writeFile(t, filepath.Join(dir, "0001.state"), "", 0o600)
	// The help lists everything the binary and its credential provider
	// accept: the stages, every flag, --cargo-plugin, the provider's own
	// arguments and every input (credprovider.ParseArgs takes --<input>=).
	help := append([]string{"Usage:", "post", "--cargo-plugin", "--help", "-h", "--version", "--host-workspace=DIR", "--host-temp=DIR",
		"--<input>=value", "--id-token-env=VAR", "--id-token-file=PATH"}, config.Inputs...)
	// Every way the binary runs builds its HTTP client from SSL_CERT_FILE
	// (exchange.BaseHTTPClient), which makes a private CA work on macOS and
	// Windows, where Go's own verifier ignores the variable: a file that
	// cannot be read stops the main stage and the provider before any
	// request, naming the variable and the path; the post stage, which
	// never fails the job, warns and goes on.
	certEnv := []string{"SSL_CERT_FILE=" + missing, "INPUT_PROVIDER=crates-io", "RUNNER_TEMP=" + dir}
	const certErr = "cannot use SSL_CERT_FILE::read the CA certificates of SSL_CERT_FILE="
	tests := []struct {
		args           []string
		env            []string
		code           int
		stdout, stderr []string
	}{
		{args: []string{"--help"}, stdout: help},
		{args: []string{"-h"}, stdout: help},
		{args: []string{"-help"}, stdout: help},
		{args: []string{"--version"}, stdout: []string{"cargo-oidc e2e\n"}}, // harness.Binary stamps "e2e"
		{args: []string{"--cargo-plugin"}, stdout: []string{"{\"v\":[1]}\n"}},
		{args: []string{"--bogus"}, code: 2, stderr: []string{"unknown flag --bogus", "--help"}},
		{args: []string{"-x=1"}, code: 2, stderr: []string{"unknown flag -x"}},
		{args: []string{"post", "--nope"}, code: 2, stderr: []string{"unknown flag --nope"}},
		{args: []string{"--provider=jfrog"}, code: 2, stderr: []string{"unknown flag --provider", "credential-provider setting", "INPUT_"}},
		{args: []string{"--host-temp"}, code: 2, stderr: []string{"--host-temp"}},
		{args: []string{"extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}},
		// --composite belongs to the main stage and --state-file to the
		// post stage; post --state-file with the state of an unfinished
		// step succeeds.
		{args: []string{"post", "--composite"}, code: 2, stderr: []string{"--composite is a flag of the main stage"}},
		{args: []string{"--state-file=" + empty}, code: 2, stderr: []string{"--state-file is a flag of the post stage"}},
		{args: []string{"post", "--state-file=" + empty}, stdout: []string{"Nothing to clean up: the main stage did not finish."}},
		{env: certEnv, code: 1, stdout: []string{"::error title=cargo-oidc%3A " + certErr + missing}},
		{args: []string{"post"}, env: certEnv, stdout: []string{"::warning title=cargo-oidc%3A " + certErr + missing}},
		{args: []string{"--cargo-plugin"}, env: certEnv, code: 1, stderr: []string{"cargo-oidc: read the CA certificates of SSL_CERT_FILE=" + missing}},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
		stdout, stderr, code, err := harness.Output(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if code != tt.code || code == 2 && stdout != "" {
			t.Errorf("cargo-oidc %q (env %q): exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, tt.env, code, tt.code, stdout, stderr)
		}
		for _, w := range tt.stdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("cargo-oidc %q: stdout lacks %q:\n%s", tt.args, w, stdout)
			}
		}
		for _, w := range tt.stderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("cargo-oidc %q: stderr lacks %q:\n%s", tt.args, w, stderr)
			}
		}
	}
}

// TestCLIHelpListsOnlyWhatIsAccepted: every --name= the help shows is
// accepted: the stage flags by the binary, the provider's arguments and
// inputs by credprovider.ParseArgs.
func TestCLIHelpListsOnlyWhatIsAccepted(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	flagsPart, providerPart, ok := strings.Cut(string(out), "Credential provider:")
	if !ok {
		t.Fatalf("help has no credential provider section:\n%s", out)
	}
	names := func(s string) []string {
		var out []string
		for _, m := range docFlagAssignRE.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	stageFlags := names(flagsPart)
	if len(stageFlags) == 0 {
		t.Fatal("help lists no stage flags")
	}
	for _, f := range stageFlags {
		// The post stage with no state does nothing: only the flag is judged.
		cmd := exec.Command(bin, "post", "--"+f+"="+t.TempDir())
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("help lists --%s=, which the binary refuses: %v\n%s", f, err, out)
		}
	}
	providerArgs := names(providerPart)
	for _, in := range config.Inputs {
		if !strings.Contains(providerPart, " "+in) {
			t.Errorf("help does not list input %s", in)
		}
		providerArgs = append(providerArgs, in)
	}
	for _, a := range providerArgs {
		args := []string{"--provider=jfrog", "--url=https://example.jfrog.io", "--provider-name=p", "--repository=r"}
		if _, err := credprovider.ParseArgs(append(args, "--"+a+"=x")); err != nil && strings.Contains(err.Error(), "unknown argument") {
			t.Errorf("help lists --%s=, which the credential provider refuses: %v", a, err)
		}
	}
	if _, err := credprovider.ParseArgs([]string{"--provider=crates-io", "--nonsense=x"}); err == nil || !strings.Contains(err.Error(), "unknown argument") {
		t.Errorf("ParseArgs accepted an unknown argument (err %v): the check above proves nothing", err)
	}
}

package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// TestBinaryReadsSSLCertFile: every way the binary runs (the action's main
// and post stages, the credential provider) builds its HTTP client from
// SSL_CERT_FILE (exchange.BaseHTTPClient), which is what makes a private CA
// work on macOS and Windows, where Go's own verifier ignores the variable.
// A file that cannot be read stops the main stage and the provider at once,
// with a message naming the variable and the path, before any request; the
// post stage, which never fails the job, warns and goes on.
func TestBinaryReadsSSLCertFile(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"main stage", nil, 1, "::error title=cargo-oidc%3A cannot use SSL_CERT_FILE::read the CA certificates of SSL_CERT_FILE=" + missing, ""},
		{"post stage", []string{"post"}, 0, "::warning title=cargo-oidc%3A cannot use SSL_CERT_FILE::read the CA certificates of SSL_CERT_FILE=" + missing, ""},
		{"credential provider", []string{"--cargo-plugin"}, 1, "", "cargo-oidc: read the CA certificates of SSL_CERT_FILE=" + missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = []string{"SSL_CERT_FILE=" + missing, "INPUT_PROVIDER=crates-io", "RUNNER_TEMP=" + t.TempDir()}
			stdout, stderr, code, err := harness.Output(cmd)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stdout:\n%s\nstderr:\n%s\nwant %q in stdout and %q in stderr", stdout, stderr, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

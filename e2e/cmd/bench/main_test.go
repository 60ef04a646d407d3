package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// TestRun runs the benchmark with two timed runs and no warm-up: both flows
// must work and the binary must make exactly two requests per run. Timing
// targets are only logged here, since a loaded test machine says nothing
// about them; `go run ./e2e/cmd/bench` checks them.
func TestRun(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		harness.Tool(t, tool, "install bash, curl and jq to run the benchmark")
	}
	t.Cleanup(harness.Cleanup)
	var out strings.Builder
	err := run(t.Context(), []string{"-n", "2", "-warmup", "0"}, &out)
	t.Logf("bench output:\n%s", out.String())
	var missed *missedError
	if err != nil && !errors.As(err, &missed) {
		t.Fatalf("bench failed: %v", err)
	}
	for _, want := range []string{"PASS  exactly 2 HTTP requests per binary run", "cargo-oidc binary", "curl + jq script", "one 503 then success"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench output lacks %q", want)
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(t.Context(), []string{"-n", "0"}, &out); err == nil {
		t.Fatal("run accepted -n 0")
	}
}

func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out strings.Builder
		err := run(t.Context(), []string{arg}, &out)
		if exitCode(err) != 0 {
			t.Errorf("%s: err %v, exit code %d; want 0", arg, err, exitCode(err))
		}
		if !strings.Contains(out.String(), "-warmup") {
			t.Errorf("%s: usage lacks -warmup:\n%s", arg, out.String())
		}
	}
	if exitCode(run(t.Context(), []string{"-bogus"}, &strings.Builder{})) != 1 {
		t.Error("an unknown flag exits 0")
	}
}

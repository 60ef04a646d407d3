package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// stopRecorder records how Require stops a test instead of stopping it.
type stopRecorder struct {
	testing.TB
	skipped, failed, errored string
}

func (r *stopRecorder) Helper()                        {}
func (r *stopRecorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *stopRecorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }
func (r *stopRecorder) Errorf(format string, a ...any) { r.errored = fmt.Sprintf(format, a...) }
func (r *stopRecorder) Fatal(a ...any)                 { r.failed = fmt.Sprint(a...) }

// TestMust: nil goes on, an error stops the test with it.
func TestMust(t *testing.T) {
	t.Parallel()
	r := &stopRecorder{TB: t}
	if Must(r, nil); r.failed != "" {
		t.Errorf("Must(nil) stopped the test: %q", r.failed)
	}
	if Must(r, errors.New("boom")); r.failed != "boom" {
		t.Errorf("Must(boom) stopped the test with %q, want boom", r.failed)
	}
}

// TestRequire: nothing happens when the tool is there; a missing one skips
// with the reason outside CI and fails under CI=true. Not parallel: it sets
// CI.
func TestRequire(t *testing.T) {
	missing := errors.New("not in PATH; install it")
	tests := []struct {
		ci          string
		err         error
		skip, fatal string
	}{
		{"true", nil, "", ""},
		{"", nil, "", ""},
		{"", missing, "skipping: widget is not available: not in PATH; install it", ""},
		{"false", missing, "skipping: widget is not available: not in PATH; install it", ""},
		{"true", missing, "", "widget is required under CI=true: not in PATH; install it"},
	}
	for _, tt := range tests {
		t.Setenv("CI", tt.ci)
		r := &stopRecorder{TB: t}
		Require(r, "widget", tt.err)
		if r.skipped != tt.skip || r.failed != tt.fatal {
			t.Errorf("CI=%q err=%v: skipped %q failed %q, want %q %q", tt.ci, tt.err, r.skipped, r.failed, tt.skip, tt.fatal)
		}
	}
	t.Setenv("CI", "")
	r := &stopRecorder{TB: t}
	if UnderWine() {
		// Under wine only the Windows programs in the prefix are found,
		// and a missing one skips even under CI=true.
		t.Setenv("CI", "true")
		if p := Tool(r, "cargo-oidc-no-such-tool", "get it"); p != "" || r.failed != "" || !strings.HasPrefix(r.skipped, "skipping under wine: cargo-oidc-no-such-tool") {
			t.Errorf("Tool of a missing tool under wine and CI=true: path %q, skipped %q, failed %q; want a skip", p, r.skipped, r.failed)
		}
		return
	}
	if p := Tool(r, "cargo-oidc-no-such-tool", "get it from the shop"); p != "" || !strings.Contains(r.skipped, "cargo-oidc-no-such-tool") || !strings.Contains(r.skipped, "get it from the shop") {
		t.Errorf("Tool of a missing tool: path %q, skipped %q", p, r.skipped)
	}
	if p := Tool(r, "go", "install Go"); p == "" {
		t.Error("Tool did not find go")
	}
}

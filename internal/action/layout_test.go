package action

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMainRefusesUnreachablePaths runs the main stage as a container action
// on runners whose layout cannot deliver what was asked: it must fail before
// any exchange and export nothing, instead of succeeding with a path no
// later step can reach.
func TestMainRefusesUnreachablePaths(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("skipping: container actions run on Linux runners only; on Windows the action runs through setup/, outside a container")
	}
	tests := []struct {
		name   string
		inputs map[string]string
		env    func(w *world) map[string]string
		want   []string // in the error and the ::error annotation; nil: the step succeeds
	}{
		{
			name:   "provider mode with a HOME of the container's own (nektos/act)",
			inputs: map[string]string{"credential-mode": "provider"},
			env:    func(*world) map[string]string { return map[string]string{"HOME": "/root"} },
			want:   []string{"credential-mode: provider", `HOME is "/root", not /github/home`, "use credential-mode: token"},
		},
		{
			name:   "credentials file under an unmounted runner.temp (runner before v2.331.0)",
			inputs: map[string]string{"credentials-file": "creds/credentials.toml"},
			env: func(w *world) map[string]string {
				return map[string]string{"INPUT_CREDENTIALS-FILE": filepath.Join(w.env["RUNNER_TEMP"], "creds", "credentials.toml")}
			},
			want: []string{"input credentials-file:", "which this runner does not mount", "/github/runner_temp", "use a path relative to the workspace"},
		},
		{
			name:   "config file under an unmounted runner.temp",
			inputs: map[string]string{"replace-crates-io": "true"},
			env: func(w *world) map[string]string {
				return map[string]string{"INPUT_CONFIG-FILE": filepath.Join(w.env["RUNNER_TEMP"], "config.toml")}
			},
			want: []string{"input config-file:", "which this runner does not mount"},
		},
		{
			name:   "token mode and workspace files need neither",
			inputs: map[string]string{"credentials-file": ".cargo/credentials.toml", "replace-crates-io": "true"},
			env:    func(*world) map[string]string { return map[string]string{"HOME": "/root"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inputs := map[string]string{}
			for k, v := range jfrogInputs {
				inputs[k] = v
			}
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			w := newWorld(t, inputs)
			for k, v := range tt.env(w) {
				w.env[k] = v
			}
			e := w.envFn()
			var out bytes.Buffer
			e.Stdout = &out
			e.Container = true
			e.Executable = func() (string, error) { return "/bin/true", nil }
			err := Main(context.Background(), e)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Main: %v\n%s", err, out.String())
				}
				return
			}
			var reported *ReportedError
			if !errors.As(err, &reported) {
				t.Fatalf("Main returned %v, want a reported error\n%s", err, out.String())
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) || !strings.Contains(out.String(), "::error") {
					t.Errorf("error %q (output %q) does not contain %q", err, out.String(), s)
				}
			}
			if n := w.issued.Load(); n != 0 {
				t.Errorf("%d tokens issued before the step failed", n)
			}
			if env, outputs := w.read("env"), w.read("output"); env != "" || outputs != "" {
				t.Errorf("a failed step exported GITHUB_ENV %q, GITHUB_OUTPUT %q", env, outputs)
			}
			if _, err := os.Stat(filepath.Join(w.env["RUNNER_TEMP"], "creds")); err == nil {
				t.Error("the credentials folder was created")
			}
		})
	}
}

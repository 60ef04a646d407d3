package action

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// In the container the job's links name host paths; a link to a host path
// inside the workspace is followed there, and the link is kept.
func TestMainFollowsHostLinkInsideWorkspace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, merge(jfrogInputs, "replace-crates-io", "true"))
	ws := w.env["GITHUB_WORKSPACE"]
	host := "/home/runner/work/octo-repo/octo-repo"
	if runtime.GOOS == "windows" {
		host = `D:\a\octo-repo\octo-repo`
	}
	hostShared := filepath.Join(host, "shared", "config.toml")
	shared := filepath.Join(ws, "shared", "config.toml")
	if err := os.MkdirAll(filepath.Dir(shared), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shared, []byte("[net]\nretry = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(ws, ".cargo", "config.toml")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Symlink(t, hostShared, link)
	e := w.envFn()
	e.HostWorkspace = host
	var out bytes.Buffer
	e.Stdout = &out
	if err := Main(context.Background(), e); err != nil {
		t.Fatalf("Main: %v\n%s", err, out.String())
	}
	got, _ := os.ReadFile(shared)
	if !strings.HasPrefix(string(got), "[net]\nretry = 1\n") || !strings.Contains(string(got), `replace-with = "artifactory"`) {
		t.Errorf("the linked file was not updated:\n%s", got)
	}
	if target, err := os.Readlink(link); err != nil || target != hostShared {
		t.Errorf("the link changed: %q, %v", target, err)
	}
	if outs := parseEntries(t, w.read("output")); outs["config-file"] != filepath.Join(host, ".cargo", "config.toml") {
		t.Errorf("config-file output %q", outs["config-file"])
	}
	if !strings.Contains(out.String(), "(a link to "+hostShared+")") {
		t.Errorf("the log does not say which file was written:\n%s", out.String())
	}
}

// The post stage deletes the credentials file only while it is the one the
// main stage wrote.
func TestPostLeavesAReplacedCredentialsFile(t *testing.T) {
	t.Parallel()
	for _, replace := range []bool{false, true} {
		w := newWorld(t, jfrogInputs)
		w.env["INPUT_CREDENTIALS-FILE"] = "creds/credentials.toml"
		w.mustMain()
		path := filepath.Join(w.env["GITHUB_WORKSPACE"], "creds", "credentials.toml")
		state := parseEntries(t, w.read("state"))
		if state[stateCredentialsID] == "" || state[stateCredentialsFile] != path {
			t.Fatalf("state %v", state)
		}
		for k, v := range state {
			w.env["STATE_"+k] = v
		}
		if replace {
			if err := os.WriteFile(path+".new", []byte("# a later step's\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}
		if !replace {
			testenv.SkipUnderWine(t, testenv.RemoveDefect)
		}
		out, err := w.run(Post)
		if err != nil {
			t.Fatalf("Post: %v\n%s", err, out)
		}
		_, statErr := os.Stat(path)
		if replace && (statErr != nil || !strings.Contains(out, "::warning") || !strings.Contains(out, "no longer the file cargo-oidc wrote")) {
			t.Errorf("replaced file: stat %v, output:\n%s", statErr, out)
		}
		if !replace && !os.IsNotExist(statErr) {
			t.Errorf("the post stage left its own file: %v\n%s", statErr, out)
		}
	}
}

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
			inputs := merge(jfrogInputs)
			maps.Copy(inputs, tt.inputs)
			w := newWorld(t, inputs)
			maps.Copy(w.env, tt.env(w))
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

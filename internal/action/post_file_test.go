package action

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestPostFromFile: the composite's post stage reads the state the main
// stage wrote to its GITHUB_STATE file, not STATE_ variables: the crates.io
// token is revoked (the fake asserts DELETE and the bearer token) even
// though the environment holds a STATE_token of its own; a state file that
// cannot be read, or is malformed, is a warning that names the problem and
// never quotes the file's values.
func TestPostFromFile(t *testing.T) {
	type test struct {
		state       func(w *world) string // returns the state file's path
		wantRevoked int32
		wantOut     string
	}
	testenv.Run(t, map[string]test{
		"state written by the main stage": {func(w *world) string {
			w.mustMain()
			return w.env["GITHUB_STATE"]
		}, 1, "Revoked the crates.io token."},
		"missing file": {func(w *world) string { return filepath.Join(w.dir, "none") }, 0, "nothing cleaned up::the state file was not read: open "},
		"a folder":     {func(w *world) string { return w.dir }, 0, "nothing cleaned up::the state file was not read: read "},
		"malformed": {func(w *world) string {
			p := filepath.Join(w.dir, "bad.state")
			if err := os.WriteFile(p, []byte("token<<EOF\ncio_tp_SECRET123\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, 0, "malformed state file"},
		"empty: the main stage did not finish": {func(w *world) string {
			p := filepath.Join(w.dir, "empty.state")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, 0, "Nothing to clean up: the main stage did not finish."},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t, map[string]string{"provider": "crates-io"})
		path := tt.state(w)
		// A STATE_ variable of the environment is not the file's state.
		w.env["STATE_provider"] = "crates-io"
		w.env["STATE_revoke"] = "true"
		w.env["STATE_url"] = w.srv.URL
		w.env["STATE_token"] = "cio_tp_FROM_ENV"
		out, err := w.run(func(ctx context.Context, e Env) error { return PostFromFile(ctx, e, path) })
		if err != nil {
			t.Fatalf("PostFromFile: %v\n%s", err, out)
		}
		if got := w.revoked.Load(); got != tt.wantRevoked {
			t.Errorf("%d revocations, want %d:\n%s", got, tt.wantRevoked, out)
		}
		if !strings.Contains(out, tt.wantOut) {
			t.Errorf("output lacks %q:\n%s", tt.wantOut, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "cio_tp_") && !strings.HasPrefix(line, "::add-mask::") {
				t.Errorf("printed a token: %s", line)
			}
		}
	})
}

// TestMainCompositeInputs: with ghaction.CompositeGetenv, Main reads the
// inputs from CARGO_OIDC_IN_<NAME> only: an INPUT_ variable is ignored.
func TestMainCompositeInputs(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jfrogInputs)
	for k, v := range w.env {
		if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
			w.env[ghaction.CompositeInputPrefix+strings.ReplaceAll(name, "-", "_")] = v
			w.env[k] = "bogus-" + v
		}
	}
	out, err := w.run(func(ctx context.Context, e Env) error {
		e.Getenv = ghaction.CompositeGetenv(e.Getenv)
		return Main(ctx, e)
	})
	if err != nil {
		t.Fatalf("Main with composite inputs: %v\n%s", err, out)
	}
	if w.issued.Load() != 1 || !strings.Contains(w.read("env"), "CARGO_REGISTRIES_ARTIFACTORY_TOKEN") {
		t.Errorf("no token exported (issued %d):\n%s", w.issued.Load(), out)
	}
}

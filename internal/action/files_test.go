package action

import (
	"bytes"
	"context"
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

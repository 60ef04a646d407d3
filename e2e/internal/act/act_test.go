package act

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestArgs: act's command line, every container carrying the engine's labels.
func TestArgs(t *testing.T) {
	t.Parallel()
	r := &Runner{jobImage: "localhost/job:abc",
		engine: &container.Engine{Labels: []string{harness.Label + "=1", harness.RunLabel + "=cargo-oidc-test-act-7"}}}
	got := r.args(Run{Dir: "/repo", Workflow: ".github/workflows/ci.yml", Job: "build",
		Matrix:            map[string]string{"os": "ubuntu-latest", "arch": "x64"},
		LocalRepositories: map[string]string{"actions/setup-go@v5": "/stub"},
		Env:               map[string]string{"B": "2", "A": "1"},
		Mounts:            []Mount{{Host: "/ca", Container: "/ca", ReadOnly: true}, {Host: "/h", Container: "/c"}}})
	want := []string{"push", "-W", ".github/workflows/ci.yml", "-P", "ubuntu-latest=localhost/job:abc",
		"--action-offline-mode", "--pull=false", "--network", "host", "--bind", "--rm", "--no-cache-server",
		"--container-daemon-socket", "-", "-j", "build", "--matrix", "arch:x64", "--matrix", "os:ubuntu-latest",
		"--local-repository", "actions/setup-go@v5=/stub", "--env", "A=1", "--env", "B=2",
		"--container-options", "--label cargo-oidc-test=1 --label cargo-oidc-test.run=cargo-oidc-test-act-7 -v /ca:/ca:ro -v /h:/c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args:\n got %q\nwant %q", got, want)
	}
	if got := r.args(Run{Workflow: "w.yml"}); slices.Contains(got, "-j") || slices.Contains(got, "--matrix") {
		t.Errorf("args of a run of every job: %q", got)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "..", ".ci", "run"))
	if err != nil || !strings.Contains(string(data), "ACT_VERSION="+Version+"\n") {
		t.Errorf(".ci/run does not install act %s (%v)", Version, err)
	}
}

func TestUsePrebuiltImage(t *testing.T) {
	const image = "localhost/cargo-oidc-test-action:cargo-oidc-test-act-1"
	testenv.Run(t, map[string]struct{ in, want, err string }{
		"Dockerfile": {"runs:\n  using: docker\n  image: Dockerfile\n  post-entrypoint: /cargo-oidc-post\n",
			"runs:\n  using: docker\n  image: docker://" + image + "\n  post-entrypoint: /cargo-oidc-post\n", ""},
		"quoted":             {"runs:\n  using: docker\n  image: 'Dockerfile'\n", "runs:\n  using: docker\n  image: docker://" + image + "\n", ""},
		"already an image":   {"runs:\n  using: docker\n  image: docker://alpine\n", "", "0 lines `image: Dockerfile`"},
		"another Dockerfile": {"runs:\n  using: docker\n  image: build/Dockerfile\n", "", "0 lines"},
	}, func(t *testing.T, _ string, tt struct{ in, want, err string }) {
		path := testenv.WriteFile(t, t.TempDir(), "action.yml", tt.in)
		err := UsePrebuiltImage(path, image)
		got, _ := os.ReadFile(path)
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || string(got) != tt.in) {
			t.Errorf("err = %v, want %q and action.yml unchanged:\n%s", err, tt.err, got)
		}
		if tt.err == "" && (err != nil || string(got) != tt.want) {
			t.Errorf("err %v, action.yml:\n%s\nwant:\n%s", err, got, tt.want)
		}
	})
}

// TestRunDeadlineNamesTheWorkflow: a stand-in act outlives the Timeout.
func TestRunDeadlineNamesTheWorkflow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &Runner{act: testenv.WriteFile(t, dir, "act", "#!/bin/sh\nexec sleep 30\n"), engine: &container.Engine{}, dir: dir}
	testenv.Must(t, os.Chmod(r.act, 0o755))
	start := time.Now()
	_, err := r.Run(context.Background(), Run{Dir: dir, Workflow: ".github/workflows/slow.yml", Job: "build", Timeout: 200 * time.Millisecond})
	var slow *harness.SlowError
	if want := "act run of workflow .github/workflows/slow.yml (job build) did not finish in 200ms"; !errors.As(err, &slow) || !strings.Contains(err.Error(), want) {
		t.Errorf("Run = %v, want a *harness.SlowError holding %q", err, want)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Run returned after %s: the stand-in was not stopped at the deadline", d)
	}
}

// TestNameWorkflow: the workflow's name, and nothing else, gets the runner's id.
func TestNameWorkflow(t *testing.T) {
	t.Parallel()
	r := &Runner{dir: "/tmp/cargo-oidc-act-7"}
	for in, want := range map[string]string{
		"name: ci\non: push\njobs:\n  a:\n    name: job\n": "name: \"ci cargo-oidc-act-7\"\non: push\njobs:\n  a:\n    name: job\n",
		"name: 'a: b'\non: push\n":                         "name: \"a: b cargo-oidc-act-7\"\non: push\n",
		"on: push\n":                                       "name: cargo-oidc-act-7\non: push\n",
	} {
		path := testenv.WriteFile(t, t.TempDir(), "w.yml", in)
		for range 2 { // a second Run of the same file keeps one id
			testenv.Must(t, r.nameWorkflow(path))
		}
		if got, _ := os.ReadFile(path); string(got) != want {
			t.Errorf("%q became %q, want %q", in, got, want)
		}
	}
}

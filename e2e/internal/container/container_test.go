package container

import (
	"context"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTranslatePath(t *testing.T) {
	t.Parallel()
	m := mounts("/w/repo", "/w/_temp")
	for in, want := range map[string]string{
		"/w/repo":                      "/github/workspace",
		"/w/repo/sub/file":             "/github/workspace/sub/file",
		"/w/repo-other":                "/w/repo-other",
		"/w/_temp/x":                   "/github/runner_temp/x",
		"/w/_temp/_github_home/.cargo": "/github/home/.cargo",
		"relative/w/repo":              "relative/w/repo",
		"":                             "",
	} {
		if got := translatePath(in, m); got != want {
			t.Errorf("translatePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRunArgs: the runner's flags, and every value in podman's environment,
// none on its command line but those podman itself reads.
func TestRunArgs(t *testing.T) {
	t.Parallel()
	args, env := runArgs("img:1", RunOptions{
		Workspace:  "/w/repo",
		RunnerTemp: "/w/_temp",
		Env:        []string{"HOME=/w/_temp/_github_home", "GITHUB_WORKSPACE=/w/repo", "INPUT_REGISTRY-NAME=my-reg", "SECRET=s3cr3t"},
		Args:       []string{"--host-workspace=/w/repo"},
		Entrypoint: "/cargo-oidc-post",
	})
	want := []string{
		"run", "--workdir", "/github/workspace", "--rm",
		"-e", "HOME=/github/home", "-e", "GITHUB_WORKSPACE", "-e", "INPUT_REGISTRY-NAME", "-e", "SECRET",
		"-v", "/w/_temp:/github/runner_temp",
		"-v", "/w/_temp/_github_home:/github/home",
		"-v", "/w/_temp/_github_workflow:/github/workflow",
		"-v", "/w/_temp/_runner_file_commands:/github/file_commands",
		"-v", "/w/repo:/github/workspace",
		"--network=host", "--entrypoint", "/cargo-oidc-post", "img:1", "--host-workspace=/w/repo",
	}
	wantEnv := []string{"GITHUB_WORKSPACE=/github/workspace", "INPUT_REGISTRY-NAME=my-reg", "SECRET=s3cr3t"}
	if !reflect.DeepEqual(args, want) || !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("args:\n got %q\nwant %q\nenv:\n got %q\nwant %q", args, want, env, wantEnv)
	}
}

// TestLockFile: a second holder waits until the first unlocks, and a wait
// that runs out names the lock file.
func TestLockFile(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("skipping: no lock without flock; the container tests run on Linux only")
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path); err == nil || !strings.Contains(err.Error(), "waiting for "+path) {
		t.Fatalf("second lock while held: %v", err)
	}
	unlock()
	again, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
}

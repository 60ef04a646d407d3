package container

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTranslatePath(t *testing.T) {
	t.Parallel()
	m := Mounts("/w/repo", "/w/_temp")
	for _, tc := range []struct{ in, want string }{
		{"/w/repo", "/github/workspace"},
		{"/w/repo/sub/file", "/github/workspace/sub/file"},
		{"/w/repo-other", "/w/repo-other"},
		{"/w/_temp", "/github/runner_temp"},
		{"/w/_temp/x", "/github/runner_temp/x"},
		{"/w/_temp/_github_home", "/github/home"},
		{"/w/_temp/_github_home/.cargo", "/github/home/.cargo"},
		{"/w/_temp/_github_workflow/event.json", "/github/workflow/event.json"},
		{"/w/_temp/_runner_file_commands/set_env_1", "/github/file_commands/set_env_1"},
		{"relative/w/repo", "relative/w/repo"},
		{"", ""},
		{"https://example.com/w/repo", "https://example.com/w/repo"},
	} {
		if got := TranslatePath(tc.in, m); got != tc.want {
			t.Errorf("TranslatePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRunCommand(t *testing.T) {
	t.Parallel()
	opts := RunOptions{
		Workspace:  "/w/repo",
		RunnerTemp: "/w/_temp",
		Env: []string{
			"HOME=/w/_temp/_github_home",
			"GITHUB_WORKSPACE=/w/repo",
			"INPUT_REGISTRY-NAME=my-reg",
			"GITHUB_ENV=/w/_temp/_runner_file_commands/set_env_1",
			"SECRET=s3cr3t",
		},
		Args:       []string{"--host-workspace=/w/repo"},
		Entrypoint: "/cargo-oidc-post",
	}
	args, env := RunCommand("img:1", opts, []string{"PATH=/usr/bin", "SECRET=old", "HOME=/root"})
	want := []string{
		"run", "--workdir", "/github/workspace", "--rm",
		"-e", "HOME=/github/home",
		"-e", "GITHUB_WORKSPACE", "-e", "INPUT_REGISTRY-NAME", "-e", "GITHUB_ENV", "-e", "SECRET",
		"-v", "/w/_temp:/github/runner_temp",
		"-v", "/w/_temp/_github_home:/github/home",
		"-v", "/w/_temp/_github_workflow:/github/workflow",
		"-v", "/w/_temp/_runner_file_commands:/github/file_commands",
		"-v", "/w/repo:/github/workspace",
		"--network=host",
		"--entrypoint", "/cargo-oidc-post",
		"img:1", "--host-workspace=/w/repo",
	}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args:\n got %q\nwant %q", args, want)
	}
	wantEnv := []string{
		"PATH=/usr/bin", "HOME=/root",
		"GITHUB_WORKSPACE=/github/workspace", "INPUT_REGISTRY-NAME=my-reg",
		"GITHUB_ENV=/github/file_commands/set_env_1", "SECRET=s3cr3t",
	}
	if !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("env:\n got %q\nwant %q", env, wantEnv)
	}
	for _, a := range args {
		if strings.Contains(a, "s3cr3t") {
			t.Errorf("a value is on podman's command line: %q", a)
		}
	}
}

// TestLockFile: a second holder waits until the first unlocks, and a wait
// that runs out names the lock file.
func TestLockFile(t *testing.T) {
	t.Parallel()
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

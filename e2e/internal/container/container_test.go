package container

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
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

// requirePodman skips without Podman, except under CI=true where it fails.
func requirePodman(t *testing.T) *Engine {
	t.Helper()
	harness.Require(t, "Podman", Available())
	e, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	e.Log = testLog{t}
	return e
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

const helloDockerfile = `FROM golang:1.26 AS build
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src
COPY go.mod ./
RUN go mod download
COPY main.go ./
RUN mkdir -p /out \
 && go build -ldflags "-s -w" -o /out/hello . \
 && ln -s hello /out/hello-post

FROM scratch
COPY --from=build /out/ /
ENTRYPOINT ["/hello"]
`

const helloMain = `package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
)

func main() {
	cwd, _ := os.Getwd()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	files := map[string]string{}
	for _, dir := range []string{"/github/workspace", "/github/home", "/github/workflow", "/github/file_commands", "/github/runner_temp"} {
		p := dir + "/written-by-container"
		files[dir] = "ok"
		if err := os.WriteFile(p, []byte(dir), 0o644); err != nil {
			files[dir] = err.Error()
		}
	}
	seen, err := os.ReadFile("/github/workspace/from-host.txt")
	if err != nil {
		seen = []byte(err.Error())
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"argv": os.Args, "cwd": cwd, "env": env, "files": files, "seen": string(seen),
	})
	os.Stderr.WriteString("hello on stderr\n")
	for _, a := range os.Args[1:] {
		if c, ok := strings.CutPrefix(a, "exit="); ok {
			n, _ := strconv.Atoi(c)
			os.Exit(n)
		}
	}
}
`

type helloReport struct {
	Argv  []string          `json:"argv"`
	Cwd   string            `json:"cwd"`
	Env   map[string]string `json:"env"`
	Files map[string]string `json:"files"`
	Seen  string            `json:"seen"`
}

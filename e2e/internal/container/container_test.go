package container

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

func TestNormalizeImageName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"golang:1.26", "docker.io/library/golang:1.26"},
		{"golang", "docker.io/library/golang:latest"},
		{"org/img:v1", "docker.io/org/img:v1"},
		{"ghcr.io/org/img:v1", "ghcr.io/org/img:v1"},
		{"localhost/img", "localhost/img:latest"},
		{"localhost:5000/img", "localhost:5000/img:latest"},
		{"golang@sha256:abc", "docker.io/library/golang@sha256:abc"},
	} {
		if got := NormalizeImageName(tc.in); got != tc.want {
			t.Errorf("NormalizeImageName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBaseImageName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, dockerfile, want string
		wantErr                bool
	}{
		{"stage", "# c\nFROM golang:1.26 AS build\nFROM scratch\n", "docker.io/library/golang:1.26", false},
		{"platform", "from --platform=$BUILDPLATFORM golang:1.26\n", "docker.io/library/golang:1.26", false},
		{"scratch", "FROM scratch\nCOPY x /\n", "", false},
		{"none", "RUN true\n", "", true},
		{"empty from", "FROM\n", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := BaseImageName([]byte(tc.dockerfile))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("BaseImageName = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

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

func TestBuildAndRun(t *testing.T) {
	e := requirePodman(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	dir := t.TempDir()
	for name, data := range map[string]string{
		"Dockerfile": helloDockerfile,
		"go.mod":     "module example.com/hello\n\ngo 1.26\n",
		"main.go":    helloMain,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The project's go.sum decides the base image's module proxy, so this
	// test makes the same image the e2e suite uses.
	base, err := e.EnsureBaseImage(ctx, filepath.Join(dir, "Dockerfile"), harness.Root(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("base image %s (hash %s, created %v, %d module files) in %s", base.Name, base.Hash, base.Created, base.Modules, base.Duration)
	if base.Name != "docker.io/library/golang:1.26" {
		t.Errorf("base image name %q", base.Name)
	}
	again, err := e.EnsureBaseImage(ctx, filepath.Join(dir, "Dockerfile"), harness.Root(t))
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Hash != base.Hash {
		t.Errorf("second EnsureBaseImage rebuilt the image (created %v, hash %s vs %s)", again.Created, again.Hash, base.Hash)
	}

	tag := "localhost/cargo-oidc-e2e-hello:test"
	built, err := e.Build(ctx, dir, tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), tag) })
	t.Logf("built %s in %s, size %d bytes", tag, built.Duration, built.Size)
	if built.Size <= 0 || built.Size > 8<<20 {
		t.Errorf("image size %d bytes, want a small scratch image", built.Size)
	}

	job := t.TempDir()
	ws := filepath.Join(job, "work", "repo")
	temp := filepath.Join(job, "_temp")
	for _, d := range []string{ws, filepath.Join(temp, "_github_home"), filepath.Join(temp, "_github_workflow"), filepath.Join(temp, "_runner_file_commands")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ws, "from-host.txt"), []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + filepath.Join(temp, "_github_home"),
		"GITHUB_WORKSPACE=" + ws,
		"RUNNER_TEMP=" + temp,
		"GITHUB_ENV=" + filepath.Join(temp, "_runner_file_commands", "set_env_1"),
		"GITHUB_EVENT_PATH=" + filepath.Join(temp, "_github_workflow", "event.json"),
		"INPUT_REGISTRY-NAME=my-reg",
		"NEAR_MISS=" + ws + "-other",
		"MULTI=line one\nline two",
		"CI=true",
	}
	args := []string{"--host-workspace=" + ws, "--host-temp=" + temp, ""}

	run := func(entrypoint string, extra ...string) (*RunResult, helloReport) {
		t.Helper()
		res, err := e.Run(ctx, tag, RunOptions{Workspace: ws, RunnerTemp: temp, Env: env, Args: append(slices.Clone(args), extra...), Entrypoint: entrypoint})
		if err != nil {
			t.Fatal(err)
		}
		var rep helloReport
		if err := json.Unmarshal(res.Stdout, &rep); err != nil {
			t.Fatalf("container output %q: %v (stderr %q)", res.Stdout, err, res.Stderr)
		}
		return res, rep
	}

	res, rep := run("")
	t.Logf("podman run took %s", res.Duration)
	if res.ExitCode != 0 || string(res.Stderr) != "hello on stderr\n" {
		t.Errorf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	if rep.Cwd != "/github/workspace" {
		t.Errorf("working directory %q", rep.Cwd)
	}
	if want := append([]string{"/hello"}, args...); !reflect.DeepEqual(rep.Argv, want) {
		t.Errorf("argv %q, want %q (args are not rewritten)", rep.Argv, want)
	}
	for name, want := range map[string]string{
		"HOME":                "/github/home",
		"GITHUB_WORKSPACE":    "/github/workspace",
		"RUNNER_TEMP":         "/github/runner_temp",
		"GITHUB_ENV":          "/github/file_commands/set_env_1",
		"GITHUB_EVENT_PATH":   "/github/workflow/event.json",
		"INPUT_REGISTRY-NAME": "my-reg",
		"NEAR_MISS":           ws + "-other",
		"MULTI":               "line one\nline two",
		"CI":                  "true",
	} {
		if got, ok := rep.Env[name]; !ok || got != want {
			t.Errorf("container env %s = %q (set %v), want %q", name, got, ok, want)
		}
	}
	if rep.Seen != "host file" {
		t.Errorf("workspace file seen in the container: %q", rep.Seen)
	}
	for dir, status := range rep.Files {
		if status != "ok" {
			t.Errorf("write into %s: %s", dir, status)
		}
	}
	for host, cont := range map[string]string{
		ws:                                      "/github/workspace",
		temp:                                    "/github/runner_temp",
		filepath.Join(temp, "_github_home"):     "/github/home",
		filepath.Join(temp, "_github_workflow"): "/github/workflow",
		filepath.Join(temp, "_runner_file_commands"): "/github/file_commands",
	} {
		data, err := os.ReadFile(filepath.Join(host, "written-by-container"))
		if err != nil || string(data) != cont {
			t.Errorf("%s on the host: %q, %v; want the file the container wrote to %s", host, data, err, cont)
		}
	}

	// The post stage: a symlink to the same binary, kept by COPY --from.
	res, rep = run("/hello-post", "exit=3")
	if res.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", res.ExitCode)
	}
	if len(rep.Argv) == 0 || rep.Argv[0] != "/hello-post" {
		t.Errorf("post argv %q", rep.Argv)
	}
}

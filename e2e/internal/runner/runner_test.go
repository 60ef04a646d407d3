package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// fakeAction is the "action" of these tests. It reports its argv, cwd and
// environment on a REPORT line, writes every file command, and behaves
// according to INPUT_MODE. As /fakeaction-post, or with "post" as first
// argument, it is the post stage.
const fakeAction = `package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func appendFile(env, text string) {
	f, err := os.OpenFile(os.Getenv(env), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open", env, err)
		os.Exit(70)
	}
	defer f.Close()
	f.WriteString(text)
}

func main() {
	post := filepath.Base(os.Args[0]) == "fakeaction-post" || (len(os.Args) > 1 && os.Args[1] == "post")
	cwd, _ := os.Getwd()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	rep, _ := json.Marshal(map[string]any{"argv": os.Args, "cwd": cwd, "env": env, "post": post})
	fmt.Printf("REPORT %s\n", rep)
	hostWS := ""
	for _, a := range os.Args {
		if v, ok := strings.CutPrefix(a, "--host-workspace="); ok {
			hostWS = v
		}
	}
	if post {
		appendFile("GITHUB_ENV", "POSTED=yes\n")
		fmt.Println("::notice title=post::saw state " + os.Getenv("STATE_token_file"))
		return
	}
	switch os.Getenv("INPUT_MODE") {
	case "bad-heredoc":
		appendFile("GITHUB_OUTPUT", "broken<<EOF\nvalue without end\n")
		return
	case "fail":
		fmt.Fprintln(os.Stderr, "::error::it failed")
		os.Exit(3)
	}
	fmt.Println("::add-mask::s3cr3t-token")
	appendFile("GITHUB_ENV", "FOO=bar\nMULTI<<ghadelimiter_abc\nline 1\nline 2\nghadelimiter_abc\nNODE_OPTIONS=--require=/evil.js\nREG=" + os.Getenv("INPUT_REGISTRY-NAME") + "\n")
	appendFile("GITHUB_OUTPUT", "token<<ghadelimiter_x\ns3cr3t-token\nghadelimiter_x\nregistry-name=" + os.Getenv("INPUT_REGISTRY-NAME") + "\n")
	appendFile("GITHUB_STATE", "token_file=" + hostWS + "/creds\nmulti<<EOF\na\nb\nEOF\n")
	appendFile("GITHUB_STEP_SUMMARY", "# summary\n")
	appendFile("GITHUB_PATH", hostWS + "/tools\n")
	os.WriteFile("written-in-workspace", []byte("x"), 0o644)
}
`

const fakeActionYAML = `name: fake
inputs:
  registry-name:
    description: registry
    default: artifactory
  mode:
    description: what to do
    default: ok
  with space:
    default: spaced
  ws-default:
    default: ${{ github.workspace }}/x
  no-default:
    description: none
  host-workspace:
    default: ${{ github.workspace }}
  host-temp:
    default: ${{ runner.temp }}
outputs:
  token:
    description: the token
runs:
  using: docker
  image: Dockerfile
  args:
    - --host-workspace=${{ inputs.host-workspace }}
    - --host-temp=${{ inputs.host-temp }}
  post-entrypoint: /fakeaction-post
`

const fakeDockerfile = `FROM golang:1.26 AS build
ENV CGO_ENABLED=0
WORKDIR /src
COPY go.mod main.go ./
RUN mkdir -p /out && go build -o /out/fakeaction . && ln -s fakeaction /out/fakeaction-post
FROM scratch
COPY --from=build /out/ /
ENTRYPOINT ["/fakeaction"]
`

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// fakeActionDir writes the fake action's sources (and Dockerfile) to a
// folder and builds the binary once per test process.
func fakeActionDir(t *testing.T) (dir, binary string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "runner-fakeaction-")
		if buildErr != nil {
			return
		}
		for name, data := range map[string]string{
			"main.go": fakeAction, "go.mod": "module example.com/fakeaction\n\ngo 1.26\n",
			"Dockerfile": fakeDockerfile, "action.yml": fakeActionYAML,
		} {
			if buildErr = os.WriteFile(filepath.Join(buildDir, name), []byte(data), 0o644); buildErr != nil {
				return
			}
		}
		buildBin = filepath.Join(buildDir, "fakeaction")
		cmd := exec.Command("go", "build", "-o", buildBin, ".")
		cmd.Dir = buildDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build the fake action: %v", buildErr)
	}
	return buildDir, buildBin
}

type report struct {
	Argv []string          `json:"argv"`
	Cwd  string            `json:"cwd"`
	Env  map[string]string `json:"env"`
	Post bool              `json:"post"`
}

func parseReport(t *testing.T, res *StepResult) report {
	t.Helper()
	for _, line := range strings.Split(res.Stdout, "\n") {
		if data, ok := strings.CutPrefix(line, "REPORT "); ok {
			var r report
			if err := json.Unmarshal([]byte(data), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("no REPORT line in stdout %q (stderr %q)", res.Stdout, res.Stderr)
	return report{}
}

// runtimeCase is how one round-trip test runs the action.
type runtimeCase struct {
	rt Runtime
	// paths maps the job's host folders to what the action sees.
	home, workspace, fileCommands, eventPath func(j *Job) string
	postArgv0                                string
}

func hostCase(binary string) runtimeCase {
	return runtimeCase{
		rt:           Host(binary),
		home:         func(j *Job) string { return j.GitHubHome() },
		workspace:    func(j *Job) string { return j.Workspace() },
		fileCommands: func(j *Job) string { return filepath.Join(j.Temp(), "_runner_file_commands") },
		eventPath:    func(j *Job) string { return j.EventPath() },
		postArgv0:    binary,
	}
}

func TestActionRoundTripHost(t *testing.T) {
	t.Parallel()
	_, bin := fakeActionDir(t)
	roundTrip(t, hostCase(bin))
}

func TestActionRoundTripContainer(t *testing.T) {
	t.Parallel()
	harness.Require(t, "Podman", container.Available())
	dir, _ := fakeActionDir(t)
	e, err := container.New("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.EnsureBaseImage(ctx, filepath.Join(dir, "Dockerfile"), root); err != nil {
		t.Fatal(err)
	}
	tag := "localhost/cargo-oidc-e2e-runner-fakeaction:test"
	b, err := e.Build(ctx, dir, tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), tag) })
	t.Logf("fake action image built in %s, %d bytes", b.Duration, b.Size)
	roundTrip(t, runtimeCase{
		rt:           Container(e, tag),
		home:         func(*Job) string { return "/github/home" },
		workspace:    func(*Job) string { return "/github/workspace" },
		fileCommands: func(*Job) string { return "/github/file_commands" },
		eventPath:    func(*Job) string { return "/github/workflow/event.json" },
		postArgv0:    "/fakeaction-post",
	})
}

func roundTrip(t *testing.T, rc runtimeCase) {
	dir, _ := fakeActionDir(t)
	a, err := LoadAction(filepath.Join(dir, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tee bytes.Buffer
	j := NewJob(t, Options{
		IDTokenURL: "https://127.0.0.1:1/token?api-version=2.0", IDTokenToken: "request-token",
		Debug: true, Env: map[string]string{"SSL_CERT_FILE": "/tmp/ca.pem"}, Tee: &tee,
	})
	ctx := context.Background()

	res, err := j.RunAction(ctx, rc.rt, a, Step{ID: "auth", Inputs: map[string]string{"registry-name": "my-reg", "unknown": "u"}, Env: map[string]string{"STEP_ENV": "s"}})
	if err != nil {
		t.Fatalf("%v\nstdout %s\nstderr %s", err, res.Stdout, res.Stderr)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	rep := parseReport(t, res)
	wantArgs := []string{"--host-workspace=" + j.Workspace(), "--host-temp=" + j.Temp()}
	if got := rep.Argv[1:]; strings.Join(got, "\n") != strings.Join(wantArgs, "\n") {
		t.Errorf("args %q, want %q", got, wantArgs)
	}
	if rep.Cwd != rc.workspace(j) {
		t.Errorf("cwd %q, want %q", rep.Cwd, rc.workspace(j))
	}
	for name, want := range map[string]string{
		"INPUT_REGISTRY-NAME":            "my-reg",
		"INPUT_MODE":                     "ok",
		"INPUT_WITH_SPACE":               "spaced",
		"INPUT_WS-DEFAULT":               rc.workspace(j) + "/x",
		"INPUT_HOST-WORKSPACE":           rc.workspace(j),
		"INPUT_UNKNOWN":                  "u",
		"HOME":                           rc.home(j),
		"GITHUB_WORKSPACE":               rc.workspace(j),
		"GITHUB_EVENT_PATH":              rc.eventPath(j),
		"GITHUB_ACTION":                  "auth",
		"GITHUB_ACTIONS":                 "true",
		"CI":                             "true",
		"RUNNER_DEBUG":                   "1",
		"RUNNER_OS":                      "Linux",
		"GITHUB_REPOSITORY":              "octo-org/octo-repo",
		"GITHUB_WORKFLOW_REF":            "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   "https://127.0.0.1:1/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
		"SSL_CERT_FILE":                  "/tmp/ca.pem",
		"STEP_ENV":                       "s",
	} {
		if got, ok := rep.Env[name]; !ok || got != want {
			t.Errorf("action env %s = %q (set %v), want %q", name, got, ok, want)
		}
	}
	if _, ok := rep.Env["INPUT_NO-DEFAULT"]; ok {
		t.Errorf("an input without default and value was set")
	}
	for _, name := range []string{"GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY", "GITHUB_PATH"} {
		if !strings.HasPrefix(rep.Env[name], rc.fileCommands(j)+"/") {
			t.Errorf("%s = %q, want a file under %s", name, rep.Env[name], rc.fileCommands(j))
		}
	}
	if len(res.Warnings) < 2 {
		t.Errorf("warnings %q: want the unexpected input and the blocked NODE_OPTIONS", res.Warnings)
	}
	if got := res.Outputs; got["token"] != "s3cr3t-token" || got["registry-name"] != "my-reg" {
		t.Errorf("outputs %q", got)
	}
	if got := j.Outputs("auth")["token"]; got != "s3cr3t-token" {
		t.Errorf("job outputs of auth: %q", got)
	}
	if len(res.Masks) != 1 || res.Masks[0] != "s3cr3t-token" {
		t.Errorf("masks %q", res.Masks)
	}
	if res.Summary != "# summary\n" || !strings.Contains(res.Files["GITHUB_ENV"], "NODE_OPTIONS") {
		t.Errorf("summary %q, env file %q", res.Summary, res.Files["GITHUB_ENV"])
	}
	if !strings.Contains(tee.String(), "::add-mask::") {
		t.Errorf("tee did not receive the output")
	}
	if _, err := os.Stat(filepath.Join(j.Workspace(), "written-in-workspace")); err != nil {
		t.Errorf("file written in the workspace: %v", err)
	}

	// A later step sees GITHUB_ENV and GITHUB_PATH, but not NODE_OPTIONS.
	tools := filepath.Join(j.Workspace(), "tools")
	if err := os.MkdirAll(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tools, "from-path"), []byte("#!/bin/sh\necho found-on-path\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run, err := j.Run(ctx, "sh", "-c", `printf '%s|%s|%s|%s|' "$FOO" "$MULTI" "$REG" "${NODE_OPTIONS-unset}"; from-path; pwd; echo "X=1" >> "$GITHUB_ENV"`)
	if err != nil {
		t.Fatal(err)
	}
	want := "bar|line 1\nline 2|my-reg|unset|found-on-path\n" + j.Workspace() + "\n"
	if run.ExitCode != 0 || run.Stdout != want {
		t.Errorf("later step: exit %d, stdout %q, want %q (stderr %q)", run.ExitCode, run.Stdout, want, run.Stderr)
	}
	if j.Env()["X"] != "1" {
		t.Errorf("GITHUB_ENV of a run step is not applied")
	}
	fail, err := j.Run(ctx, "sh", "-c", "exit 7")
	if err != nil || fail.ExitCode != 7 || !fail.Failed() {
		t.Errorf("failing step: %v, exit %d", err, fail.ExitCode)
	}

	// The post stage gets the state as STATE_*, the inputs and the job env.
	posts, err := j.RunPosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 1 {
		t.Fatalf("%d post stages ran", len(posts))
	}
	post := posts[0]
	prep := parseReport(t, post)
	if !prep.Post || prep.Argv[0] != rc.postArgv0 {
		t.Errorf("post argv %q", prep.Argv)
	}
	for name, want := range map[string]string{
		// The main stage saved a host path; like every env value starting
		// with a mounted host path it arrives rewritten in a container.
		"STATE_token_file":    rc.workspace(j) + "/creds",
		"STATE_multi":         "a\nb",
		"INPUT_REGISTRY-NAME": "my-reg",
		"FOO":                 "bar",
		"X":                   "1",
	} {
		if got := prep.Env[name]; got != want {
			t.Errorf("post env %s = %q, want %q", name, got, want)
		}
	}
	if post.Stage != Post || post.Env["POSTED"] != "yes" || len(post.Commands) != 1 || post.Commands[0].Properties["title"] != "post" {
		t.Errorf("post result: stage %q env %q commands %+v", post.Stage, post.Env, post.Commands)
	}
	if _, err := j.RunPost(ctx, "auth"); err == nil {
		t.Errorf("a second post stage of the same step ran")
	}
	if n := len(j.Results()); n != 4 {
		t.Errorf("%d results, want 4", n)
	}

	// A heredoc without its end delimiter is a runner error; a failing
	// action reports its exit code.
	bad, err := j.RunAction(ctx, rc.rt, a, Step{ID: "bad", Inputs: map[string]string{"mode": "bad-heredoc"}})
	var fe *FileCommandError
	if !errors.As(err, &fe) || fe.File != "GITHUB_OUTPUT" || bad == nil {
		t.Errorf("missing delimiter: error %v", err)
	}
	failed, err := j.RunAction(ctx, rc.rt, a, Step{ID: "fails", Inputs: map[string]string{"mode": "fail"}})
	if err != nil || failed.ExitCode != 3 || len(failed.Commands) != 1 || failed.Commands[0].Name != "error" {
		t.Errorf("failing action: %v, exit %d, commands %+v", err, failed.ExitCode, failed.Commands)
	}
}

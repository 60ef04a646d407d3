package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
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
	post, err := j.RunPost(ctx, "auth")
	if err != nil || post == nil {
		t.Fatalf("post stage: %v", err)
	}
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

const sampleAction = `# A comment
name: fake action
description: >-
  Folded text
  over two lines.
inputs:
  registry-name:
    description: "Name: with a colon # and a hash"
    required: false
    default: artifactory
  provider:
    description: 'It''s required'
    required: true
  with space:
    description: |
      Line one
      Line two
    default: ""   # empty default
  ws-default:
    description: plain text that
      continues here
    default: ${{ github.workspace }}/x
  no-spec:
outputs:
  token:
    description: The token
  index-url:
    description: "The index"
runs:
  using: docker
  image: Dockerfile
  args:
    - --host-workspace=${{ github.workspace }}
    - "--host-temp=${{ runner.temp }}"
  env:
    FROM_RUNS: "${{ inputs.registry-name }}"
  post-entrypoint: /cargo-oidc-post
`

// TestValidate holds the runner's rules for which contexts each key of
// action.yml may use (action_yaml.json in actions/runner): what GitHub
// refuses to load is refused here too, with the runner's message.
func TestValidate(t *testing.T) {
	t.Parallel()
	const head = "name: x\n"
	docker := func(body string) string { return head + body }
	args := func(a ...string) string {
		return docker("runs:\n  using: docker\n  args:\n    - " + strings.Join(a, "\n    - ") + "\n")
	}
	for _, tc := range []struct {
		name, doc string
		want      string // "" means valid
	}{
		{"args inputs", docker("runs:\n  using: docker\n  image: Dockerfile\n  args:\n    - --a=${{ inputs.a }}\n"), ""},
		{"args github", args("--host-workspace=${{ github.workspace }}"),
			"runs.args[0]: Unrecognized named-value: 'github'. Located at position 1 within expression: github.workspace"},
		{"args runner", args("x", "${{ runner.temp }}"),
			"runs.args[1]: Unrecognized named-value: 'runner'"},
		{"args env", args("${{ env.HOME }}"), "Unrecognized named-value: 'env'"},
		{"args hashFiles", args("${{ hashFiles('x') }}"), "Unrecognized function: 'hashFiles'"},
		{"args builtin function", args("${{ format('{0}', inputs.a) }}"), ""},
		{"args string literal", args("${{ 'github.workspace' }}"), ""},
		{"args second expression", args("${{ inputs.a }}/${{ github.sha }}"),
			"Located at position 1 within expression: github.sha"},
		{"args position", args("${{ inputs.a || secrets.X }}"),
			"Unrecognized named-value: 'secrets'. Located at position 13 within expression: inputs.a || secrets.X"},
		{"env inputs", docker("runs:\n  using: docker\n  env:\n    A: ${{ inputs.a }}\n"), ""},
		{"env github", docker("runs:\n  using: docker\n  env:\n    A: ${{ github.token }}\n"), "runs.env.A: Unrecognized named-value: 'github'"},
		{"default github runner", docker("inputs:\n  a:\n    default: ${{ github.workspace }}:${{ runner.temp }}:${{ job.status }}\nruns:\n  using: docker\n"), ""},
		{"default matrix strategy hashFiles", docker("inputs:\n  a:\n    default: ${{ matrix.os }}-${{ strategy.job-index }}-${{ hashFiles('Cargo.lock') }}\nruns:\n  using: docker\n"), ""},
		{"default inputs", docker("inputs:\n  a:\n    default: ${{ inputs.b }}\nruns:\n  using: docker\n"), "inputs.a.default: Unrecognized named-value: 'inputs'"},
		{"default env", docker("inputs:\n  a:\n    default: ${{ env.X }}\nruns:\n  using: docker\n"), "Unrecognized named-value: 'env'"},
		{"default secrets", docker("inputs:\n  a:\n    default: ${{ secrets.X }}\nruns:\n  using: docker\n"), "Unrecognized named-value: 'secrets'"},
		{"default steps", docker("inputs:\n  a:\n    default: ${{ steps.x.outputs.y }}\nruns:\n  using: docker\n"), "Unrecognized named-value: 'steps'"},
		{"output value steps", docker("outputs:\n  t:\n    value: ${{ steps.a.outputs.t }}${{ env.X }}${{ inputs.y }}${{ github.sha }}\nruns:\n  using: composite\n"), ""},
		{"output value secrets", docker("outputs:\n  t:\n    value: ${{ secrets.T }}\nruns:\n  using: composite\n"), "outputs.t.value: Unrecognized named-value: 'secrets'"},
		{"output value hashFiles", docker("outputs:\n  t:\n    value: ${{ hashFiles('x') }}\nruns:\n  using: composite\n"), "Unrecognized function: 'hashFiles'"},
		{"composite step with", docker("runs:\n  using: composite\n  steps:\n    - uses: ./\n      if: always() && inputs.a == 'x'\n      with:\n        a: ${{ inputs.a }}${{ env.B }}\n"), ""},
		{"composite step secrets", docker("runs:\n  using: composite\n  steps:\n    - run: echo ${{ secrets.X }}\n      shell: bash\n"), "runs.steps[0].run: Unrecognized named-value: 'secrets'"},
		{"composite step if", docker("runs:\n  using: composite\n  steps:\n    - run: x\n      shell: bash\n      if: ${{ vars.X }}\n"), "runs.steps[0].if: Unrecognized named-value: 'vars'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := ParseAction([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			err = a.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid action refused: %v", err)
				}
				return
			}
			var ee *ExpressionError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an *ExpressionError containing %q", err, tc.want)
			}
		})
	}
}

// TestLoadActionRefuses proves that an action GitHub's runner would refuse
// does not load, and that the job refuses to run one built in code.
func TestLoadActionRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "action.yml")
	doc := "name: x\nruns:\n  using: docker\n  image: Dockerfile\n  args:\n    - --host-workspace=${{ github.workspace }}\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAction(path); err == nil || !strings.Contains(err.Error(), "Unrecognized named-value: 'github'") {
		t.Fatalf("LoadAction: %v", err)
	}
	a := &Action{Runs: Runs{Using: "docker", Args: []string{"${{ runner.temp }}"}}}
	j := NewJob(t, Options{})
	if _, err := j.RunAction(context.Background(), Host("/bin/true"), a, Step{}); err == nil || !strings.Contains(err.Error(), "Unrecognized named-value: 'runner'") {
		t.Fatalf("RunAction: %v", err)
	}
	if _, err := j.ActionArgs(a, nil); err == nil {
		t.Fatal("ActionArgs accepted runner in runs.args")
	}
}

// TestProjectActionYAML reads the repository's own action.yml and the
// release action.yml made from it: both load under the runner's rules,
// every input with a default arrives as INPUT_<NAME>, and the host paths
// reach runs.args through inputs.
func TestProjectActionYAML(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "..", "action.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := release.ReleaseActionYAML(data, "ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha256:"+strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"action.yml": data, "release action.yml": rel} {
		a, err := ParseAction(doc)
		if err == nil {
			err = a.Validate()
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a.Runs.Using != "docker" || a.Runs.PostEntrypoint == "" || len(a.Inputs) == 0 || len(a.Outputs) == 0 {
			t.Errorf("%s: unexpected metadata: %+v", name, a.Runs)
		}
		for input, def := range map[string]string{"host-workspace": "${{ github.workspace }}", "host-temp": "${{ runner.temp }}"} {
			if in, ok := a.Input(input); !ok || !in.HasDefault || in.Default != def || in.Required {
				t.Errorf("%s: input %s = %+v, want an optional input with default %s", name, input, in, def)
			}
		}
		j := NewJob(t, Options{})
		inputs, _, err := j.ActionInputs(a, Step{Inputs: map[string]string{"provider": "jfrog"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range a.Inputs {
			if _, ok := inputs[in.Name]; in.HasDefault && !ok {
				t.Errorf("%s: input %s has a default but would not arrive as %s", name, in.Name, InputEnvName(in.Name))
			}
		}
		args, err := j.ActionArgs(a, inputs)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"--host-workspace=" + j.Workspace(), "--host-temp=" + j.Temp()}
		if !reflect.DeepEqual(args, want) {
			t.Errorf("%s: args %q, want %q", name, args, want)
		}
	}
}

func TestInputEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"registry-name":  "INPUT_REGISTRY-NAME",
		"provider":       "INPUT_PROVIDER",
		"with space":     "INPUT_WITH_SPACE",
		"Mixed_Case-x y": "INPUT_MIXED_CASE-X_Y",
	} {
		if got := InputEnvName(in); got != want {
			t.Errorf("InputEnvName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := StateEnvName("token_file"); got != "STATE_token_file" {
		t.Errorf("StateEnvName = %q", got)
	}
}

// FuzzParseAction checks that reading and validating action metadata never
// panics or loops.
func FuzzParseAction(f *testing.F) {
	f.Add([]byte(sampleAction))
	f.Add([]byte("a:\n- b\n- c: d\n  e: f\n"))
	f.Add([]byte("a: |+\n  x\n\n"))
	f.Add([]byte("a: ['x', \"y\\u0041\", z]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if a, err := ParseAction(data); err == nil {
			_ = a.Validate()
		}
	})
}

// TestTestOnlyDependencies keeps the YAML reader (and the other test-only
// modules) out of the shipped binary.
func TestTestOnlyDependencies(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Dir = filepath.Join("..", "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	for _, mod := range []string{"go.yaml.in/yaml", "gopkg.in/yaml", "github.com/go-jose/", "github.com/google/go-containerregistry"} {
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, mod) {
				t.Errorf("the binary depends on %s, a test-only module", pkg)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/cargo-oidc/cargo-oidc/internal/action") {
		t.Fatalf("go list -deps . printed no package of the project:\n%s", out)
	}
}

func TestParseFileCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []Entry
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"plain", "A=1\nB=two words\n", []Entry{{"A", "1"}, {"B", "two words"}}, ""},
		{"equals in value", "URL=https://x/?a=b=c\n", []Entry{{"URL", "https://x/?a=b=c"}}, ""},
		{"empty value", "A=\n", []Entry{{"A", ""}}, ""},
		{"no final newline", "A=1", []Entry{{"A", "1"}}, ""},
		{"blank lines", "\n\nA=1\n\n", []Entry{{"A", "1"}}, ""},
		{"heredoc", "M<<EOF\nline 1\nline 2\nEOF\n", []Entry{{"M", "line 1\nline 2"}}, ""},
		{"heredoc empty", "M<<EOF\nEOF\n", []Entry{{"M", ""}}, ""},
		{"heredoc empty line", "M<<EOF\n\nEOF\n", []Entry{{"M", ""}}, ""},
		{"heredoc blank inside", "M<<EOF\na\n\nb\nEOF\n", []Entry{{"M", "a\n\nb"}}, ""},
		{"heredoc delimiter without newline", "M<<EOF\nv\nEOF", []Entry{{"M", "v"}}, ""},
		{"heredoc value with =", "M<<EOF\nA=1\nEOF\nB=2\n", []Entry{{"M", "A=1"}, {"B", "2"}}, ""},
		{"heredoc then plain", "A<<ghadelimiter_1\nx\nghadelimiter_1\nB=y\n", []Entry{{"A", "x"}, {"B", "y"}}, ""},
		{"equals before heredoc", "A=x<<EOF\n", []Entry{{"A", "x<<EOF"}}, ""},
		{"heredoc before equals", "A<<E=F\nv\nE=F\n", []Entry{{"A", "v"}}, ""},
		{"crlf plain keeps CR", "A=1\r\nB=2\r\n", []Entry{{"A", "1\r"}, {"B", "2\r"}}, ""},
		// On Linux the runner splits on "\n" only: the delimiter is "EOF\r",
		// which a CRLF file's end line matches, and the value keeps its CR.
		{"crlf heredoc", "M<<EOF\r\nv\r\nEOF\r\n", []Entry{{"M", "v\r"}}, ""},
		{"crlf delimiter, lf end line", "M<<EOF\r\nv\nEOF\n", nil, "matching delimiter not found"},
		{"lf delimiter, crlf end line", "M<<EOF\nv\r\nEOF\r\n", nil, "matching delimiter not found"},
		{"bom", "\xef\xbb\xbfA=1\n", []Entry{{"A", "1"}}, ""},
		{"missing delimiter", "M<<EOF\nvalue\n", nil, "matching delimiter not found"},
		{"missing delimiter no newline", "M<<EOF\nvalue", nil, "EOF marker missing new line"},
		{"delimiter is a prefix", "M<<EOF\nEOFX\n", nil, "matching delimiter not found"},
		{"empty name", "=1\n", nil, "name must not be empty"},
		{"empty heredoc name", "<<EOF\nx\nEOF\n", nil, "name must not be empty"},
		{"empty delimiter", "M<<\nx\n", nil, "delimiter must not be empty"},
		{"no separator", "JUSTTEXT\n", nil, "invalid format"},
		{"error keeps earlier", "A=1\nBAD\n", []Entry{{"A", "1"}}, "invalid format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFileCommand("GITHUB_ENV", []byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			} else {
				var fe *FileCommandError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.wantErr) || fe.File != "GITHUB_ENV" {
					t.Fatalf("error %v, want a *FileCommandError containing %q", err, tc.wantErr)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzParseFileCommand checks that the parser never panics, that it stops
// at a rejected file, and that any name/value written with a delimiter
// the value does not contain parses back unchanged.
func FuzzParseFileCommand(f *testing.F) {
	f.Add([]byte("A=1\nM<<EOF\nx\nEOF\n"), "NAME", "value\nwith lines", "ghadelimiter_123")
	f.Add([]byte("M<<EOF\r\nv\r\n"), "X", "", "EOF")
	f.Add([]byte("=\n<<\n"), "N=Y", "a=b", "D")
	f.Add([]byte("\xef\xbb\xbf"), "N", "EOF\nEOF", "EOF")
	f.Fuzz(func(t *testing.T, data []byte, name, value, delim string) {
		entries, err := ParseFileCommand("GITHUB_OUTPUT", data)
		if err != nil {
			var fe *FileCommandError
			if !errors.As(err, &fe) {
				t.Fatalf("error of type %T", err)
			}
		}
		for _, e := range entries {
			if e.Name == "" {
				t.Fatalf("entry with an empty name from %q", data)
			}
		}
		// Round trip of a well-formed heredoc entry.
		if name == "" || delim == "" || strings.ContainsAny(name, "\n=<") ||
			strings.Contains(delim, "\n") || strings.Contains(value+"\n", delim) || strings.Contains("\n"+value, "\n"+delim) {
			return
		}
		if strings.Contains(value, "\n"+delim+"\n") || strings.HasPrefix(value, delim+"\n") || value == delim {
			return
		}
		text := name + "<<" + delim + "\n" + value + "\n" + delim + "\nAFTER=1\n"
		got, err := ParseFileCommand("GITHUB_OUTPUT", []byte(text))
		if err != nil {
			t.Fatalf("well-formed entry %q: %v", text, err)
		}
		want := []Entry{{name, value}, {"AFTER", "1"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q: got %q, want %q", text, got, want)
		}
	})
}

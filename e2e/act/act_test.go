package act

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	actharness "github.com/cargo-oidc/cargo-oidc/e2e/internal/act"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// actionFiles are what `uses: ./` needs of the repository: action.yml and
// everything the Dockerfile copies.
var actionFiles = []string{"action.yml", "Dockerfile", "go.mod", "go.sum", "main.go", "exchange", "cargoconf", "internal"}

// buildWorkflow is the one job whose `uses: ./` act builds from the
// repository's Dockerfile itself, as GitHub's runner does for a
// Dockerfile action: the action, a later step that reads its outputs and
// environment, and cargo fetch with only what the action exported.
// @NAME@ are filled in by the test.
const buildWorkflow = `name: act-build
on: push
permissions:
  id-token: write
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: reg
        with:
          @JFROG@
@FETCH@
`

// prebuiltWorkflow runs, from the image built once, what only a second
// runner proves: a composite action wrapping the container action and
// forwarding its outputs, the organisation wrapper of examples/composite,
// and settings act's layout cannot deliver (provider mode needs a HOME
// shared with later steps, a credentials file under runner.temp needs
// runner.temp mounted). act runs the two jobs at once.
const prebuiltWorkflow = `name: act-prebuilt
on: push
permissions:
  id-token: write
  contents: read
jobs:
  wrap:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/wrap
        id: wrap
        with:
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
      - name: read the wrapper's outputs
        run: |
@ECHO_WRAP@
      - uses: ./.github/actions/setup-cargo-registry
        id: org
        with:
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
      - name: read the example wrapper's outputs
        run: |
@ECHO_ORG@
  act-layout:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: provider
        continue-on-error: true
        with:
          @JFROG@
          credential-mode: provider
      - uses: ./
        id: temp
        continue-on-error: true
        with:
          @JFROG@
          credentials-file: ${{ runner.temp }}/cargo-credentials.toml
      - run: echo "OUTCOMES=${{ steps.provider.outcome }},${{ steps.temp.outcome }}"
`

// refusedWorkflow uses a container action whose runs.args names the github
// context, as cargo-oidc's action.yml once did.
const refusedWorkflow = `name: act-refused
on: push
jobs:
  refused:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/refused
`

// refusedAction is a container action GitHub's runner refuses to load.
const refusedAction = `name: refused
description: runs.args may use the inputs context only.
inputs:
  host-temp:
    default: ${{ runner.temp }}
runs:
  using: docker
  image: Dockerfile
  args:
    - --host-workspace=${{ github.workspace }}
    - --host-temp=${{ inputs.host-temp }}
`

// TestAct runs the action through nektos/act over Podman's Docker API: once
// with act building the repository's Dockerfile itself (`uses: ./`), then
// from the image built once per run for everything else.
func TestAct(t *testing.T) {
	// Not parallel: every act run keeps the two cores busy on its own.
	sh := actRunner(t)
	image := actionImage(t, sh)
	start := time.Now()
	root := harness.Root(t)
	caDir := t.TempDir()
	s := fakes.StartT(t, fakes.Options{Dir: caDir})
	action, err := runner.LoadAction(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	fill := jfrogFill(s, "@CA@", s.CAFile,
		"@ECHO_REG@", echoOutputs(action, "reg", "OUT"), "@ECHO_WRAP@", echoOutputs(action, "wrap", "WRAP"),
		"@ECHO_ORG@", echoOutputs(action, "org", "ORG"))
	built := makeRepo(t, root, action, "")
	writeFile(t, filepath.Join(built, ".github/workflows/build.yml"), fill.Replace(withFetch(buildWorkflow)))
	prebuilt := makeRepo(t, root, action, image)
	writeFile(t, filepath.Join(prebuilt, ".github/workflows/prebuilt.yml"), fill.Replace(prebuiltWorkflow))
	writeFile(t, filepath.Join(prebuilt, ".github/workflows/refused.yml"), refusedWorkflow)
	writeFile(t, filepath.Join(prebuilt, ".github/actions/refused/action.yml"), refusedAction)
	writeFile(t, filepath.Join(prebuilt, ".github/actions/refused/Dockerfile"), "FROM scratch\n")
	for _, repo := range []string{built, prebuilt} {
		ctx, cancel := harness.Context(t.Context(), t, "git init of "+repo, time.Minute)
		err := actharness.InitRepo(ctx, repo)
		cancel()
		if err != nil {
			t.Fatal(harness.Err(ctx, err))
		}
	}

	run := func(t *testing.T, repo, workflow, job string) *actharness.Result {
		t.Helper()
		return runAct(t, sh, s, actharness.Run{Dir: repo, Workflow: ".github/workflows/" + workflow, Job: job})
	}

	var logs []*actharness.Result
	t.Run("act builds the Dockerfile", func(t *testing.T) {
		res := run(t, built, "build.yml", "build")
		logs = append(logs, res)
		if res.Failed() {
			t.Fatalf("the job failed:\n%s", tail(res))
		}
		want := map[string]string{"token": "***", "registry-name": "artifactory", "index-url": s.JFrogIndex,
			"config-file": "", "credentials-file": ""}
		for _, out := range action.Outputs {
			got, ok := res.Value("OUT_" + out.Name)
			switch w, fixed := want[out.Name]; {
			case !ok:
				t.Errorf("OUT_%s: a later step did not print the output", out.Name)
			case fixed && got != w:
				t.Errorf("OUT_%s = %q, want %q", out.Name, got, w)
			}
		}
		for key, want := range map[string]string{"ENV_TOKEN_SET": "yes", "FETCH": "ok"} {
			if got, _ := res.Value(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		// act builds a local Dockerfile action as act-dockeraction:latest,
		// for the main and the post stage.
		if n := strings.Count(res.Output, "docker build -t act-dockeraction:latest"); n != 2 {
			t.Errorf("act logged %d builds of the Dockerfile, want 2 (main and post stage):\n%s", n, tail(res))
		}
	})

	t.Run("prebuilt: composite wrappers and act's layout", func(t *testing.T) {
		before := s.Store.Exchanges("")
		res := run(t, prebuilt, "prebuilt.yml", "")
		logs = append(logs, res)
		if res.Failed() {
			t.Fatalf("a job failed:\n%s", tail(res))
		}
		if n := strings.Count(res.Output, "docker build"); n != 0 || !strings.Contains(res.Output, image) {
			t.Errorf("act built the action %d times, or never named the prebuilt image %s:\n%s", n, image, tail(res))
		}
		for _, prefix := range []string{"WRAP", "ORG"} {
			for _, out := range action.Outputs {
				got, ok := res.Value(prefix + "_" + out.Name)
				switch {
				case !ok:
					t.Errorf("%s_%s: a later step did not print the output", prefix, out.Name)
				case out.Name == "token" && got != "***":
					t.Errorf("%s_token = %q, want it masked", prefix, got)
				case out.Name == "expires-at" && !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(got):
					t.Errorf("%s_expires-at %q is not RFC 3339", prefix, got)
				case out.Name == "index-url" && got != s.JFrogIndex:
					t.Errorf("%s_index-url = %q, want %q: the wrapper did not forward it", prefix, got, s.JFrogIndex)
				}
			}
		}
		if got, _ := res.Value("OUTCOMES"); got != "failure,failure" {
			t.Errorf("outcomes %q, want failure,failure:\n%s", got, tail(res))
		}
		for _, want := range []string{
			`::error title=cargo-oidc%3A cannot use credential-mode%3A provider on this runner::credential-mode: provider installs the provider under HOME, but HOME is "[^"]*", not /github/home`,
			`::error title=cargo-oidc%3A this runner cannot deliver the file::input credentials-file: "/tmp/cargo-credentials.toml" is under runner.temp \(/tmp\), which this runner does not mount`,
		} {
			if !regexp.MustCompile(want).MatchString(res.Output) {
				t.Errorf("no annotation %q:\n%s", want, tail(res))
			}
		}
		// The two wrappers exchange once each; the act-layout checks
		// come before any exchange.
		if n := s.Store.Exchanges("") - before; n != 2 {
			t.Errorf("%d exchanges, want 2 (one per wrapper, none for the refused settings)", n)
		}
	})

	// The emulation and act agree on what the runner refuses to load.
	t.Run("disallowed context", func(t *testing.T) {
		_, err := runner.LoadAction(filepath.Join(prebuilt, ".github/actions/refused/action.yml"))
		if err == nil || !strings.Contains(err.Error(), "runs.args[0]: Unrecognized named-value: 'github'") {
			t.Errorf("the emulation loaded it: %v", err)
		}
		res := run(t, prebuilt, "refused.yml", "refused")
		logs = append(logs, res)
		if !res.Failed() || !strings.Contains(res.Output, "Unknown Variable Access github") {
			t.Errorf("act did not refuse runs.args with the github context:\n%s", tail(res))
		}
	})

	// One exchange in the built job, one per wrapper: 3 ID tokens and 3
	// access tokens at least.
	t.Run("no secret in any log", func(t *testing.T) { noSecretIn(t, s, logs, 6) })
	fmt.Printf("e2e act: %d act runs, %s in all\n", len(logs), time.Since(start).Round(100*time.Millisecond))
}

// makeRepo lays out a repository act runs: the action's files (with
// runs.image pointed at image unless it is empty), a composite action
// wrapping it, examples/composite with its uses: pointed at ./, and a
// crate depending on the registry.
func makeRepo(t *testing.T, root string, action *runner.Action, image string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if err := actharness.CopyFiles(root, repo, actionFiles...); err != nil {
		t.Fatal(err)
	}
	if image != "" {
		if err := actharness.UsePrebuiltImage(filepath.Join(repo, "action.yml"), image); err != nil {
			t.Fatal(err)
		}
	}
	var outs strings.Builder
	for _, o := range action.Outputs {
		fmt.Fprintf(&outs, "  %s:\n    description: %q\n    value: ${{ steps.inner.outputs.%s }}\n", o.Name, o.Description, o.Name)
	}
	writeFile(t, filepath.Join(repo, ".github/actions/wrap/action.yml"), `name: wrap
description: A composite action around cargo-oidc that forwards every output.
inputs:
  url:
    required: true
  provider-name:
    required: true
  repository:
    required: true
outputs:
`+outs.String()+`runs:
  using: composite
  steps:
    - uses: ./
      id: inner
      with:
        provider: jfrog
        url: ${{ inputs.url }}
        provider-name: ${{ inputs.provider-name }}
        repository: ${{ inputs.repository }}
`)
	example, err := os.ReadFile(filepath.Join(root, "examples/composite/action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	local := strings.Replace(string(example), "uses: cargo-oidc/cargo-oidc@v1", "uses: ./", 1)
	if local == string(example) {
		t.Fatal("examples/composite/action.yml has no `uses: cargo-oidc/cargo-oidc@v1` line to point at ./")
	}
	writeFile(t, filepath.Join(repo, ".github/actions/setup-cargo-registry/action.yml"), local)
	// The emulation holds both composite actions to the runner's rules too.
	for _, p := range []string{".github/actions/wrap/action.yml", ".github/actions/setup-cargo-registry/action.yml"} {
		if _, err := runner.LoadAction(filepath.Join(repo, p)); err != nil {
			t.Fatal(err)
		}
	}
	manifest := func(name, dep string) string {
		return fmt.Sprintf("[package]\nname = %q\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n%s\n", name, dep)
	}
	dep := fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	writeFile(t, filepath.Join(repo, "crate/Cargo.toml"), manifest("act-e2e", dep))
	writeFile(t, filepath.Join(repo, "crate/src/lib.rs"), "")
	return repo
}

// echoOutputs returns run: lines printing every output of the action as
// step id's outputs, as PREFIX_<name>=<value>.
func echoOutputs(a *runner.Action, id, prefix string) string {
	var b strings.Builder
	for _, o := range a.Outputs {
		fmt.Fprintf(&b, "          echo \"%s_%s=${{ steps.%s.outputs.%s }}\"\n", prefix, o.Name, id, o.Name)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// fetchSteps follow a JFrog step with id reg: one prints its outputs
// (@ECHO_REG@) and whether the token reached the environment
// (ENV_TOKEN_SET=yes), then cargo fetch with only what it exported
// (FETCH=ok). They stand for @FETCH@ in a workflow (withFetch).
const fetchSteps = `      - name: read the outputs
        run: |
@ECHO_REG@
          echo "ENV_TOKEN_SET=${CARGO_REGISTRIES_ARTIFACTORY_TOKEN:+yes}"
      - run: echo /opt/rust/bin >> "$GITHUB_PATH"
      - name: cargo fetch
        working-directory: crate
        env:
          CARGO_HTTP_CAINFO: @CA@
        run: cargo fetch && echo "FETCH=ok"`

// withFetch puts fetchSteps in place of @FETCH@ in workflow.
func withFetch(workflow string) string { return strings.Replace(workflow, "@FETCH@", fetchSteps, 1) }

// jfrogFill replaces @JFROG_URL@, @PROVIDER@, @REPO@ and @JFROG@ (the
// four with: lines of a JFrog step, at the workflows' indentation) with the
// stack's values, and then the pairs of more.
func jfrogFill(s *fakes.Stack, more ...string) *strings.Replacer {
	_, rest, _ := strings.Cut(s.JFrogIndex, "/api/cargo/")
	repo, _, _ := strings.Cut(rest, "/")
	with := fmt.Sprintf("provider: jfrog\n          url: %s\n          provider-name: %s\n          repository: %s", s.JFrogURL, s.JFrog.ProviderName, repo)
	return strings.NewReplacer(append([]string{"@JFROG@", with, "@JFROG_URL@", s.JFrogURL, "@PROVIDER@", s.JFrog.ProviderName, "@REPO@", repo}, more...)...)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tail(res *actharness.Result) string {
	if res == nil {
		return ""
	}
	if len(res.Output) > 6000 {
		return "...\n" + res.Output[len(res.Output)-6000:]
	}
	return res.Output
}

// session is this test process's harness session: its folders, processes
// and labelled containers, swept by the next run if this one is killed.
var session *harness.Session

// TestMain sweeps what a killed earlier run left, starts a session, and
// removes everything the tests started when they end, also on SIGINT or
// SIGTERM.
func TestMain(m *testing.M) {
	if harness.ListOnly() {
		os.Exit(m.Run())
	}
	s, err := harness.Begin("act", container.Podman(), os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/act:", err)
		os.Exit(1)
	}
	session = s
	s.CloseOnSignal(func(os.Signal) { closeShared(); os.Exit(130) })
	start := time.Now()
	code := m.Run()
	fmt.Printf("e2e/act: tests took %s\n", time.Since(start).Round(10*time.Millisecond))
	closeShared()
	s.Close()
	os.Exit(code)
}

// shared is what every act test of the process uses: one Podman service
// and job image, and the action image built once from the Dockerfile.
type shared struct {
	engine    *container.Engine
	runner    *actharness.Runner
	toolchain string
	image     string // the action image, built once (actionImage)
}

var (
	sharedOnce sync.Once
	sharedVal  *shared
	sharedErr  error
	imageOnce  sync.Once
	imageErr   error
	closeOnce  sync.Once
)

// closeShared stops the shared Podman service and removes the action image.
func closeShared() {
	closeOnce.Do(func() {
		if sharedVal == nil {
			return
		}
		sharedVal.runner.Close()
		if sharedVal.image != "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = sharedVal.engine.RemoveImage(ctx, sharedVal.image)
		}
	})
}

// actRunner returns the shared act runner, starting it on first use within
// the test's budget. Without Podman, act or Rust it skips (fails under
// CI=true).
func actRunner(t *testing.T) *shared {
	t.Helper()
	actBin, toolchain := requireAct(t)
	sharedOnce.Do(func() {
		ctx, cancel := harness.Context(context.Background(), t, "starting the Podman service and the act job image", 3*time.Minute)
		defer cancel()
		engine, err := container.New("")
		if err != nil {
			sharedErr = err
			return
		}
		engine.Log = os.Stdout
		r, err := actharness.Start(ctx, engine, actharness.Options{Act: actBin, Toolchain: toolchain, Log: os.Stdout, Session: session})
		if err != nil {
			sharedErr = harness.Err(ctx, err)
			return
		}
		sharedVal = &shared{engine: engine, runner: r, toolchain: toolchain}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedVal
}

// actionImage builds the action's image from the repository's Dockerfile
// once per run, labelled for the sweep; every act test but one runs the
// action from it (actharness.UsePrebuiltImage).
func actionImage(t *testing.T, sh *shared) string {
	t.Helper()
	imageOnce.Do(func() {
		ctx, cancel := harness.Context(context.Background(), t, "building the action image once", 4*time.Minute)
		defer cancel()
		root, err := harness.RepoRoot()
		if err != nil {
			imageErr = err
			return
		}
		if _, err := sh.engine.EnsureBaseImage(ctx, filepath.Join(root, "Dockerfile"), root); err != nil {
			imageErr = harness.Err(ctx, err)
			return
		}
		img, err := actharness.BuildActionImage(ctx, sh.engine, root, strings.ToLower(session.ID))
		if err != nil {
			imageErr = harness.Err(ctx, err)
			return
		}
		sh.image = img
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return sh.image
}

// requireAct skips under -short and checks what every act test needs:
// Podman, act and a Rust toolchain. It returns act's path and the
// toolchain's sysroot (mounted read-only into the job container).
func requireAct(t *testing.T) (actBin, toolchain string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: -short")
	}
	harness.Require(t, "Podman", container.Available())
	actBin, err := actharness.Find()
	harness.Require(t, "act", err)
	rustc, err := exec.LookPath("rustc")
	harness.Require(t, "rustc", err)
	sysroot, err := exec.Command(rustc, "--print", "sysroot").Output()
	harness.Require(t, "a Rust toolchain", err)
	return actBin, strings.TrimSpace(string(sysroot))
}

// runAct runs run with what GitHub gives a job with permissions: id-token:
// write (the stack's request URL and token), the fake services' CA for the
// action (SSL_CERT_FILE, its folder mounted, as a proxy's CA would be
// given) and the Rust toolchain at /opt/rust, within the test's budget. A
// failed job is the caller's to judge; act not running fails the test.
func runAct(t *testing.T, sh *shared, s *fakes.Stack, run actharness.Run) *actharness.Result {
	t.Helper()
	env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": s.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.RequestToken, "SSL_CERT_FILE": s.CAFile}
	maps.Copy(env, run.Env)
	run.Env = env
	caDir := filepath.Dir(s.CAFile)
	run.Mounts = append(run.Mounts, actharness.Mount{Host: caDir, Container: caDir, ReadOnly: true},
		actharness.Mount{Host: sh.toolchain, Container: "/opt/rust", ReadOnly: true})
	run.Timeout = harness.Budget(t, 4*time.Minute)
	res, err := sh.runner.Run(t.Context(), run)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(res))
	}
	t.Logf("act %s (job %q): exit %d in %s", run.Workflow, run.Job, res.ExitCode, res.Duration.Round(10*time.Millisecond))
	for _, line := range strings.Split(res.Output, "\n") {
		if strings.Contains(line, "Success - ") || strings.Contains(line, "Failure - ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	return res
}

// noSecretIn fails when an act log holds a secret the fakes issued, or
// when they issued fewer than least (the check would prove nothing).
func noSecretIn(t *testing.T, s *fakes.Stack, logs []*actharness.Result, least int) {
	t.Helper()
	secrets := s.Store.Secrets()
	if len(secrets) < least {
		t.Fatalf("the fakes issued %d secrets, want at least %d", len(secrets), least)
	}
	for i, res := range logs {
		for _, sec := range secrets {
			if strings.Contains(res.Output, sec) {
				t.Errorf("act log %d (%v) contains a secret the fakes issued (%d chars)", i, res.Args[:3], len(sec))
			}
		}
	}
}

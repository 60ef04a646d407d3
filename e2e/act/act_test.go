package act

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	actharness "github.com/cargo-oidc/cargo-oidc/e2e/internal/act"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// actionFiles are action.yml and everything the Dockerfile copies.
var actionFiles = []string{"action.yml", "Dockerfile", "go.mod", "go.sum", "main.go", "exchange", "cargoconf", "internal"}

// actWorkflow's jobs: build (act builds `uses: ./` itself, then cargo
// fetches), wrap (examples/composite over prebuilt/) and act-layout (two
// settings act's layout cannot deliver). The test fills @NAME@.
const actWorkflow = `name: act
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
      - name: read the outputs
        run: |
@ECHO_REG@
          echo "ENV_TOKEN_SET=${CARGO_REGISTRIES_ARTIFACTORY_TOKEN:+yes}"
      - run: echo /opt/rust/bin >> "$GITHUB_PATH"
      - name: cargo fetch
        working-directory: crate
        env:
          CARGO_HTTP_CAINFO: @CA@
        run: cargo fetch && echo "FETCH=ok"
  wrap:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/setup-cargo-registry
        id: org
        with:
          url: @URL@
          provider-name: @PROVIDER@
          repository: @REPO@
      - name: read the example wrapper's outputs
        run: |
@ECHO_ORG@
  act-layout:
    runs-on: ubuntu-latest
    steps:
      - uses: ./prebuilt
        id: provider
        continue-on-error: true
        with:
          @JFROG@
          credential-mode: provider
      - uses: ./prebuilt
        id: temp
        continue-on-error: true
        with:
          @JFROG@
          credentials-file: ${{ runner.temp }}/cargo-credentials.toml
      - run: echo "OUTCOMES=${{ steps.provider.outcome }},${{ steps.temp.outcome }}"
`

// TestAct runs actWorkflow through nektos/act over Podman's Docker API.
func TestAct(t *testing.T) {
	// Not parallel: every act run keeps the two cores busy on its own.
	sh := actRunner(t)
	image := actionImage(t, sh)
	root := harness.Root(t)
	s := fakes.StartT(t, fakes.Options{Dir: t.TempDir()})
	action, err := runner.LoadAction(filepath.Join(root, "action.yml"))
	testenv.Must(t, err)
	in := s.JFrogInputs()
	jfrog := fmt.Sprintf("provider: jfrog\n          url: %s\n          provider-name: %s\n          repository: %s", in["url"], in["provider-name"], in["repository"])
	fill := strings.NewReplacer("@JFROG@", jfrog, "@URL@", in["url"], "@PROVIDER@", in["provider-name"], "@REPO@", in["repository"], "@CA@", s.CAFile,
		"@ECHO_REG@", echoOutputs(action, "reg", "OUT"), "@ECHO_ORG@", echoOutputs(action, "org", "ORG"))
	res := runAct(t, sh, s, makeRepo(t, root, image, fill.Replace(actWorkflow)))
	if res.Failed() {
		t.Fatalf("a job failed:\n%s", tail(res))
	}

	// A later step printed every output as OUT_<name> and ORG_<name>.
	want := map[string]string{"token": "***", "registry-name": "artifactory", "index-url": s.JFrogIndex, "config-file": "", "credentials-file": "",
		"ENV_TOKEN_SET": "yes", "FETCH": "ok", "OUTCOMES": "failure,failure"}
	for _, prefix := range []string{"OUT", "ORG"} {
		for _, out := range action.Outputs {
			got, ok := res.Value(prefix + "_" + out.Name)
			switch w, fixed := want[out.Name]; {
			case !ok:
				t.Errorf("%s_%s: a later step did not print the output", prefix, out.Name)
			case fixed && got != w:
				t.Errorf("%s_%s = %q, want %q", prefix, out.Name, got, w)
			case out.Name == "expires-at" && !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(got):
				t.Errorf("%s_expires-at %q is not RFC 3339", prefix, got)
			}
		}
	}
	for _, key := range []string{"ENV_TOKEN_SET", "FETCH", "OUTCOMES"} {
		if got, _ := res.Value(key); got != want[key] {
			t.Errorf("%s = %q, want %q", key, got, want[key])
		}
	}
	// act builds a local Dockerfile action as act-dockeraction:latest, for
	// the main and the post stage of build alone.
	if n := strings.Count(res.Output, "docker build"); n != 2 || strings.Count(res.Output, "docker build -t act-dockeraction:latest") != 2 || !strings.Contains(res.Output, image) {
		t.Errorf("act logged %d builds, want 2 of act-dockeraction:latest (build's main and post stage), and the prebuilt image %s:\n%s", n, image, tail(res))
	}
	for _, want := range []string{
		`::error title=cargo-oidc%3A cannot use credential-mode%3A provider on this runner::credential-mode: provider installs the provider under HOME, but HOME is "[^"]*", not /github/home`,
		`::error title=cargo-oidc%3A this runner cannot deliver the file::input credentials-file: "/tmp/cargo-credentials.toml" is under runner.temp \(/tmp\), which this runner does not mount`,
	} {
		if !regexp.MustCompile(want).MatchString(res.Output) {
			t.Errorf("no annotation %q:\n%s", want, tail(res))
		}
	}
	if n := s.Store.Exchanges(""); n != 2 {
		t.Errorf("%d exchanges, want 2 (build's and wrap's, none for the refused settings)", n)
	}
	secrets := s.Secrets() // 2 ID tokens and 2 access tokens at least
	if len(secrets) < 4 {
		t.Fatalf("the fakes issued %d secrets, want at least 4", len(secrets))
	}
	for _, sec := range secrets {
		if strings.Contains(res.Output, sec) {
			t.Errorf("the act log contains a secret the fakes issued (%d chars)", len(sec))
		}
	}
}

// makeRepo lays out a git repository for act: the action, prebuilt/ running
// image, examples/composite over it, a crate, and workflow.
func makeRepo(t *testing.T, root, image, workflow string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	testenv.Must(t, actharness.CopyFiles(root, repo, actionFiles...))
	testenv.Must(t, actharness.CopyFiles(root, filepath.Join(repo, "prebuilt"), "action.yml"))
	testenv.Must(t, actharness.UsePrebuiltImage(filepath.Join(repo, "prebuilt/action.yml"), image))
	example, err := os.ReadFile(filepath.Join(root, "examples/composite/action.yml"))
	local := strings.Replace(string(example), "uses: cargo-oidc/cargo-oidc@v1", "uses: ./prebuilt", 1)
	if err != nil || local == string(example) {
		t.Fatal("examples/composite/action.yml has no `uses: cargo-oidc/cargo-oidc@v1` line to point at ./prebuilt")
	}
	dep := fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	for name, data := range map[string]string{
		".github/actions/setup-cargo-registry/action.yml": local,
		".github/workflows/act.yml":                       workflow,
		"crate/Cargo.toml":                                "[package]\nname = \"act-e2e\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n" + dep + "\n",
		"crate/src/lib.rs":                                "",
	} {
		writeFile(t, filepath.Join(repo, name), data)
	}
	ctx, cancel := harness.Context(t.Context(), t, "git init of "+repo, time.Minute)
	defer cancel()
	if err := actharness.InitRepo(ctx, repo); err != nil {
		t.Fatal(harness.Err(ctx, err))
	}
	return repo
}

// echoOutputs returns run: lines printing step id's outputs as PREFIX_<name>=<value>.
func echoOutputs(a *runner.Action, id, prefix string) string {
	var b strings.Builder
	for _, o := range a.Outputs {
		fmt.Fprintf(&b, "          echo \"%s_%s=${{ steps.%s.outputs.%s }}\"\n", prefix, o.Name, id, o.Name)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// writeFile writes data to path, making its folders.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	testenv.Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	testenv.Must(t, os.WriteFile(path, []byte(data), 0o644))
}

// tail is the end of act's log (nil: none).
func tail(res *actharness.Result) string {
	if res == nil {
		return ""
	}
	return res.Output[max(0, len(res.Output)-6000):]
}

// ciWorkflow is the workflow whose setup job TestActCIMatrix runs.
const ciWorkflow = ".github/workflows/ci.yml"

// TestActCIMatrix runs ci.yml's setup job under act for ubuntu-latest. Its
// internet steps are skipped (if: ${{ !env.ACT }}); the test gives their
// result: a copy of the tree, and this machine's Go, Rust, curl and git.
func TestActCIMatrix(t *testing.T) {
	// Not parallel: every act run keeps the two cores busy on its own.
	sh := actRunner(t)
	curl := harness.Tool(t, "curl", "apt-get install curl")
	goBin := harness.Tool(t, "go", "install Go")
	git := harness.Tool(t, "git", "apt-get install git") // internal/release's tests need git under CI=true
	gitCore, err := exec.CommandContext(t.Context(), git, "--exec-path").Output()
	harness.Require(t, "git --exec-path", err)
	libDir := "/usr/lib/" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-linux-gnu"
	if _, err := os.Stat(libDir); err != nil {
		t.Skipf("skipping: %s (curl's libraries) not found: %v", libDir, err)
	}
	out, err := exec.CommandContext(t.Context(), goBin, "env", "GOROOT", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	goEnv := strings.Split(strings.TrimSpace(string(out)), "\n") // GOROOT, GOMODCACHE, GOCACHE
	if len(goEnv) != 3 {
		t.Fatalf("go env printed %q", out)
	}

	start := time.Now()
	ctx, cancel := harness.Context(t.Context(), t, "copying the working tree for act", 2*time.Minute)
	defer cancel()
	root := harness.Root(t)
	workflow := filepath.Join(root, ciWorkflow)

	// The checkout: tracked and new files, in a repository of their own.
	repo := filepath.Join(t.TempDir(), "repo")
	ls := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = root
	list, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", harness.Err(ctx, err))
	}
	var files []string
	for _, f := range strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		if fi, err := os.Lstat(filepath.Join(root, f)); err == nil && fi.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	testenv.Must(t, actharness.CopyFiles(root, repo, files...))
	if err := actharness.InitRepo(ctx, repo); err != nil {
		t.Fatal(harness.Err(ctx, err))
	}

	res, err := sh.runner.Run(t.Context(), actharness.Run{
		Dir: repo, Workflow: workflow, Job: "setup",
		Matrix:            map[string]string{"os": "ubuntu-latest"},
		LocalRepositories: stubRemoteActions(t, workflow, "setup"),
		Env: map[string]string{
			"PATH":    filepath.Join(goEnv[0], "bin") + ":/opt/rust/bin:" + actharness.JobPATH,
			"GOCACHE": goEnv[2], "GOMODCACHE": goEnv[1],
			// No network and no git in the job: the module cache has
			// every module, and there is no VCS information to stamp.
			"GOPROXY": "off", "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
		},
		Mounts: []actharness.Mount{
			{Host: goEnv[0], Container: goEnv[0], ReadOnly: true},
			{Host: goEnv[1], Container: goEnv[1], ReadOnly: true},
			{Host: goEnv[2], Container: goEnv[2]},
			{Host: sh.toolchain, Container: "/opt/rust", ReadOnly: true},
			{Host: curl, Container: "/usr/local/bin/curl", ReadOnly: true},
			{Host: git, Container: "/usr/local/bin/git", ReadOnly: true},
			{Host: strings.TrimSpace(string(gitCore)), Container: strings.TrimSpace(string(gitCore)), ReadOnly: true},
			{Host: libDir, Container: libDir, ReadOnly: true},
		},
		Timeout: harness.Budget(t, 8*time.Minute),
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(res))
	}
	t.Logf("act %s (job setup, os ubuntu-latest): exit %d in %s", ciWorkflow, res.ExitCode, res.Duration.Round(10*time.Millisecond))
	if res.Failed() {
		t.Fatalf("the job failed:\n%s", tail(res))
	}

	want := map[string]string{
		"CHECK_INDEX": "ok", "CHECK_CONFIG": "ok", "CHECK_PROVIDER": "set", "CHECK_JFROG_TOKEN": "",
		"CHECK_CRATES_IO_TOKEN": "set", "CHECK_CREDENTIALS": "present", "CHECK_FETCH": "ok",
		"CHECK_REVOCATIONS": "1", "CHECK_LIVE_CRATES_IO_TOKENS": "0", "CHECK_CRATES_IO_EXCHANGES": "1",
		"CHECK_JFROG_EXCHANGES": "1", "CHECK_REGISTRY_SAW_THE_PROVIDERS_TOKEN": "yes", "CHECK_CREDENTIALS_AFTER": "removed", "CHECK_SETUP_STATE_AFTER": "removed",
	}
	for key, w := range want {
		if got, ok := res.Value(key); !ok || got != w {
			t.Errorf("%s = %q (printed %v), want %q", key, got, ok, w)
		}
	}
	for _, w := range []string{
		"ok  \tgithub.com/cargo-oidc/cargo-oidc/exchange", // the unit tests ran
		"ok  \tgithub.com/cargo-oidc/cargo-oidc/cargoconf",
		"wrote SHA256SUMS and VERSION under setup", // the mirror
		"matches",                        // setup.sh checked the download
		"fakeserver: started, pid",       // the fakes
		"Downloaded " + "e2e-dep v1.0.0", // cargo fetch through the provider
		"stopping",                       // the fakes stopped
	} {
		if !strings.Contains(res.Output, w) {
			t.Errorf("the log lacks %q", w)
		}
	}
	// A JWT (ID tokens, JFrog's tokens), a crates.io token, the request token.
	for _, secret := range []string{"eyJ", "cio_tp_", "req_"} {
		for i, line := range strings.Split(res.Output, "\n") {
			if j := strings.Index(line, secret); j >= 0 {
				t.Errorf("line %d of the act log shows a secret starting %q: %s[...]", i+1, secret, line[:j+len(secret)])
			}
		}
	}
	t.Logf("e2e act ci.yml setup job: %s in all", time.Since(start).Round(100*time.Millisecond))
}

// stubRemoteActions checks that every step of job using a remote action
// has if: ${{ !env.ACT }} and returns a failing stub of each for act's
// --local-repository (act fetches even skipped steps' actions).
func stubRemoteActions(t *testing.T, workflow, job string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(workflow)
	testenv.Must(t, err)
	var doc struct {
		Jobs map[string]struct {
			Steps []struct{ Uses, If string } `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", workflow, err)
	}
	steps := doc.Jobs[job].Steps
	if len(steps) == 0 {
		t.Fatalf("%s has no job %q with steps", workflow, job)
	}
	stubs := map[string]string{}
	for i, st := range steps {
		if st.Uses == "" || strings.HasPrefix(st.Uses, "./") {
			continue
		}
		if strings.ReplaceAll(st.If, " ", "") != "${{!env.ACT}}" {
			t.Fatalf("%s: step %d of job %s uses %s, which needs the internet, but has if: %q; want if: ${{ !env.ACT }}, and this test providing its result",
				workflow, i+1, job, st.Uses, st.If)
		}
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "action.yml"), fmt.Sprintf("name: stub\ndescription: stands in for %s under act, where the job skips it\nruns:\n  using: composite\n"+
			"  steps:\n    - run: echo '::error::the stub of %s ran'; exit 1\n      shell: bash\n", st.Uses, st.Uses))
		stubs[st.Uses] = dir
	}
	return stubs
}

var session *harness.Session

// TestMain sweeps what a killed earlier run left, starts a session, and
// removes what the tests started, also on SIGINT or SIGTERM.
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

// shared is the one Podman service and job image of the process.
type shared struct {
	engine    *container.Engine
	runner    *actharness.Runner
	toolchain string
}

var (
	sharedOnce sync.Once
	sharedVal  *shared
	sharedErr  error
	closeOnce  sync.Once
)

func closeShared() {
	closeOnce.Do(func() {
		if sharedVal != nil {
			sharedVal.runner.Close()
		}
	})
}

// actRunner returns the shared act runner, started on first use. Without
// Podman, act or Rust it skips (fails under CI=true).
func actRunner(t *testing.T) *shared {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: -short")
	}
	harness.Require(t, "Podman", container.Available())
	actBin, err := actharness.Find()
	harness.Require(t, "act", err)
	sysroot, err := exec.Command(harness.Tool(t, "rustc", "install Rust (rustup)"), "--print", "sysroot").Output()
	harness.Require(t, "a Rust toolchain", err)
	sharedOnce.Do(func() {
		ctx, cancel := harness.Context(context.Background(), t, "starting the Podman service and the act job image", 3*time.Minute)
		defer cancel()
		engine, err := container.New("")
		if err != nil {
			sharedErr = err
			return
		}
		engine.Log = os.Stdout
		toolchain := strings.TrimSpace(string(sysroot))
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

// actionImage builds the action's image, labelled for the sweep and removed
// when the test ends, for every act job but one.
func actionImage(t *testing.T, sh *shared) string {
	t.Helper()
	ctx, cancel := harness.Context(t.Context(), t, "building the action image once", 4*time.Minute)
	defer cancel()
	root := harness.Root(t)
	if _, err := sh.engine.EnsureBaseImage(ctx, filepath.Join(root, "Dockerfile"), root); err != nil {
		t.Fatal(harness.Err(ctx, err))
	}
	img, err := actharness.BuildActionImage(ctx, sh.engine, root, strings.ToLower(session.ID))
	if err != nil {
		t.Fatal(harness.Err(ctx, err))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = sh.engine.RemoveImage(ctx, img)
	})
	return img
}

// runAct runs repo's workflow against the stack, Rust at /opt/rust; a failed
// job is the caller's to judge, act not running fails the test.
func runAct(t *testing.T, sh *shared, s *fakes.Stack, repo string) *actharness.Result {
	t.Helper()
	caDir := filepath.Dir(s.CAFile)
	run := actharness.Run{Dir: repo, Workflow: ".github/workflows/act.yml", Timeout: harness.Budget(t, 4*time.Minute),
		Env:    map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": s.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.RequestToken, "SSL_CERT_FILE": s.CAFile},
		Mounts: []actharness.Mount{{Host: caDir, Container: caDir, ReadOnly: true}, {Host: sh.toolchain, Container: "/opt/rust", ReadOnly: true}}}
	res, err := sh.runner.Run(t.Context(), run)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(res))
	}
	t.Logf("act in %s: exit %d in %s", repo, res.ExitCode, res.Duration.Round(10*time.Millisecond))
	for _, line := range strings.Split(res.Output, "\n") {
		if strings.Contains(line, "Success - ") || strings.Contains(line, "Failure - ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	return res
}

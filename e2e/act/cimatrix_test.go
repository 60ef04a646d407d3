package act

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	actharness "github.com/cargo-oidc/cargo-oidc/e2e/internal/act"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// ciWorkflow is the workflow whose setup job TestActCIMatrix runs, read from
// the working tree as it is, so a change to the job is what gets tested.
const ciWorkflow = ".github/workflows/ci.yml"

// TestActCIMatrix runs the setup job of .github/workflows/ci.yml (the
// matrix over ubuntu-latest, macos-latest and windows-latest) under act, for
// ubuntu-latest: the unit tests, the release mirror, the fakes started with
// fakeserver -background, the composite action setup/ in provider mode with
// crates.io replaced, setup for crates.io with a credentials file under
// runner.temp, cargo fetch, setup/post and the job's own check that the
// token was revoked and the files removed.
//
// The steps that need the internet (actions/checkout, actions/setup-go)
// are skipped by the job under act (if: ${{ !env.ACT }}); this test
// provides their result: the workspace is a copy of the working tree, and
// Go, its module and build caches, the Rust toolchain, curl and git come
// from this machine, mounted into the job (read-only but for the build
// cache).
func TestActCIMatrix(t *testing.T) {
	// Not parallel: every act run keeps the two cores busy on its own.
	sh := actRunner(t)
	curl, err := exec.LookPath("curl")
	harness.Require(t, "curl", err)
	goBin, err := exec.LookPath("go")
	harness.Require(t, "go", err)
	// The unit tests of internal/release need git under CI=true; the job
	// image has none.
	git, err := exec.LookPath("git")
	harness.Require(t, "git", err)
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

	// The checkout: the working tree's files (tracked and new, not
	// ignored), in a git repository of their own, as actions/checkout
	// would give them. The job writes into it (setup/SHA256SUMS,
	// .cargo/config.toml), never into the working tree.
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
	if err := actharness.CopyFiles(root, repo, files...); err != nil {
		t.Fatal(err)
	}
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

// stubRemoteActions checks that every step of job that uses a remote
// action is skipped under act (if: ${{ !env.ACT }}) and returns, for act's
// --local-repository, a stub folder for each: act fetches a job's actions
// before its first step, skipped ones included. A stub fails if it runs.
func stubRemoteActions(t *testing.T, workflow, job string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
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

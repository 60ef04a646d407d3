package act

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	actharness "github.com/cargo-oidc/cargo-oidc/e2e/internal/act"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
	"go.yaml.in/yaml/v3"
)

// setupVersion is the release the test makes for the composite action.
const setupVersion = "v0.99.3"

// setupWorkflow uses the composite action (setup/, as `uses: ./setup`) the
// way a macOS or Windows job would: JFrog in token mode, a later step that
// reads its outputs and environment, Azure Artifacts (Entra) in token mode,
// cargo fetch from both registries, crates.io with a
// credentials file under runner.temp, then setup/post with if: always().
// A second job gets a binary whose checksum is wrong.
const setupWorkflow = `name: act-setup
on: push
permissions:
  id-token: write
  contents: read
jobs:
  setup:
    runs-on: ubuntu-latest
    steps:
      - uses: ./setup
        id: reg
        with:
          @JFROG@
          download-url: @MIRROR@
      - uses: ./setup
        id: az
        with:
          provider: azure
          client-id: @AZ_CLIENT@
          tenant-id: @AZ_TENANT@
          index-url: @AZ_INDEX@
          download-url: @MIRROR@
      - name: read the Azure step
        run: |
          echo "AZ_TOKEN_SET=${CARGO_REGISTRIES_AZURE_TOKEN:+yes}"
          echo "AZ_REGISTRY=${{ steps.az.outputs.registry-name }}"
@FETCH@
      - uses: ./setup
        id: cio
        with:
          provider: crates-io
          url: @CRATES_URL@
          credentials-file: ${{ runner.temp }}/cargo/credentials.toml
          download-url: @MIRROR@
      - run: |
          echo "CIO_TOKEN_SET=${CARGO_REGISTRY_TOKEN:+yes}"
          if [ -f "$RUNNER_TEMP/cargo/credentials.toml" ]; then echo "CREDS=present"; fi
      - uses: ./setup/post
        if: always()
      - if: always()
        run: |
          if [ -e "$RUNNER_TEMP/cargo-oidc-setup" ]; then echo "LEFT=yes"; else echo "LEFT=no"; fi
          if [ -e "$RUNNER_TEMP/cargo/credentials.toml" ]; then echo "CREDS_AFTER=yes"; else echo "CREDS_AFTER=no"; fi
  tampered:
    runs-on: ubuntu-latest
    steps:
      - uses: ./setup
        id: bad
        continue-on-error: true
        with:
          @JFROG@
          download-url: @BAD_MIRROR@
      - if: always()
        run: |
          echo "BAD_OUTCOME=${{ steps.bad.outcome }}"
          echo "BAD_TOKEN=[${{ steps.bad.outputs.token }}]"
`

// TestActSetup runs the composite action through nektos/act: the second,
// independent runner. The job image has busybox as bash and no curl, so
// the host's curl (and its libraries) is mounted into the job to download
// from the HTTPS mirror on 127.0.0.1, as a hosted runner's curl would.
func TestActSetup(t *testing.T) {
	// Not parallel: every act run keeps the two cores busy on its own.
	sh := actRunner(t)
	curl, err := exec.LookPath("curl")
	harness.Require(t, "curl", err)
	host, err := release.ParseTarget(runtime.GOOS + "/" + runtime.GOARCH)
	if err != nil {
		t.Skipf("skipping: this machine's target is not released: %v", err)
	}
	libDir := "/usr/lib/" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-linux-gnu"
	if _, err := os.Stat(libDir); err != nil {
		t.Skipf("skipping: %s (curl's libraries) not found: %v", libDir, err)
	}

	start := time.Now()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}

	// The release: this machine's binary, built as release-binaries does.
	binDir := t.TempDir()
	binPath := filepath.Join(binDir, host.Asset())
	ctx, cancel := harness.Context(t.Context(), t, "go build of the release binary", 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", release.BuildArgs(setupVersion, binPath)...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", harness.Err(ctx, err), out)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}

	caDir := t.TempDir()
	s := fakes.StartT(t, fakes.Options{Dir: caDir})
	var mu sync.Mutex
	downloads := map[string]int{}
	mirror := s.CA.StartServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		downloads[req.URL.Path]++
		mu.Unlock()
		switch req.URL.Path {
		case "/good/" + setupVersion + "/" + host.Asset():
			_, _ = w.Write(bin)
		case "/bad/" + setupVersion + "/" + host.Asset():
			_, _ = w.Write(append([]byte("#!/bin/sh\necho TAMPERED_RAN=yes\n#"), bin[:1024]...))
		default:
			http.NotFound(w, req)
		}
	}))
	defer mirror.Close()

	// The repository: setup/ as a release commit has it.
	repo := filepath.Join(t.TempDir(), "repo")
	if err := actharness.CopyFiles(root, repo, "setup"); err != nil {
		t.Fatal(err)
	}
	var sums []release.Sum
	for _, tg := range release.Targets {
		data := []byte("not built by this test: " + tg.String())
		if tg == host {
			data = bin
		}
		sums = append(sums, release.SumOf(tg.Asset(), data))
	}
	files, err := release.SetupFiles(setupVersion, sums)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		writeFile(t, filepath.Join(repo, "setup", name), string(data))
	}
	setup, err := runner.LoadAction(filepath.Join(repo, "setup", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	fill := jfrogFill(s, "@CA@", s.CAFile, "@CRATES_URL@", s.CratesIOURL,
		"@MIRROR@", mirror.URL+"/good/{version}", "@BAD_MIRROR@", mirror.URL+"/bad/{version}",
		"@ECHO_REG@", echoOutputs(setup, "reg", "OUT"),
		"@AZ_CLIENT@", s.Azure.Entra.ClientID, "@AZ_TENANT@", s.Azure.Entra.Tenant, "@AZ_INDEX@", s.Azure.Index)
	writeFile(t, filepath.Join(repo, ".github/workflows/setup.yml"), fill.Replace(withFetch(setupWorkflow)))
	dep := fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	dep += fmt.Sprintf("\naz-dep = { package = %q, version = %q, registry = \"azure\" }", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	writeFile(t, filepath.Join(repo, "crate/Cargo.toml"), fmt.Sprintf("[package]\nname = \"act-setup\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n%s\n", dep))
	writeFile(t, filepath.Join(repo, "crate/src/lib.rs"), "")
	if err := actharness.InitRepo(ctx, repo); err != nil {
		t.Fatal(harness.Err(ctx, err))
	}

	run := func(job string) *actharness.Result {
		t.Helper()
		return runAct(t, sh, s, actharness.Run{Dir: repo, Workflow: ".github/workflows/setup.yml", Job: job,
			Env: map[string]string{"CURL_CA_BUNDLE": s.CAFile, fakes.AzureAuthorityEnv: s.Azure.AuthorityHost},
			Mounts: []actharness.Mount{
				{Host: curl, Container: "/usr/local/bin/curl", ReadOnly: true},
				{Host: libDir, Container: libDir, ReadOnly: true},
			}})
	}

	var logs []*actharness.Result
	t.Run("token mode, cargo fetch, crates.io, post", func(t *testing.T) {
		res := run("setup")
		logs = append(logs, res)
		if res.Failed() {
			t.Fatalf("the job failed:\n%s", tail(res))
		}
		want := map[string]string{"OUT_token": "***", "OUT_registry-name": "artifactory", "OUT_index-url": s.JFrogIndex,
			"OUT_config-file": "", "OUT_credentials-file": "", "ENV_TOKEN_SET": "yes", "FETCH": "ok",
			"CIO_TOKEN_SET": "yes", "CREDS": "present", "LEFT": "no", "CREDS_AFTER": "no", "AZ_TOKEN_SET": "yes", "AZ_REGISTRY": "azure"}
		for key, w := range want {
			if got, ok := res.Value(key); !ok || got != w {
				t.Errorf("%s = %q (printed %v), want %q", key, got, ok, w)
			}
		}
		if !strings.Contains(res.Output, "matches") {
			t.Errorf("the log does not show the checksum check:\n%s", tail(res))
		}
		mu.Lock()
		n := downloads["/good/"+setupVersion+"/"+host.Asset()]
		mu.Unlock()
		if n != 1 {
			t.Errorf("%d downloads for three setup steps, want 1", n)
		}
		if len(s.Azure.Registry.TokensUsed()) != 1 || s.Store.Exchanges("azure") != 1 {
			t.Errorf("the Azure feed saw %d tokens after %d Entra exchanges, want the one exported", len(s.Azure.Registry.TokensUsed()), s.Store.Exchanges("azure"))
		}
		if s.Store.Revocations() != 1 {
			t.Errorf("%d revocations, want setup/post to revoke the crates.io token once", s.Store.Revocations())
		}
	})

	t.Run("wrong checksum", func(t *testing.T) {
		ids := s.Issuer.Faults.Requests()
		res := run("tampered")
		logs = append(logs, res)
		if got, _ := res.Value("BAD_OUTCOME"); got != "failure" {
			t.Errorf("outcome %q, want failure:\n%s", got, tail(res))
		}
		if got, _ := res.Value("BAD_TOKEN"); got != "[]" {
			t.Errorf("token output %q, want empty", got)
		}
		if !strings.Contains(res.Output, "::error title=cargo-oidc setup::the SHA-256 of ") &&
			!strings.Contains(res.Output, "the SHA-256 of "+mirror.URL) {
			t.Errorf("no checksum error in the log:\n%s", tail(res))
		}
		if _, ran := res.Value("TAMPERED_RAN"); ran {
			t.Error("the tampered binary ran")
		}
		if n := s.Issuer.Faults.Requests() - ids; n != 0 {
			t.Errorf("%d ID token requests after a wrong checksum", n)
		}
	})

	t.Run("no secret in any log", func(t *testing.T) { noSecretIn(t, s, logs, 4) })
	fmt.Printf("e2e act setup: %d act runs, %s in all\n", len(logs), time.Since(start).Round(100*time.Millisecond))
}

// ciWorkflow is the workflow whose setup job this file runs, read from the
// working tree as it is, so a change to the job is what gets tested.
const ciWorkflow = ".github/workflows/ci.yml"

// TestActCIMatrix runs the setup job of .github/workflows/ci.yml (the
// matrix over ubuntu-latest, macos-latest and windows-latest) under act, for
// ubuntu-latest: the unit tests, the release mirror, the fakes started with
// fakeserver -background, setup in provider mode with crates.io replaced,
// setup for crates.io with a credentials file, cargo fetch, setup/post and
// the job's own check that the token was revoked and the files removed.
//
// The steps that need the internet (actions/checkout, actions/setup-go)
// are skipped by the job under act (if: ${{ !env.ACT }}); this test
// provides their result: the workspace is a copy of the working tree, and
// Go, its module and build caches, the Rust toolchain and curl come from
// this machine, mounted into the job (read-only but for the build cache).
func TestActCIMatrix(t *testing.T) {
	// Not parallel: every act run keeps the two cores busy on its own.
	sh := actRunner(t)
	curl, err := exec.LookPath("curl")
	harness.Require(t, "curl", err)
	goBin, err := exec.LookPath("go")
	harness.Require(t, "go", err)
	// The unit tests of internal/release need git under CI=true; the job
	// image has none, so the host's is mounted, as curl is.
	git, err := exec.LookPath("git")
	harness.Require(t, "git", err)
	gitCore, err := exec.CommandContext(t.Context(), git, "--exec-path").Output()
	harness.Require(t, "git --exec-path", err)
	libDir := "/usr/lib/" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-linux-gnu"
	if _, err := os.Stat(libDir); err != nil {
		t.Skipf("skipping: %s (curl's libraries) not found: %v", libDir, err)
	}
	goEnv := map[string]string{}
	out, err := exec.CommandContext(t.Context(), goBin, "env", "GOROOT", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	for i, v := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		goEnv[[]string{"GOROOT", "GOMODCACHE", "GOCACHE"}[i]] = v
	}

	start := time.Now()
	ctx, cancel := harness.Context(t.Context(), t, "copying the working tree for act", 2*time.Minute)
	defer cancel()
	root := harness.Root(t)
	workflow := filepath.Join(root, ciWorkflow)
	if _, err := os.Stat(workflow); err != nil {
		t.Fatal(err)
	}

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

	stubs := stubRemoteActions(t, workflow, "setup")

	res, err := sh.runner.Run(t.Context(), actharness.Run{
		Dir: repo, Workflow: workflow, Job: "setup",
		Matrix:            map[string]string{"os": "ubuntu-latest"},
		LocalRepositories: stubs,
		Env: map[string]string{
			"PATH":       filepath.Join(goEnv["GOROOT"], "bin") + ":/opt/rust/bin:" + actharness.JobPATH,
			"GOCACHE":    goEnv["GOCACHE"],
			"GOMODCACHE": goEnv["GOMODCACHE"],
			// No network and no git in the job: the module cache has
			// every module, and there is no VCS information to stamp.
			"GOPROXY": "off", "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
		},
		Mounts: []actharness.Mount{
			{Host: goEnv["GOROOT"], Container: goEnv["GOROOT"], ReadOnly: true},
			{Host: goEnv["GOMODCACHE"], Container: goEnv["GOMODCACHE"], ReadOnly: true},
			{Host: goEnv["GOCACHE"], Container: goEnv["GOCACHE"]},
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
			Steps []struct {
				Uses string `yaml:"uses"`
				If   string `yaml:"if"`
			} `yaml:"steps"`
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
		stub := fmt.Sprintf("name: stub\ndescription: stands in for %s under act, where the job skips it\nruns:\n  using: composite\n"+
			"  steps:\n    - run: echo '::error::the stub of %s ran'; exit 1\n      shell: bash\n", st.Uses, st.Uses)
		writeFile(t, filepath.Join(dir, "action.yml"), stub)
		stubs[st.Uses] = dir
	}
	return stubs
}

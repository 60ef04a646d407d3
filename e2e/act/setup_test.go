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
          provider: jfrog
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
          download-url: @MIRROR@
      - uses: ./setup
        id: az
        with:
          provider: azure
          client-id: @AZ_CLIENT@
          tenant-id: @AZ_TENANT@
          index-url: @AZ_INDEX@
          download-url: @MIRROR@
      - name: read the outputs
        run: |
@ECHO_REG@
          echo "ENV_TOKEN_SET=${CARGO_REGISTRIES_ARTIFACTORY_TOKEN:+yes}"
          echo "AZ_TOKEN_SET=${CARGO_REGISTRIES_AZURE_TOKEN:+yes}"
          echo "AZ_REGISTRY=${{ steps.az.outputs.registry-name }}"
      - run: echo /opt/rust/bin >> "$GITHUB_PATH"
      - name: cargo fetch
        working-directory: crate
        env:
          CARGO_HTTP_CAINFO: @CA@
        run: cargo fetch && echo "FETCH=ok"
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
          provider: jfrog
          url: @JFROG_URL@
          provider-name: @PROVIDER@
          repository: @REPO@
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
	// Not parallel: act runs in parallel on one Podman service lost their
	// job containers ("does not exist in database") while the e2e package
	// used Podman too; one at a time they are reliable.
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
	fill := strings.NewReplacer("@JFROG_URL@", s.JFrogURL, "@PROVIDER@", s.JFrog.ProviderName,
		"@REPO@", jfrogRepo(s.JFrogIndex), "@CA@", s.CAFile, "@CRATES_URL@", s.CratesIOURL,
		"@MIRROR@", mirror.URL+"/good/{version}", "@BAD_MIRROR@", mirror.URL+"/bad/{version}",
		"@ECHO_REG@", echoOutputs(setup, "reg", "OUT"),
		"@AZ_CLIENT@", s.Azure.Entra.ClientID, "@AZ_TENANT@", s.Azure.Entra.Tenant, "@AZ_INDEX@", s.Azure.Index)
	writeFile(t, filepath.Join(repo, ".github/workflows/setup.yml"), fill.Replace(setupWorkflow))
	dep := fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	dep += fmt.Sprintf("\naz-dep = { package = %q, version = %q, registry = \"azure\" }", fakes.DefaultCrate, fakes.DefaultCrateVersion)
	writeFile(t, filepath.Join(repo, "crate/Cargo.toml"), fmt.Sprintf("[package]\nname = \"act-setup\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n%s\n", dep))
	writeFile(t, filepath.Join(repo, "crate/src/lib.rs"), "")
	if err := actharness.InitRepo(ctx, repo); err != nil {
		t.Fatal(harness.Err(ctx, err))
	}

	run := func(job string) *actharness.Result {
		t.Helper()
		res, err := sh.runner.Run(t.Context(), actharness.Run{
			Dir: repo, Workflow: ".github/workflows/setup.yml", Job: job,
			Env: map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": s.RequestURL,
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.RequestToken, "SSL_CERT_FILE": s.CAFile,
				"CURL_CA_BUNDLE": s.CAFile, fakes.AzureAuthorityEnv: s.Azure.AuthorityHost},
			Mounts: []actharness.Mount{
				{Host: caDir, Container: caDir, ReadOnly: true},
				{Host: sh.toolchain, Container: "/opt/rust", ReadOnly: true},
				{Host: curl, Container: "/usr/local/bin/curl", ReadOnly: true},
				{Host: libDir, Container: libDir, ReadOnly: true},
			},
			Timeout: harness.Budget(t, 4*time.Minute),
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, tail(res))
		}
		t.Logf("act setup.yml (job %s): exit %d in %s", job, res.ExitCode, res.Duration.Round(10*time.Millisecond))
		return res
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

	t.Run("no secret in any log", func(t *testing.T) {
		secrets := s.Store.Secrets()
		if len(secrets) < 4 {
			t.Fatalf("the fakes issued %d secrets, want at least 4", len(secrets))
		}
		for i, res := range logs {
			for _, sec := range secrets {
				if strings.Contains(res.Output, sec) {
					t.Errorf("act log %d contains a secret the fakes issued (%d chars)", i, len(sec))
				}
			}
		}
	})
	fmt.Printf("e2e act setup: %d act runs, %s in all\n", len(logs), time.Since(start).Round(100*time.Millisecond))
}

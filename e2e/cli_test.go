package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestCLI runs the built binary, one row per command line: the exit status
// and what stdout and stderr hold. A usage error (exit 2) writes no stdout.
func TestCLI(t *testing.T) {
	t.Parallel()
	bin := provBinary(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-ca.pem")
	empty := writeFile(t, filepath.Join(dir, "0001.state"), "", 0o600)
	// credprovider.ParseArgs takes every input as --<input>=.
	help := append([]string{"Usage:", "post", "--cargo-plugin", "--help", "-h", "--version", "--host-workspace=DIR", "--host-temp=DIR",
		"--<input>=value", "--id-token-env=VAR", "--id-token-file=PATH"}, config.Inputs...)
	// Go ignores SSL_CERT_FILE on macOS and Windows, so every mode reads it;
	// the post stage, which never fails the job, only warns.
	certEnv := []string{"SSL_CERT_FILE=" + missing, "INPUT_PROVIDER=crates-io", "RUNNER_TEMP=" + dir}
	const certErr = "cannot use SSL_CERT_FILE::read the CA certificates of SSL_CERT_FILE="
	tests := []struct {
		args           []string
		env            []string
		code           int
		stdout, stderr []string
	}{
		{args: []string{"--help"}, stdout: help},
		{args: []string{"-h"}, stdout: help},
		{args: []string{"-help"}, stdout: help},
		{args: []string{"--version"}, stdout: []string{"cargo-oidc e2e\n"}}, // harness.Binary stamps "e2e"
		{args: []string{"--cargo-plugin"}, stdout: []string{"{\"v\":[1]}\n"}},
		{args: []string{"--bogus"}, code: 2, stderr: []string{"unknown flag --bogus", "--help"}},
		{args: []string{"-x=1"}, code: 2, stderr: []string{"unknown flag -x"}},
		{args: []string{"post", "--nope"}, code: 2, stderr: []string{"unknown flag --nope"}},
		{args: []string{"--provider=jfrog"}, code: 2, stderr: []string{"unknown flag --provider", "credential-provider setting", "INPUT_"}},
		{args: []string{"--host-temp"}, code: 2, stderr: []string{"--host-temp"}},
		{args: []string{"extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}},
		{args: []string{"post", "--composite"}, code: 2, stderr: []string{"--composite is a flag of the main stage"}},
		{args: []string{"--state-file=" + empty}, code: 2, stderr: []string{"--state-file is a flag of the post stage"}},
		{args: []string{"post", "--state-file=" + empty}, stdout: []string{"Nothing to clean up: the main stage did not finish."}},
		{env: certEnv, code: 1, stdout: []string{"::error title=cargo-oidc%3A " + certErr + missing}},
		{args: []string{"post"}, env: certEnv, stdout: []string{"::warning title=cargo-oidc%3A " + certErr + missing}},
		{args: []string{"--cargo-plugin"}, env: certEnv, code: 1, stderr: []string{"cargo-oidc: read the CA certificates of SSL_CERT_FILE=" + missing}},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
		stdout, stderr, code, err := harness.Output(cmd)
		testenv.Must(t, err)
		if code != tt.code || code == 2 && stdout != "" {
			t.Errorf("cargo-oidc %q (env %q): exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, tt.env, code, tt.code, stdout, stderr)
		}
		for _, w := range tt.stdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("cargo-oidc %q: stdout lacks %q:\n%s", tt.args, w, stdout)
			}
		}
		for _, w := range tt.stderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("cargo-oidc %q: stderr lacks %q:\n%s", tt.args, w, stderr)
			}
		}
	}
}

// TestCLIHelpListsOnlyWhatIsAccepted: every --name= of the help is
// accepted, by the binary or by credprovider.ParseArgs.
func TestCLIHelpListsOnlyWhatIsAccepted(t *testing.T) {
	t.Parallel()
	bin := provBinary(t)
	out, err := exec.Command(bin, "--help").Output()
	testenv.Must(t, err)
	flagsPart, providerPart, ok := strings.Cut(string(out), "Credential provider:")
	if !ok {
		t.Fatalf("help has no credential provider section:\n%s", out)
	}
	stageFlags := reGroups(docFlagAssignRE, flagsPart)
	if len(stageFlags) == 0 {
		t.Fatal("help lists no stage flags")
	}
	for _, f := range stageFlags {
		// The post stage with no state does nothing: only the flag is judged.
		cmd := exec.Command(bin, "post", "--"+f+"="+t.TempDir())
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("help lists --%s=, which the binary refuses: %v\n%s", f, err, out)
		}
	}
	for _, a := range append(reGroups(docFlagAssignRE, providerPart), config.Inputs...) { // TestCLI: the help lists every input
		args := []string{"--provider=jfrog", "--url=https://example.jfrog.io", "--provider-name=p", "--repository=r"}
		if _, err := credprovider.ParseArgs(append(args, "--"+a+"=x")); err != nil && strings.Contains(err.Error(), "unknown argument") {
			t.Errorf("help lists --%s=, which the credential provider refuses: %v", a, err)
		}
	}
	if _, err := credprovider.ParseArgs([]string{"--provider=crates-io", "--nonsense=x"}); err == nil || !strings.Contains(err.Error(), "unknown argument") {
		t.Errorf("ParseArgs accepted an unknown argument (err %v): the check above proves nothing", err)
	}
}

// verModule is the module path `go install` is given.
const verModule = "github.com/cargo-oidc/cargo-oidc"

// TestVersionGoInstall: `go install ...@vX.Y.Z` stamps nothing, yet
// --version prints vX.Y.Z; a file-system proxy serves this tree as v0.99.0.
func TestVersionGoInstall(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping in -short mode: compiles the binary once more")
	}
	const ver = "v0.99.0"
	proxy := t.TempDir()
	verWriteModule(t, harness.Root(t), filepath.Join(proxy, verModule, "@v"), ver)
	gobin := t.TempDir()
	ctx, cancel := harness.Context(t.Context(), t, "go install "+verModule+"@"+ver, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", verModule+"@"+ver)
	cmd.Dir = t.TempDir() // outside any module, as a user would run it
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOPROXY=file://"+filepath.ToSlash(proxy),
		"GOSUMDB=off", // the proxy's module is not in sum.golang.org; go.sum still checks the dependencies
		"GOFLAGS=", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s@%s: %v\n%s", verModule, ver, harness.Err(ctx, err), out)
	}
	bin, err := exec.LookPath(filepath.Join(gobin, "cargo-oidc")) // .exe on Windows
	testenv.Must(t, err)
	if got, err := exec.Command(bin, "--version").Output(); err != nil || string(got) != "cargo-oidc "+ver+"\n" {
		t.Errorf("go install ...@%s: --version printed %q (%v), want %q", ver, got, err, "cargo-oidc "+ver+"\n")
	}
}

// TestVersionUnstamped: a build with no -X main.version stamp nor VCS information prints "dev".
func TestVersionUnstamped(t *testing.T) {
	t.Parallel()
	plain := filepath.Join(t.TempDir(), "cargo-oidc")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", plain, ".")
	cmd.Dir = harness.Root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if got, err := exec.Command(plain, "--version").Output(); err != nil || string(got) != "cargo-oidc dev\n" {
		t.Errorf("unstamped build without VCS info: --version printed %q (%v), want %q", got, err, "cargo-oidc dev\n")
	}
}

// verWriteModule writes what a module proxy serves for ver into dir, the
// zip without .git, vendor and nested modules.
func verWriteModule(t *testing.T, root, dir, ver string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && rel != "." {
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil || d.Name() == ".git" || d.Name() == "vendor" {
				return filepath.SkipDir
			}
		}
		if !d.Type().IsRegular() || d.Name() == ".git" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(verModule + "@" + ver + "/" + filepath.ToSlash(rel))
		if err == nil {
			_, err = w.Write(data)
		}
		return err
	})
	if err != nil || zw.Close() != nil {
		t.Fatalf("zip of the module: %v", err)
	}
	writeFiles(t, dir, map[string]string{"list": ver + "\n", ver + ".info": `{"Version":"` + ver + `","Time":"2026-01-02T03:04:05Z"}`,
		ver + ".mod": readFile(t, filepath.Join(root, "go.mod")), ver + ".zip": buf.String()})
}

// provBinary builds the action once (harness.Binary) or fails the test.
func provBinary(t testing.TB) string {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatalf("build the action: %v", err)
	}
	return bin
}

// BenchmarkProviderGetCache compares a cached provider call with an exchange.
//
//	go test ./e2e -run '^$' -bench ProviderGetCache -benchtime 50x
func BenchmarkProviderGetCache(b *testing.B) {
	bin := provBinary(b)
	s := fakes.StartT(b, fakes.Options{})
	args := []string{"--provider=jfrog", "--url=" + s.JFrogURL, "--provider-name=" + s.JFrog.ProviderName,
		"--index-url=" + s.JFrogIndex, "--token-scheme=Bearer", "--retries=3"}
	req, err := json.Marshal(map[string]any{"v": 1, "kind": "get", "operation": "read", "args": args,
		"registry": map[string]string{"index-url": s.JFrogIndex, "name": "artifactory"}})
	if err != nil {
		b.Fatal(err)
	}
	get := func(temp string) {
		cmd := exec.Command(bin, "--cargo-plugin")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + temp}, s.ActionEnv()...)
		cmd.Stdin = bytes.NewReader(append(req, '\n'))
		if out, err := cmd.Output(); err != nil || !bytes.Contains(out, []byte(`"token":"Bearer `)) {
			b.Fatalf("provider: %v, %d bytes", err, len(out))
		}
	}
	for _, mode := range []string{"exchange", "cache"} {
		b.Run(mode, func(b *testing.B) {
			cache := b.TempDir()
			if mode == "cache" {
				get(cache) // fills the cache
			}
			before := s.Store.Exchanges("jfrog")
			for b.Loop() {
				if mode == "exchange" {
					cache = b.TempDir()
				}
				get(cache)
			}
			want := map[string]int{"exchange": b.N, "cache": 0}[mode]
			if got := s.Store.Exchanges("jfrog") - before; got != want {
				b.Fatalf("%d exchanges for %d %s gets, want %d", got, b.N, mode, want)
			}
		})
	}
}

// cliRun is one run of the built binary's terminal commands.
type cliRun struct {
	stdout, stderr string
	code           int
}

// cliEnv is a job's environment outside GitHub Actions: a private HOME and
// CARGO_HOME, the machine's rustup, the stack's CA, and extra on top.
func cliEnv(t *testing.T, s *fakes.Stack, extra map[string]string) map[string]string {
	t.Helper()
	home := t.TempDir()
	env := cargoEnv(s, map[string]string{"PATH": os.Getenv("PATH"), "HOME": home, "CARGO_HOME": filepath.Join(home, ".cargo"),
		"TMPDIR": t.TempDir()}) // TMPDIR: the provider's default token cache, not the machine's /tmp
	if rh := os.Getenv("RUSTUP_HOME"); rh != "" {
		env["RUSTUP_HOME"] = rh
	} else if h, err := os.UserHomeDir(); err == nil {
		env["RUSTUP_HOME"] = filepath.Join(h, ".rustup")
	}
	if v, ok := os.LookupEnv("RUSTUP_TOOLCHAIN"); ok {
		env["RUSTUP_TOOLCHAIN"] = v
	}
	maps.Copy(env, extra)
	return env
}

// cliExec runs prog (the built binary for "") in dir and fails the test
// when its output, but for token's stdout, shows a secret the fakes issued.
func cliExec(t *testing.T, s *fakes.Stack, prog, dir string, env map[string]string, args ...string) cliRun {
	t.Helper()
	if prog == "" {
		prog = provBinary(t)
	}
	cmd := exec.CommandContext(t.Context(), prog, args...)
	cmd.Dir = dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, stderr, code, err := harness.Output(cmd)
	if err != nil {
		t.Fatalf("%s %v: %v", filepath.Base(prog), args, err)
	}
	scanned := stderr
	if args[0] != "token" { // token's stdout is the token
		scanned += stdout
	}
	t.Logf("$ %s %s (exit %d, %d bytes on stdout)\n%s", filepath.Base(prog), strings.Join(args, " "), code, len(stdout), scanned)
	for _, l := range secretLeaks(filepath.Base(prog)+" "+args[0], scanned, s.Secrets()) {
		t.Error("LEAK: " + l)
	}
	return cliRun{stdout, stderr, code}
}

// TestCommandExecGitLabPublishesToCratesIO: in a GitLab job, exec -- cargo
// publish publishes and revokes; an untrusted project is refused, not run.
func TestCommandExecGitLabPublishesToCratesIO(t *testing.T) {
	t.Parallel()
	harness.Tool(t, "cargo", "install Rust (rustup) to run this test")
	s := provStack(t)
	gl, err := s.StartGitLab()
	testenv.Must(t, err)
	s.TrustGitLab(gl, &fakes.GitLabPublisher{Namespace: "GRP", Project: "app", WorkflowFilepath: ".gitlab-ci.yml", Environment: "release"})
	idt, err := gl.MintGitLab("crates.io", nil)
	testenv.Must(t, err)
	env := cliEnv(t, s, map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": idt})
	dir := t.TempDir()
	writeFiles(t, dir, project("gl-published", "0.1.0", ""))
	r := cliExec(t, s, "", dir, env, "exec", "--provider=crates-io", "--url="+s.CratesIOURL, "--", "cargo", "publish", "--allow-dirty", "--no-verify")
	if r.code != 0 || strings.Join(s.Registry.Published(), ",") != "gl-published@0.1.0" {
		t.Fatalf("exec cargo publish: exit %d, published %q", r.code, s.Registry.Published())
	}
	if s.Store.Exchanges("crates-io") != 1 || s.Store.Revocations() != 1 || !strings.Contains(r.stderr, "revoked the crates.io token") {
		t.Errorf("%d exchanges, %d revocations, want 1 and 1", s.Store.Exchanges("crates-io"), s.Store.Revocations())
	}
	for _, name := range []string{"credentials.toml", "config.toml"} {
		if _, err := os.Stat(filepath.Join(env["CARGO_HOME"], name)); err == nil {
			t.Errorf("exec wrote %s", name)
		}
	}

	other, err := gl.MintGitLab("crates.io", map[string]any{"project_path": "grp/other", "ci_config_ref_uri": "gitlab.com/grp/other//ci/release.yml@refs/heads/main"})
	testenv.Must(t, err)
	env["CARGO_OIDC_ID_TOKEN"] = other
	marker := filepath.Join(dir, "ran")
	r = cliExec(t, s, "", dir, env, "exec", "--provider=crates-io", "--url="+s.CratesIOURL, "--", "touch", marker)
	for _, w := range []string{"crates.io refused the token exchange of the ID token from GitLab CI's CARGO_OIDC_ID_TOKEN",
		"No Trusted Publishing config found for repository `grp/other`", "hint: check the crate's GitLab trusted publisher",
		"hint:   project_path: grp/other", "hint:   namespace_id: 72",
		"hint:   ci_config_ref_uri: gitlab.com/grp/other//ci/release.yml@refs/heads/main", "hint:   environment: release"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the refusal does not say %q", w)
		}
	}
	if _, err := os.Stat(marker); r.code != 1 || err == nil {
		t.Errorf("exit %d, want 1, and the command must not run (marker: %v)", r.code, err)
	}
}

// TestCommandTokenExecConfigure: token prints one token alone on stdout;
// exec passes a tool's own --cargo-plugin; configure exchanges nothing, and
// plain cargo then fetches through cargo-oidc as the provider.
func TestCommandTokenExecConfigure(t *testing.T) {
	t.Parallel()
	s := provStack(t)
	idt, err := s.Issuer.Mint("", nil)
	testenv.Must(t, err)
	env := cliEnv(t, s, map[string]string{"REG_ID_TOKEN": idt})
	in := []string{"--audience=" + s.Issuer.DefaultAudience(), "--id-token-env=REG_ID_TOKEN"}
	for k, v := range s.JFrogInputs() {
		in = append(in, "--"+k+"="+v)
	}
	r := cliExec(t, s, "", t.TempDir(), env, append([]string{"token"}, in...)...)
	if tok := strings.TrimSuffix(r.stdout, "\n"); r.code != 0 || strings.Contains(tok, "\n") || !s.Store.Valid(tok) || !strings.Contains(r.stderr, "now in your hands") {
		t.Fatalf("token: exit %d, stdout is not one valid token, or no warning on stderr", r.code)
	}
	sh := harness.Tool(t, "sh", "install a POSIX shell")
	r = cliExec(t, s, "", t.TempDir(), env, append(append([]string{"exec"}, in...), "--", sh, "-c", `echo "ran $0 ${CARGO_REGISTRIES_ARTIFACTORY_TOKEN%% *}"`, "--cargo-plugin")...)
	if r.code != 0 || r.stdout != "ran --cargo-plugin Bearer\n" {
		t.Errorf("exec -- sh ... --cargo-plugin: exit %d, stdout %q, want the tool's output", r.code, r.stdout)
	}

	harness.Tool(t, "cargo", "install Rust (rustup) to run this test")
	writeFiles(t, env["CARGO_HOME"], map[string]string{"config.toml": "# the machine's own\n"})
	dir := t.TempDir()
	writeFiles(t, dir, project("uses-dep", "0.1.0", `prov-a = { version = "1", registry = "artifactory" }`+"\n"))
	before := s.Store.Exchanges("jfrog")
	if r := cliExec(t, s, "", dir, env, append([]string{"configure"}, in...)...); r.code != 0 || s.Store.Exchanges("jfrog") != before {
		t.Fatalf("configure: exit %d, %d exchanges, want 0 and none", r.code, s.Store.Exchanges("jfrog")-before)
	}
	if cfg := readFile(t, filepath.Join(env["CARGO_HOME"], "config.toml")); !strings.HasPrefix(cfg, "# the machine's own\n") || strings.Contains(cfg, idt) {
		t.Errorf("configure dropped the file's comment or wrote the ID token:\n%s", strings.ReplaceAll(cfg, idt, "[ID token]"))
	}
	if r := cliExec(t, s, "cargo", dir, env, "fetch"); r.code != 0 || s.Store.Exchanges("jfrog") == before {
		t.Fatalf("cargo fetch: exit %d, no exchange (want cargo to ask cargo-oidc for a token)", r.code)
	}
}

// TestReleasePathPulledImage runs the action from its image pulled by digest.
func TestReleasePathPulledImage(t *testing.T) {
	t.Parallel()
	img := scnContainer(t)
	ctx, cancel := harness.Context(t.Context(), t, "the release path", 10*time.Minute)
	defer cancel()
	e := img.engine
	// Plain HTTP, so podman talks to it with --tls-verify=false.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	name := strings.TrimPrefix(srv.URL, "http://") + "/cargo-oidc/cargo-oidc"
	digestFile := filepath.Join(t.TempDir(), "digest")
	relPodman(ctx, t, e, "push", "--tls-verify=false", "--digestfile", digestFile, scnImageTag, "docker://"+name+":0.99.2")
	digest := strings.TrimSpace(readFile(t, digestFile))
	ref := name + ":0.99.2@" + digest
	relYAML, err := release.PinImage([]byte(readFile(t, filepath.Join(harness.Root(t), "action.yml"))), ref)
	testenv.Must(t, err)
	relAction, err := runner.LoadAction(writeFile(t, filepath.Join(t.TempDir(), "action.yml"), string(relYAML), 0o644))
	if err != nil || relAction.Runs.Image != "docker://"+ref {
		t.Fatalf("the release action.yml does not load (%v) or does not run docker://%s", err, ref)
	}
	image := name + "@" + digest // Podman refuses NAME:TAG@DIGEST
	// A user's runner has never built the image: nothing here has its name
	// before the pull, and the pull gives it. (Not `image exists` by digest:
	// Podman matches any local image with that digest, and an earlier run's
	// pull on this machine leaves the digest on the identical built image.)
	listed := func() string {
		out, err := e.Command(ctx, "images", "--quiet", "--filter", "reference="+name).Output()
		if err != nil {
			t.Fatalf("podman images: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := listed(); got != "" {
		t.Fatalf("%s is here before the pull (image %s)", name, got)
	}
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), image) })
	pullStart := time.Now()
	relPodman(ctx, t, e, "pull", "--tls-verify=false", "docker://"+image)
	pull := time.Since(pullStart)
	if listed() == "" {
		t.Fatalf("podman lists no %s after the pull", name)
	}
	w := scnNewWorld(t, runner.Container(e, image), fakes.StartT(t, fakes.Options{}), nil)
	w.action = relAction
	scnFetch(w, providerNamed(t, "jfrog"))
	fmt.Printf("release path: image: Dockerfile: podman build (this run's, with the build cache) %s; image: docker://...@sha256: podman pull %s (%.1fx faster)\n",
		img.build.Duration.Round(10*time.Millisecond), pull.Round(10*time.Millisecond), float64(img.build.Duration)/float64(pull))
	if pull >= img.build.Duration {
		t.Errorf("pulling the image (%s) was not faster than building it from the Dockerfile (%s)", pull, img.build.Duration)
	}
}

func relPodman(ctx context.Context, t *testing.T, e *container.Engine, args ...string) {
	t.Helper()
	if out, err := e.Command(ctx, args...).CombinedOutput(); err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), harness.Err(ctx, err), out)
	}
}

// relBinaryModules are the modules the binary may link (aws: CodeArtifact's
// SigV4 signer); test-only ones (go-containerregistry, go-jose, YAML) must never reach it.
var relBinaryModules = []string{"github.com/cargo-oidc/cargo-oidc", "github.com/sethvargo/go-githubactions",
	"github.com/hashicorp/go-retryablehttp", "github.com/hashicorp/go-cleanhttp", "github.com/BurntSushi/toml",
	"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"}

// relTestOnlyPackages are this module's packages only tests may import.
var relTestOnlyPackages = []string{"github.com/cargo-oidc/cargo-oidc/internal/testenv", "github.com/cargo-oidc/cargo-oidc/e2e"}

// TestReleaseBinaryDependencies: every released binary links only allowed
// modules and none of the test-only packages.
func TestReleaseBinaryDependencies(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	in := func(roots []string, path string) bool { // path is one of roots or below one
		return slices.ContainsFunc(roots, func(r string) bool { return path == r || strings.HasPrefix(path, r+"/") })
	}
	for _, tg := range release.Targets {
		t.Run(tg.GOOS+"-"+tg.GOARCH, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "list", "-deps", "-tags", "nethttpomithttp2", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}", ".")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+tg.GOOS, "GOARCH="+tg.GOARCH, "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps: %v", err)
			}
			for line := range strings.Lines(string(out)) {
				pkg, mod, _ := strings.Cut(strings.TrimSpace(line), " ")
				if in(relTestOnlyPackages, pkg) {
					t.Errorf("the %s binary links %s, a package only tests may import", tg, pkg)
				}
				if mod != "" && !in(relBinaryModules, mod) { // "": the standard library
					t.Errorf("the %s binary links module %s, which is not allowed in the binary", tg, mod)
				}
			}
		})
	}
}

// scnImageTag is this process's image tag; the process id keeps processes
// running at once from removing each other's image.
var scnImageTag = fmt.Sprintf("localhost/cargo-oidc-e2e:scenarios-%d", os.Getpid())

// scnMaxImageSize is the image's budget: the binary and the CA bundle (0.22 MB).
const scnMaxImageSize = release.MaxBinarySize + 250_000

// scnBuilt is the image the container tests share, built once per process.
type scnBuilt struct {
	engine *container.Engine
	build  *container.BuildResult
}

var (
	scnImageOnce sync.Once
	scnImage     *scnBuilt
	scnImageErr  error
)

// scnContainer returns the engine and the image built from the repository's
// Dockerfile on first use. Without Podman it skips (fails under CI=true).
func scnContainer(t *testing.T) *scnBuilt {
	t.Helper()
	harness.Require(t, "Podman", container.Available())
	scnImageOnce.Do(func() { scnImage, scnImageErr = scnBuildImage() })
	if scnImageErr != nil {
		t.Fatalf("building the action's image: %v", scnImageErr)
	}
	return scnImage
}

// scnBuildImage makes the base image locally (nothing can be pulled) and
// builds the Dockerfile as the runner does.
func scnBuildImage() (*scnBuilt, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	e, err := container.New("")
	if err != nil {
		return nil, err
	}
	e.Log = os.Stdout
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	base, err := e.EnsureBaseImage(ctx, filepath.Join(root, "Dockerfile"), root)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	b, err := e.Build(ctx, root, scnImageTag)
	if err != nil {
		return nil, err
	}
	fmt.Printf("e2e: image %s: %d bytes (%.2f MB), podman build took %s; base image %s ready in %s (created: %v)\n",
		b.Image, b.Size, float64(b.Size)/1e6, b.Duration.Round(10*time.Millisecond),
		base.Name, base.Duration.Round(10*time.Millisecond), base.Created)
	return &scnBuilt{engine: e, build: b}, nil
}

// scnRemoveImage removes the image the tests built, if any (TestMain).
func scnRemoveImage() {
	if scnImage == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := scnImage.engine.RemoveImage(ctx, scnImageTag); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: removing the test image:", err)
	}
}

// TestContainerImage: the image is within its size budget.
func TestContainerImage(t *testing.T) {
	t.Parallel()
	if b := scnContainer(t).build; b.Size > scnMaxImageSize {
		t.Errorf("image is %d bytes, over the budget of %d", b.Size, scnMaxImageSize)
	}
}

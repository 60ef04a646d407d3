package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// TestCLI runs the built binary as a user, the runner or Cargo does, one
// row per command line: the exit status and what stdout and stderr must
// hold. A usage error (exit 2) writes nothing to stdout.
func TestCLI(t *testing.T) {
	t.Parallel()
	bin := provBinary(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-ca.pem")
	empty := writeFile(t, filepath.Join(dir, "0001.state"), "", 0o600)
	// The help lists everything the binary and its credential provider
	// accept: the stages, every flag, --cargo-plugin, the provider's own
	// arguments and every input (credprovider.ParseArgs takes --<input>=).
	help := append([]string{"Usage:", "post", "--cargo-plugin", "--help", "-h", "--version", "--host-workspace=DIR", "--host-temp=DIR",
		"--<input>=value", "--id-token-env=VAR", "--id-token-file=PATH"}, config.Inputs...)
	// Every way the binary runs builds its HTTP client from SSL_CERT_FILE
	// (exchange.BaseHTTPClient), which makes a private CA work on macOS and
	// Windows, where Go's own verifier ignores the variable: a file that
	// cannot be read stops the main stage and the provider before any
	// request, naming the variable and the path; the post stage, which
	// never fails the job, warns and goes on.
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
		// --composite belongs to the main stage and --state-file to the
		// post stage; post --state-file with the state of an unfinished
		// step succeeds.
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
		if err != nil {
			t.Fatal(err)
		}
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

// TestCLIHelpListsOnlyWhatIsAccepted: every --name= the help shows is
// accepted: the stage flags by the binary, the provider's arguments and
// inputs by credprovider.ParseArgs.
func TestCLIHelpListsOnlyWhatIsAccepted(t *testing.T) {
	t.Parallel()
	bin := provBinary(t)
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	flagsPart, providerPart, ok := strings.Cut(string(out), "Credential provider:")
	if !ok {
		t.Fatalf("help has no credential provider section:\n%s", out)
	}
	names := func(s string) []string {
		var out []string
		for _, m := range docFlagAssignRE.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	stageFlags := names(flagsPart)
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
	providerArgs := names(providerPart)
	for _, in := range config.Inputs {
		if !strings.Contains(providerPart, " "+in) {
			t.Errorf("help does not list input %s", in)
		}
		providerArgs = append(providerArgs, in)
	}
	for _, a := range providerArgs {
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

// TestVersionGoInstall: `go install github.com/cargo-oidc/cargo-oidc@vX.Y.Z`
// stamps nothing with -ldflags, yet `cargo-oidc --version` prints vX.Y.Z.
// The module is served at v0.99.0 (made from this working tree) by a
// file-system module proxy, so the go command installs it exactly as it
// would from proxy.golang.org; the dependencies come from the module cache.
func TestVersionGoInstall(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping in -short mode: compiles the binary once more")
	}
	root := harness.Root(t)
	const ver = "v0.99.0"
	proxy := t.TempDir()
	verWriteModule(t, root, filepath.Join(proxy, verModule, "@v"), ver)

	gobin := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", verModule+"@"+ver)
	cmd.Dir = t.TempDir() // outside any module, as a user would run it
	cmd.Env = append(os.Environ(),
		"GOBIN="+gobin,
		"GOPROXY=file://"+filepath.ToSlash(proxy),
		"GOSUMDB=off", // the proxy's module is not in sum.golang.org; go.sum still checks the dependencies
		"GOFLAGS=",
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go install %s@%s: %v\n%s", verModule, ver, err, out)
	}
	bin := filepath.Join(gobin, "cargo-oidc")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	got, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	if want := "cargo-oidc " + ver + "\n"; string(got) != want {
		t.Errorf("go install ...@%s: --version printed %q, want %q", ver, got, want)
	}
	// The credential provider reports the same version in its hello.
	plugin := exec.Command(bin, "--cargo-plugin")
	plugin.Stdin = strings.NewReader("")
	hello, err := plugin.Output()
	if err != nil {
		t.Fatalf("%s --cargo-plugin: %v", bin, err)
	}
	if !bytes.HasPrefix(hello, []byte(`{"v":[1]}`)) {
		t.Errorf("--cargo-plugin hello is %q", hello)
	}
}

// TestVersionUnstamped: a build without a -X main.version stamp and without
// VCS information prints "dev" (a stamped build prints its stamp: TestCLI).
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

// verWriteModule writes the files a module proxy serves for version ver
// (list, .info, .mod, .zip) into dir, the zip made from the working tree at
// root the way `go mod download` expects it: every file under
// "<module>@<version>/", without .git.
func verWriteModule(t *testing.T, root, dir, ver string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]string{"Version": ver, "Time": "2026-01-02T03:04:05Z"})
	files := map[string][]byte{"list": []byte(ver + "\n"), ver + ".info": info, ver + ".mod": gomod}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := verModule + "@" + ver + "/"
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel != "." && (d.Name() == ".git" || d.Name() == "vendor" || verFileExists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || d.Name() == ".git" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(prefix + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	files[ver+".zip"] = buf.Bytes()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func verFileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// provBinary builds the action once (harness.Binary) or fails the test.
func provBinary(t testing.TB) string {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatalf("build the action: %v", err)
	}
	return bin
}

// BenchmarkProviderGetCache measures one credential-provider call of the
// built binary (start, hello, one get, the token) served from the token
// cache against one that exchanges (an ID token request and a JFrog
// exchange against the local fakes; each call gets an empty cache folder).
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
	req = append(req, '\n')
	get := func(temp string) {
		cmd := exec.Command(bin, "--cargo-plugin")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + temp}, s.ActionEnv()...)
		cmd.Stdin = bytes.NewReader(req)
		out, err := cmd.Output()
		if err != nil || !bytes.Contains(out, []byte(`"token":"Bearer `)) {
			b.Fatalf("provider: %v, %d bytes", err, len(out))
		}
	}
	for _, mode := range []string{"exchange", "cache"} {
		b.Run(mode, func(b *testing.B) {
			temps := make([]string, b.N)
			for i := range temps {
				temps[i] = b.TempDir()
			}
			if mode == "cache" {
				for i := range temps {
					temps[i] = temps[0]
				}
				get(temps[0]) // fills the cache
			}
			before := s.Store.Exchanges("jfrog")
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				get(temps[i])
			}
			b.StopTimer()
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
			want := map[string]int{"exchange": b.N, "cache": 0}[mode]
			if got := s.Store.Exchanges("jfrog") - before; got != want {
				b.Fatalf("%d exchanges for %d %s gets, want %d", got, b.N, mode, want)
			}
		})
	}
}

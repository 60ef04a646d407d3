package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// provTTL is the life of every token the services issue in the provider
// scenarios: shorter than the cargo work of a scenario.
const provTTL = 5 * time.Second

// provChain is the chain of crates the fetch scenarios depend on
// (prov-a -> prov-b -> ... -> e2e-dep), so that one cargo run makes many
// authenticated requests: each index file is fetched after its parent's.
var provChain = []string{"prov-a", "prov-b", "prov-c", "prov-d", "prov-e"}

// provBinary builds the action once (harness.Binary) or fails the test.
func provBinary(t testing.TB) string {
	t.Helper()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatalf("build the action: %v", err)
	}
	return bin
}

// provStack starts the fakes with short-lived tokens and the crate chain.
func provStack(t testing.TB) *fakes.Stack {
	t.Helper()
	s := fakes.StartT(t, fakes.Options{TokenTTL: provTTL})
	next := fakes.DefaultCrate
	for i := len(provChain) - 1; i >= 0; i-- {
		if err := s.Registry.AddCrate(provChain[i], "1.0.0", fakes.Dep{Name: next, Req: "1"}); err != nil {
			t.Fatal(err)
		}
		next = provChain[i]
	}
	return s
}

// provJob is a job with id-token: write against the stack, whose later
// steps trust the stack's CA (the provider through SSL_CERT_FILE, cargo
// through CARGO_HTTP_CAINFO).
func provJob(t testing.TB, s *fakes.Stack, extra map[string]string) *runner.Job {
	t.Helper()
	env := map[string]string{
		"SSL_CERT_FILE":      s.CAFile,
		"CARGO_HTTP_CAINFO":  s.CAFile,
		"CARGO_TERM_COLOR":   "never",
		"CARGO_NET_RETRY":    "0",
		"CARGO_HTTP_TIMEOUT": "20",
	}
	for k, v := range extra {
		env[k] = v
	}
	return runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})
}

// provWrite writes files under dir.
func provWrite(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// provManifest is a library package's Cargo.toml.
func provManifest(name, version, deps string) string {
	return "[package]\nname = \"" + name + "\"\nversion = \"" + version + "\"\nedition = \"2021\"\n" +
		"description = \"cargo-oidc e2e crate\"\nlicense = \"MIT\"\n\n[dependencies]\n" + deps
}

// provSleepUntil waits until deadline or the test's end.
func provSleepUntil(t testing.TB, ctx context.Context, deadline time.Time) {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		t.Fatalf("waiting for the token to expire: %v", ctx.Err())
	}
}

// provStep runs a later step and fails the test on a harness error.
func provStep(t testing.TB, ctx context.Context, j *runner.Job, name string, args ...string) *runner.StepResult {
	t.Helper()
	res, err := j.Run(ctx, name, args...)
	if err != nil {
		t.Fatalf("step %s %v: %v", name, args, err)
	}
	t.Logf("$ %s %s (%s, exit %d)\n%s", name, strings.Join(args, " "), res.Duration.Round(time.Millisecond), res.ExitCode, res.Combined())
	return res
}

// provCheckNoSecrets fails when a secret the fakes issued shows in text.
func provCheckNoSecrets(t testing.TB, s *fakes.Stack, where, text string) {
	t.Helper()
	for _, sec := range s.Store.Secrets() {
		if sec != "" && strings.Contains(text, sec) {
			t.Errorf("%s holds a secret the fakes issued", where)
			return
		}
	}
}

// provCheckProviderStep checks what a provider-mode action step left: no
// token in GITHUB_ENV or the outputs, and the credential provider variable
// naming the installed binary.
func provCheckProviderStep(t testing.TB, s *fakes.Stack, j *runner.Job, res *runner.StepResult, providerVar string) {
	t.Helper()
	if res.Failed() {
		t.Fatalf("action step failed (exit %d):\n%s", res.ExitCode, res.Combined())
	}
	provCheckNoSecrets(t, s, "GITHUB_ENV", res.Files["GITHUB_ENV"])
	for k := range res.Env {
		if strings.HasSuffix(k, "_TOKEN") {
			t.Errorf("GITHUB_ENV sets %s in credential-mode provider", k)
		}
	}
	// Unset or empty: both read as "" in ${{ steps.<id>.outputs.token }}.
	if tok := res.Outputs["token"]; tok != "" {
		t.Errorf("output token holds %d characters, want it empty in credential-mode provider", len(tok))
	}
	want := filepath.Join(j.GitHubHome(), ".cargo-oidc", "bin", "cargo-oidc") + " --provider="
	if got := res.Env[providerVar]; !strings.HasPrefix(got, want) {
		t.Errorf("%s = %q, want it to start with %q", providerVar, got, want)
	}
}

// provActionStep runs the action step in credential-mode mode and checks
// what it left: in provider mode the credential provider variable
// (prefix+"CREDENTIAL_PROVIDER") and no token, in token mode the token
// output and prefix+"TOKEN". It returns the time the step's token was issued.
func provActionStep(t *testing.T, s *fakes.Stack, j *runner.Job, bin string, a *runner.Action, in map[string]string, mode, prefix string) time.Time {
	t.Helper()
	in["credential-mode"] = mode
	res, err := j.RunAction(t.Context(), runner.Host(bin), a, runner.Step{ID: "registry", Inputs: in})
	if err != nil {
		t.Fatalf("action step: %v", err)
	}
	issued := time.Now()
	t.Logf("action step (%s):\n%s", res.Duration.Round(time.Millisecond), res.Combined())
	if mode == "provider" {
		provCheckProviderStep(t, s, j, res, prefix+"CREDENTIAL_PROVIDER")
	} else if res.Failed() || res.Outputs["token"] == "" || res.Env[prefix+"TOKEN"] == "" {
		t.Fatalf("token-mode action step did not export the token output and %sTOKEN (exit %d):\n%s", prefix, res.ExitCode, res.Combined())
	}
	return issued
}

// provAuthRequests counts the registry requests that presented a token the
// store knew as valid at the time (answered 2xx).
func provAuthRequests(s *fakes.Stack) (n int, distinct int) {
	seen := map[string]bool{}
	for _, r := range s.Registry.Requests() {
		if r.Token != "" && r.Status >= 200 && r.Status < 300 {
			n++
			seen[r.Token] = true
		}
	}
	return n, len(seen)
}

// provFetchScenario is the alternative-registry scenario: the action step,
// cargo generate-lockfile and fetch, a wait past the token's life, then a
// fetch with an empty cache that must download everything again, and (in
// provider mode) one cargo run on a slow registry that outlives a token.
func provFetchScenario(t *testing.T, mode string, inputs func(*fakes.Stack) map[string]string, registry, envName string) {
	t.Parallel()
	harness.Tool(t, "cargo", "install Rust (rustup) to run this test")
	bin := provBinary(t)
	a := repoAction(t)
	s := provStack(t)
	j := provJob(t, s, s.AWSEnv()) // the AWS endpoints (only CodeArtifact reads them)
	ctx := t.Context()
	provWrite(t, j.Workspace(), map[string]string{
		"Cargo.toml": provManifest("prov-user", "0.1.0", provChain[0]+` = { version = "1", registry = "`+registry+`" }`+"\n"),
		"src/lib.rs": "pub fn f() {}\n",
	})

	issued := provActionStep(t, s, j, bin, a, inputs(s), mode, "CARGO_REGISTRIES_"+envName+"_")
	stepExchanges := s.Store.Exchanges("")

	if r := provStep(t, ctx, j, "cargo", "generate-lockfile"); r.Failed() {
		t.Fatalf("cargo generate-lockfile with a fresh token failed")
	}
	if r := provStep(t, ctx, j, "cargo", "fetch"); r.Failed() {
		t.Fatalf("cargo fetch with a fresh token failed")
	}

	// Past the first token's life, with nothing cached: everything again.
	provSleepUntil(t, ctx, issued.Add(provTTL+500*time.Millisecond))
	if err := os.RemoveAll(filepath.Join(j.Env()["CARGO_HOME"], "registry")); err != nil {
		t.Fatal(err)
	}
	r := provStep(t, ctx, j, "cargo", "fetch")
	provCheckNoSecrets(t, s, "cargo's output", r.Combined())
	if mode == "token" {
		if !r.Failed() {
			t.Fatalf("cargo fetch with the exported token succeeded after the token's life")
		}
		if !strings.Contains(r.Combined(), "401") {
			t.Errorf("cargo's error does not show the registry's 401:\n%s", r.Combined())
		}
		return
	}
	if r.Failed() {
		t.Fatalf("cargo fetch after the first token's life failed in provider mode")
	}
	if !strings.Contains(r.Combined(), "Downloaded "+provChain[0]) {
		t.Errorf("cargo fetch did not download again:\n%s", r.Combined())
	}

	// One cargo run longer than a token's life: a slow registry (each answer
	// waits 700 ms, less than the provider's safety margin of 1 s) and an
	// index chain of 6 files fetched one after the other.
	before := s.Store.Exchanges("")
	s.Registry.SetDelay(700 * time.Millisecond)
	if err := os.RemoveAll(filepath.Join(j.Env()["CARGO_HOME"], "registry")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(j.Workspace(), "Cargo.lock")); err != nil {
		t.Fatal(err)
	}
	r = provStep(t, ctx, j, "cargo", "fetch")
	s.Registry.SetDelay(0)
	if r.Failed() {
		t.Fatalf("cargo fetch on a slow registry, longer than a token's life, failed in provider mode")
	}
	if r.Duration < provTTL {
		t.Errorf("the slow cargo fetch took %s, not longer than a token's life (%s): the scenario proves nothing", r.Duration, provTTL)
	} else if got := s.Store.Exchanges("") - before; got < 1 {
		// The run may start with the previous run's token from the
		// provider's cache; it needs a fresh one once that one expires.
		t.Errorf("a cargo run of %s made the provider exchange %d times, want a fresh token once the first expired", r.Duration.Round(time.Millisecond), got)
	}

	providerCalls := s.Store.Exchanges("") - stepExchanges
	authReqs, distinct := provAuthRequests(s)
	t.Logf("%s: %d provider exchanges (plus %d by the action step) for %d authenticated registry requests with %d distinct tokens",
		t.Name(), providerCalls, stepExchanges, authReqs, distinct)
	if providerCalls < 2 {
		// The step's token (cached) serves the first two runs; the two
		// later ones each outlive a token.
		t.Errorf("provider exchanged %d times, want at least one per token life the job spans after the step's (2)", providerCalls)
	}
	if providerCalls >= authReqs {
		t.Errorf("provider exchanged %d times for %d authenticated requests: Cargo's cache of the token is not used", providerCalls, authReqs)
	}
	if distinct < 2 {
		t.Errorf("the registry saw %d distinct tokens, want fresh ones after expiry", distinct)
	}
	for _, rq := range s.Registry.Requests() {
		if rq.Token != "" && rq.Status == http.StatusUnauthorized {
			t.Errorf("registry refused a token cargo got from the provider: %s %s", rq.Method, rq.Path)
		}
	}
}

// TestProviderJFrog runs the long-job scenario against JFrog: a provider-mode
// step keeps cargo working past a token's life; a token-mode step does not.
func TestProviderJFrog(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"provider", "token"} {
		t.Run(mode, func(t *testing.T) {
			provFetchScenario(t, mode, (*fakes.Stack).JFrogInputs, "artifactory", "ARTIFACTORY")
		})
	}
}

// TestProviderCloudsmith is TestProviderJFrog against Cloudsmith.
func TestProviderCloudsmith(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"provider", "token"} {
		t.Run(mode, func(t *testing.T) {
			provFetchScenario(t, mode, (*fakes.Stack).CloudsmithInputs, "cloudsmith", "CLOUDSMITH")
		})
	}
}

// TestProviderCratesIOPublish publishes to the fake crates.io with trusted
// publishing: a version, then after the token's life another one. Through
// CARGO_REGISTRY_CREDENTIAL_PROVIDER both succeed; with the exported
// CARGO_REGISTRY_TOKEN the second fails with the registry's 403.
func TestProviderCratesIOPublish(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"provider", "token"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			harness.Tool(t, "cargo", "install Rust (rustup) to run this test")
			bin := provBinary(t)
			a := repoAction(t)
			s := provStack(t)
			j := provJob(t, s, map[string]string{fakes.CratesIOURLEnv: s.CratesIOIndex})
			ctx := t.Context()
			files := func(version string) map[string]string {
				return map[string]string{"Cargo.toml": provManifest("prov-published", version, ""), "src/lib.rs": "pub fn f() {}\n"}
			}
			provWrite(t, j.Workspace(), files("0.1.0"))

			issued := provActionStep(t, s, j, bin, a, s.CratesIOInputs(), mode, "CARGO_REGISTRY_")
			stepExchanges := s.Store.Exchanges("crates-io")

			if r := provStep(t, ctx, j, "cargo", "publish", "--allow-dirty", "--no-verify"); r.Failed() {
				t.Fatalf("cargo publish of 0.1.0 with a fresh token failed")
			}
			provSleepUntil(t, ctx, issued.Add(provTTL+500*time.Millisecond))
			if mode == "provider" {
				cacheAge(t, j) // crates.io's answer says no life: the cache assumes its 30 minutes
			}
			provWrite(t, j.Workspace(), files("0.1.1"))
			r := provStep(t, ctx, j, "cargo", "publish", "--allow-dirty", "--no-verify")
			provCheckNoSecrets(t, s, "cargo's output", r.Combined())
			published := s.Registry.Published()
			if mode == "token" {
				if !r.Failed() {
					t.Fatalf("cargo publish with the exported token succeeded after the token's life")
				}
				if !strings.Contains(r.Combined(), "403") {
					t.Errorf("cargo's error does not show the registry's 403:\n%s", r.Combined())
				}
				if len(published) != 1 {
					t.Errorf("published %v, want only 0.1.0", published)
				}
				return
			}
			if r.Failed() {
				t.Fatalf("cargo publish of 0.1.1 after the first token's life failed in provider mode")
			}
			if strings.Join(published, ",") != "prov-published@0.1.0,prov-published@0.1.1" {
				t.Errorf("published %v, want both versions", published)
			}
			calls := s.Store.Exchanges("crates-io") - stepExchanges
			t.Logf("%s: %d provider exchanges (plus %d by the action step) for 2 publishes", t.Name(), calls, stepExchanges)
			if calls != 1 {
				t.Errorf("provider exchanged %d times for two cargo publish runs, want 1 (the first uses the step's cached token)", calls)
			}
		})
	}
}

// BenchmarkProviderGet measures what the credential provider adds to a
// cargo run that needs the registry: start the built binary with
// --cargo-plugin, read the hello, send one get, read the token (one ID
// token request and one JFrog exchange against the local fakes).
func BenchmarkProviderGet(b *testing.B) {
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
	env := append([]string{"PATH=" + os.Getenv("PATH")}, s.ActionEnv()...)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "--cargo-plugin")
		cmd.Env = append(env, "RUNNER_TEMP="+b.TempDir()) // an empty token cache: every get exchanges
		cmd.Stdin = bytes.NewReader(req)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("provider: %v", err)
		}
		if !bytes.Contains(out, []byte(`"Ok"`)) || !bytes.Contains(out, []byte(`"token":"Bearer `)) {
			b.Fatalf("provider answered no token: %d bytes", len(out))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
	if got, want := s.Store.Exchanges("jfrog"), b.N; got != want {
		b.Fatalf("%d exchanges for %d gets", got, want)
	}
}

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// provTTL is the life of every token the services issue in the provider
// scenarios: shorter than the cargo work of a scenario.
const provTTL = 5 * time.Second

// provChain is the chain of crates the fetch scenarios depend on
// (prov-a -> prov-b -> ... -> e2e-dep), so that one cargo run makes many
// authenticated requests: each index file is fetched after its parent's.
var provChain = []string{"prov-a", "prov-b", "prov-c", "prov-d", "prov-e"}

// TestProvider runs the long job for every provider (Azure too, its feed a
// host of its own, its Entra at AZURE_AUTHORITY_HOST) in both credential
// modes, with tokens that live provTTL: the action step, then cargo
// (generate-lockfile and fetch, or for crates.io a publish), a wait past
// the token's life, and cargo again with nothing cached. Through the
// credential provider (provider mode) the second run works, and (for a
// registry) one cargo run on a slow registry outlives a token; with the
// exported token (token mode) it fails with the registry's refusal. In
// provider mode the step's token seeds the provider's cache, so the cargo
// runs before its expiry exchange nothing.
func TestProvider(t *testing.T) {
	t.Parallel()
	for _, p := range append(slices.Clip(providers), azure) {
		for _, mode := range []string{"provider", "token"} {
			t.Run(p.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				provLongJob(t, p, mode)
			})
		}
	}
}

// provWorld is one long job: its fakes (with the crate chain), its job
// (whose later steps trust the fakes' CA: the provider through
// SSL_CERT_FILE, cargo through CARGO_HTTP_CAINFO) and its cargo steps.
type provWorld struct {
	t   *testing.T
	s   *fakes.Stack
	job *runner.Job
}

// provStack starts the fakes with tokens that live provTTL and the provChain
// crates in the registry and the Azure feed.
func provStack(t testing.TB) *fakes.Stack {
	t.Helper()
	s := fakes.StartT(t, fakes.Options{TokenTTL: provTTL})
	for _, reg := range []*fakes.Registry{s.Registry, s.Azure.Registry.Registry} {
		next := fakes.DefaultCrate
		for i := len(provChain) - 1; i >= 0; i-- {
			if err := reg.AddCrate(provChain[i], "1.0.0", fakes.Dep{Name: next, Req: "1"}); err != nil {
				t.Fatal(err)
			}
			next = provChain[i]
		}
	}
	return s
}

func provNewWorld(t *testing.T) *provWorld {
	t.Helper()
	scnCargo(t)
	s := provStack(t)
	job := runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: cargoEnv(s, nil)})
	t.Cleanup(func() { checkJobNoLeak(t, job, s) })
	return &provWorld{t: t, s: s, job: job}
}

// cargo runs cargo as a later step; it fails the test when must and cargo
// failed.
func (w *provWorld) cargo(must bool, args ...string) *runner.StepResult {
	w.t.Helper()
	res, err := w.job.Run(w.t.Context(), "cargo", args...)
	if err != nil {
		w.t.Fatalf("cargo %v: %v", args, err)
	}
	w.t.Logf("$ cargo %s (%s, exit %d)", strings.Join(args, " "), res.Duration.Round(time.Millisecond), res.ExitCode)
	if must && res.Failed() {
		w.t.Fatalf("cargo %s failed:\n%s", strings.Join(args, " "), res.Combined())
	}
	return res
}

// sleepPast waits until the token issued at issued has expired.
func (w *provWorld) sleepPast(issued time.Time) {
	select {
	case <-time.After(time.Until(issued.Add(provTTL + 500*time.Millisecond))):
	case <-w.t.Context().Done():
		w.t.Fatal("the test ended while waiting for the token to expire")
	}
}

// provLongJob is one row of TestProvider.
func provLongJob(t *testing.T, p provider, mode string) {
	w := provNewWorld(t)
	s, j := w.s, w.job
	publish := p.envName == ""
	if publish {
		writeFiles(t, j.Workspace(), project("prov-published", "0.1.0", ""))
	} else {
		writeFiles(t, j.Workspace(), project("prov-user", "0.1.0", provChain[0]+` = { version = "1", registry = "`+p.registry+`" }`+"\n"))
	}
	in := p.inputs(s)
	in["credential-mode"] = mode
	res, err := j.RunAction(t.Context(), runner.Host(provBinary(t)), repoAction(t), runner.Step{ID: "registry", Inputs: in})
	if err != nil {
		t.Fatalf("action step: %v", err)
	}
	issued := time.Now()
	provCheckStep(t, j, res, p, mode)
	stepExchanges := s.Store.Exchanges("")

	var again *runner.StepResult
	if publish {
		w.cargo(true, "publish", "--allow-dirty", "--no-verify")
		w.sleepPast(issued)
		if mode == "provider" {
			cacheAge(t, j) // crates.io's answer says no life: the cache assumes its 30 minutes
		}
		writeFiles(t, j.Workspace(), project("prov-published", "0.1.1", ""))
		again = w.cargo(mode == "provider", "publish", "--allow-dirty", "--no-verify")
	} else {
		w.cargo(true, "generate-lockfile")
		w.cargo(true, "fetch")
		if n := s.Store.Exchanges("") - stepExchanges; mode == "provider" && n != 0 {
			t.Errorf("cargo generate-lockfile and fetch made the provider exchange %d times, want 0: the step's token seeds its cache", n)
		}
		w.sleepPast(issued)
		if err := os.RemoveAll(filepath.Join(j.Env()["CARGO_HOME"], "registry")); err != nil {
			t.Fatal(err)
		}
		again = w.cargo(mode == "provider", "fetch")
	}
	if mode == "token" {
		want := "401" // the registry refuses an expired token
		if publish {
			want = "403" // crates.io refuses to publish with it
		}
		if !again.Failed() || !strings.Contains(again.Combined(), want) {
			t.Errorf("cargo with the exported token did not fail with the registry's %s after the token's life:\n%s", want, again.Combined())
		}
		if publish && len(s.Registry.Published()) != 1 {
			t.Errorf("published %v, want only 0.1.0", s.Registry.Published())
		}
		return
	}
	if publish {
		calls := s.Store.Exchanges("") - stepExchanges
		if got := strings.Join(s.Registry.Published(), ","); got != "prov-published@0.1.0,prov-published@0.1.1" || calls != 1 {
			t.Errorf("published %q with %d provider exchanges; want both versions, one exchange (the first publish uses the step's cached token)", got, calls)
		}
		return
	}
	if !strings.Contains(again.Combined(), "Downloaded "+provChain[0]) {
		t.Errorf("cargo fetch did not download again:\n%s", again.Combined())
	}
	provSlowRegistry(w, p.registryOf(s), stepExchanges)
	if p.name == "azure" {
		azCheckRequests(t, s)
	}
	if p.name == "jfrog" {
		provConcurrentFetch(w, credprovider.CacheDir(res.Env[p.providerVar()]))
	}
}

// provCheckStep checks what the action step left: in provider mode no
// token in GITHUB_ENV or the outputs, and the credential provider variable
// naming the installed binary; in token mode the token output and variable.
func provCheckStep(t *testing.T, j *runner.Job, res *runner.StepResult, p provider, mode string) {
	t.Helper()
	if res.Failed() {
		t.Fatalf("action step failed (exit %d):\n%s", res.ExitCode, res.Combined())
	}
	if mode == "token" {
		if res.Outputs["token"] == "" || res.Env[p.tokenVar()] == "" {
			t.Fatalf("token-mode action step did not export the token output and %s:\n%s", p.tokenVar(), res.Combined())
		}
		return
	}
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
	if got := res.Env[p.providerVar()]; !strings.HasPrefix(got, want) {
		t.Errorf("%s = %q, want it to start with %q", p.providerVar(), got, want)
	}
}

// provSlowRegistry: one cargo run longer than a token's life, on a slow
// registry (each answer waits 700 ms, less than the provider's safety margin
// of 1 s) and an index chain of 6 files fetched one after the other, gets a
// fresh token from the provider when the first expires; over the whole job
// the provider asks once per cargo run, not per request, and the registry
// refuses no token the provider gave.
func provSlowRegistry(w *provWorld, reg *fakes.Registry, stepExchanges int) {
	t, s, j := w.t, w.s, w.job
	before := s.Store.Exchanges("")
	reg.SetDelay(700 * time.Millisecond)
	if err := os.RemoveAll(filepath.Join(j.Env()["CARGO_HOME"], "registry")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(j.Workspace(), "Cargo.lock")); err != nil {
		t.Fatal(err)
	}
	r := w.cargo(true, "fetch")
	reg.SetDelay(0)
	if r.Duration < provTTL {
		t.Errorf("the slow cargo fetch took %s, not longer than a token's life (%s): the scenario proves nothing", r.Duration, provTTL)
	} else if got := s.Store.Exchanges("") - before; got < 1 {
		// The run may start with the previous run's token from the
		// provider's cache; it needs a fresh one once that one expires.
		t.Errorf("a cargo run of %s made the provider exchange %d times, want a fresh token once the first expired", r.Duration.Round(time.Millisecond), got)
	}
	calls := s.Store.Exchanges("") - stepExchanges
	authReqs, seen := 0, map[string]bool{}
	for _, rq := range reg.Requests() {
		if rq.Token != "" && rq.Status >= 200 && rq.Status < 300 {
			authReqs++
			seen[rq.Token] = true
		}
		if rq.Token != "" && rq.Status == http.StatusUnauthorized {
			t.Errorf("registry refused a token cargo got from the provider: %s %s", rq.Method, rq.Path)
		}
	}
	t.Logf("%d provider exchanges (plus %d by the action step) for %d authenticated registry requests with %d distinct tokens", calls, stepExchanges, authReqs, len(seen))
	if calls < 2 || calls >= authReqs || len(seen) < 2 {
		t.Errorf("%d provider exchanges for %d authenticated requests and %d distinct tokens; want one per token life the job spans after the step's (at least 2: the step's cached token serves the first runs), fewer than the requests (Cargo's cache), and fresh tokens after expiry", calls, authReqs, len(seen))
	}
}

// provConcurrentFetch: with the provider's cache folder (dir, under
// RUNNER_TEMP) emptied, two cargo fetch processes at once (each with a
// CARGO_HOME of its own, so Cargo's own package lock does not serialise
// them) while the exchange is slow (JFrog answers 503, retry after 1 s,
// first) make one exchange: the other provider waits for the lock and
// reads the cache.
func provConcurrentFetch(w *provWorld, dir string) {
	t, s, j := w.t, w.s, w.job
	t.Helper()
	if dir == "" || !strings.HasPrefix(dir, j.Temp()) {
		t.Fatalf("the credential provider setting names no cache folder under RUNNER_TEMP %s: %q", j.Temp(), dir)
	}
	entries, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache folder %s holds %v (%v), want one token", dir, entries, err)
	}
	for _, e := range entries {
		if err := os.Remove(e); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Store.Exchanges("jfrog")
	s.JFrog.Faults.Push(fakes.StatusRetryAfter(503, "1"))
	homes := map[string]string{"H1": t.TempDir(), "H2": t.TempDir()}
	script := `CARGO_HOME="$H1" cargo fetch & p1=$!; CARGO_HOME="$H2" cargo fetch & p2=$!; s=0; wait $p1 || s=1; wait $p2 || s=1; exit $s`
	r, err := j.RunCmd(t.Context(), runner.Cmd{Name: "sh", Args: []string{"-c", script}, Env: homes})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("two cargo fetch at once (%s, exit %d):\n%s", r.Duration.Round(time.Millisecond), r.ExitCode, r.Combined())
	if r.Failed() {
		t.Fatal("one of the concurrent cargo fetch failed")
	}
	for _, h := range homes {
		if m, _ := filepath.Glob(filepath.Join(h, "registry", "cache", "*", fakes.DefaultCrate+"-*.crate")); len(m) != 1 {
			t.Errorf("cargo fetch with CARGO_HOME %s downloaded %v", h, m)
		}
	}
	if s.JFrog.Faults.Served() != 1 {
		t.Errorf("the slow answer was served %d times, want 1", s.JFrog.Faults.Served())
	}
	if got := s.Store.Exchanges("jfrog") - before; got != 1 {
		t.Errorf("%d exchanges for two concurrent cargo fetch, want 1", got)
	}
}

// cacheAge makes every token in the job's provider token caches look
// expired, as after crates.io's 30 minutes: the fakes' tokens die sooner,
// and crates.io's answer does not say when.
func cacheAge(t *testing.T, j *runner.Job) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(j.GitHubHome(), ".cargo-oidc", "cache-*", "*.json"))
	if len(files) == 0 {
		t.Fatal("no token cache file to age")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		var e map[string]any
		if err == nil {
			err = json.Unmarshal(data, &e)
		}
		if err != nil {
			t.Fatal(err)
		}
		e["issued"], e["expires"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
		if data, err = json.Marshal(e); err == nil {
			err = os.WriteFile(f, data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

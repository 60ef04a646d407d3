package e2e

// The jobs with the real cargo: the scenarios on the host and in the
// Dockerfile's image, and TestProvider's long jobs through the credential provider.

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const scnStepID = "cargo-oidc"

// scnOwner is the owner of the workspace folder, as on a runner whose user
// is not root while the action's container runs as root.
const scnOwner = 1000

// TestScenarioHost runs every scenario with the built binary on the host.
func TestScenarioHost(t *testing.T) {
	t.Parallel()
	scnRunAll(t, runner.Host(provBinary(t)))
}

// TestScenarioContainer runs every scenario in the Dockerfile's image with the runner's `docker run` flags.
func TestScenarioContainer(t *testing.T) {
	t.Parallel()
	img := scnContainer(t)
	scnRunAll(t, runner.Container(img.engine, scnImageTag))
}

// scnRunAll runs the scenarios in parallel, each a job with its own fakes.
func scnRunAll(t *testing.T, rt runner.Runtime) {
	scenarios := map[string]func(w *scnWorld){
		"publish-then-revoke/crates-io":               scnPublishRevoke,
		"wrong-claim/jfrog":                           scnWrongClaim,
		"files/existing-config-credentials-subfolder": func(w *scnWorld) { scnFiles(w, true) },
		"files/new-config-credentials-runner-temp":    func(w *scnWorld) { scnFiles(w, false) },
	}
	for _, p := range append(slices.Clip(providers), azure) {
		if p.envName != "" {
			scenarios["fetch/"+p.name] = func(w *scnWorld) { scnFetch(w, p) }
		}
	}
	for name, run := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(scnNewWorld(t, rt, fakes.StartT(t, fakes.Options{}), nil))
		})
	}
}

// scnCargo returns the cargo binary, or skips (fails under CI=true).
func scnCargo(t *testing.T) string {
	t.Helper()
	return harness.Tool(t, "cargo", "install Rust (rustup) to run the scenarios")
}

// scnWorld is one job: fakes, an emulated job, the action's runtime, and cargo.
type scnWorld struct {
	t      *testing.T
	ctx    context.Context
	rt     runner.Runtime
	cargo  string
	action *runner.Action
	s      *fakes.Stack
	job    *runner.Job
	// caFile is the test CA under RUNNER_TEMP, so that SSL_CERT_FILE's path
	// exists in the container too (rewritten to /github/runner_temp/...).
	caFile string
}

// scnNewWorld starts a job against s with the job-wide env, bounded in
// time; at the end every step's output is scanned for s's secrets.
func scnNewWorld(t *testing.T, rt runner.Runtime, s *fakes.Stack, env map[string]string) *scnWorld {
	t.Helper()
	cargo := scnCargo(t)
	ctx, cancel := harness.Context(t.Context(), t, "the job of "+t.Name(), 4*time.Minute)
	t.Cleanup(cancel)
	job := runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})
	t.Cleanup(func() { checkJobNoLeak(t, job, s) })
	caFile := writeFile(t, filepath.Join(job.Temp(), "e2e-ca.pem"), readFile(t, s.CAFile), 0o644)
	return &scnWorld{t: t, ctx: ctx, rt: rt, cargo: cargo, action: repoAction(t), s: s, job: job, caFile: caFile}
}

// runAction runs the main stage for p with extra inputs; the test CA and
// the AWS and Entra endpoints are the step's env only, not later steps'.
func (w *scnWorld) runAction(p provider, extra map[string]string) *runner.StepResult {
	w.t.Helper()
	in := p.inputs(w.s)
	maps.Copy(in, extra)
	env := map[string]string{"SSL_CERT_FILE": w.caFile}
	maps.Copy(env, w.s.AWSEnv())
	maps.Copy(env, w.s.AzureEnv())
	res, err := w.job.RunAction(w.ctx, w.rt, w.action, runner.Step{ID: scnStepID, Inputs: in, Env: env})
	if err != nil {
		w.t.Fatalf("running the action (%s): %v", w.rt, harness.Err(w.ctx, err))
	}
	if len(res.Warnings) > 0 {
		w.t.Errorf("the runner would warn: %q", res.Warnings)
	}
	return res
}

// mustSucceed runs the main stage, which must succeed and mask its token.
func (w *scnWorld) mustSucceed(p provider, extra map[string]string) *runner.StepResult {
	w.t.Helper()
	res := w.runAction(p, extra)
	if res.Failed() {
		w.t.Fatalf("the cargo-oidc step failed (%s, exit %d):\n%s", w.rt, res.ExitCode, res.Combined())
	}
	if tok := res.Outputs["token"]; !w.s.Store.Valid(tok) || !slices.Contains(res.Masks, tok) {
		w.t.Fatalf("the token output is not a masked token %s issued (outputs %v)", p.name, slices.Sorted(maps.Keys(res.Outputs)))
	}
	return res
}

// runPost runs the post stage and fails the test unless it succeeded
// without a warning (post failures are warnings, never a failed job).
func (w *scnWorld) runPost() *runner.StepResult {
	w.t.Helper()
	res, err := w.job.RunPost(w.ctx, scnStepID)
	if err != nil || res == nil {
		w.t.Fatalf("running the post stage (%s): %v (no post stage if nil)", w.rt, harness.Err(w.ctx, err))
	}
	if res.Failed() {
		w.t.Fatalf("the post stage failed (exit %d):\n%s", res.ExitCode, res.Combined())
	}
	for _, c := range res.Commands {
		if c.Name == "warning" || c.Name == "error" {
			w.t.Errorf("the post stage reported ::%s %v::%s", c.Name, c.Properties, c.Data)
		}
	}
	return res
}

// cargoStep runs the real cargo as a later step: the job's env (with the
// action's GITHUB_ENV) plus only CARGO_HTTP_CAINFO and extra.
func (w *scnWorld) cargoStep(extra map[string]string, args ...string) *runner.StepResult {
	w.t.Helper()
	env := map[string]string{"CARGO_HTTP_CAINFO": w.s.CAFile}
	maps.Copy(env, extra)
	res, err := w.job.RunCmd(w.ctx, runner.Cmd{Name: w.cargo, Args: args, Env: env})
	if err != nil {
		w.t.Fatalf("running cargo %s: %v", strings.Join(args, " "), harness.Err(w.ctx, err))
	}
	return res
}

// mustCargo runs cargoStep, which must succeed and say want.
func (w *scnWorld) mustCargo(want string, extra map[string]string, args ...string) *runner.StepResult {
	w.t.Helper()
	out := w.cargoStep(extra, args...)
	if out.Failed() || !strings.Contains(out.Stderr, want) {
		w.t.Fatalf("cargo %s failed or did not say %q (exit %d):\n%s", strings.Join(args, " "), want, out.ExitCode, out.Combined())
	}
	return out
}

// checkRegistrySaw fails unless reg saw exactly the action's token.
func (w *scnWorld) checkRegistrySaw(reg *fakes.Registry, tok string) {
	w.t.Helper()
	if used := reg.TokensUsed(); len(used) != 1 || used[0] != tok {
		w.t.Errorf("the registry saw %d distinct tokens, want exactly the action's one", len(used))
	}
}

// scnFetch: the step exports exactly p's index, token and cargo:token; a later
// `cargo fetch` from the registry succeeds; the post stage revokes nothing.
func scnFetch(w *scnWorld, p provider) {
	t := w.t
	res := w.mustSucceed(p, nil)
	tok := res.Outputs["token"]
	n := strings.TrimSuffix(p.tokenVar(), "TOKEN")
	want := map[string]string{n + "INDEX": p.index(w.s), n + "TOKEN": p.auth(tok), n + "CREDENTIAL_PROVIDER": "cargo:token"}
	if !maps.Equal(res.Env, want) {
		t.Errorf("GITHUB_ENV sets %v, want %v", slices.Sorted(maps.Keys(res.Env)), slices.Sorted(maps.Keys(want)))
	}
	scnWantOutputs(t, res, map[string]string{"registry-name": p.registry, "index-url": p.index(w.s), "config-file": "", "credentials-file": ""})
	if exp, err := time.Parse(time.RFC3339, res.Outputs["expires-at"]); err != nil || !exp.After(time.Now()) {
		t.Errorf("expires-at %q is not a future RFC 3339 time (%v)", res.Outputs["expires-at"], err)
	}
	writeFiles(t, w.job.Workspace(), project("scn-fetcher", "0.1.0", dependsOn(p.registry)))
	w.mustCargo("Downloaded "+fakes.DefaultCrate+" v"+fakes.DefaultCrateVersion+" (registry `"+p.registry+"`)", nil, "fetch")
	w.checkRegistrySaw(p.registryOf(w.s), tok)
	w.runPost()
	if w.s.Store.Revocations() != 0 {
		t.Errorf("the post stage revoked a %s token", p.name)
	}
	if p.name == "azure" {
		azCheckRequests(t, w.s) // Entra reached through AZURE_AUTHORITY_HOST in the step's env, in the container too
	}
}

// scnPublishRevoke: `cargo publish` works with the action's CARGO_REGISTRY_TOKEN
// alone; after the post stage's revocation a later publish fails with a 403.
func scnPublishRevoke(w *scnWorld) {
	t := w.t
	res := w.mustSucceed(providerNamed(t, "crates-io"), nil)
	tok := res.Outputs["token"]
	if !strings.HasPrefix(tok, "cio_tp_") || !maps.Equal(res.Env, map[string]string{"CARGO_REGISTRY_TOKEN": tok}) || res.State["token"] != tok {
		t.Fatalf("the step did not export exactly CARGO_REGISTRY_TOKEN, a crates.io trusted-publishing token, and save it for the post stage (GITHUB_ENV %v)", slices.Sorted(maps.Keys(res.Env)))
	}
	scnWantOutputs(t, res, map[string]string{"registry-name": "crates-io", "index-url": ""})
	override := map[string]string{fakes.CratesIOURLEnv: w.s.CratesIOIndex}
	writeFiles(t, w.job.Workspace(), project("scn-published", "0.1.0", ""))
	w.mustCargo("Uploading scn-published v0.1.0", override, "publish", "--allow-dirty", "--no-verify")
	puts := slices.DeleteFunc(w.s.Registry.Requests(), func(r fakes.RegistryRequest) bool { return r.Method != http.MethodPut })
	if got := w.s.Registry.Published(); len(puts) != 1 || puts[0].Token != tok || puts[0].Status != http.StatusOK || !slices.Equal(got, []string{"scn-published@0.1.0"}) {
		t.Errorf("%d publish requests (want one, with the action's token, answered 200), published %v", len(puts), got)
	}
	post := w.runPost()
	if it, ok := w.s.Store.Lookup(tok); !ok || !it.Revoked || w.s.Store.Revocations() != 1 || !strings.Contains(post.Stdout, "Revoked the crates.io token.") {
		t.Fatalf("the post stage did not revoke the token once and say so:\n%s", post.Combined())
	}
	writeFiles(t, w.job.Workspace(), project("scn-published", "0.1.1", ""))
	again := w.cargoStep(override, "publish", "--allow-dirty", "--no-verify")
	if !again.Failed() || !strings.Contains(again.Stderr, "403") || len(w.s.Registry.Published()) != 1 {
		t.Errorf("cargo publish with the revoked token did not fail with the registry's 403:\n%s", again.Combined())
	}
}

// scnWrongClaim: JFrog refuses the ID token's repository; the step fails with one ::error, exports nothing; post revokes nothing.
func scnWrongClaim(w *scnWorld) {
	t, p := w.t, providerNamed(w.t, "jfrog")
	w.s.Issuer.Override(map[string]any{"repository": evilRepo})
	res := w.runAction(p, nil)
	errs := slices.DeleteFunc(slices.Clone(res.Commands), func(c runner.Command) bool { return c.Name != "error" })
	if !res.Failed() || len(errs) != 1 || !strings.Contains(errs[0].Data, p.wrongClaim) || !strings.Contains(errs[0].Data, "repository: "+evilRepo) {
		t.Fatalf("the step did not fail with one ::error annotation naming the refusal and the claim (exit %d):\n%s", res.ExitCode, res.Combined())
	}
	if len(res.EnvEntries) != 0 || res.Outputs["token"] != "" || w.s.Store.Exchanges("") != 0 {
		t.Errorf("the failed step exported %d variables, a token output %v, after %d exchanges", len(res.EnvEntries), res.Outputs["token"] != "", w.s.Store.Exchanges(""))
	}
	w.runPost()
	if w.s.Store.Revocations() != 0 {
		t.Errorf("the post stage revoked something")
	}
}

// scnUserConfig is a user's own .cargo/config.toml, which the merge must keep.
const scnUserConfig = "# Team settings: keep this comment, and the blank line below.\n\n[net]\nretry = 2 # an inline comment\n\n[term]\nverbose = false\n"

// scnFiles: replace-crates-io and credentials-file for JFrog. The merged config keeps a
// user's file, holds no token; the credentials file is 0600 (in its own folder beside a
// user's config); both are the workspace owner's; `cargo fetch` of a crates.io dependency
// works; the post stage removes only the credentials.
func scnFiles(w *scnWorld, existing bool) {
	t := w.t
	cfgPath := filepath.Join(w.job.Workspace(), ".cargo", "config.toml")
	credPath := filepath.Join(w.job.Temp(), "credentials.toml") // ${{ runner.temp }}
	owned, chown := []string{cfgPath, filepath.Dir(cfgPath), credPath}, []string{w.job.Workspace()}
	if existing {
		writeFile(t, cfgPath, scnUserConfig, 0o644)
		chown = append(chown, filepath.Dir(cfgPath), cfgPath)
		credPath = filepath.Join(w.job.Temp(), "cargo-oidc", "credentials.toml")
		owned = []string{cfgPath, credPath, filepath.Dir(credPath)}
	}
	for _, p := range chown {
		testenv.Must(t, os.Chown(p, scnOwner, scnOwner))
	}
	writeFiles(t, w.job.Workspace(), project("scn-replaced", "0.1.0", dependsOn("")))
	res := w.mustSucceed(providerNamed(t, "jfrog"), map[string]string{"replace-crates-io": "true", "credentials-file": credPath})
	tok := res.Outputs["token"]
	scnWantOutputs(t, res, map[string]string{"config-file": cfgPath, "credentials-file": credPath})
	got := readFile(t, cfgPath)
	if existing && !strings.HasPrefix(got, scnUserConfig) {
		t.Errorf("the user's config was not kept as it was; merged file:\n%s", got)
	}
	for _, want := range []string{`[source.crates-io]`, `replace-with = "artifactory"`, `[registries.artifactory]`, `index = "` + w.s.JFrogIndex + `"`} {
		if !strings.Contains(got, want) || strings.Contains(got, tok) {
			t.Errorf("merged config lacks %s or holds the token:\n%s", want, got)
		}
	}
	if fi, err := os.Lstat(credPath); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file is not a regular file with 0600: %v", err)
	}
	if data := readFile(t, credPath); !strings.Contains(data, "[registries.artifactory]") || !strings.Contains(data, `token = "Bearer `+tok+`"`) {
		t.Errorf("credentials file does not hold the registry's token (%d bytes)", len(data))
	}
	for _, p := range owned {
		if uid, gid := ownerOf(t, p); uid != scnOwner || gid != scnOwner {
			t.Errorf("%s is owned by %d:%d, want the workspace's owner %d:%d (later steps run as that user)", p, uid, gid, scnOwner, scnOwner)
		}
	}
	w.mustCargo("Downloaded "+fakes.DefaultCrate+" v"+fakes.DefaultCrateVersion+" (registry `artifactory`)", nil, "fetch")
	w.checkRegistrySaw(w.s.Registry, tok)
	post := w.runPost()
	if readFile(t, cfgPath) != got {
		t.Errorf("the post stage changed the config file")
	}
	if _, err := os.Lstat(credPath); !os.IsNotExist(err) {
		t.Errorf("the post stage left the credentials file (%v):\n%s", err, post.Combined())
	}
	if _, err := os.Stat(w.job.Temp()); err != nil {
		t.Errorf("runner.temp itself is gone: %v", err)
	}
}

// scnWantOutputs checks the given step outputs (not the token).
func scnWantOutputs(t *testing.T, res *runner.StepResult, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := res.Outputs[k]; got != v {
			t.Errorf("output %s = %q, want %q", k, got, v)
		}
	}
}

// provTTL is the life of TestProvider's tokens: shorter than a job's cargo
// work, and its fifth (the provider renews 2 s before expiry) covers a
// request's way to the registry on a loaded machine (1 s did not, at load 15-24).
const provTTL = 10 * time.Second

// provChain is the chain of crates TestProvider's fetches depend on
// (prov-a -> ... -> e2e-dep): each index file is fetched after its parent's.
var provChain = []string{"prov-a", "prov-b", "prov-c", "prov-d", "prov-e", "prov-f", "prov-g", "prov-h"}

// TestProvider runs a long job per provider with tokens that live provTTL: cargo
// through the credential provider before and after the token's life. The control,
// jfrog/token: the same job with the exported token fails with the registry's refusal.
func TestProvider(t *testing.T) {
	t.Parallel()
	for _, p := range append(slices.Clip(providers), azure) {
		t.Run(p.name+"/provider", func(t *testing.T) {
			t.Parallel()
			provLongJob(t, p, "provider")
		})
	}
	t.Run("jfrog/token", func(t *testing.T) {
		t.Parallel()
		provLongJob(t, providerNamed(t, "jfrog"), "token")
	})
}

// provStack starts the fakes with provTTL tokens and provChain in the registry and Azure feed.
func provStack(t testing.TB) *fakes.Stack {
	t.Helper()
	s := fakes.StartT(t, fakes.Options{TokenTTL: provTTL})
	for _, reg := range []*fakes.Registry{s.Registry, s.Azure.Registry.Registry} {
		next := fakes.DefaultCrate
		for i := len(provChain) - 1; i >= 0; i-- {
			testenv.Must(t, reg.AddCrate(provChain[i], "1.0.0", fakes.Dep{Name: next, Req: "1"}))
			next = provChain[i]
		}
	}
	return s
}

func provLongJob(t *testing.T, p provider, mode string) {
	s := provStack(t)
	w := scnNewWorld(t, runner.Host(provBinary(t)), s, cargoEnv(s, nil))
	sleepPast := func(issued time.Time) {
		select {
		case <-time.After(time.Until(issued.Add(provTTL + 500*time.Millisecond))):
		case <-w.ctx.Done():
			t.Fatal(harness.Err(w.ctx, nil))
		}
	}
	publish := p.envName == ""
	if publish {
		writeFiles(t, w.job.Workspace(), project("prov-published", "0.1.0", ""))
	} else {
		writeFiles(t, w.job.Workspace(), project("prov-user", "0.1.0", provChain[0]+` = { version = "1", registry = "`+p.registry+`" }`+"\n"))
	}
	res := w.runAction(p, map[string]string{"credential-mode": mode})
	issued := time.Now()
	provCheckStep(w, res, p, mode)
	stepExchanges := s.Store.Exchanges("")

	if publish {
		w.mustCargo("Uploading", nil, "publish", "--allow-dirty", "--no-verify")
		sleepPast(issued)
		cacheAge(t, w.job) // crates.io's answer says no life: the cache assumes its 30 minutes
		writeFiles(t, w.job.Workspace(), project("prov-published", "0.1.1", ""))
		w.mustCargo("Uploading", nil, "publish", "--allow-dirty", "--no-verify")
		calls := s.Store.Exchanges("") - stepExchanges
		if got := strings.Join(s.Registry.Published(), ","); got != "prov-published@0.1.0,prov-published@0.1.1" || calls != 1 {
			t.Errorf("published %q with %d provider exchanges; want both versions, one exchange (the first publish uses the step's cached token)", got, calls)
		}
		return
	}
	w.mustCargo("", nil, "generate-lockfile")
	w.mustCargo("", nil, "fetch")
	if n := s.Store.Exchanges("") - stepExchanges; mode == "provider" && n != 0 {
		t.Errorf("cargo generate-lockfile and fetch made the provider exchange %d times, want 0: the step's token seeds its cache", n)
	}
	sleepPast(issued)
	testenv.RemoveAll(t, filepath.Join(w.job.Env()["CARGO_HOME"], "registry"))
	again := w.cargoStep(nil, "fetch")
	switch {
	case mode == "token" && (!again.Failed() || !strings.Contains(again.Combined(), "401")):
		t.Errorf("cargo with the exported token did not fail with the registry's 401 after the token's life:\n%s", again.Combined())
	case mode == "provider" && (again.Failed() || !strings.Contains(again.Combined(), "Downloaded "+provChain[0])):
		t.Errorf("cargo fetch through the provider did not download again after the token's life:\n%s", again.Combined())
	}
	if p.name == "azure" {
		azCheckRequests(t, s)
	}
	if p.name == "jfrog" && mode == "provider" {
		provSlowRegistry(w, p.registryOf(s), stepExchanges)
	}
}

// provCheckStep checks provider mode: no token exported, the provider variable set.
func provCheckStep(w *scnWorld, res *runner.StepResult, p provider, mode string) {
	t := w.t
	t.Helper()
	if res.Failed() {
		t.Fatalf("action step failed (exit %d):\n%s", res.ExitCode, res.Combined())
	}
	if mode == "token" {
		return // the job's cargo proves the exported token
	}
	for k := range res.Env {
		if strings.HasSuffix(k, "_TOKEN") {
			t.Errorf("GITHUB_ENV sets %s in credential-mode provider", k)
		}
	}
	if tok := res.Outputs["token"]; tok != "" {
		t.Errorf("output token holds %d characters, want it empty in credential-mode provider", len(tok))
	}
	want := filepath.Join(w.job.GitHubHome(), ".cargo-oidc", "bin", "cargo-oidc") + " --provider="
	if got := res.Env[p.providerVar()]; !strings.HasPrefix(got, want) {
		t.Errorf("%s = %q, want it to start with %q", p.providerVar(), got, want)
	}
}

// provSlowRegistry: a cargo run longer than a token's life (9 index files, each 1.25 s late;
// the token is checked on arrival) gets a fresh token per token life, and none is refused.
func provSlowRegistry(w *scnWorld, reg *fakes.Registry, stepExchanges int) {
	t, s, j := w.t, w.s, w.job
	before := s.Store.Exchanges("")
	reg.SetDelay(1250 * time.Millisecond)
	testenv.RemoveAll(t, filepath.Join(j.Env()["CARGO_HOME"], "registry"))
	testenv.RemoveAll(t, filepath.Join(j.Workspace(), "Cargo.lock"))
	r := w.mustCargo("", nil, "fetch")
	reg.SetDelay(0)
	if r.Duration < provTTL {
		t.Errorf("the slow cargo fetch took %s, not longer than a token's life (%s): the scenario proves nothing", r.Duration, provTTL)
	} else if got := s.Store.Exchanges("") - before; got < 1 {
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
	if calls < 2 || calls >= authReqs || len(seen) < 2 {
		t.Errorf("%d provider exchanges for %d authenticated requests and %d distinct tokens; want one per token life the job spans after the step's (at least 2: the step's cached token serves the first runs), fewer than the requests (Cargo's cache), and fresh tokens after expiry", calls, authReqs, len(seen))
	}
}

// cacheAge makes every token in the job's provider caches look expired,
// as after crates.io's 30 minutes (its answer does not say when).
func cacheAge(t *testing.T, j *runner.Job) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(j.GitHubHome(), ".cargo-oidc", "cache-*", "*.json"))
	if len(files) == 0 {
		t.Fatal("no token cache file to age")
	}
	for _, f := range files {
		var e map[string]any
		testenv.Must(t, json.Unmarshal([]byte(readFile(t, f)), &e))
		e["issued"], e["expires"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
		data, _ := json.Marshal(e)
		writeFile(t, f, string(data), 0o600)
	}
}

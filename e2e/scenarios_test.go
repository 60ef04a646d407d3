package e2e

import (
	"context"
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
)

// scnStepID is the id of the cargo-oidc step in every scenario's job.
const scnStepID = "cargo-oidc"

// scnOwner is the owner of the workspace folder, as on a runner whose user
// is not root while the action's container runs as root.
const scnOwner = 1000

// TestScenarioHost runs every scenario with the built binary run as the
// runner would run it outside a container.
func TestScenarioHost(t *testing.T) {
	t.Parallel()
	bin := provBinary(t)
	scnRunAll(t, runner.Host(bin))
}

// TestScenarioContainer runs every scenario with the image built from the
// repository's Dockerfile, run with the runner's `docker run` flags.
func TestScenarioContainer(t *testing.T) {
	t.Parallel()
	img := scnContainer(t)
	scnRunAll(t, runner.Container(img.engine, scnImageTag))
}

// scnScenario is one scenario: a job with its own fake services.
type scnScenario struct {
	name string
	run  func(w *scnWorld)
}

// scnRunAll runs the scenarios in parallel: for every provider with a
// registry index a fetch, crates.io's publish, for every provider a wrong
// claim, and the files the action writes.
func scnRunAll(t *testing.T, rt runner.Runtime) {
	cargo := scnCargo(t)
	action := repoAction(t)
	var scenarios []scnScenario
	for _, p := range append(slices.Clip(providers), azure) {
		if p.envName != "" {
			scenarios = append(scenarios, scnScenario{"fetch/" + p.name, func(w *scnWorld) { scnFetch(w, p) }})
		}
		if p.wrongClaim != "" {
			scenarios = append(scenarios, scnScenario{"wrong-claim/" + p.name, func(w *scnWorld) { scnWrongClaim(w, p) }})
		}
	}
	scenarios = append(scenarios,
		scnScenario{"publish-then-revoke/crates-io", scnPublishRevoke},
		scnScenario{"replace-crates-io/existing-config", func(w *scnWorld) { scnReplaceCratesIO(w, true) }},
		scnScenario{"replace-crates-io/new-config", func(w *scnWorld) { scnReplaceCratesIO(w, false) }},
		scnScenario{"credentials-file/runner-temp", func(w *scnWorld) { scnCredentialsFile(w, false) }},
		scnScenario{"credentials-file/runner-temp-subfolder", func(w *scnWorld) { scnCredentialsFile(w, true) }},
	)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			w := scnNewWorld(t, rt, cargo, action)
			sc.run(w)
			checkJobNoLeak(t, w.job, w.s)
			t.Logf("%s %s: %s", rt, sc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// scnCargo returns the cargo binary, or skips (fails under CI=true).
func scnCargo(t *testing.T) string {
	t.Helper()
	return harness.Tool(t, "cargo", "install Rust (rustup) to run the scenarios")
}

// scnWorld is one scenario's job: fake services, an emulated runner job and
// the way the action runs.
type scnWorld struct {
	t      *testing.T
	ctx    context.Context
	rt     runner.Runtime
	cargo  string
	action *runner.Action
	s      *fakes.Stack
	job    *runner.Job
	// caFile is a copy of the test CA under RUNNER_TEMP, so the path the
	// action gets in SSL_CERT_FILE exists in the container too (the runner
	// rewrites it to /github/runner_temp/...).
	caFile string
	// failed is set when an action step failed: later run steps are
	// skipped, as with the runner's default `if: success()`.
	failed bool
}

func scnNewWorld(t *testing.T, rt runner.Runtime, cargo string, action *runner.Action) *scnWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	t.Cleanup(cancel)
	s := fakes.StartT(t, fakes.Options{})
	job := runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken})
	caFile := writeFile(t, filepath.Join(job.Temp(), "e2e-ca.pem"), readFile(t, s.CAFile), 0o644)
	return &scnWorld{t: t, ctx: ctx, rt: rt, cargo: cargo, action: action, s: s, job: job, caFile: caFile}
}

// runAction runs the main stage of the cargo-oidc step for p, with extra
// inputs. The test CA reaches the action through the step's SSL_CERT_FILE
// only, never later steps; the AWS endpoints through the step's env, as a
// workflow would set them.
func (w *scnWorld) runAction(p provider, extra map[string]string) *runner.StepResult {
	w.t.Helper()
	in := p.inputs(w.s)
	maps.Copy(in, extra)
	env := map[string]string{"SSL_CERT_FILE": w.caFile}
	maps.Copy(env, w.s.AWSEnv())
	maps.Copy(env, w.s.AzureEnv())
	res, err := w.job.RunAction(w.ctx, w.rt, w.action, runner.Step{ID: scnStepID, Inputs: in, Env: env})
	if err != nil {
		w.t.Fatalf("running the action (%s): %v\n%s", w.rt, err, scnOutput(res))
	}
	w.failed = w.failed || res.Failed()
	if len(res.Warnings) > 0 {
		w.t.Errorf("the runner would warn: %q", res.Warnings)
	}
	return res
}

// mustSucceed runs the main stage and fails the test unless it succeeded
// and masked its token.
func (w *scnWorld) mustSucceed(p provider, extra map[string]string) *runner.StepResult {
	w.t.Helper()
	res := w.runAction(p, extra)
	if res.Failed() {
		w.t.Fatalf("the cargo-oidc step failed (%s, exit %d):\n%s", w.rt, res.ExitCode, scnOutput(res))
	}
	if tok := res.Outputs["token"]; !w.s.Store.Valid(tok) || !slices.Contains(res.Masks, tok) {
		w.t.Fatalf("the token output is not a masked token %s issued (outputs %v)", p.name, slices.Sorted(maps.Keys(res.Outputs)))
	}
	return res
}

// runPost runs the post stage of the cargo-oidc step and fails the test
// unless it succeeded without a warning (post failures are warnings, never
// a failed job).
func (w *scnWorld) runPost() *runner.StepResult {
	w.t.Helper()
	res, err := w.job.RunPost(w.ctx, scnStepID)
	if err != nil || res == nil {
		w.t.Fatalf("running the post stage (%s): %v\n%s", w.rt, err, scnOutput(res))
	}
	if res.Failed() {
		w.t.Fatalf("the post stage failed (exit %d):\n%s", res.ExitCode, scnOutput(res))
	}
	for _, c := range res.Commands {
		if c.Name == "warning" || c.Name == "error" {
			w.t.Errorf("the post stage reported ::%s %v::%s", c.Name, c.Properties, c.Data)
		}
	}
	return res
}

// cargoStep runs the real cargo as a later step: the job's environment
// (with what the action put in GITHUB_ENV) plus only CARGO_HTTP_CAINFO and
// extra. It returns nil when an earlier step failed: the runner skips it.
func (w *scnWorld) cargoStep(extra map[string]string, args ...string) *runner.StepResult {
	w.t.Helper()
	if w.failed {
		return nil
	}
	env := map[string]string{"CARGO_HTTP_CAINFO": w.s.CAFile}
	maps.Copy(env, extra)
	res, err := w.job.RunCmd(w.ctx, runner.Cmd{Name: w.cargo, Args: args, Env: env})
	if err != nil {
		w.t.Fatalf("running cargo %s: %v\n%s", strings.Join(args, " "), err, scnOutput(res))
	}
	return res
}

// mustCargo runs cargoStep and fails the test unless cargo succeeded and
// said want.
func (w *scnWorld) mustCargo(want string, extra map[string]string, args ...string) *runner.StepResult {
	w.t.Helper()
	out := w.cargoStep(extra, args...)
	if out.Failed() || !strings.Contains(out.Stderr, want) {
		w.t.Fatalf("cargo %s failed or did not say %q (exit %d):\n%s", strings.Join(args, " "), want, out.ExitCode, scnOutput(out))
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

// scnFetch: the step succeeds for p (Azure too), exports the index, the token and
// cargo:token, and a later `cargo fetch` of a project depending on a crate
// in the registry succeeds with only what the action exported; the post
// stage revokes nothing.
func scnFetch(w *scnWorld, p provider) {
	t := w.t
	res := w.mustSucceed(p, nil)
	tok := res.Outputs["token"]
	n := strings.TrimSuffix(p.tokenVar(), "TOKEN")
	scnWantEnv(t, res, map[string]string{n + "INDEX": p.index(w.s), n + "TOKEN": p.auth(tok), n + "CREDENTIAL_PROVIDER": "cargo:token"})
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

// scnPublishRevoke: crates.io trusted publishing. `cargo publish` succeeds
// with only CARGO_REGISTRY_TOKEN from the action (plus the test-only
// crates.io URL override), the registry saw that token, and after the post
// stage the token is revoked: a later publish with it fails with a 403.
func scnPublishRevoke(w *scnWorld) {
	t := w.t
	res := w.mustSucceed(providerNamed(t, "crates-io"), nil)
	tok := res.Outputs["token"]
	if !strings.HasPrefix(tok, "cio_tp_") {
		t.Fatalf("token output is not a crates.io trusted-publishing token")
	}
	scnWantEnv(t, res, map[string]string{"CARGO_REGISTRY_TOKEN": tok})
	scnWantOutputs(t, res, map[string]string{"registry-name": "crates-io", "index-url": ""})
	if got := res.State["token"]; got != tok {
		t.Errorf("the main stage did not save the token for the post stage")
	}
	override := map[string]string{fakes.CratesIOURLEnv: w.s.CratesIOIndex}
	writeFiles(t, w.job.Workspace(), project("scn-published", "0.1.0", ""))
	w.mustCargo("Uploading scn-published v0.1.0", override, "publish", "--allow-dirty", "--no-verify")
	var puts int
	for _, r := range w.s.Registry.Requests() {
		if r.Method == http.MethodPut {
			puts++
			if r.Token != tok || r.Status != http.StatusOK {
				t.Errorf("publish request %s answered %d, with the action's token: %v", r.Path, r.Status, r.Token == tok)
			}
		}
	}
	if got := w.s.Registry.Published(); puts != 1 || !slices.Equal(got, []string{"scn-published@0.1.0"}) {
		t.Errorf("%d publish requests, published %v; want 1, [scn-published@0.1.0]", puts, got)
	}
	post := w.runPost()
	if it, ok := w.s.Store.Lookup(tok); !ok || !it.Revoked || w.s.Store.Revocations() != 1 || !strings.Contains(post.Stdout, "Revoked the crates.io token.") {
		t.Fatalf("the post stage did not revoke the token once and say so:\n%s", scnOutput(post))
	}
	writeFiles(t, w.job.Workspace(), project("scn-published", "0.1.1", ""))
	again := w.cargoStep(override, "publish", "--allow-dirty", "--no-verify")
	if !again.Failed() || !strings.Contains(again.Stderr, "403") || len(w.s.Registry.Published()) != 1 {
		t.Errorf("cargo publish with the revoked token did not fail with the registry's 403:\n%s", scnOutput(again))
	}
}

// scnWrongClaim: the ID token's repository claim does not match the
// service's mapping. The step fails with one ::error annotation carrying the
// service's own message and the claim, exports nothing, the cargo step never
// runs, the registry gets no request, and the post stage revokes nothing.
func scnWrongClaim(w *scnWorld, p provider) {
	t := w.t
	w.s.Issuer.Override(map[string]any{"repository": evilRepo})
	res := w.runAction(p, nil)
	var errs []string
	for _, c := range res.Commands {
		if c.Name == "error" {
			errs = append(errs, c.Data)
		}
	}
	if !res.Failed() || len(errs) != 1 {
		t.Fatalf("the step did not fail with one ::error annotation (exit %d):\n%s", res.ExitCode, scnOutput(res))
	}
	for _, want := range []string{p.wrongClaim, "repository: " + evilRepo} {
		if !strings.Contains(errs[0], want) {
			t.Errorf("the ::error annotation lacks %q:\n%s", want, errs[0])
		}
	}
	if len(res.EnvEntries) != 0 || res.Outputs["token"] != "" || w.s.Store.Exchanges("") != 0 {
		t.Errorf("the failed step exported %d variables, a token output %v, after %d exchanges", len(res.EnvEntries), res.Outputs["token"] != "", w.s.Store.Exchanges(""))
	}
	writeFiles(t, w.job.Workspace(), project("scn-never", "0.1.0", ""))
	if out := w.cargoStep(nil, "fetch"); out != nil || len(w.s.Registry.Requests()) != 0 {
		t.Errorf("the cargo step ran after the failed step, or the registry got a request")
	}
	w.runPost()
	if w.s.Store.Revocations() != 0 {
		t.Errorf("the post stage revoked something")
	}
}

// scnUserConfig is a user's own .cargo/config.toml, which the merge must
// keep as it is.
const scnUserConfig = "# Team settings: keep this comment, and the blank line below.\n\n[net]\nretry = 2 # an inline comment\n\n[term]\nverbose = false\n"

// chown gives the workspace (and paths) to scnOwner.
func (w *scnWorld) chown(paths ...string) {
	w.t.Helper()
	for _, p := range append([]string{w.job.Workspace()}, paths...) {
		if err := os.Chown(p, scnOwner, scnOwner); err != nil {
			w.t.Fatalf("chown %s: %v", p, err)
		}
	}
}

// checkOwned fails for every path not owned by the workspace's owner.
func (w *scnWorld) checkOwned(paths ...string) {
	w.t.Helper()
	for _, p := range paths {
		if uid, gid := ownerOf(w.t, p); uid != scnOwner || gid != scnOwner {
			w.t.Errorf("%s is owned by %d:%d, want the workspace's owner %d:%d (later steps run as that user)", p, uid, gid, scnOwner, scnOwner)
		}
	}
}

// scnReplaceCratesIO: replace-crates-io with JFrog merges the workspace's
// .cargo/config.toml (keeping a user's file when there is one), the
// config-file output is the host path, the file is owned by the
// workspace's owner and holds no token, and `cargo fetch` of a plain
// crates.io dependency resolves through the local registry.
func scnReplaceCratesIO(w *scnWorld, existing bool) {
	t := w.t
	cfgPath := filepath.Join(w.job.Workspace(), ".cargo", "config.toml")
	owned := []string{cfgPath, filepath.Dir(cfgPath)}
	w.chown()
	if existing {
		writeFile(t, cfgPath, scnUserConfig, 0o644)
		w.chown(owned[1], owned[0])
		owned = owned[:1]
	}
	writeFiles(t, w.job.Workspace(), project("scn-replaced", "0.1.0", dependsOn("")))
	res := w.mustSucceed(providerNamed(t, "jfrog"), map[string]string{"replace-crates-io": "true"})
	scnWantOutputs(t, res, map[string]string{"config-file": cfgPath})
	got := readFile(t, cfgPath)
	if existing && !strings.HasPrefix(got, scnUserConfig) {
		t.Errorf("the user's config was not kept as it was; merged file:\n%s", got)
	}
	for _, want := range []string{`[source.crates-io]`, `replace-with = "artifactory"`, `[registries.artifactory]`, `index = "` + w.s.JFrogIndex + `"`} {
		if !strings.Contains(got, want) || strings.Contains(got, res.Outputs["token"]) {
			t.Errorf("merged config lacks %s or holds the token:\n%s", want, got)
		}
	}
	w.checkOwned(owned...)
	w.mustCargo("Downloaded "+fakes.DefaultCrate+" v"+fakes.DefaultCrateVersion+" (registry `artifactory`)", nil, "fetch")
	w.checkRegistrySaw(w.s.Registry, res.Outputs["token"])
	w.runPost()
	if readFile(t, cfgPath) != got {
		t.Errorf("the post stage changed the config file")
	}
}

// scnCredentialsFile: credentials-file under runner.temp is written with
// mode 0600 holding the token, owned (with the folder the action created for
// it) by the workspace's owner, who runs the later steps; its host path is
// the output, and the post stage removes it (and not runner.temp).
func scnCredentialsFile(w *scnWorld, nested bool) {
	t := w.t
	w.chown()
	dir := w.job.Temp() // ${{ runner.temp }}
	if nested {
		dir = filepath.Join(dir, "cargo-oidc")
	}
	path := filepath.Join(dir, "credentials.toml")
	res := w.mustSucceed(providerNamed(t, "jfrog"), map[string]string{"credentials-file": path})
	scnWantOutputs(t, res, map[string]string{"credentials-file": path})
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file is not a regular file with 0600: %v", err)
	}
	if data := readFile(t, path); !strings.Contains(data, "[registries.artifactory]") || !strings.Contains(data, `token = "Bearer `+res.Outputs["token"]+`"`) {
		t.Errorf("credentials file does not hold the registry's token (%d bytes)", len(data))
	}
	w.checkOwned(path)
	if nested {
		w.checkOwned(dir)
	}
	post := w.runPost()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the post stage left the credentials file (%v):\n%s", err, scnOutput(post))
	}
	if _, err := os.Stat(w.job.Temp()); err != nil {
		t.Errorf("runner.temp itself is gone: %v", err)
	}
}

// scnWantEnv checks the GITHUB_ENV entries the step wrote: exactly want.
func scnWantEnv(t *testing.T, res *runner.StepResult, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := res.Env[k]; !ok || got != v {
			t.Errorf("GITHUB_ENV %s: set %v, value as expected %v", k, ok, got == v)
		}
	}
	for k := range res.Env {
		if _, ok := want[k]; !ok {
			t.Errorf("GITHUB_ENV has unexpected %s", k)
		}
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

// scnOutput is a step's output for a failure message; the runner masks
// secrets in real logs, the fakes' tokens are throw-away.
func scnOutput(res *runner.StepResult) string {
	if res == nil {
		return "(no step result)"
	}
	return "--- stdout\n" + res.Stdout + "--- stderr\n" + res.Stderr
}

package e2e

import (
	"context"
	"fmt"
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

// scnTimeout bounds one scenario (several action stages and cargo runs).
const scnTimeout = 4 * time.Minute

// scnMode is how the action runs: the binary on the host, or the image
// through Podman with the runner's `docker run` flags.
type scnMode struct {
	name      string
	container bool
	rt        runner.Runtime
}

// TestScenarioHost runs every scenario with the built binary run as the
// runner would run it outside a container.
func TestScenarioHost(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	scnRunAll(t, scnMode{name: "host", rt: runner.Host(bin)})
}

// TestScenarioContainer runs every scenario with the image built from the
// repository's Dockerfile, run with the runner's `docker run` flags.
func TestScenarioContainer(t *testing.T) {
	t.Parallel()
	img := scnContainer(t)
	scnRunAll(t, scnMode{name: "container", container: true, rt: runner.Container(img.engine, scnImageTag)})
}

// scnRunAll runs the scenarios in parallel, each with its own fake services
// and its own job.
func scnRunAll(t *testing.T, mode scnMode) {
	cargo := scnCargo(t)
	action := repoAction(t)
	scenarios := []struct {
		name string
		run  func(w *scnWorld)
	}{
		{"fetch/jfrog", scnFetch("jfrog")},
		{"fetch/cloudsmith", scnFetch("cloudsmith")},
		{"fetch/codeartifact", scnFetch("codeartifact")},
		{"fetch/azure", scnAzureFetch},
		{"publish-then-revoke/crates-io", scnPublishRevoke},
		{"wrong-claim/jfrog", scnWrongClaim("jfrog")},
		{"wrong-claim/cloudsmith", scnWrongClaim("cloudsmith")},
		{"wrong-claim/crates-io", scnWrongClaim("crates-io")},
		{"wrong-claim/codeartifact", scnWrongClaim("codeartifact")},
		{"replace-crates-io/existing-config", scnReplaceCratesIO(true)},
		{"replace-crates-io/new-config", scnReplaceCratesIO(false)},
		{"credentials-file/runner-temp", scnCredentialsFile(false)},
		{"credentials-file/runner-temp-subfolder", scnCredentialsFile(true)},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			w := scnNewWorld(t, mode, cargo, action)
			sc.run(w)
			w.checkNoLeak()
			t.Logf("%s %s: %s", mode.name, sc.name, time.Since(start).Round(time.Millisecond))
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
	mode   scnMode
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

func scnNewWorld(t *testing.T, mode scnMode, cargo string, action *runner.Action) *scnWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), scnTimeout)
	t.Cleanup(cancel)
	s := fakes.StartT(t, fakes.Options{})
	job := runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken})
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(job.Temp(), "e2e-ca.pem")
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	return &scnWorld{t: t, ctx: ctx, mode: mode, cargo: cargo, action: action, s: s, job: job, caFile: caFile}
}

// inputs returns the inputs pointing at the world's services for provider,
// with extra on top.
func (w *scnWorld) inputs(provider string, extra map[string]string) map[string]string {
	var in map[string]string
	switch provider {
	case "jfrog":
		in = w.s.JFrogInputs()
	case "cloudsmith":
		in = w.s.CloudsmithInputs()
	case "crates-io":
		in = w.s.CratesIOInputs()
	case "codeartifact":
		in = w.s.CodeArtifactInputs()
	default:
		w.t.Fatalf("unknown provider %q", provider)
	}
	maps.Copy(in, extra)
	return in
}

// runAction runs the main stage of the cargo-oidc step. The test CA reaches
// the action through the step's SSL_CERT_FILE only, never later steps.
func (w *scnWorld) runAction(inputs map[string]string) *runner.StepResult {
	w.t.Helper()
	env := map[string]string{"SSL_CERT_FILE": w.caFile}
	if inputs["provider"] == "codeartifact" {
		maps.Copy(env, w.s.AWSEnv()) // the step's env, as a workflow would set it
	}
	res, err := w.job.RunAction(w.ctx, w.mode.rt, w.action, runner.Step{
		ID: scnStepID, Inputs: inputs, Env: env,
	})
	if err != nil {
		w.t.Fatalf("running the action (%s): %v\n%s", w.mode.rt, err, scnOutput(res))
	}
	if res.Failed() {
		w.failed = true
	}
	if len(res.Warnings) > 0 {
		w.t.Errorf("the runner would warn: %q", res.Warnings)
	}
	return res
}

// mustSucceed runs the main stage and fails the test unless it succeeded.
func (w *scnWorld) mustSucceed(inputs map[string]string) *runner.StepResult {
	w.t.Helper()
	res := w.runAction(inputs)
	if res.Failed() {
		w.t.Fatalf("the cargo-oidc step failed (%s, exit %d):\n%s", w.mode.rt, res.ExitCode, scnOutput(res))
	}
	return res
}

// runPost runs the post stage of the cargo-oidc step and fails the test
// unless it succeeded (post failures are warnings, never a failed job).
func (w *scnWorld) runPost() *runner.StepResult {
	w.t.Helper()
	res, err := w.job.RunPost(w.ctx, scnStepID)
	if err != nil {
		w.t.Fatalf("running the post stage (%s): %v\n%s", w.mode.rt, err, scnOutput(res))
	}
	if res == nil {
		w.t.Fatal("action.yml declares no post stage")
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
		w.t.Logf("step `cargo %s` skipped: an earlier step failed", strings.Join(args, " "))
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

// writeProject writes a library crate at the workspace's root (as a
// checkout would) with the given [dependencies] lines.
func (w *scnWorld) writeProject(name, version, deps string) {
	w.t.Helper()
	manifest := fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\ndescription = \"cargo-oidc e2e crate\"\nlicense = \"MIT\"\n\n[dependencies]\n%s", name, version, deps)
	scnWriteFile(w.t, filepath.Join(w.job.Workspace(), "Cargo.toml"), manifest, 0o644)
	scnWriteFile(w.t, filepath.Join(w.job.Workspace(), "src", "lib.rs"), "pub fn f() {}\n", 0o644)
}

// checkNoLeak fails the test when a secret the fakes issued appears in any
// step's output other than on an ::add-mask:: line.
func (w *scnWorld) checkNoLeak() {
	w.t.Helper()
	secrets := w.s.Store.Secrets()
	for _, res := range w.job.Results() {
		for _, line := range strings.Split(res.Combined(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
				continue
			}
			for _, sec := range secrets {
				if sec != "" && strings.Contains(line, sec) {
					w.t.Errorf("step %s (%s) printed a token outside ::add-mask::", res.ID, res.Stage)
				}
			}
		}
	}
}

// scnFetch: the step succeeds for provider (jfrog or cloudsmith), and a
// later `cargo fetch` of a project depending on a crate in the registry
// (`registry = "<name>"`) succeeds with only what the action exported.
func scnFetch(provider string) func(w *scnWorld) {
	return func(w *scnWorld) {
		t := w.t
		name, index := "artifactory", w.s.JFrogIndex
		switch provider {
		case "cloudsmith":
			name, index = "cloudsmith", w.s.CloudsmithIndex
		case "codeartifact":
			name, index = "codeartifact", w.s.CodeArtifactIndex
		}
		res := w.mustSucceed(w.inputs(provider, nil))
		tok := res.Outputs["token"]
		if tok == "" {
			t.Fatalf("no token output; outputs %v", slices.Sorted(maps.Keys(res.Outputs)))
		}
		if !slices.Contains(res.Masks, tok) {
			t.Errorf("the token was not masked")
		}
		if !w.s.Store.Valid(tok) {
			t.Errorf("the token output is not a token %s issued", provider)
		}
		n := "CARGO_REGISTRIES_" + strings.ToUpper(name)
		auth := "Bearer " + tok
		if provider == "codeartifact" {
			auth = tok // the raw token, as AWS documents for Cargo
		}
		scnWantEnv(t, res, map[string]string{
			n + "_INDEX":               index,
			n + "_TOKEN":               auth,
			n + "_CREDENTIAL_PROVIDER": "cargo:token",
		})
		scnWantOutputs(t, res, map[string]string{"registry-name": name, "index-url": index, "config-file": "", "credentials-file": ""})
		if exp, err := time.Parse(time.RFC3339, res.Outputs["expires-at"]); err != nil || !exp.After(time.Now()) {
			t.Errorf("expires-at %q is not a future RFC 3339 time (%v)", res.Outputs["expires-at"], err)
		}

		w.writeProject("scn-fetcher", "0.1.0", fmt.Sprintf("%s = { version = %q, registry = %q }\n", fakes.DefaultCrate, fakes.DefaultCrateVersion, name))
		out := w.cargoStep(nil, "fetch")
		if out.Failed() {
			t.Fatalf("cargo fetch failed (exit %d):\n%s", out.ExitCode, scnOutput(out))
		}
		want := fmt.Sprintf("Downloaded %s v%s (registry `%s`)", fakes.DefaultCrate, fakes.DefaultCrateVersion, name)
		if !strings.Contains(out.Stderr, want) {
			t.Errorf("cargo fetch did not say %q:\n%s", want, scnOutput(out))
		}
		if used := w.s.Registry.TokensUsed(); len(used) != 1 || used[0] != tok {
			t.Errorf("the registry saw %d distinct tokens, want exactly the action's one", len(used))
		}
		w.runPost()
		if w.s.Store.Revocations() != 0 {
			t.Errorf("the post stage revoked a %s token", provider)
		}
	}
}

// scnPublishRevoke: crates.io trusted publishing. `cargo publish` succeeds
// with only CARGO_REGISTRY_TOKEN from the action (plus the test-only
// crates.io URL override), the registry saw that token, and after the post
// stage the token is revoked: a later publish with it fails.
func scnPublishRevoke(w *scnWorld) {
	t := w.t
	res := w.mustSucceed(w.inputs("crates-io", nil))
	tok := res.Outputs["token"]
	if !strings.HasPrefix(tok, "cio_tp_") || !w.s.Store.Valid(tok) {
		t.Fatalf("token output is not a valid crates.io trusted-publishing token")
	}
	if !slices.Contains(res.Masks, tok) {
		t.Errorf("the token was not masked")
	}
	scnWantEnv(t, res, map[string]string{"CARGO_REGISTRY_TOKEN": tok})
	scnWantOutputs(t, res, map[string]string{"registry-name": "crates-io", "index-url": ""})
	if got := res.State["token"]; got != tok {
		t.Errorf("the main stage did not save the token for the post stage")
	}

	override := map[string]string{fakes.CratesIOURLEnv: w.s.CratesIOIndex}
	w.writeProject("scn-published", "0.1.0", "")
	out := w.cargoStep(override, "publish", "--allow-dirty", "--no-verify")
	if out.Failed() {
		t.Fatalf("cargo publish failed (exit %d):\n%s", out.ExitCode, scnOutput(out))
	}
	if got := w.s.Registry.Published(); !slices.Equal(got, []string{"scn-published@0.1.0"}) {
		t.Fatalf("the registry published %v, want [scn-published@0.1.0]", got)
	}
	var puts int
	for _, r := range w.s.Registry.Requests() {
		if r.Method == http.MethodPut {
			puts++
			if r.Token != tok || r.Status != http.StatusOK {
				t.Errorf("publish request %s answered %d, with the action's token: %v", r.Path, r.Status, r.Token == tok)
			}
		}
	}
	if puts != 1 {
		t.Errorf("the registry saw %d publish requests, want 1", puts)
	}

	// The end of the job: the post stage revokes the token.
	post := w.runPost()
	if !strings.Contains(post.Stdout, "Revoked the crates.io token.") {
		t.Errorf("the post stage did not say it revoked the token:\n%s", scnOutput(post))
	}
	if it, ok := w.s.Store.Lookup(tok); !ok || !it.Revoked {
		t.Fatalf("the store does not mark the token revoked")
	}
	if n := w.s.Store.Revocations(); n != 1 {
		t.Errorf("%d revocations, want 1", n)
	}
	// A later publish with the same token is refused.
	scnWriteFile(t, filepath.Join(w.job.Workspace(), "Cargo.toml"),
		strings.Replace(scnReadFile(t, filepath.Join(w.job.Workspace(), "Cargo.toml")), `version = "0.1.0"`, `version = "0.1.1"`, 1), 0o644)
	again := w.cargoStep(override, "publish", "--allow-dirty", "--no-verify")
	if !again.Failed() {
		t.Fatalf("cargo publish with the revoked token succeeded:\n%s", scnOutput(again))
	}
	if !strings.Contains(again.Stderr, "403") {
		t.Errorf("cargo publish with the revoked token did not fail with the registry's 403:\n%s", scnOutput(again))
	}
	if got := w.s.Registry.Published(); len(got) != 1 {
		t.Errorf("the registry published %v after the revocation", got)
	}
}

// scnWrongClaim: the ID token's repository claim does not match the
// service's mapping. The step fails with the service's own message in its
// ::error annotation, exports nothing, the cargo step never runs, and the
// registry gets no request.
func scnWrongClaim(provider string) func(w *scnWorld) {
	return func(w *scnWorld) {
		t := w.t
		const evil = "evil-org/evil-repo"
		w.s.Issuer.Override(map[string]any{"repository": evil})
		want := map[string]string{
			"jfrog":        "Failed to find a matching identity mapping for the provided token claims: claim 'repository' is '" + evil + "'",
			"cloudsmith":   "Incorrect authentication credentials.",
			"crates-io":    "No Trusted Publishing config found for repository `" + evil + "`.",
			"codeartifact": "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
		}[provider]
		res := w.runAction(w.inputs(provider, nil))
		if !res.Failed() {
			t.Fatalf("the step succeeded with a wrong claim:\n%s", scnOutput(res))
		}
		var errs []string
		for _, c := range res.Commands {
			if c.Name == "error" {
				errs = append(errs, c.Data)
			}
		}
		if len(errs) != 1 {
			t.Fatalf("%d ::error annotations, want 1:\n%s", len(errs), scnOutput(res))
		}
		if !strings.Contains(errs[0], want) {
			t.Errorf("the ::error annotation does not carry %s's message %q:\n%s", provider, want, errs[0])
		}
		if !strings.Contains(errs[0], "repository: "+evil) {
			t.Errorf("the ::error annotation does not list the token's repository claim:\n%s", errs[0])
		}
		if len(res.EnvEntries) != 0 || res.Outputs["token"] != "" {
			t.Errorf("the failed step exported %d variables and a token output %v", len(res.EnvEntries), res.Outputs["token"] != "")
		}
		if n := w.s.Store.Exchanges(""); n != 0 {
			t.Errorf("%d successful exchanges with a wrong claim", n)
		}
		override := map[string]string{}
		args := []string{"fetch"}
		if provider == "crates-io" {
			override[fakes.CratesIOURLEnv] = w.s.CratesIOIndex
			args = []string{"publish", "--allow-dirty", "--no-verify"}
		}
		w.writeProject("scn-never", "0.1.0", "")
		if out := w.cargoStep(override, args...); out != nil {
			t.Errorf("the cargo step ran after the failed step")
		}
		if reqs := w.s.Registry.Requests(); len(reqs) != 0 {
			t.Errorf("the registry got %d requests", len(reqs))
		}
		w.runPost()
		if w.s.Store.Revocations() != 0 {
			t.Errorf("the post stage revoked something")
		}
	}
}

// scnUserConfig is a user's own .cargo/config.toml, which the merge must
// keep as it is.
const scnUserConfig = `# Team settings: keep this comment, and the blank line below.

[net]
retry = 2 # an inline comment

[term]
verbose = false
`

// scnOwner is the owner of the workspace folder, as on a runner whose user
// is not root while the action's container runs as root.
const scnOwner = 1000

// scnReplaceCratesIO: replace-crates-io with JFrog merges the workspace's
// .cargo/config.toml (keeping a user's file when there is one), the
// config-file output is the host path, the file is owned by the
// workspace's owner, and `cargo fetch` of a plain crates.io dependency
// resolves through the local registry.
func scnReplaceCratesIO(existing bool) func(w *scnWorld) {
	return func(w *scnWorld) {
		t := w.t
		ws := w.job.Workspace()
		cfgPath := filepath.Join(ws, ".cargo", "config.toml")
		if err := os.Chown(ws, scnOwner, scnOwner); err != nil {
			t.Fatalf("chown the workspace: %v", err)
		}
		if existing {
			scnWriteFile(t, cfgPath, scnUserConfig, 0o644)
			for _, p := range []string{filepath.Dir(cfgPath), cfgPath} {
				if err := os.Chown(p, scnOwner, scnOwner); err != nil {
					t.Fatal(err)
				}
			}
		}
		w.writeProject("scn-replaced", "0.1.0", fmt.Sprintf("%s = %q\n", fakes.DefaultCrate, fakes.DefaultCrateVersion))

		res := w.mustSucceed(w.inputs("jfrog", map[string]string{"replace-crates-io": "true"}))
		scnWantOutputs(t, res, map[string]string{"config-file": cfgPath})
		got := scnReadFile(t, cfgPath)
		if existing && !strings.HasPrefix(got, scnUserConfig) {
			t.Errorf("the user's config was not kept as it was; merged file:\n%s", got)
		}
		for _, want := range []string{`[source.crates-io]`, `replace-with = "artifactory"`, `[registries.artifactory]`, `index = "` + w.s.JFrogIndex + `"`} {
			if !strings.Contains(got, want) {
				t.Errorf("merged config lacks %s:\n%s", want, got)
			}
		}
		if strings.Contains(got, res.Outputs["token"]) {
			t.Errorf("the token was written into the config file")
		}
		paths := []string{cfgPath}
		if !existing {
			paths = append(paths, filepath.Dir(cfgPath))
		}
		for _, p := range paths {
			uid, gid := scnOwnerOf(t, p)
			if uid != scnOwner || gid != scnOwner {
				t.Errorf("%s is owned by %d:%d, want the workspace's owner %d:%d", p, uid, gid, scnOwner, scnOwner)
			}
		}

		out := w.cargoStep(nil, "fetch")
		if out.Failed() {
			t.Fatalf("cargo fetch through the replacement failed (exit %d):\n%s", out.ExitCode, scnOutput(out))
		}
		want := fmt.Sprintf("Downloaded %s v%s (registry `artifactory`)", fakes.DefaultCrate, fakes.DefaultCrateVersion)
		if !strings.Contains(out.Stderr, want) {
			t.Errorf("cargo fetch did not resolve through the replacement (%q):\n%s", want, scnOutput(out))
		}
		if used := w.s.Registry.TokensUsed(); len(used) != 1 || used[0] != res.Outputs["token"] {
			t.Errorf("the registry saw %d distinct tokens, want exactly the action's one", len(used))
		}
		w.runPost()
		if scnReadFile(t, cfgPath) != got {
			t.Errorf("the post stage changed the config file")
		}
	}
}

// scnCredentialsFile: credentials-file under runner.temp is written with
// mode 0600 holding the token, owned (with the folder the action created for
// it) by the workspace's owner, who runs the later steps; its host path is
// the output, and the post stage removes it.
func scnCredentialsFile(nested bool) func(w *scnWorld) {
	return func(w *scnWorld) {
		t := w.t
		if err := os.Chown(w.job.Workspace(), scnOwner, scnOwner); err != nil {
			t.Fatalf("chown the workspace: %v", err)
		}
		dir := w.job.Temp() // ${{ runner.temp }}
		if nested {
			dir = filepath.Join(dir, "cargo-oidc")
		}
		path := filepath.Join(dir, "credentials.toml")
		res := w.mustSucceed(w.inputs("jfrog", map[string]string{"credentials-file": path}))
		tok := res.Outputs["token"]
		scnWantOutputs(t, res, map[string]string{"credentials-file": path})
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatalf("credentials file: %v", err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("credentials file mode %v, want a regular file with 0600", fi.Mode())
		}
		data := scnReadFile(t, path)
		if !strings.Contains(data, "[registries.artifactory]") || !strings.Contains(data, `token = "Bearer `+tok+`"`) {
			t.Errorf("credentials file does not hold the registry's token (%d bytes)", len(data))
		}
		owned := []string{path}
		if nested {
			owned = append(owned, dir)
		}
		for _, p := range owned {
			if uid, gid := scnOwnerOf(t, p); uid != scnOwner || gid != scnOwner {
				t.Errorf("%s is owned by %d:%d, want the workspace's owner %d:%d (later steps run as that user)", p, uid, gid, scnOwner, scnOwner)
			}
		}
		post := w.runPost()
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("the post stage left the credentials file (%v):\n%s", err, scnOutput(post))
		}
		if _, err := os.Stat(w.job.Temp()); err != nil {
			t.Errorf("runner.temp itself is gone: %v", err)
		}
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
	return fmt.Sprintf("--- stdout\n%s--- stderr\n%s", res.Stdout, res.Stderr)
}

func scnWriteFile(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
}

func scnReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func scnOwnerOf(t *testing.T, path string) (uid, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	u, g := ownerOf(fi)
	return int(u), int(g)
}

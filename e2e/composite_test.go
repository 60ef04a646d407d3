package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

// The composite action (setup/action.yml, setup/post/action.yml) run through
// the runner emulation: each composite step is a `shell: bash` step the way
// the runner runs it (bash --noprofile --norc -eo pipefail SCRIPT, with
// GITHUB_ACTION_PATH and the step's env: evaluated), on the job of
// e2e/internal/runner, against release binaries served by a local HTTPS
// mirror (download-url) and the fake token services.

// cmpVersion is the release the tests make: its binary is built with the
// release's build flags and served by the mirror.
const cmpVersion = "v0.99.1"

// cmpCompositeOnly are the composite's inputs the container action does not
// have, and why.
var cmpCompositeOnly = map[string]string{
	"download-url": "the container action has no binary to download: its image is pulled by the runner",
}

// cmpContainerOnly are the container action's inputs the composite may
// lack, and why. Both are the container's host paths (runs.args); the
// composite runs on the host, where GITHUB_WORKSPACE and RUNNER_TEMP are the
// host paths already.
var cmpContainerOnly = map[string]string{
	"host-workspace": "the host path of the workspace, needed only inside the container",
	"host-temp":      "the host path of RUNNER_TEMP, needed only inside the container",
}

// TestCompositeInputsOutputsMatchContainerAction: setup/action.yml declares
// the container action's inputs (name, description, required, default) and
// outputs (name, description), in the same order, except the documented
// exceptions above; its step passes every shared input on as INPUT_<NAME>
// and every output is forwarded from that step.
func TestCompositeInputsOutputsMatchContainerAction(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	// Both load under the runner's rules (the contexts each key may use).
	var comp *runner.Action
	for _, p := range []string{"setup/action.yml", "setup/post/action.yml"} {
		a, err := runner.LoadAction(filepath.Join(root, p))
		if err != nil {
			t.Errorf("the runner would not load %s: %v", p, err)
		}
		if comp == nil {
			comp = a
		}
	}
	if comp == nil {
		t.FailNow()
	}
	main := repoAction(t)
	if comp.Runs.Using != "composite" {
		t.Fatalf("setup/action.yml: runs.using is %q, want composite", comp.Runs.Using)
	}
	inputs := func(a *runner.Action) map[string]runner.Input {
		m := map[string]runner.Input{}
		for _, in := range a.Inputs {
			m[in.Name] = in
		}
		return m
	}
	mainInputs, compInputs := inputs(main), inputs(comp)

	var mainIn, compIn []string
	for _, in := range main.Inputs {
		if _, ok := cmpContainerOnly[in.Name]; !ok {
			mainIn = append(mainIn, in.Name)
		}
	}
	for _, in := range comp.Inputs {
		if _, ok := cmpCompositeOnly[in.Name]; !ok {
			compIn = append(compIn, in.Name)
		}
	}
	if !slices.Equal(mainIn, compIn) {
		t.Errorf("inputs differ (exceptions aside):\n action.yml:       %v\n setup/action.yml: %v", mainIn, compIn)
	}
	for k := range cmpCompositeOnly {
		if _, ok := compInputs[k]; !ok {
			t.Errorf("setup/action.yml lacks its own input %q", k)
		}
		if _, ok := mainInputs[k]; ok {
			t.Errorf("input %q is listed as composite-only but action.yml has it too: drop the exception", k)
		}
	}
	for k := range cmpContainerOnly {
		if _, ok := mainInputs[k]; !ok {
			t.Errorf("input %q is listed as container-only but action.yml does not have it: drop the exception", k)
		}
		if _, ok := compInputs[k]; ok {
			t.Errorf("input %q is listed as container-only but setup/action.yml has it too: drop the exception", k)
		}
	}
	for _, k := range mainIn {
		m, c := mainInputs[k], compInputs[k]
		m.DeprecationMessage, c.DeprecationMessage = "", ""
		if m != c {
			t.Errorf("input %s is %+v in action.yml but %+v in setup/action.yml", k, m, c)
		}
	}
	outputNames := func(a *runner.Action) []string {
		var names []string
		for _, o := range a.Outputs {
			names = append(names, o.Name)
		}
		return names
	}
	if mo, co := outputNames(main), outputNames(comp); !slices.Equal(mo, co) {
		t.Errorf("outputs differ:\n action.yml:       %v\n setup/action.yml: %v", mo, co)
	}

	var run *runner.CompositeStep
	for i, st := range comp.Runs.Steps {
		if st.ID == "run" {
			run = &comp.Runs.Steps[i]
		}
		if st.Shell != "bash" {
			t.Errorf("setup/action.yml step %d: shell is %q, want bash (the one shell of all three hosted OSes)", i+1, st.Shell)
		}
		if st.Uses != "" {
			t.Errorf("setup/action.yml step %d: a uses: step; the composite runs only its own bash", i+1)
		}
	}
	if run == nil {
		t.Fatal("setup/action.yml has no step with id run")
	}
	// Each shared input reaches the binary as CARGO_OIDC_IN_<NAME> (an
	// identifier: dash and busybox sh drop INPUT_REGISTRY-NAME and the like
	// from the environment), which cargo-oidc --composite reads itself: no
	// input value goes on a command line.
	for _, k := range mainIn {
		name := ghaction.CompositeInputPrefix + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		if got, want := run.Env[name], "${{ inputs."+k+" }}"; got != want {
			t.Errorf("step run: env %s is %q, want %q", name, got, want)
		}
	}
	for k := range run.Env {
		if rest, ok := strings.CutPrefix(k, ghaction.CompositeInputPrefix); ok && !slices.Contains(mainIn, strings.ReplaceAll(strings.ToLower(rest), "_", "-")) {
			t.Errorf("step run: env %s names no input of the container action", k)
		}
	}
	descriptions := map[string]string{}
	for _, o := range main.Outputs {
		descriptions[o.Name] = o.Description
	}
	for _, o := range comp.Outputs {
		if want := "${{ steps.run.outputs." + o.Name + " }}"; o.Value != want {
			t.Errorf("output %s: value %q, want %q", o.Name, o.Value, want)
		}
		if m := descriptions[o.Name]; m != o.Description {
			t.Errorf("output %s: description %q in action.yml but %q in setup/action.yml", o.Name, m, o.Description)
		}
	}
}

// ---------------------------------------------------------------------------
// A composite action in the runner emulation.

// cmpAction is a composite action folder.
type cmpAction struct {
	dir    string
	action *runner.Action
}

// cmpResult is what a composite step left.
type cmpResult struct {
	Steps   []*runner.StepResult
	Outputs map[string]string
	Failed  bool
}

// Combined is the output of every composite step.
func (r *cmpResult) Combined() string {
	var b strings.Builder
	for _, s := range r.Steps {
		b.WriteString(s.Combined())
	}
	return b.String()
}

// Masks are the values the steps masked.
func (r *cmpResult) Masks() []string {
	var m []string
	for _, s := range r.Steps {
		m = append(m, s.Masks...)
	}
	return m
}

// Env is what the steps put in GITHUB_ENV.
func (r *cmpResult) Env() map[string]string {
	m := map[string]string{}
	for _, s := range r.Steps {
		maps.Copy(m, s.Env)
	}
	return m
}

// cmpLoad loads a composite action with the runner emulation's loader,
// which refuses what GitHub's runner refuses (contexts per key).
func cmpLoad(t *testing.T, dir string) *cmpAction {
	t.Helper()
	a, err := runner.LoadAction(filepath.Join(dir, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("%s: runs.using is %q, want composite", dir, a.Runs.Using)
	}
	return &cmpAction{dir: dir, action: a}
}

// run runs the composite as the `uses:` step id of job, with the step's
// with: inputs and env:. Steps run in order until one fails (the default
// if: success()); a step with an if:, a uses: or a shell other than bash is
// refused, since the emulation would have to guess.
func (a *cmpAction) run(ctx context.Context, t *testing.T, job *runner.Job, id string, with, stepEnv map[string]string) *cmpResult {
	t.Helper()
	for k := range with {
		if _, ok := a.action.Input(k); !ok {
			t.Fatalf("the runner would warn: Unexpected input(s) '%s' for %s", k, a.dir)
		}
	}
	base := job.Env()
	lookupCtx := func(ref string) (string, bool) {
		ctxName, key, _ := strings.Cut(ref, ".")
		switch ctxName {
		case "github":
			if key == "action_path" {
				return a.dir, true
			}
			v, ok := base["GITHUB_"+strings.ToUpper(key)]
			return v, ok
		case "runner":
			v, ok := base["RUNNER_"+strings.ToUpper(key)]
			return v, ok
		case "env":
			for k, v := range base {
				if strings.EqualFold(k, key) {
					return v, true
				}
			}
			return "", true
		}
		return "", false
	}
	inputs := map[string]string{}
	for _, in := range a.action.Inputs {
		if v, ok := with[in.Name]; ok {
			inputs[in.Name] = v
			continue
		}
		v, err := runner.Evaluate(in.Default, lookupCtx)
		if err != nil {
			t.Fatalf("default of input %s: %v", in.Name, err)
		}
		inputs[in.Name] = v
	}
	res := &cmpResult{Outputs: map[string]string{}}
	stepOutputs := map[string]map[string]string{}
	lookup := func(ref string) (string, bool) {
		ctxName, rest, _ := strings.Cut(ref, ".")
		switch ctxName {
		case "inputs":
			return inputs[rest], true
		case "steps":
			sid, out, _ := strings.Cut(rest, ".outputs.")
			return stepOutputs[sid][out], true
		}
		return lookupCtx(ref)
	}
	for i, st := range a.action.Runs.Steps {
		if st.If != "" || st.Uses != "" || st.Shell != "bash" || st.Run == "" {
			t.Fatalf("%s step %d: the emulation runs only `shell: bash` run: steps without if:", a.dir, i+1)
		}
		env := maps.Clone(stepEnv)
		if env == nil {
			env = map[string]string{}
		}
		for k, raw := range st.Env {
			v, err := runner.Evaluate(raw, lookup)
			if err != nil {
				t.Fatalf("%s step %d env %s: %v", a.dir, i+1, k, err)
			}
			env[k] = v
		}
		env["GITHUB_ACTION_PATH"] = a.dir
		script, err := runner.Evaluate(st.Run, lookup)
		if err != nil {
			t.Fatalf("%s step %d run: %v", a.dir, i+1, err)
		}
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		file := filepath.Join(job.Temp(), hex.EncodeToString(rnd[:])+".sh")
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		// The runner's command for shell: bash.
		r, err := job.RunCmd(ctx, runner.Cmd{
			Name: "bash", Args: []string{"--noprofile", "--norc", "-e", "-o", "pipefail", file},
			Env: env, ID: fmt.Sprintf("%s/%d", id, i+1),
		})
		if r != nil {
			res.Steps = append(res.Steps, r)
		}
		if err != nil {
			t.Fatalf("%s step %d: %v\n%s", a.dir, i+1, err, res.Combined())
		}
		if st.ID != "" {
			stepOutputs[st.ID] = r.Outputs
		}
		if r.Failed() {
			res.Failed = true
			break
		}
	}
	for _, out := range a.action.Outputs {
		v, err := runner.Evaluate(out.Value, lookup)
		if err != nil {
			t.Fatalf("output %s: %v", out.Name, err)
		}
		res.Outputs[out.Name] = v
	}
	return res
}

// ---------------------------------------------------------------------------
// The release the tests download.

// cmpRelease is a release made for the tests: the binary of this machine's
// target built as release-binaries builds it, the setup/ folder of a release
// commit (the repository's setup/ plus the SHA256SUMS and VERSION that
// internal/release writes), and a local HTTPS mirror serving the files.
type cmpRelease struct {
	setupDir string // the release commit's setup/ folder
	asset    string
	binary   []byte
	mirror   string // download-url, with {version}
	caFile   string // the mirror's CA, for curl (CURL_CA_BUNDLE)

	handler http.Handler // serves the release's files

	mu         sync.Mutex
	served     map[string][]byte // path -> body
	downloads  int
	user, pass string // Basic credentials the mirror requires, when set
}

// requireAuth makes the mirror answer 401 without Basic credentials
// user:pass, and returns the mirror's download-url carrying them.
func (r *cmpRelease) requireAuth(user, pass string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.pass = user, pass
	return strings.Replace(r.mirror, "https://", "https://"+user+":"+pass+"@", 1)
}

var (
	cmpBuildOnce sync.Once
	cmpBuildBin  []byte
	cmpBuildErr  error
)

// cmpBuild builds this machine's release binary once per process.
func cmpBuild(t *testing.T) (release.Target, []byte) {
	t.Helper()
	host, err := release.ParseTarget(runtime.GOOS + "/" + runtime.GOARCH)
	if err != nil {
		t.Skipf("skipping: this machine's target is not released: %v", err)
	}
	cmpBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cargo-oidc-e2e-release-")
		if err != nil {
			cmpBuildErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, host.Asset())
		cmd := exec.Command("go", release.BuildArgs(cmpVersion, out)...)
		cmd.Dir, cmpBuildErr = harness.RepoRoot()
		if cmpBuildErr != nil {
			return
		}
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			cmpBuildErr = fmt.Errorf("go build: %w\n%s", err, b)
			return
		}
		cmpBuildBin, cmpBuildErr = os.ReadFile(out)
	})
	if cmpBuildErr != nil {
		t.Fatal(cmpBuildErr)
	}
	return host, cmpBuildBin
}

// cmpNewRelease makes the release: setup/ copied from the repository with
// the release files of internal/release (the checksum of this machine's
// binary; the other targets' files are not built here, so their checksums
// are of placeholder bytes that are never downloaded), and a mirror on
// 127.0.0.1 with TLS from ca serving <version>/<asset>.
func cmpNewRelease(t *testing.T, ca *fakes.CA, caFile string) *cmpRelease {
	t.Helper()
	host, bin := cmpBuild(t)
	root := harness.Root(t)
	dir := filepath.Join(t.TempDir(), "cargo-oidc", "setup")
	cmpCopyDir(t, filepath.Join(root, "setup"), dir)
	var sums []release.Sum
	for _, tg := range release.Targets {
		if tg == host {
			sums = append(sums, release.SumOf(tg.Asset(), bin))
		} else {
			sums = append(sums, release.SumOf(tg.Asset(), []byte("not built by the e2e tests: "+tg.String())))
		}
	}
	files, err := release.SetupFiles(cmpVersion, sums)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := release.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &cmpRelease{setupDir: dir, asset: host.Asset(), binary: bin, caFile: caFile,
		served: map[string][]byte{"/releases/" + cmpVersion + "/" + host.Asset(): bin}}
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		body, ok := r.served[req.URL.Path]
		if u, p, _ := req.BasicAuth(); r.user != "" && (u != r.user || p != r.pass) {
			r.mu.Unlock()
			http.Error(w, "mirror credentials required", http.StatusUnauthorized)
			return
		}
		if ok && req.Method == http.MethodGet {
			r.downloads++
		}
		r.mu.Unlock()
		if !ok || req.Method != http.MethodGet {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	srv := ca.StartServer(r.handler)
	t.Cleanup(srv.Close)
	r.mirror = srv.URL + "/releases/{version}"
	return r
}

// serve replaces what the mirror answers for the binary.
func (r *cmpRelease) serve(body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served["/releases/"+cmpVersion+"/"+r.asset] = body
}

func (r *cmpRelease) downloadCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.downloads
}

func cmpCopyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if rel == release.SetupSumsFile || rel == release.SetupVersionFile {
			return nil // a release commit writes its own
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// Scenarios.

// cmpWorld is one job using the composite: fake services, the job (its
// later steps trust the fakes' CA: cargo through CARGO_HTTP_CAINFO, the
// credential provider through SSL_CERT_FILE, curl through CURL_CA_BUNDLE),
// the release and the two composite actions.
type cmpWorld struct {
	t     *testing.T
	ctx   context.Context
	s     *fakes.Stack
	job   *runner.Job
	rel   *cmpRelease
	setup *cmpAction
	post  *cmpAction
}

func cmpNewWorld(t *testing.T, extraEnv map[string]string) *cmpWorld {
	t.Helper()
	harness.Tool(t, "curl", "install curl")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	s := fakes.StartT(t, fakes.Options{})
	env := map[string]string{
		"SSL_CERT_FILE":      s.CAFile,
		"CARGO_HTTP_CAINFO":  s.CAFile,
		"CURL_CA_BUNDLE":     s.CAFile,
		"CARGO_TERM_COLOR":   "never",
		"CARGO_NET_RETRY":    "0",
		"CARGO_HTTP_TIMEOUT": "20",
	}
	maps.Copy(env, extraEnv)
	if runtime.GOARCH == "arm64" {
		env["RUNNER_ARCH"] = "ARM64"
	}
	job := runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})
	rel := cmpNewRelease(t, s.CA, s.CAFile)
	return &cmpWorld{t: t, ctx: ctx, s: s, job: job, rel: rel,
		setup: cmpLoad(t, rel.setupDir), post: cmpLoad(t, filepath.Join(rel.setupDir, "post"))}
}

// runSetup runs the setup composite with inputs and the mirror.
func (w *cmpWorld) runSetup(id string, inputs map[string]string) *cmpResult {
	w.t.Helper()
	in := maps.Clone(inputs)
	in["download-url"] = w.rel.mirror
	res := w.setup.run(w.ctx, w.t, w.job, id, in, nil)
	w.t.Logf("setup step %s:\n%s", id, res.Combined())
	return res
}

// runPost runs setup/post, which never fails the job.
func (w *cmpWorld) runPost() *cmpResult {
	w.t.Helper()
	res := w.post.run(w.ctx, w.t, w.job, "post", nil, nil)
	w.t.Logf("post step:\n%s", res.Combined())
	if res.Failed {
		w.t.Fatalf("setup/post failed")
	}
	if _, err := os.Stat(filepath.Join(w.job.Temp(), "cargo-oidc-setup")); !os.IsNotExist(err) {
		w.t.Errorf("setup/post left RUNNER_TEMP/cargo-oidc-setup behind (%v)", err)
	}
	return res
}

// checkNoLeak fails when a secret the fakes issued shows in any step's
// output outside ::add-mask::.
func (w *cmpWorld) checkNoLeak() {
	w.t.Helper()
	for _, res := range w.job.Results() {
		for _, line := range strings.Split(res.Combined(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
				continue
			}
			for _, sec := range w.s.Store.Secrets() {
				if sec != "" && strings.Contains(line, sec) {
					w.t.Errorf("step %s printed a token outside ::add-mask::", res.ID)
				}
			}
		}
	}
}

func (w *cmpWorld) cargo(args ...string) *runner.StepResult {
	w.t.Helper()
	res, err := w.job.Run(w.ctx, "cargo", args...)
	if err != nil {
		w.t.Fatalf("cargo %v: %v", args, err)
	}
	return res
}

// TestCompositeTokenModeFetch: on the runner emulation, the composite
// downloads the release binary from the mirror, checks it, runs it in token
// mode against JFrog; a later `cargo fetch` works with what it exported;
// setup/post revokes nothing (JFrog tokens are not revoked) and removes the
// action's files.
func TestCompositeTokenModeFetch(t *testing.T) {
	t.Parallel()
	scnCargo(t)
	w := cmpNewWorld(t, nil)
	res := w.runSetup("registry", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
		"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local"})
	if res.Failed {
		t.Fatalf("setup failed:\n%s", res.Combined())
	}
	tok := res.Outputs["token"]
	if !w.s.Store.Valid(tok) {
		t.Fatalf("output token is not a token JFrog issued (outputs %v)", slices.Sorted(maps.Keys(res.Outputs)))
	}
	if !slices.Contains(res.Masks(), tok) {
		t.Error("the token was not masked")
	}
	if got := res.Outputs["registry-name"]; got != "artifactory" {
		t.Errorf("output registry-name = %q", got)
	}
	if got := res.Env()["CARGO_REGISTRIES_ARTIFACTORY_TOKEN"]; got != "Bearer "+tok {
		t.Errorf("GITHUB_ENV CARGO_REGISTRIES_ARTIFACTORY_TOKEN is not Bearer <token>")
	}
	if !strings.Contains(res.Combined(), "matches") || w.rel.downloadCount() != 1 {
		t.Errorf("the binary was not downloaded once and checked (%d downloads)", w.rel.downloadCount())
	}

	provWrite(t, w.job.Workspace(), map[string]string{
		"Cargo.toml": provManifest("cmp-user", "0.1.0", fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }\n", fakes.DefaultCrate, fakes.DefaultCrateVersion)),
		"src/lib.rs": "pub fn f() {}\n",
	})
	if r := w.cargo("fetch"); r.Failed() {
		t.Fatalf("cargo fetch failed:\n%s", r.Combined())
	}
	w.runPost()
	if w.s.Store.Revocations() != 0 {
		t.Error("setup/post revoked a JFrog token")
	}
	w.checkNoLeak()
}

// TestCompositeProviderModeFetch: provider mode natively: the credential
// provider is the checked binary, copied under RUNNER_TEMP (the action's
// HOME, as in the container), and cargo fetch gets the step's token from it
// (the token cache the step seeded), with no exchange.
func TestCompositeProviderModeFetch(t *testing.T) {
	t.Parallel()
	scnCargo(t)
	w := cmpNewWorld(t, nil)
	res := w.runSetup("registry", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
		"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local", "credential-mode": "provider"})
	if res.Failed {
		t.Fatalf("setup failed:\n%s", res.Combined())
	}
	if res.Outputs["token"] != "" {
		t.Error("output token is set in provider mode")
	}
	prov := res.Env()["CARGO_REGISTRIES_ARTIFACTORY_CREDENTIAL_PROVIDER"]
	want := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "home", ".cargo-oidc", "bin", "cargo-oidc") + " --provider=jfrog"
	if !strings.HasPrefix(prov, want) {
		t.Fatalf("credential provider %q, want it to start with %q", prov, want)
	}
	before := w.s.Store.Exchanges("")
	provWrite(t, w.job.Workspace(), map[string]string{
		"Cargo.toml": provManifest("cmp-user", "0.1.0", fmt.Sprintf("%s = { version = %q, registry = \"artifactory\" }\n", fakes.DefaultCrate, fakes.DefaultCrateVersion)),
		"src/lib.rs": "pub fn f() {}\n",
	})
	if r := w.cargo("fetch"); r.Failed() {
		t.Fatalf("cargo fetch through the provider failed:\n%s", r.Combined())
	}
	if w.s.Store.Exchanges("") != before {
		t.Error("cargo fetch made the provider exchange again instead of using the step's token from its cache")
	}
	w.runPost()
	w.checkNoLeak()
}

// TestCompositePostRevokesAndCleansUp: two setup steps in one job (the
// binary is downloaded once), crates.io with a credentials file under
// RUNNER_TEMP and JFrog; setup/post handles both, newest first: the
// crates.io token is revoked and its credentials file removed. A post with
// nothing to do says so and succeeds.
func TestCompositePostRevokesAndCleansUp(t *testing.T) {
	t.Parallel()
	w := cmpNewWorld(t, nil)
	creds := filepath.Join(w.job.Temp(), "cargo", "credentials.toml")
	cio := w.runSetup("crates-io", map[string]string{"provider": "crates-io", "url": w.s.CratesIOURL, "credentials-file": creds})
	if cio.Failed {
		t.Fatalf("crates-io setup failed:\n%s", cio.Combined())
	}
	jf := w.runSetup("jfrog", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
		"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local"})
	if jf.Failed {
		t.Fatalf("jfrog setup failed:\n%s", jf.Combined())
	}
	if n := w.rel.downloadCount(); n != 1 {
		t.Errorf("%d downloads for two setup steps, want 1 (the second reuses the checked binary)", n)
	}
	tok := cio.Outputs["token"]
	if !strings.HasPrefix(tok, "cio_tp_") || !w.s.Store.Valid(tok) {
		t.Fatal("no valid crates.io token from the setup step")
	}
	if got := scnReadFile(t, creds); !strings.Contains(got, tok) {
		t.Errorf("credentials file does not hold the token")
	}
	post := w.runPost()
	out := post.Combined()
	if w.s.Store.Valid(tok) || w.s.Store.Revocations() != 1 {
		t.Errorf("after setup/post the crates.io token is valid=%v, %d revocations; want revoked once", w.s.Store.Valid(tok), w.s.Store.Revocations())
	}
	if _, err := os.Stat(creds); !os.IsNotExist(err) {
		t.Errorf("setup/post left the credentials file it created (%v)", err)
	}
	if !strings.Contains(out, "Revoked the crates.io token.") {
		t.Errorf("setup/post does not say it revoked the token:\n%s", out)
	}
	if strings.Contains(out, "::warning") || strings.Contains(out, "::error") {
		t.Errorf("setup/post warned:\n%s", out)
	}
	w.checkNoLeak()

	again := w.runPost()
	if !strings.Contains(again.Combined(), "Nothing to clean up") {
		t.Errorf("a second setup/post does not say there is nothing to do:\n%s", again.Combined())
	}
}

// TestCompositeFailedStepLeavesNothing: a setup step the binary fails (a
// credentials-file outside the workspace and RUNNER_TEMP) exports nothing
// and leaves an empty state; setup/post says there was nothing to do for it
// and succeeds. (A step that fails after the exchange revokes the crates.io
// token at once: the binary does that, as in the container; TestMatrix
// covers it.)
func TestCompositeFailedStepLeavesNothing(t *testing.T) {
	t.Parallel()
	w := cmpNewWorld(t, nil)
	res := w.runSetup("crates-io", map[string]string{"provider": "crates-io", "url": w.s.CratesIOURL,
		"credentials-file": filepath.Join(t.TempDir(), "credentials.toml")})
	if !res.Failed {
		t.Fatalf("setup succeeded with a credentials file outside the workspace and RUNNER_TEMP:\n%s", res.Combined())
	}
	if !strings.Contains(res.Combined(), "::error") || !strings.Contains(res.Combined(), "credentials-file") {
		t.Errorf("the error does not name the input:\n%s", res.Combined())
	}
	exported := res.Env()
	delete(exported, "CARGO_OIDC_SETUP_JOB") // the job's id for setup/post, no credential
	if len(exported) != 0 || res.Outputs["token"] != "" {
		t.Errorf("a failed setup step exported %v and a token", slices.Sorted(maps.Keys(exported)))
	}
	post := w.runPost()
	if !strings.Contains(post.Combined(), "its setup step did not finish") {
		t.Errorf("setup/post does not say the step did not finish:\n%s", post.Combined())
	}
	for _, tk := range w.s.Store.Tokens() {
		if tk.Kind == fakes.KindAccessToken && w.s.Store.Valid(tk.Value) {
			t.Errorf("a %s token is valid after the failed step and setup/post", tk.Service)
		}
	}
	w.checkNoLeak()
}

// TestCompositeRefusesWrongChecksum: the mirror serves a different binary
// (a script that would leave a marker file if it ran): the step fails with
// the SHA-256 error before anything runs: no ID token requested, no file
// left, nothing exported.
func TestCompositeRefusesWrongChecksum(t *testing.T) {
	t.Parallel()
	w := cmpNewWorld(t, nil)
	marker := filepath.Join(w.job.Temp(), "tampered-binary-ran")
	w.rel.serve([]byte("#!/bin/sh\ntouch '" + marker + "'\n"))
	res := w.runSetup("registry", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
		"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local"})
	if !res.Failed {
		t.Fatalf("setup succeeded with a binary whose checksum is wrong:\n%s", res.Combined())
	}
	out := res.Combined()
	if !strings.Contains(out, "::error title=cargo-oidc setup::the SHA-256 of ") || !strings.Contains(out, "deleted and not run") {
		t.Errorf("the error does not explain the checksum mismatch:\n%s", out)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the tampered binary ran")
	}
	if n := w.s.Issuer.Faults.Requests(); n != 0 {
		t.Errorf("%d ID token requests: something ran", n)
	}
	if len(w.s.Store.Tokens()) != 0 {
		t.Error("a token was issued")
	}
	bins, _ := filepath.Glob(filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, "*"))
	dots, _ := filepath.Glob(filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, ".*"))
	if len(bins)+len(dots) != 0 {
		t.Errorf("files left in the binary folder: %v %v", bins, dots)
	}
	if len(res.Env()) != 0 || res.Outputs["token"] != "" {
		t.Error("something was exported")
	}

	// A binary that was checked once and changed on disk afterwards is
	// downloaded and checked again, not run.
	w.rel.serve(w.rel.binary)
	ok := w.runSetup("registry2", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
		"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local"})
	if ok.Failed {
		t.Fatalf("setup with the right binary failed:\n%s", ok.Combined())
	}
	bin := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, "cargo-oidc")
	scnWriteFile(t, bin, "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
	before := w.rel.downloadCount()
	again := w.runSetup("registry3", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
		"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local"})
	if again.Failed || w.rel.downloadCount() != before+1 {
		t.Errorf("after the binary changed on disk: failed=%v, %d new downloads; want one new download and success", again.Failed, w.rel.downloadCount()-before)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the changed binary ran")
	}
	w.runPost()
}

// TestCompositeRefusals: setup errors that need no service: each fails with
// an ::error:: that says what to do, before any download.
func TestCompositeRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		prepare func(w *cmpWorld) map[string]string // returns extra inputs
		want    string
	}{
		{"not a release commit", nil, func(w *cmpWorld) map[string]string {
			os.Remove(filepath.Join(w.rel.setupDir, release.SetupVersionFile))
			return nil
		}, "this copy of the action is not a release"},
		{"32-bit runner", map[string]string{"RUNNER_ARCH": "X86"}, nil, "there is no cargo-oidc binary for RUNNER_ARCH=X86"},
		{"unknown OS", map[string]string{"RUNNER_OS": "Plan9"}, nil, "there is no cargo-oidc binary for RUNNER_OS=Plan9"},
		{"no checksum for the target", nil, func(w *cmpWorld) map[string]string {
			scnWriteFile(t, filepath.Join(w.rel.setupDir, release.SetupSumsFile), strings.Repeat("0", 64)+"  cargo-oidc-plan9-amd64\n", 0o644)
			return nil
		}, "has no checksum for cargo-oidc-"},
		{"mirror without the file", nil, func(w *cmpWorld) map[string]string {
			return map[string]string{"download-url": strings.Replace(w.rel.mirror, "{version}", "v0.0.1", 1)}
		}, "could not download"},
		{"default download URL", map[string]string{"PATH": "SHIM"}, func(w *cmpWorld) map[string]string {
			return map[string]string{"download-url": ""}
		}, "could not download https://github.com/cargo-oidc/cargo-oidc/releases/download/" + cmpVersion + "/cargo-oidc-"},
		{"not a URL", nil, func(w *cmpWorld) map[string]string {
			return map[string]string{"download-url": "mirror.example.com/cargo-oidc"}
		}, "is not an https, http or file URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(tt.env)
			if env["PATH"] == "SHIM" {
				// A curl that fails as for a network error: the test
				// sees the URL the action chose, without the network.
				shim := t.TempDir()
				scnWriteFile(t, filepath.Join(shim, "curl"), "#!/bin/sh\nexit 7\n", 0o755)
				env["PATH"] = shim + string(os.PathListSeparator) + os.Getenv("PATH")
			}
			w := cmpNewWorld(t, env)
			in := map[string]string{"provider": "jfrog", "url": w.s.JFrogURL, "provider-name": "x", "repository": "r"}
			in["download-url"] = w.rel.mirror
			if tt.prepare != nil {
				maps.Copy(in, tt.prepare(w))
			}
			res := w.setup.run(w.ctx, t, w.job, "registry", in, nil)
			if !res.Failed {
				t.Fatalf("setup succeeded:\n%s", res.Combined())
			}
			if !strings.Contains(res.Combined(), "::error title=cargo-oidc setup::") || !strings.Contains(res.Combined(), tt.want) {
				t.Errorf("output lacks the ::error:: %q:\n%s", tt.want, res.Combined())
			}
			if n := w.s.Issuer.Faults.Requests(); n != 0 {
				t.Errorf("%d ID token requests", n)
			}
		})
	}
}

// cmpBusyboxPATH makes a folder holding only busybox's applets and a bash
// that runs busybox sh (as in act's job image), for a job whose PATH has no
// bash, curl or GNU tools.
func cmpBusyboxPATH(t *testing.T) string {
	t.Helper()
	bb := ""
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			bb = p
		}
	}
	if bb == "" {
		harness.Require(t, "busybox", errors.New("not in /bin or /usr/bin; install busybox-static"))
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	dir := t.TempDir()
	for _, applet := range strings.Fields(string(out)) {
		if applet == "bash" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink(bb, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	scnWriteFile(t, filepath.Join(dir, "bash"), "#!"+bb+" sh\n"+
		"while [ $# -gt 0 ]; do case $1 in --noprofile|--norc) shift ;; *) break ;; esac; done\n"+
		"exec "+bb+" sh \"$@\"\n", 0o755)
	return dir
}

// TestCompositeBusyboxOnly: the composite's script is POSIX sh and needs
// no curl: on a job whose PATH holds only busybox (sh as bash, wget, no
// curl) it downloads with wget from an http:// mirror or copies from a
// file:// mirror, checks the checksum, runs JFrog (inputs with dashes in
// their names) and crates.io trusted publishing with a credentials file,
// and setup/post revokes and removes it.
func TestCompositeBusyboxOnly(t *testing.T) {
	t.Parallel()
	for _, mirror := range []string{"http", "file"} {
		t.Run(mirror, func(t *testing.T) {
			t.Parallel()
			w := cmpNewWorld(t, map[string]string{"PATH": cmpBusyboxPATH(t)})
			if mirror == "http" {
				// busybox's wget cannot complete a TLS handshake with Go's
				// servers (and validates no certificate anyway): a plain
				// HTTP mirror, which the checksum makes as safe.
				srv := httptest.NewServer(w.rel.handler)
				t.Cleanup(srv.Close)
				w.rel.mirror = srv.URL + "/releases/{version}"
			}
			if mirror == "file" {
				dir := filepath.Join(t.TempDir(), cmpVersion)
				scnWriteFile(t, filepath.Join(dir, w.rel.asset), string(w.rel.binary), 0o644)
				w.rel.mirror = "file://" + filepath.Dir(dir) + "/{version}"
			}
			jf := w.runSetup("jfrog", map[string]string{"provider": "jfrog", "url": w.s.JFrogURL,
				"provider-name": w.s.JFrog.ProviderName, "repository": "cargo-local", "registry-name": "corp"})
			if jf.Failed || jf.Outputs["registry-name"] != "corp" || !w.s.Store.Valid(jf.Outputs["token"]) {
				t.Fatalf("jfrog setup with busybox only (inputs with dashes) failed:\n%s", jf.Combined())
			}
			creds := filepath.Join(w.job.Temp(), "credentials.toml")
			res := w.runSetup("crates-io", map[string]string{"provider": "crates-io", "url": w.s.CratesIOURL, "credentials-file": creds})
			if res.Failed {
				t.Fatalf("setup failed with busybox only:\n%s", res.Combined())
			}
			if want := map[string]int{"http": 1, "file": 0}[mirror]; w.rel.downloadCount() != want {
				t.Errorf("%d downloads from the HTTPS mirror, want %d", w.rel.downloadCount(), want)
			}
			tok := res.Outputs["token"]
			if !w.s.Store.Valid(tok) {
				t.Fatal("no valid crates.io token")
			}
			w.runPost()
			if w.s.Store.Valid(tok) {
				t.Error("setup/post did not revoke the token")
			}
			if _, err := os.Stat(creds); !os.IsNotExist(err) {
				t.Errorf("setup/post left the credentials file (%v)", err)
			}
			w.checkNoLeak()
		})
	}
}

// TestCompositeProviderModePublish: crates.io in provider mode natively:
// `cargo publish` gets its token from the installed provider, which records
// what it mints; setup/post revokes the step's token and every minted one.
func TestCompositeProviderModePublish(t *testing.T) {
	t.Parallel()
	scnCargo(t)
	w := cmpNewWorld(t, nil)
	w.job.SetEnv(fakes.CratesIOURLEnv, w.s.CratesIOIndex)
	res := w.runSetup("crates-io", map[string]string{"provider": "crates-io", "url": w.s.CratesIOURL, "credential-mode": "provider"})
	if res.Failed {
		t.Fatalf("setup failed:\n%s", res.Combined())
	}
	prov := res.Env()["CARGO_REGISTRY_CREDENTIAL_PROVIDER"]
	if !strings.HasPrefix(prov, filepath.Join(w.job.Temp(), "cargo-oidc-setup", "home")) {
		t.Fatalf("CARGO_REGISTRY_CREDENTIAL_PROVIDER = %q, want the copy under RUNNER_TEMP/cargo-oidc-setup/home", prov)
	}
	provWrite(t, w.job.Workspace(), map[string]string{"Cargo.toml": provManifest("cmp-published", "0.1.0", ""), "src/lib.rs": "pub fn f() {}\n"})
	if r := w.cargo("publish", "--allow-dirty", "--no-verify"); r.Failed() {
		t.Fatalf("cargo publish through the provider failed:\n%s", r.Combined())
	}
	if got := strings.Join(w.s.Registry.Published(), ","); got != "cmp-published@0.1.0" {
		t.Errorf("published %q", got)
	}
	var issued []string
	for _, tk := range w.s.Store.Tokens() {
		if tk.Kind == fakes.KindAccessToken && tk.Service == "crates-io" {
			issued = append(issued, tk.Value)
		}
	}
	if len(issued) != 1 {
		t.Fatalf("%d crates.io tokens issued, want the step's only (it seeds the provider's cache)", len(issued))
	}
	w.runPost()
	for i, tok := range issued {
		if w.s.Store.Valid(tok) {
			t.Errorf("crates.io token %d of %d is still valid after setup/post", i+1, len(issued))
		}
	}
	w.checkNoLeak()
}

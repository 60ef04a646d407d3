package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
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

// cmpOwnInputs are the inputs one action has and the other lacks, and why:
// the composite's download-url (the container action has no binary to
// download: its image is pulled by the runner), and the container action's
// host paths (runs.args; the composite runs on the host, where
// GITHUB_WORKSPACE and RUNNER_TEMP are the host paths already).
var cmpOwnInputs = map[string]string{"download-url": "setup/action.yml", "host-workspace": "action.yml", "host-temp": "action.yml"}

// TestCompositeInputsOutputsMatchContainerAction: setup/action.yml and
// setup/post/action.yml load under the runner's rules; setup/action.yml
// declares the container action's inputs (name, description, required,
// default) and outputs (name, description), in the same order, except
// cmpOwnInputs; it runs only bash steps; its step run passes every shared
// input on as CARGO_OIDC_IN_<NAME> (an identifier: dash and busybox sh drop
// INPUT_REGISTRY-NAME and the like from the environment, and no input value
// goes on a command line), and every output is forwarded from that step.
func TestCompositeInputsOutputsMatchContainerAction(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	if _, err := runner.LoadAction(filepath.Join(root, "setup/post/action.yml")); err != nil {
		t.Errorf("the runner would not load setup/post/action.yml: %v", err)
	}
	comp, err := runner.LoadAction(filepath.Join(root, "setup/action.yml"))
	if err != nil || comp.Runs.Using != "composite" {
		t.Fatalf("the runner would not load setup/action.yml as a composite action: %v", err)
	}
	main := repoAction(t)
	shared := func(a *runner.Action, file string) (names []string, byName map[string]runner.Input) {
		byName = map[string]runner.Input{}
		for _, in := range a.Inputs {
			in.DeprecationMessage = ""
			byName[in.Name] = in
			if cmpOwnInputs[in.Name] == "" {
				names = append(names, in.Name)
			}
		}
		for k, owner := range cmpOwnInputs {
			if _, ok := byName[k]; ok != (owner == file) {
				t.Errorf("input %q is listed as %s's own, but %s has it: %v (fix the exception)", k, owner, file, ok)
			}
		}
		return names, byName
	}
	mainIn, mainBy := shared(main, "action.yml")
	compIn, compBy := shared(comp, "setup/action.yml")
	if !slices.Equal(mainIn, compIn) {
		t.Errorf("inputs differ (exceptions aside):\n action.yml:       %v\n setup/action.yml: %v", mainIn, compIn)
	}
	for _, k := range mainIn {
		if mainBy[k] != compBy[k] {
			t.Errorf("input %s is %+v in action.yml but %+v in setup/action.yml", k, mainBy[k], compBy[k])
		}
	}
	var run *runner.CompositeStep
	for i, st := range comp.Runs.Steps {
		if st.ID == "run" {
			run = &comp.Runs.Steps[i]
		}
		if st.Shell != "bash" || st.Uses != "" {
			t.Errorf("setup/action.yml step %d: shell %q, uses %q; want only bash (the one shell of all three hosted OSes)", i+1, st.Shell, st.Uses)
		}
	}
	if run == nil {
		t.Fatal("setup/action.yml has no step with id run")
	}
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
	if len(main.Outputs) != len(comp.Outputs) {
		t.Errorf("%d outputs in action.yml, %d in setup/action.yml", len(main.Outputs), len(comp.Outputs))
	}
	for i, o := range comp.Outputs {
		if i >= len(main.Outputs) || main.Outputs[i].Name != o.Name || main.Outputs[i].Description != o.Description || o.Value != "${{ steps.run.outputs."+o.Name+" }}" {
			t.Errorf("setup/action.yml output %d (%s) is not action.yml's, in order, forwarded from step run", i+1, o.Name)
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
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "setup"))); err != nil {
		t.Fatal(err)
	}
	var sums []release.Sum
	for _, tg := range release.Targets {
		if tg == host {
			sums = append(sums, release.SumOf(tg.Asset(), bin))
		} else {
			sums = append(sums, release.SumOf(tg.Asset(), []byte("not built by the e2e tests: "+tg.String())))
		}
	}
	for _, name := range []string{release.SetupSumsFile, release.SetupVersionFile} {
		_ = os.Remove(filepath.Join(dir, name)) // a release commit writes its own
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
	env := cargoEnv(s, map[string]string{"CURL_CA_BUNDLE": s.CAFile})
	maps.Copy(env, extraEnv)
	if runtime.GOARCH == "arm64" {
		env["RUNNER_ARCH"] = "ARM64"
	}
	job := runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})
	rel := cmpNewRelease(t, s.CA, s.CAFile)
	return &cmpWorld{t: t, ctx: ctx, s: s, job: job, rel: rel,
		setup: cmpLoad(t, rel.setupDir), post: cmpLoad(t, filepath.Join(rel.setupDir, "post"))}
}

// runSetup runs the setup composite with p's inputs, extra and the mirror.
func (w *cmpWorld) runSetup(id string, p provider, extra map[string]string) *cmpResult {
	w.t.Helper()
	in := p.inputs(w.s)
	maps.Copy(in, extra)
	if _, ok := in["download-url"]; !ok {
		in["download-url"] = w.rel.mirror
	}
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

func (w *cmpWorld) cargo(args ...string) *runner.StepResult {
	w.t.Helper()
	res, err := w.job.Run(w.ctx, "cargo", args...)
	if err != nil {
		w.t.Fatalf("cargo %v: %v", args, err)
	}
	return res
}

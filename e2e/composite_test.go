package e2e

import (
	"cmp"
	"context"
	"crypto/rand"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// The composite action (setup/) run by runner.Job.RunComposite against a local HTTPS mirror.

const cmpVersion = "v0.99.1"

// cmpOwnInputs are the inputs only one of the two actions has: the composite
// downloads a binary, the container action needs the host's paths.
var cmpOwnInputs = map[string]string{"download-url": "setup/action.yml", "host-workspace": "action.yml", "host-temp": "action.yml"}

// TestCompositeInputsOutputsMatchContainerAction: setup/action.yml loads, declares the
// container action's inputs and outputs in order (but cmpOwnInputs), passes each input as
// CARGO_OIDC_IN_<NAME> (dash and busybox sh drop INPUT_REGISTRY-NAME), forwards each output.
func TestCompositeInputsOutputsMatchContainerAction(t *testing.T) {
	t.Parallel()
	comp, err := runner.LoadAction(filepath.Join(harness.Root(t), "setup/action.yml"))
	if err != nil || comp.Runs.Using != "composite" {
		t.Fatalf("the runner would not load setup/action.yml as a composite action: %v", err)
	}
	main := repoAction(t)
	for k, owner := range cmpOwnInputs {
		_, inMain := main.Input(k)
		if _, inComp := comp.Input(k); inMain != (owner == "action.yml") || inComp != (owner == "setup/action.yml") {
			t.Errorf("input %q is listed as %s's own, but action.yml has it: %v, setup/action.yml: %v (fix the exception)", k, owner, inMain, inComp)
		}
	}
	shared := func(a *runner.Action) (ins []runner.Input) {
		for _, in := range a.Inputs {
			if cmpOwnInputs[in.Name] == "" {
				ins = append(ins, in)
			}
		}
		return ins
	}
	mainIn, compIn := shared(main), shared(comp)
	if !slices.Equal(mainIn, compIn) {
		t.Errorf("inputs differ (name, description, required, default, order; exceptions aside):\n action.yml:       %+v\n setup/action.yml: %+v", mainIn, compIn)
	}
	want := map[string]string{}
	for _, in := range mainIn {
		want[ghaction.CompositeInputPrefix+strings.ToUpper(strings.ReplaceAll(in.Name, "-", "_"))] = "${{ inputs." + in.Name + " }}"
	}
	i := slices.IndexFunc(comp.Runs.Steps, func(st runner.CompositeStep) bool { return st.ID == "run" })
	if i < 0 {
		t.Fatal("setup/action.yml has no step with id run")
	}
	got := maps.Clone(comp.Runs.Steps[i].Env)
	maps.DeleteFunc(got, func(k, _ string) bool { return !strings.HasPrefix(k, ghaction.CompositeInputPrefix) })
	if !maps.Equal(got, want) {
		t.Errorf("step run passes on the inputs as\n %v\nwant\n %v", got, want)
	}
	wantOut := slices.Clone(main.Outputs)
	for i, o := range wantOut {
		wantOut[i].Value = "${{ steps.run.outputs." + o.Name + " }}"
	}
	if !slices.Equal(comp.Outputs, wantOut) {
		t.Errorf("setup/action.yml's outputs are not action.yml's, in order, forwarded from step run:\n %+v\nwant\n %+v", comp.Outputs, wantOut)
	}
}

// cmpRelease is a release: setup/ with its SHA256SUMS and VERSION (this
// machine's asset is the built binary) and an HTTPS mirror serving it.
type cmpRelease struct {
	setupDir, asset string
	mirror          string // download-url, with {version}
	binary          []byte
	handler         http.Handler              // the mirror's
	body            atomic.Pointer[[]byte]    // what the mirror serves for the binary
	auth            atomic.Pointer[[2]string] // Basic credentials the mirror requires, when set
	downloads       atomic.Int32
}

func cmpNewRelease(t *testing.T, ca *fakes.CA) *cmpRelease {
	t.Helper()
	host, err := release.ParseTarget(runtime.GOOS + "/" + runtime.GOARCH)
	if err != nil {
		t.Skipf("skipping: this machine's target is not released: %v", err)
	}
	bin := []byte(readFile(t, provBinary(t)))
	dir := filepath.Join(t.TempDir(), "cargo-oidc", "setup")
	testenv.Must(t, os.CopyFS(dir, os.DirFS(filepath.Join(harness.Root(t), "setup"))))
	var sums []release.Sum
	for _, tg := range release.Targets {
		data := []byte("not built by the e2e tests: " + tg.String())
		if tg == host {
			data = bin
		}
		sums = append(sums, release.SumOf(tg.Asset(), data))
	}
	files, err := release.SetupFiles(cmpVersion, sums)
	testenv.Must(t, err)
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), string(data), 0o644)
	}
	r := &cmpRelease{setupDir: dir, asset: host.Asset(), binary: bin}
	r.body.Store(&bin)
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, _ := req.BasicAuth(); r.auth.Load() != nil && [2]string{u, p} != *r.auth.Load() {
			http.Error(w, "mirror credentials required", http.StatusUnauthorized)
			return
		}
		if req.URL.Path != "/releases/"+cmpVersion+"/"+r.asset {
			http.NotFound(w, req)
			return
		}
		r.downloads.Add(1)
		_, _ = w.Write(*r.body.Load())
	})
	srv := ca.StartServer(r.handler)
	t.Cleanup(srv.Close)
	r.mirror = srv.URL + "/releases/{version}"
	return r
}

// requireAuth makes the mirror require user:pass and returns a download-url carrying them.
func (r *cmpRelease) requireAuth(user, pass string) string {
	r.auth.Store(&[2]string{user, pass})
	return strings.Replace(r.mirror, "https://", "https://"+user+":"+pass+"@", 1)
}

// cmpWorld is one job using the composite: fakes, the job, the release and its two actions.
type cmpWorld struct {
	t           *testing.T
	ctx         context.Context
	s           *fakes.Stack
	job         *runner.Job
	rel         *cmpRelease
	setup, post *runner.Action
}

func cmpNewWorld(t *testing.T, extraEnv map[string]string) *cmpWorld {
	t.Helper()
	harness.Tool(t, "curl", "install curl")
	ctx, cancel := harness.Context(t.Context(), t, "a job with the composite action", 3*time.Minute)
	t.Cleanup(cancel)
	s := fakes.StartT(t, fakes.Options{})
	env := cargoEnv(s, map[string]string{"CURL_CA_BUNDLE": s.CAFile})
	maps.Copy(env, extraEnv)
	if runtime.GOARCH == "arm64" {
		env["RUNNER_ARCH"] = "ARM64"
	}
	w := &cmpWorld{t: t, ctx: ctx, s: s, rel: cmpNewRelease(t, s.CA),
		job: runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})}
	var err error
	if w.setup, err = runner.LoadAction(filepath.Join(w.rel.setupDir, "action.yml")); err == nil {
		w.post, err = runner.LoadAction(filepath.Join(w.rel.setupDir, "post", "action.yml"))
	}
	testenv.Must(t, err)
	return w
}

// run runs the composite action a as step id; the runner must neither refuse nor warn.
func (w *cmpWorld) run(a *runner.Action, id string, with map[string]string) *runner.StepResult {
	w.t.Helper()
	res, err := w.job.RunComposite(w.ctx, a, runner.Step{ID: id, Inputs: with})
	if err != nil || len(res.Warnings) > 0 {
		w.t.Fatalf("the runner refused (%v) or warned (%q) for %s", harness.Err(w.ctx, err), res.Warnings, a.Dir)
	}
	w.t.Logf("step %s:\n%s", id, res.Combined())
	return res
}

// runSetup runs the setup composite with p's inputs, extra and the mirror.
func (w *cmpWorld) runSetup(id string, p provider, extra map[string]string) *runner.StepResult {
	w.t.Helper()
	in := p.inputs(w.s)
	in["download-url"] = w.rel.mirror
	maps.Copy(in, extra)
	return w.run(w.setup, id, in)
}

// runPost runs setup/post, which must succeed and remove the action's folder.
func (w *cmpWorld) runPost() *runner.StepResult {
	w.t.Helper()
	res := w.run(w.post, "post", nil)
	if res.Failed() {
		w.t.Fatalf("setup/post failed")
	}
	if _, err := os.Stat(filepath.Join(w.job.Temp(), "cargo-oidc-setup")); !os.IsNotExist(err) {
		w.t.Errorf("setup/post left RUNNER_TEMP/cargo-oidc-setup behind (%v)", err)
	}
	return res
}

// TestComposite: the composite downloads, checks and runs the binary once; a later cargo works
// with the token or the provider; setup/post revokes every crates.io token, no JFrog one.
func TestComposite(t *testing.T) {
	testenv.Run(t, map[string]struct{}{"jfrog/token": {}, "jfrog/provider": {}, "crates-io/provider": {}, "azure/provider": {}}, func(t *testing.T, name string, _ struct{}) {
		provider, mode, _ := strings.Cut(name, "/")
		scnCargo(t)
		p := providerNamed(t, provider)
		w := cmpNewWorld(t, nil)
		res := w.runSetup("registry", p, map[string]string{"credential-mode": mode})
		if res.Failed() || !strings.Contains(res.Combined(), "matches") || w.rel.downloads.Load() != 1 {
			t.Fatalf("setup failed, or did not download and check the binary once (%d downloads):\n%s", w.rel.downloads.Load(), res.Combined())
		}
		tok := res.Outputs["token"]
		if mode == "token" {
			if !w.s.Store.Valid(tok) || !slices.Contains(res.Masks, tok) || res.Env[p.tokenVar()] != p.auth(tok) || res.Outputs["registry-name"] != p.registry {
				t.Errorf("the token output is not a masked %s token exported as %s (outputs %v)", p.name, p.tokenVar(), slices.Sorted(maps.Keys(res.Outputs)))
			}
		} else {
			want := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "home", ".cargo-oidc", "bin", "cargo-oidc") + " --provider=" + p.name
			if prov := res.Env[p.providerVar()]; tok != "" || !strings.HasPrefix(prov, want) {
				t.Fatalf("token output set (%v) or %s = %q, want it to start with %q", tok != "", p.providerVar(), prov, want)
			}
		}
		before := w.s.Store.Exchanges("")
		args := []string{"fetch"}
		writeFiles(t, w.job.Workspace(), project("cmp-user", "0.1.0", dependsOn(p.registry)))
		if p.envName == "" {
			args = []string{"publish", "--allow-dirty", "--no-verify"}
			writeFiles(t, w.job.Workspace(), project("cmp-published", "0.1.0", ""))
		}
		if r, err := w.job.Run(w.ctx, "cargo", args...); err != nil || r.Failed() {
			t.Fatalf("cargo %v failed (%v):\n%s", args, err, r.Combined())
		}
		if mode == "provider" && w.s.Store.Exchanges("") != before {
			t.Error("cargo made the provider exchange again instead of using the step's token from its cache")
		}
		if got := strings.Join(w.s.Registry.Published(), ","); p.envName == "" && got != "cmp-published@0.1.0" {
			t.Errorf("published %q", got)
		}
		w.runPost()
		issued := 0
		for _, tk := range w.s.Store.Tokens() {
			if tk.Kind == fakes.KindAccessToken && tk.Service == p.name {
				issued++
				if tk.Revoked != (p.name == "crates-io") {
					t.Errorf("after setup/post a %s token is revoked=%v", p.name, tk.Revoked)
				}
			}
		}
		if p.name == "crates-io" && mode == "provider" && issued != 1 {
			t.Errorf("%d crates.io tokens issued, want the step's only (it seeds the provider's cache)", issued)
		}
		if p.name == "azure" {
			azCheckRequests(t, w.s)
		}
		checkJobNoLeak(t, w.job, w.s)
	})
}

// TestCompositeRefusals: refused setup steps fail with an ::error, export
// nothing, never print the mirror's password; setup.sh's request no ID token.
func TestCompositeRefusals(t *testing.T) {
	type refusal struct {
		provider string
		env      map[string]string
		prepare  func(w *cmpWorld, url string) map[string]string // extra inputs; url has the mirror's password
		want     string
		binary   bool // the checked binary ran and refused
		check    func(t *testing.T, w *cmpWorld)
	}
	testenv.Run(t, map[string]refusal{
		"not a release commit": {prepare: func(w *cmpWorld, _ string) map[string]string {
			os.Remove(filepath.Join(w.rel.setupDir, release.SetupVersionFile))
			return nil
		}, want: "this copy of the action is not a release"},
		"32-bit runner": {env: map[string]string{"RUNNER_ARCH": "X86"}, want: "there is no cargo-oidc binary for RUNNER_ARCH=X86"},
		"unknown OS":    {env: map[string]string{"RUNNER_OS": "Plan9"}, want: "there is no cargo-oidc binary for RUNNER_OS=Plan9"},
		"no checksum for the target": {prepare: func(w *cmpWorld, _ string) map[string]string {
			writeFile(w.t, filepath.Join(w.rel.setupDir, release.SetupSumsFile), strings.Repeat("0", 64)+"  cargo-oidc-plan9-amd64\n", 0o644)
			return nil
		}, want: "has no checksum for cargo-oidc-"},
		"mirror without the file": {prepare: func(w *cmpWorld, url string) map[string]string {
			return map[string]string{"download-url": strings.Replace(url, "{version}", "v0.0.1", 1)}
		}, want: "could not download https://127.0.0.1:"}, // the URL without its user information
		"default download URL": {prepare: func(w *cmpWorld, _ string) map[string]string {
			curl := writeFile(w.t, filepath.Join(w.t.TempDir(), "curl"), "#!/bin/sh\nexit 7\n", 0o755)
			w.job.SetEnv("PATH", filepath.Dir(curl)+string(os.PathListSeparator)+w.job.Env()["PATH"])
			return map[string]string{"download-url": ""}
		}, want: "could not download https://github.com/cargo-oidc/cargo-oidc/releases/download/" + cmpVersion + "/cargo-oidc-"},
		"not a URL, with credentials": {prepare: func(_ *cmpWorld, url string) map[string]string {
			return map[string]string{"download-url": strings.TrimPrefix(url, "https://")}
		}, want: "download-url is not an https, http or file URL"},
		// The mirror serves a script that would leave a marker if it ran; a
		// checked binary changed on disk is downloaded and checked again.
		"wrong checksum": {prepare: func(w *cmpWorld, _ string) map[string]string {
			w.rel.body.Store(new([]byte("#!/bin/sh\ntouch '" + filepath.Join(w.job.Temp(), "tampered-binary-ran") + "'\n")))
			return nil
		}, want: "::error title=cargo-oidc setup::the SHA-256 of ", check: func(t *testing.T, w *cmpWorld) {
			marker := filepath.Join(w.job.Temp(), "tampered-binary-ran")
			binDir := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion)
			if left, _ := os.ReadDir(binDir); len(left) != 0 || len(w.s.Store.Tokens()) != 0 {
				t.Errorf("files left in the binary folder (%d), or a token was issued", len(left))
			}
			w.rel.auth.Store(nil)
			w.rel.body.Store(&w.rel.binary)
			jfrog := providerNamed(t, "jfrog")
			if ok := w.runSetup("registry2", jfrog, nil); ok.Failed() {
				t.Fatalf("setup with the right binary failed:\n%s", ok.Combined())
			}
			writeFile(t, filepath.Join(binDir, "cargo-oidc"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
			before := w.rel.downloads.Load()
			if again := w.runSetup("registry3", jfrog, nil); again.Failed() || w.rel.downloads.Load() != before+1 {
				t.Errorf("after the binary changed on disk: failed=%v, %d new downloads; want one new download and success", again.Failed(), w.rel.downloads.Load()-before)
			}
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Errorf("a tampered binary ran")
			}
			w.runPost()
		}},
		// A step the binary fails leaves an empty state for setup/post.
		"binary refuses": {provider: "crates-io", binary: true, prepare: func(w *cmpWorld, _ string) map[string]string {
			return map[string]string{"credentials-file": filepath.Join(w.t.TempDir(), "credentials.toml")}
		}, want: "credentials-file", check: func(t *testing.T, w *cmpWorld) {
			if post := w.runPost(); !strings.Contains(post.Combined(), "its setup step did not finish") {
				t.Errorf("setup/post does not say the step did not finish:\n%s", post.Combined())
			}
			for _, tk := range w.s.Store.Tokens() {
				if tk.Kind == fakes.KindAccessToken && w.s.Store.Valid(tk.Value) {
					t.Errorf("a %s token is valid after the failed step and setup/post", tk.Service)
				}
			}
		}},
	}, func(t *testing.T, _ string, tt refusal) {
		w := cmpNewWorld(t, tt.env)
		pass := "pw-" + rand.Text()
		url := w.rel.requireAuth("u", pass)
		extra := map[string]string{"download-url": url}
		if tt.prepare != nil {
			maps.Copy(extra, tt.prepare(w, url))
		}
		res := w.runSetup("registry", providerNamed(t, cmp.Or(tt.provider, "jfrog")), extra)
		if out := res.Combined(); !res.Failed() || !strings.Contains(out, "::error") || !strings.Contains(out, tt.want) {
			t.Errorf("want a failure with an ::error saying %q", tt.want)
		} else if !tt.binary && !strings.Contains(out, "::error title=cargo-oidc setup::") {
			t.Errorf("the error is not setup.sh's")
		}
		if n := w.s.Issuer.Faults.Requests(); !tt.binary && n != 0 {
			t.Errorf("%d ID token requests", n)
		}
		exported := maps.Clone(res.Env)
		delete(exported, "CARGO_OIDC_SETUP_JOB") // the job's id for setup/post, no credential
		if len(exported) != 0 || res.Outputs["token"] != "" {
			t.Errorf("a failed setup step exported %v and a token %v", slices.Sorted(maps.Keys(exported)), res.Outputs["token"] != "")
		}
		if tt.check != nil {
			tt.check(t, w)
		}
		checkJobNoLeak(t, w.job, w.s, pass)
	})
}

// TestCompositePostActsOnlyOnItsJob: setup/post warns about and skips another job's state and
// a binary changed after setup, running neither, and still cleans up this job's state.
func TestCompositePostActsOnlyOnItsJob(t *testing.T) {
	type plant struct {
		plant  func(t *testing.T, w *cmpWorld, stateDir, marker string)
		revoke bool
		want   string
	}
	testenv.Run(t, map[string]plant{
		"leftover state of another run": {func(t *testing.T, w *cmpWorld, stateDir, marker string) {
			writeFiles(t, stateDir, map[string]string{
				"0002.state": "provider=crates-io\nrevoke=true\ntoken=cio_tp_other\n",
				"0002.id":    "run=1\nattempt=1\njob=build\nsetup=" + strings.Repeat("0", 32) + "\n",
				"0002.bin":   filepath.Join(filepath.Dir(marker), "evil.sh") + "\n",
				"0003.state": "provider=crates-io\n",
			})
			writeFile(t, filepath.Join(filepath.Dir(marker), "evil.sh"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
		}, true, "state 0003 in "},
		"binary changed after setup": {func(t *testing.T, w *cmpWorld, stateDir, marker string) {
			writeFile(t, filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, "cargo-oidc"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
		}, false, "binary in "},
	}, func(t *testing.T, _ string, tt plant) {
		w := cmpNewWorld(t, nil)
		res := w.runSetup("crates-io", providerNamed(t, "crates-io"), nil)
		if res.Failed() {
			t.Fatalf("setup failed:\n%s", res.Combined())
		}
		tok := res.Outputs["token"]
		marker := filepath.Join(t.TempDir(), "planted-program-ran")
		tt.plant(t, w, filepath.Join(w.job.Temp(), "cargo-oidc-setup", "state"), marker)
		out := w.runPost().Combined()
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Errorf("setup/post ran a planted program")
		}
		if !strings.Contains(out, "::warning") || !strings.Contains(out, tt.want) {
			t.Errorf("setup/post does not warn %q:\n%s", tt.want, out)
		}
		if tt.revoke && (w.s.Store.Valid(tok) || !strings.Contains(out, "Revoked the crates.io token.") ||
			strings.Count(out, "was not written by a setup step of this job") != 2) {
			t.Errorf("this job's token was not revoked, or no warning for each of the two foreign states:\n%s", out)
		}
		if w.s.Store.Revocations() > 1 {
			t.Errorf("%d revocations, want at most this job's one", w.s.Store.Revocations())
		}
	})
}

// TestCICompositeTestsThisCheckout: ci.yml's step turns examples/composite's one
// `uses: cargo-oidc/cargo-oidc@v1` into `uses: ./`, or fails leaving the file alone.
func TestCICompositeTestsThisCheckout(t *testing.T) {
	const rewriteStep = "point examples/composite at this checkout"
	bash := harness.Tool(t, "bash", "install bash (with grep and sed)")
	root := harness.Root(t)
	doc, err := parseYAML([]byte(readFile(t, filepath.Join(root, ".github/workflows/ci.yml"))))
	testenv.Must(t, err)
	rewrite, uses := -1, -1
	var script string
	for i, st := range yitems(yget(doc, "jobs", "composite", "steps")) {
		switch {
		case ystr(yget(st, "name")) == rewriteStep:
			rewrite, script = i, ystr(yget(st, "run"))
		case strings.TrimSuffix(ystr(yget(st, "uses")), "/") == "./examples/composite" && uses < 0:
			uses = i
		}
	}
	if rewrite < 0 || script == "" || uses < 0 || rewrite > uses {
		t.Fatalf("ci.yml's composite job: step %q at %d, uses: ./examples/composite at %d; want the rewrite first", rewriteStep, rewrite, uses)
	}
	example := readFile(t, filepath.Join(root, "examples/composite/action.yml"))
	const ref = "    - uses: cargo-oidc/cargo-oidc@v1\n"
	if strings.Count(example, ref) != 1 {
		t.Fatalf("examples/composite/action.yml has %d lines %q, want 1", strings.Count(example, ref), ref)
	}
	step, _, _ := strings.Cut(example[strings.Index(example, ref):], "\n\n")
	const idLine = "      id: cargo-oidc\n"
	type variant struct{ in, want string } // want "": the step fails with an ::error:: and leaves the file alone
	testenv.Run(t, map[string]variant{
		"the example": {example, strings.Replace(example, ref, "    - uses: ./\n", 1)},
		"uses after id": {strings.Replace(example, ref+idLine, "    - id: cargo-oidc\n      uses: cargo-oidc/cargo-oidc@v1\n", 1),
			strings.Replace(example, ref+idLine, "    - id: cargo-oidc\n      uses: ./\n", 1)},
		"another release":    {strings.ReplaceAll(example, "cargo-oidc/cargo-oidc@v1", "cargo-oidc/cargo-oidc@v2"), ""},
		"pinned to a commit": {strings.Replace(example, ref, "    - uses: cargo-oidc/cargo-oidc@0123456789abcdef0123456789abcdef01234567 # v1\n", 1), ""},
		"two steps":          {strings.Replace(example, step, step+"\n"+strings.Replace(step, "id: cargo-oidc", "id: again", 1), 1), ""},
	}, func(t *testing.T, _ string, tt variant) {
		dir := t.TempDir()
		file := writeFile(t, filepath.Join(dir, "examples/composite/action.yml"), tt.in, 0o644)
		cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", writeFile(t, filepath.Join(t.TempDir(), "step.sh"), script, 0o644))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		got := readFile(t, file)
		switch {
		case tt.want == "" && (err == nil || !strings.Contains(string(out), "::error title=composite::") || got != tt.in):
			t.Errorf("the step succeeded, said nothing or changed the file (%v):\n%s", err, out)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("the step failed (%v) or rewrote the file to:\n%s\nwant:\n%s\noutput:\n%s", err, got, tt.want, out)
		}
		if _, err := os.Stat(file + ".pr"); !os.IsNotExist(err) {
			t.Errorf("the step left %s.pr behind", file)
		}
	})
}

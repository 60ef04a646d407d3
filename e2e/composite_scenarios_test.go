package e2e

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

// TestComposite: on the runner emulation, the composite downloads the
// release binary from the mirror once, checks it and runs it; a later real
// `cargo fetch` (or for crates.io `cargo publish`) works with what it
// exported: the token (token mode), or the credential provider, the checked
// binary copied under RUNNER_TEMP (the action's HOME, as in the container),
// which mints its own tokens (Azure's through Entra at
// AZURE_AUTHORITY_HOST). setup/post revokes every crates.io token (the
// step's and the minted ones), no JFrog token, and removes the action's
// files.
func TestComposite(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ provider, mode string }{{"jfrog", "token"}, {"jfrog", "provider"}, {"crates-io", "provider"}, {"azure", "provider"}} {
		t.Run(tt.provider+"/"+tt.mode, func(t *testing.T) {
			t.Parallel()
			scnCargo(t)
			p := providerNamed(t, tt.provider)
			w := cmpNewWorld(t, nil)
			res := w.runSetup("registry", p, map[string]string{"credential-mode": tt.mode})
			if res.Failed || !strings.Contains(res.Combined(), "matches") || w.rel.downloadCount() != 1 {
				t.Fatalf("setup failed, or did not download and check the binary once (%d downloads):\n%s", w.rel.downloadCount(), res.Combined())
			}
			tok := res.Outputs["token"]
			if tt.mode == "token" {
				if !w.s.Store.Valid(tok) || !slices.Contains(res.Masks(), tok) || res.Env()[p.tokenVar()] != p.auth(tok) || res.Outputs["registry-name"] != p.registry {
					t.Errorf("the token output is not a masked %s token exported as %s (outputs %v)", p.name, p.tokenVar(), slices.Sorted(maps.Keys(res.Outputs)))
				}
			} else {
				want := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "home", ".cargo-oidc", "bin", "cargo-oidc") + " --provider=" + p.name
				if prov := res.Env()[p.providerVar()]; tok != "" || !strings.HasPrefix(prov, want) {
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
			if r := w.cargo(args...); r.Failed() {
				t.Fatalf("cargo %v failed:\n%s", args, r.Combined())
			}
			if tt.mode == "provider" && w.s.Store.Exchanges("") != before {
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
			if p.name == "crates-io" && tt.mode == "provider" && issued != 1 {
				t.Errorf("%d crates.io tokens issued, want the step's only (it seeds the provider's cache)", issued)
			}
			if p.name == "azure" {
				azCheckRequests(t, w.s)
			}
			checkJobNoLeak(t, w.job, w.s)
		})
	}
}

// TestCompositeRefusals: setup steps that fail. Each fails with an ::error
// that says what to do, exports nothing, and never prints the password of
// the mirror's download-url; those refused by setup.sh request no ID token.
func TestCompositeRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, provider string
		env            map[string]string
		// prepare returns extra inputs; url is the mirror's download-url,
		// with user u and the password.
		prepare func(w *cmpWorld, url string) map[string]string
		want    func(w *cmpWorld, url string) string
		// binary: the checked binary ran and refused (it may have asked
		// for an ID token); check adds the row's own checks.
		binary bool
		check  func(t *testing.T, w *cmpWorld)
	}{
		{name: "not a release commit", prepare: func(w *cmpWorld, _ string) map[string]string {
			os.Remove(filepath.Join(w.rel.setupDir, release.SetupVersionFile))
			return nil
		}, want: cmpSays("this copy of the action is not a release")},
		{name: "32-bit runner", env: map[string]string{"RUNNER_ARCH": "X86"}, want: cmpSays("there is no cargo-oidc binary for RUNNER_ARCH=X86")},
		{name: "unknown OS", env: map[string]string{"RUNNER_OS": "Plan9"}, want: cmpSays("there is no cargo-oidc binary for RUNNER_OS=Plan9")},
		{name: "no checksum for the target", prepare: func(w *cmpWorld, _ string) map[string]string {
			writeFile(w.t, filepath.Join(w.rel.setupDir, release.SetupSumsFile), strings.Repeat("0", 64)+"  cargo-oidc-plan9-amd64\n", 0o644)
			return nil
		}, want: cmpSays("has no checksum for cargo-oidc-")},
		{name: "mirror without the file", prepare: func(w *cmpWorld, url string) map[string]string {
			return map[string]string{"download-url": strings.Replace(url, "{version}", "v0.0.1", 1)}
		}, want: func(w *cmpWorld, _ string) string { // the URL without its user information
			return "could not download " + strings.Replace(w.rel.mirror, "{version}", "v0.0.1", 1) + "/" + w.rel.asset
		}},
		// A curl that fails as for a network error: the test sees the URL
		// the action chose, without the network.
		{name: "default download URL", env: map[string]string{"PATH": "SHIM"}, prepare: func(*cmpWorld, string) map[string]string {
			return map[string]string{"download-url": ""}
		}, want: cmpSays("could not download https://github.com/cargo-oidc/cargo-oidc/releases/download/" + cmpVersion + "/cargo-oidc-")},
		{name: "not a URL, with credentials", prepare: func(_ *cmpWorld, url string) map[string]string {
			return map[string]string{"download-url": strings.TrimPrefix(url, "https://")}
		}, want: cmpSays("download-url is not an https, http or file URL")},
		// The mirror serves a different binary (a script that would leave
		// a marker file if it ran): refused before anything runs, no file
		// left. A binary that was checked once and changed on disk
		// afterwards is downloaded and checked again, not run.
		{name: "wrong checksum", prepare: func(w *cmpWorld, _ string) map[string]string {
			w.rel.serve([]byte("#!/bin/sh\ntouch '" + filepath.Join(w.job.Temp(), "tampered-binary-ran") + "'\n"))
			return nil
		}, want: cmpSays("::error title=cargo-oidc setup::the SHA-256 of "), check: cmpTamperedNeverRuns},
		// A step the binary fails (a credentials-file outside the workspace
		// and RUNNER_TEMP) leaves an empty state: setup/post says there was
		// nothing to do for it. (The binary revokes a crates.io token at
		// once when it fails after the exchange: internal/action TestCratesIORevokedWhenTheStepFailsLate.)
		{name: "binary refuses", provider: "crates-io", binary: true, prepare: func(w *cmpWorld, _ string) map[string]string {
			return map[string]string{"credentials-file": filepath.Join(w.t.TempDir(), "credentials.toml")}
		}, want: cmpSays("credentials-file"), check: func(t *testing.T, w *cmpWorld) {
			if post := w.runPost(); !strings.Contains(post.Combined(), "its setup step did not finish") {
				t.Errorf("setup/post does not say the step did not finish:\n%s", post.Combined())
			}
			for _, tk := range w.s.Store.Tokens() {
				if tk.Kind == fakes.KindAccessToken && w.s.Store.Valid(tk.Value) {
					t.Errorf("a %s token is valid after the failed step and setup/post", tk.Service)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(tt.env)
			if env["PATH"] == "SHIM" {
				shim := writeFile(t, filepath.Join(t.TempDir(), "curl"), "#!/bin/sh\nexit 7\n", 0o755)
				env["PATH"] = filepath.Dir(shim) + string(os.PathListSeparator) + os.Getenv("PATH")
			}
			w := cmpNewWorld(t, env)
			pass := "pw-" + cmpRandom(t, 12)
			url := w.rel.requireAuth("u", pass)
			extra := map[string]string{"download-url": url}
			if tt.prepare != nil {
				maps.Copy(extra, tt.prepare(w, url))
			}
			prov := tt.provider
			if prov == "" {
				prov = "jfrog"
			}
			res := w.runSetup("registry", providerNamed(t, prov), extra)
			out := res.Combined()
			if want := tt.want(w, url); !res.Failed || !strings.Contains(out, "::error") || !strings.Contains(out, want) {
				t.Errorf("want a failure with an ::error saying %q:\n%s", want, strings.ReplaceAll(out, pass, "<PASSWORD>"))
			}
			if !tt.binary && !strings.Contains(out, "::error title=cargo-oidc setup::") {
				t.Errorf("the error is not setup.sh's:\n%s", strings.ReplaceAll(out, pass, "<PASSWORD>"))
			}
			if n := w.s.Issuer.Faults.Requests(); !tt.binary && n != 0 {
				t.Errorf("%d ID token requests", n)
			}
			exported := res.Env()
			delete(exported, "CARGO_OIDC_SETUP_JOB") // the job's id for setup/post, no credential
			if len(exported) != 0 || res.Outputs["token"] != "" {
				t.Errorf("a failed setup step exported %v and a token %v", slices.Sorted(maps.Keys(exported)), res.Outputs["token"] != "")
			}
			if tt.check != nil {
				tt.check(t, w)
			}
			for _, l := range secretLeaks("the job's log", strings.Join(cmpOutputs(w), "\n"), []string{pass}) {
				t.Error("the mirror's password: " + l)
			}
			checkJobNoLeak(t, w.job, w.s)
		})
	}
}

// cmpSays is a row's fixed expected message.
func cmpSays(s string) func(*cmpWorld, string) string {
	return func(*cmpWorld, string) string { return s }
}

// cmpOutputs is the output of every step of w's job.
func cmpOutputs(w *cmpWorld) []string {
	var out []string
	for _, r := range w.job.Results() {
		out = append(out, r.Combined())
	}
	return out
}

// cmpTamperedNeverRuns: after a refused binary nothing ran and no file is
// left; then the right binary is checked and run, changed on disk, and
// downloaded and checked again instead of run.
func cmpTamperedNeverRuns(t *testing.T, w *cmpWorld) {
	marker := filepath.Join(w.job.Temp(), "tampered-binary-ran")
	binDir := filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion)
	if left, _ := os.ReadDir(binDir); len(left) != 0 || len(w.s.Store.Tokens()) != 0 {
		t.Errorf("files left in the binary folder (%d), or a token was issued", len(left))
	}
	w.rel.requireAuth("", "")
	w.rel.serve(w.rel.binary)
	jfrog := providerNamed(t, "jfrog")
	if ok := w.runSetup("registry2", jfrog, nil); ok.Failed {
		t.Fatalf("setup with the right binary failed:\n%s", ok.Combined())
	}
	writeFile(t, filepath.Join(binDir, "cargo-oidc"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
	before := w.rel.downloadCount()
	if again := w.runSetup("registry3", jfrog, nil); again.Failed || w.rel.downloadCount() != before+1 {
		t.Errorf("after the binary changed on disk: failed=%v, %d new downloads; want one new download and success", again.Failed, w.rel.downloadCount()-before)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("a tampered binary ran")
	}
	w.runPost()
}

// TestCompositePostActsOnlyOnItsJob: setup/post runs no program a state
// folder names and acts on no state another run or job wrote: a leftover
// 0002.bin naming a marker script and state files with other ids (or none)
// are skipped with a warning, while this job's state is still cleaned up;
// a binary changed on disk after the setup step is not run either.
func TestCompositePostActsOnlyOnItsJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		plant  func(t *testing.T, w *cmpWorld, stateDir, marker string)
		revoke bool
		want   string
	}{
		{"leftover state of another run", func(t *testing.T, w *cmpWorld, stateDir, marker string) {
			writeFiles(t, stateDir, map[string]string{
				"0002.state": "provider=crates-io\nrevoke=true\ntoken=cio_tp_other\n",
				"0002.id":    "run=1\nattempt=1\njob=build\nsetup=" + strings.Repeat("0", 32) + "\n",
				"0002.bin":   filepath.Join(filepath.Dir(marker), "evil.sh") + "\n",
				"0003.state": "provider=crates-io\n",
			})
			writeFile(t, filepath.Join(filepath.Dir(marker), "evil.sh"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
		}, true, "state 0003 in "},
		{"binary changed after setup", func(t *testing.T, w *cmpWorld, stateDir, marker string) {
			writeFile(t, filepath.Join(w.job.Temp(), "cargo-oidc-setup", "bin", cmpVersion, "cargo-oidc"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
		}, false, "binary in "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := cmpNewWorld(t, nil)
			res := w.runSetup("crates-io", providerNamed(t, "crates-io"), nil)
			if res.Failed {
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
}

// compositeRewriteStep is the name of the step of ci.yml's composite job
// that points examples/composite at the checkout.
const compositeRewriteStep = "point examples/composite at this checkout"

// TestCICompositeTestsThisCheckout runs the script of ci.yml's composite
// job that rewrites examples/composite/action.yml, as GitHub runs a bash
// step, on the example as committed and on variants: it must turn the
// example's one `uses: cargo-oidc/cargo-oidc@v1` into `uses: ./` (this
// checkout) and change nothing else, and fail, leaving the file alone, when
// it cannot find exactly one such reference, so the job never tests the
// release, or nothing, by mistake. The rewrite must come before the step
// that runs ./examples/composite.
func TestCICompositeTestsThisCheckout(t *testing.T) {
	t.Parallel()
	bash := harness.Tool(t, "bash", "install bash (with grep and sed)")
	root := harness.Root(t)
	doc, err := parseYAML([]byte(readFile(t, filepath.Join(root, ".github/workflows/ci.yml"))))
	if err != nil {
		t.Fatal(err)
	}
	rewrite, uses := -1, -1
	var script string
	for i, st := range yitems(yget(doc, "jobs", "composite", "steps")) {
		switch {
		case ystr(yget(st, "name")) == compositeRewriteStep:
			rewrite, script = i, ystr(yget(st, "run"))
		case strings.TrimSuffix(ystr(yget(st, "uses")), "/") == "./examples/composite" && uses < 0:
			uses = i
		}
	}
	if rewrite < 0 || script == "" || uses < 0 || rewrite > uses {
		t.Fatalf("ci.yml's composite job: step %q at %d, uses: ./examples/composite at %d; want the rewrite first", compositeRewriteStep, rewrite, uses)
	}
	example := readFile(t, filepath.Join(root, "examples/composite/action.yml"))
	const ref = "    - uses: cargo-oidc/cargo-oidc@v1\n"
	if strings.Count(example, ref) != 1 {
		t.Fatalf("examples/composite/action.yml has %d lines %q, want 1", strings.Count(example, ref), ref)
	}
	step, _, _ := strings.Cut(example[strings.Index(example, ref):], "\n\n")
	tests := []struct {
		name, in string
		want     string // "" = the step fails with an ::error:: and leaves the file alone
	}{
		{"the example", example, strings.Replace(example, ref, "    - uses: ./\n", 1)},
		{"uses after id", strings.Replace(example, ref+"      id: cargo-oidc\n", "    - id: cargo-oidc\n      uses: cargo-oidc/cargo-oidc@v1\n", 1),
			strings.Replace(example, ref+"      id: cargo-oidc\n", "    - id: cargo-oidc\n      uses: ./\n", 1)},
		{"another release", strings.ReplaceAll(example, "cargo-oidc/cargo-oidc@v1", "cargo-oidc/cargo-oidc@v2"), ""},
		{"pinned to a commit", strings.Replace(example, ref, "    - uses: cargo-oidc/cargo-oidc@0123456789abcdef0123456789abcdef01234567 # v1\n", 1), ""},
		{"two steps", strings.Replace(example, step, step+"\n"+strings.Replace(step, "id: cargo-oidc", "id: again", 1), 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := writeFile(t, filepath.Join(dir, "examples/composite/action.yml"), tt.in, 0o644)
			scriptFile := writeFile(t, filepath.Join(t.TempDir(), "step.sh"), script, 0o644)
			// How GitHub runs a step with shell: bash.
			cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", scriptFile)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			got, rerr := os.ReadFile(file)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if tt.want == "" {
				if err == nil || !strings.Contains(string(out), "::error title=composite::") {
					t.Errorf("the step succeeded or said nothing (%v):\n%s", err, out)
				}
				if string(got) != tt.in {
					t.Error("a failed step changed the file")
				}
				return
			}
			if err != nil {
				t.Fatalf("the step failed: %v\n%s", err, out)
			}
			if string(got) != tt.want {
				t.Errorf("rewritten file:\n%s\nwant:\n%s", got, tt.want)
			}
			if _, err := os.Stat(file + ".pr"); !os.IsNotExist(err) {
				t.Errorf("the step left %s.pr behind", file)
			}
		})
	}
}

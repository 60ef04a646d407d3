package e2e

// The fault matrix: every way the ID token endpoint, the token services, the inputs and
// the user's files can go wrong, every output scanned for the fakes' secrets.

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// mxDrop as an input value removes the input from the row's base inputs.
const mxDrop = "\x00drop"

// mxRow is one scenario of the matrix: its setup and what the action must do.
type mxRow struct {
	name, expected string // expected: what the action must do, for the log
	provider       string // its base inputs and the exchange counted
	// inputs override the base inputs ("{temp}": the runner's temp folder;
	// mxDrop removes one); "timeout" is 20s unless set.
	inputs           map[string]string
	job              func(o *runner.Options)   // adjusts the emulated job
	setup            func(w *mxWorld)          // pushes faults, prepares files
	check            func(w *mxWorld) []string // the row's own assertions: the problems
	ok               bool                      // the step succeeds; else it fails with exit 1
	want, notWant    []string                  // pieces the ::error annotation holds, and not (any case)
	idReqs, svcReqs  *int                      // exact requests to the ID token endpoint and the service (nil: any)
	minTime, maxTime time.Duration             // bounds of the step's wall time (0: none)
}

type mxWorld struct {
	t           *testing.T
	row         *mxRow
	s           *fakes.Stack
	job         *runner.Job
	inputs      map[string]string
	res         *runner.StepResult
	override    map[string]string // runner.Step.Override
	mem         *mxMem            // when set, measures the action's peak memory
	credentials string            // host path of the credentials file asked for, the one file a token may be in
	tlsConns    atomic.Int32      // connections to a row's untrusted server
	before      map[string]string // the workspace's fingerprint
	errors      []string          // the ::error annotations (title and message)
}

// TestMatrix runs each row normally and with RUNNER_DEBUG=1, each run with its own fakes and job.
func TestMatrix(t *testing.T) {
	t.Parallel()
	bin, action := provBinary(t), repoAction(t)
	rows := mxRows()
	for i := range rows {
		for _, suffix := range []string{"", "/debug"} {
			t.Run(rows[i].name+suffix, func(t *testing.T) {
				t.Parallel()
				mxRun(t, bin, action, &rows[i], suffix != "")
			})
		}
	}
}

func mxRun(t *testing.T, bin string, action *runner.Action, row *mxRow, debug bool) {
	w := &mxWorld{t: t, row: row, s: fakes.StartT(t, fakes.Options{})}
	opts := runner.Options{Debug: debug, Env: map[string]string{"SSL_CERT_FILE": w.s.CAFile},
		IDTokenURL: w.s.RequestURL, IDTokenToken: w.s.RequestToken}
	maps.Copy(opts.Env, w.s.AWSEnv())
	maps.Copy(opts.Env, w.s.AzureEnv())
	if row.job != nil {
		row.job(&opts)
	}
	w.job = runner.NewJob(t, opts)
	w.inputs = providerNamed(t, row.provider).inputs(w.s)
	w.inputs["timeout"] = "20s"
	for k, v := range row.inputs {
		w.inputs[k] = strings.ReplaceAll(v, "{temp}", w.job.Temp())
		if v == mxDrop {
			delete(w.inputs, k)
		}
	}
	if row.setup != nil {
		row.setup(w)
	}
	if c := w.inputs["credentials-file"]; c != "" {
		w.credentials = c
		if !filepath.IsAbs(c) {
			w.credentials = filepath.Join(w.job.Workspace(), c)
		}
	}
	w.before = mxFingerprint(t, w.job.Workspace())

	ctx, cancel := harness.Context(t.Context(), t, "the action step of matrix row "+row.name, 90*time.Second)
	defer cancel()
	rt := runner.HostRuntime{Binary: bin}
	if w.mem != nil {
		rt.Watch = w.mem.watch
	}
	res, err := w.job.RunAction(ctx, rt, action, runner.Step{ID: scnStepID, Inputs: w.inputs, Override: w.override})
	if err != nil {
		t.Errorf("harness: %v", harness.Err(ctx, err))
	}
	if res == nil {
		return
	}
	w.res = res
	for _, c := range res.Commands {
		if c.Name == "error" {
			w.errors = append(w.errors, c.Properties["title"]+"\n"+c.Data)
		}
	}
	t.Logf("expected %s; got exit %d, %d ID token and %d service requests, %s, annotations %q",
		row.expected, res.ExitCode, w.idRequests(), w.svcRequests(), res.Duration.Round(100*time.Millisecond), w.errors)
	for _, p := range append(w.assert(), w.scan()...) {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	}
}

func (w *mxWorld) idRequests() int { return w.s.Issuer.Faults.Requests() }

// svcRequests counts the row's exchange requests (CodeArtifact's STS and CodeArtifact together).
func (w *mxWorld) svcRequests() int {
	n := 0
	for _, name := range providerNamed(w.t, w.row.provider).services {
		f, err := w.s.Faults(name)
		if err != nil {
			w.t.Fatal(err)
		}
		n += f.Requests()
	}
	return n
}

// assert checks what every row must do, then the row's own checks.
func (w *mxWorld) assert() []string {
	row, res := w.row, w.res
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if res.Failed() == row.ok || !row.ok && res.ExitCode != 1 {
		bad("exit code %d, want success %v (else 1)", res.ExitCode, row.ok)
	}
	annotation := strings.ToLower(strings.Join(w.errors, "\n"))
	for _, s := range row.want {
		if !strings.Contains(annotation, strings.ToLower(s)) {
			bad("the ::error annotation lacks %q; got %q", s, strings.Join(w.errors, "\n"))
		}
	}
	for _, s := range row.notWant {
		if strings.Contains(annotation, strings.ToLower(s)) {
			bad("the ::error annotation holds %q", s)
		}
	}
	if row.idReqs != nil && w.idRequests() != *row.idReqs {
		bad("ID token endpoint got %d requests, want %d", w.idRequests(), *row.idReqs)
	}
	if row.svcReqs != nil && w.svcRequests() != *row.svcReqs {
		bad("token service got %d requests, want %d", w.svcRequests(), *row.svcReqs)
	}
	if res.Duration < row.minTime || row.maxTime > 0 && res.Duration > row.maxTime {
		bad("step took %s, want it within [%s, %s] (0: unbounded)", res.Duration, row.minTime, row.maxTime)
	}
	if row.ok {
		if len(w.errors) > 0 {
			bad("a successful step printed ::error: %q", w.errors)
		}
		if res.Outputs["token"] == "" {
			bad("no token output")
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(res.Env)), func(k string) bool {
			return strings.HasPrefix(k, "CARGO_") && strings.HasSuffix(k, "_TOKEN")
		}) {
			bad("no CARGO_*_TOKEN in GITHUB_ENV: %v", slices.Sorted(maps.Keys(res.Env)))
		}
	} else {
		if len(w.errors) != 1 {
			bad("%d ::error annotations, want one", len(w.errors))
		}
		for k := range res.Env {
			if strings.HasPrefix(k, "CARGO_") {
				bad("a failed step exported %s", k)
			}
		}
		if res.Outputs["token"] != "" {
			bad("a failed step set the token output")
		}
		if after := mxFingerprint(w.t, w.job.Workspace()); !maps.Equal(after, w.before) {
			bad("the workspace changed from %q to %q", w.before, after)
		}
		if _, err := os.Lstat(w.credentials); err == nil && !strings.HasPrefix(w.credentials, w.job.Workspace()) {
			bad("a failed step left the credentials file %s", w.credentials)
		}
	}
	for _, sr := range w.s.Sink.Requests() {
		bad("the redirect target got a request: %s %s (body %d bytes, authorization %v)", sr.Method, sr.Path, len(sr.Body), sr.Authorization)
	}
	if row.check != nil {
		p = append(p, row.check(w)...)
	}
	return p
}

// mxSecrets maps every secret of the run to the pieces that must not appear
// either: a JWT's signature, a malformed token's runs between control characters.
func (w *mxWorld) mxSecrets() map[string][]string {
	out := map[string][]string{}
	for _, s := range w.s.Secrets() {
		needles := []string{s}
		if parts := strings.Split(s, "."); len(parts) == 3 && len(parts[2]) >= 16 {
			needles = append(needles, parts[2])
		}
		for _, piece := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }) {
			if len(piece) >= 12 && piece != s {
				needles = append(needles, piece)
			}
		}
		out[s] = needles
	}
	return out
}

// scan returns one line per leak of a secret wherever the step could have put it: in
// the log and the summary (markdown escapes undone too) not even a piece.
func (w *mxWorld) scan() []string {
	sum := w.res.Files["GITHUB_STEP_SUMMARY"]
	secrets := w.mxSecrets()
	leaks := append(mxScanText(w, "log", w.res.Stdout+"\n"+w.res.Stderr),
		mxScanText(w, "step summary", sum+"\n"+strings.ReplaceAll(sum, `\`, ""))...)
	look := func(where, text string) {
		for s, needles := range secrets {
			if slices.ContainsFunc(needles, func(n string) bool { return strings.Contains(text, n) }) {
				leaks = append(leaks, fmt.Sprintf("LEAK: %s holds a secret (%s...)", where, secretPrefix(s)))
			}
		}
	}
	for _, file := range []string{"GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_PATH"} {
		raw := w.res.Files[file]
		entries, err := runner.ParseFileCommand(file, []byte(raw))
		if file == "GITHUB_PATH" || err != nil {
			look(file, raw)
			continue
		}
		for _, e := range entries {
			// The one place a token may be: its variable or output.
			tokenVar := strings.HasPrefix(e.Name, "CARGO_") && strings.HasSuffix(e.Name, "_TOKEN")
			if file == "GITHUB_ENV" && !tokenVar || file != "GITHUB_ENV" && e.Name != "token" {
				look(file+" entry "+e.Name, e.Name+"="+e.Value)
			}
		}
	}
	// Every other file: workspace, runner temp (the action's HOME), later steps' HOME.
	fcDir := filepath.Join(w.job.Temp(), "_runner_file_commands")
	_ = filepath.WalkDir(w.job.Root(), func(path string, d fs.DirEntry, err error) error {
		if path == fcDir {
			return fs.SkipDir
		}
		if err != nil || path == w.credentials || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(w.job.Root(), path)
		// The provider's token cache (.cargo-oidc/cache-*/ under the action's
		// HOME) holds the access token by design, mode 0600, never the ID token.
		if dir := filepath.Dir(path); strings.HasPrefix(filepath.Base(dir), "cache-") && filepath.Base(filepath.Dir(dir)) == ".cargo-oidc" {
			if fi, err := d.Info(); err != nil || fi.Mode().Perm() != 0o600 {
				leaks = append(leaks, fmt.Sprintf("LEAK: file %s of the token cache is not mode 0600", rel))
			}
			for _, tok := range w.s.Store.Tokens() {
				if tok.Kind == fakes.KindIDToken && strings.Contains(string(data), tok.Value) {
					leaks = append(leaks, fmt.Sprintf("LEAK: file %s of the token cache holds an ID token", rel))
				}
			}
			return nil
		}
		look("file "+rel, string(data))
		return nil
	})
	return leaks
}

// mxFingerprint maps every path under dir to its mode and content hash, or link target.
func mxFingerprint(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target, _ := os.Readlink(path)
		data, _ := os.ReadFile(path) // nil for a folder
		m[rel] = fmt.Sprintf("%v -> %q %x", fi.Mode(), target, sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Errorf("fingerprint %s: %v", dir, err)
	}
	return m
}

func mxN(n int) *int { return &n }

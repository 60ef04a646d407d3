package e2e

// The fault matrix: every way the ID token endpoint, the token
// services, the inputs and the user's files can go wrong, each run against
// the built binary through the runner emulation, normally and with
// RUNNER_DEBUG=1, with every output scanned for the secrets the fakes issued.
//
//	go test ./e2e -run Matrix -v
//
// prints a table (scenario, expected, got, pass, leaks) and a closing line
// `N passed, M failed`.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// mxDrop as an input value removes the input from the row's base inputs.
const mxDrop = "\x00drop"

// mxStepID is the id of the action step in every matrix job.
const mxStepID = "registry"

// mxIDTokenPath is the path of the fake runner's ID token endpoint.
const mxIDTokenPath = "/_apis/token"

// mxMaxRSS is the bound on the action's peak resident memory while it is
// sent a 100 MB body.
const mxMaxRSS = 50 << 20

// mxRow is one scenario of the matrix: how to set it up and what the action
// must do.
type mxRow struct {
	name     string
	expected string // what the action must do, for the table
	provider string // a name of providers: the base inputs and the exchange counted
	// inputs override the base inputs (mxDrop removes one); "timeout"
	// defaults to 20s so that no row can run long.
	inputs map[string]string
	// stack configures the row's fake services.
	stack fakes.Options
	// noIDToken runs the job without `permissions: id-token: write`.
	noIDToken bool
	// job adjusts the emulated job.
	job func(o *runner.Options)
	// setup pushes faults and prepares files before the step runs.
	setup func(w *mxWorld)
	// memory measures the action's peak memory (through the runner's
	// HostRuntime.Watch); the row's check reads w.mem.
	memory bool
	// fileEnv replaces file-command variables the runner sets
	// (runner.Step.Override), to hand the action paths a runner would not.
	fileEnv func(w *mxWorld) map[string]string
	// exit is the expected exit status.
	exit int
	// want are pieces the ::error annotation must hold (case-insensitive);
	// notWant pieces it must not.
	want, notWant []string
	// idReqs and svcReqs, when set, are the exact number of requests the
	// ID token endpoint and the row's token service must have received.
	idReqs, svcReqs *int
	// minTime and maxTime bound the step's wall time (0: unbounded).
	minTime, maxTime time.Duration
	// check adds row-specific assertions; it returns the problems found.
	check func(w *mxWorld) []string
}

// mxWorld is one run of one row.
type mxWorld struct {
	t      *testing.T
	row    *mxRow
	debug  bool
	s      *fakes.Stack
	job    *runner.Job
	inputs map[string]string
	res    *runner.StepResult
	mem    *mxMem
	// credentials is the host path of the credentials file the step was
	// asked to write ("" when none): the one file a token may be in.
	credentials string
	// credExisted is whether the credentials file existed before the step.
	credExisted bool
	// extraSecrets are secrets outside the stack's TokenStore.
	extraSecrets []string
	// tlsConns counts connections to a row's untrusted TLS server.
	tlsConns atomic.Int32
	// before is the workspace's fingerprint before the step.
	before map[string]string
	// errors are the ::error annotations (title and message).
	errors []string
}

// mxResult is one line of the printed table.
type mxResult struct {
	scenario, expected, got string
	pass                    bool
	leaks                   int
}

// TestMatrix runs the fault matrix. Each row runs twice (normally and with
// RUNNER_DEBUG=1), each run with its own fake services and job.
func TestMatrix(t *testing.T) {
	t.Parallel()
	bin := provBinary(t)
	action := repoAction(t)
	rows := mxRows()
	var (
		mu      sync.Mutex
		results = map[string]mxResult{}
		order   []string
	)
	for _, row := range rows {
		for _, debug := range []bool{false, true} {
			name := row.name
			if debug {
				name += "/debug"
			}
			order = append(order, name)
		}
	}
	t.Cleanup(func() { mxReport(t, order, results) })
	for i := range rows {
		row := &rows[i]
		for _, debug := range []bool{false, true} {
			name := row.name
			if debug {
				name += "/debug"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				res := mxRun(t, bin, action, row, debug)
				res.scenario = name
				mu.Lock()
				results[name] = res
				mu.Unlock()
			})
		}
	}
}

// mxReport prints the table and the closing line.
func mxReport(t *testing.T, order []string, results map[string]mxResult) {
	var b strings.Builder
	wName, wExp := len("scenario"), len("expected")
	for _, n := range order {
		r := results[n]
		wName = max(wName, len(n))
		wExp = max(wExp, len(r.expected))
	}
	line := func(a, b2, c, d, e string) string {
		return fmt.Sprintf("%-*s | %-*s | %-4s | %5s | %s\n", wName, a, wExp, b2, d, e, c)
	}
	b.WriteString(line("scenario", "expected", "got", "pass", "leaks"))
	b.WriteString(strings.Repeat("-", wName+wExp+30) + "\n")
	passed, failed, leaks := 0, 0, 0
	for _, n := range order {
		r, ok := results[n]
		if !ok { // left out by -run
			continue
		}
		pass := "FAIL"
		if r.pass {
			pass, passed = "ok", passed+1
		} else {
			failed++
		}
		leaks += r.leaks
		b.WriteString(line(n, r.expected, r.got, pass, fmt.Sprint(r.leaks)))
	}
	fmt.Fprintf(&b, "\ntokens leaked: %d\n%d passed, %d failed\n", leaks, passed, failed)
	if testing.Verbose() {
		fmt.Print("\n" + b.String())
	} else {
		t.Log("\n" + b.String())
	}
	if failed > 0 || leaks > 0 {
		t.Errorf("matrix: %d passed, %d failed, %d tokens leaked", passed, failed, leaks)
	}
}

// mxRun runs one row once and returns its line of the table. Every problem
// is also reported with t.Errorf.
func mxRun(t *testing.T, bin string, action *runner.Action, row *mxRow, debug bool) mxResult {
	w := &mxWorld{t: t, row: row, debug: debug}
	w.s = fakes.StartT(t, row.stack)
	opts := runner.Options{Debug: debug, Env: map[string]string{"SSL_CERT_FILE": w.s.CAFile}}
	maps.Copy(opts.Env, w.s.AWSEnv())
	maps.Copy(opts.Env, w.s.AzureEnv())
	if !row.noIDToken {
		opts.IDTokenURL, opts.IDTokenToken = w.s.RequestURL, w.s.RequestToken
	}
	if row.job != nil {
		row.job(&opts)
	}
	w.job = runner.NewJob(t, opts)
	w.extraSecrets = append(w.extraSecrets, w.s.RequestToken)

	w.inputs = providerNamed(t, row.provider).inputs(w.s)
	w.inputs["timeout"] = "20s"
	for k, v := range row.inputs {
		if v == mxDrop {
			delete(w.inputs, k)
			continue
		}
		w.inputs[k] = strings.NewReplacer(
			"{jfrog}", w.s.JFrogURL, "{cloudsmith}", w.s.CloudsmithURL, "{crates}", w.s.CratesIOURL,
			"{temp}", w.job.Temp(), "{jfrog-host}", strings.TrimPrefix(w.s.JFrogURL, "https://"),
		).Replace(v)
	}
	if row.setup != nil {
		row.setup(w)
	}
	if c := w.inputs["credentials-file"]; c != "" {
		w.credentials = c
		if !filepath.IsAbs(c) {
			w.credentials = filepath.Join(w.job.Workspace(), c)
		}
		_, err := os.Lstat(w.credentials)
		w.credExisted = err == nil
	}
	w.before = mxFingerprint(t, w.job.Workspace())

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	step := runner.Step{ID: mxStepID, Inputs: w.inputs}
	if row.fileEnv != nil {
		step.Override = row.fileEnv(w)
	}
	rt := runner.HostRuntime{Binary: bin}
	if row.memory {
		w.mem = &mxMem{}
		rt.Watch = w.mem.watch
	}
	var err error
	w.res, err = w.job.RunAction(ctx, rt, action, step)
	var problems []string
	if err != nil {
		problems = append(problems, "harness: "+err.Error())
	}
	if w.res == nil {
		for _, p := range problems {
			t.Error(p)
		}
		return mxResult{expected: row.expected, got: "did not run"}
	}
	w.errors = mxAnnotations(w.res)
	problems = append(problems, w.assert()...)
	leaks := w.scan()
	for _, l := range leaks {
		problems = append(problems, "LEAK: "+l)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 || t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", w.res.Stdout, w.res.Stderr)
	}
	return mxResult{expected: row.expected, got: w.got(), pass: len(problems) == 0 && !t.Failed(), leaks: len(leaks)}
}

// mxRequestRE matches the "METHOD URL: " part of an error, left out of the
// table to keep it short.
var mxRequestRE = regexp.MustCompile(`(failed): (?:GET|POST|DELETE) https?://\S+: `)

// got summarises what the step did, for the table.
func (w *mxWorld) got() string {
	s := fmt.Sprintf("exit %d", w.res.ExitCode)
	if len(w.errors) > 0 {
		msg := w.errors[0]
		if _, m, ok := strings.Cut(msg, "\n"); ok {
			msg = m
		}
		msg = mxRequestRE.ReplaceAllString(msg, "$1: ")
		msg = strings.NewReplacer(w.job.Workspace(), "$WS", w.job.Temp(), "$TEMP", w.job.Root(), "$JOB").Replace(msg)
		msg = strings.Join(strings.Fields(msg), " ")
		if len(msg) > 90 {
			msg = msg[:90] + "..."
		}
		s += ": " + msg
	}
	s += fmt.Sprintf(" [id %d, svc %d, %s", w.idRequests(), w.svcRequests(), w.res.Duration.Round(100*time.Millisecond))
	if w.mem != nil {
		s += fmt.Sprintf(", peak %d MB", w.mem.peak()>>20)
	}
	return s + "]"
}

func (w *mxWorld) idRequests() int { return w.s.Issuer.Faults.Requests() }

// svcRequests counts the requests of the row's exchange (CodeArtifact's
// STS and CodeArtifact calls together).
func (w *mxWorld) svcRequests() int { return providerNamed(w.t, w.row.provider).requests(w.t, w.s) }

// assert checks what every row must do, then the row's own checks.
func (w *mxWorld) assert() []string {
	row, res := w.row, w.res
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if res.ExitCode != row.exit {
		bad("exit code %d, want %d", res.ExitCode, row.exit)
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
	if row.minTime > 0 && res.Duration < row.minTime {
		bad("step took %s, want at least %s", res.Duration, row.minTime)
	}
	if row.maxTime > 0 && res.Duration > row.maxTime {
		bad("step took %s, want at most %s", res.Duration, row.maxTime)
	}
	if row.exit == 0 {
		if len(w.errors) > 0 {
			bad("a successful step printed ::error: %q", w.errors)
		}
		// In credential-mode provider no token leaves the step: the
		// credential provider mints them.
		provider := w.inputs["credential-mode"] == "provider"
		if res.Outputs["token"] == "" && !provider {
			bad("no token output")
		}
		found := false
		for k := range res.Env {
			if strings.HasPrefix(k, "CARGO_") && (strings.HasSuffix(k, "_TOKEN") || provider && strings.HasSuffix(k, "_CREDENTIAL_PROVIDER")) {
				found = true
			}
		}
		if !found {
			bad("no CARGO_*_TOKEN in GITHUB_ENV: %v", slices.Sorted(maps.Keys(res.Env)))
		}
	} else {
		if len(w.errors) == 0 {
			bad("a failed step printed no ::error annotation")
		}
		if len(w.errors) > 1 {
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
		after := mxFingerprint(w.t, w.job.Workspace())
		p = append(p, mxDiff(w.before, after)...)
		if w.credentials != "" && !strings.HasPrefix(w.credentials, w.job.Workspace()) {
			if _, err := os.Lstat(w.credentials); err == nil && !w.credExisted {
				bad("a failed step left the credentials file %s", w.credentials)
			}
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

// mxAnnotations returns the step's ::error commands as "title\nmessage".
func mxAnnotations(res *runner.StepResult) []string {
	var errs []string
	for _, c := range res.Commands {
		if c.Name == "error" {
			errs = append(errs, c.Properties["title"]+"\n"+c.Data)
		}
	}
	return errs
}

// mxSecrets returns every secret of the run and, for each, the pieces that
// must not appear either: a JWT's signature, and the runs of a malformed
// token between its control characters.
func (w *mxWorld) mxSecrets() map[string][]string {
	out := map[string][]string{}
	all := append(w.s.Store.Secrets(), w.extraSecrets...)
	for _, s := range all {
		if s == "" {
			continue
		}
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

// mxInTokenCache reports whether path is a file of the credential
// provider's token cache (.cargo-oidc/cache-<random>/ under the action's
// HOME).
func mxInTokenCache(path string) bool {
	dir := filepath.Dir(path)
	return strings.HasPrefix(filepath.Base(dir), "cache-") && filepath.Base(filepath.Dir(dir)) == ".cargo-oidc"
}

// mxAllowed reports whether a file-command entry may carry a token.
func mxAllowed(file, name string) bool {
	switch file {
	case "GITHUB_ENV":
		return strings.HasPrefix(name, "CARGO_") && strings.HasSuffix(name, "_TOKEN")
	case "GITHUB_OUTPUT", "GITHUB_STATE":
		return name == "token"
	}
	return false
}

// scan looks for every secret everywhere the step could have put it and
// returns one line per leak.
func (w *mxWorld) scan() []string {
	secrets := w.mxSecrets()
	var leaks []string
	look := func(where, text string) {
		for s, needles := range secrets {
			for _, n := range needles {
				if strings.Contains(text, n) {
					leaks = append(leaks, fmt.Sprintf("%s holds a secret (%s...)", where, secretPrefix(s)))
					break
				}
			}
		}
	}
	for _, stream := range []struct{ name, text string }{{"stdout", w.res.Stdout}, {"stderr", w.res.Stderr}} {
		for i, line := range strings.Split(stream.text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
				continue
			}
			look(fmt.Sprintf("%s line %d", stream.name, i+1), line)
		}
	}
	for _, file := range []string{"GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY", "GITHUB_PATH"} {
		raw := w.res.Files[file]
		if file == "GITHUB_STEP_SUMMARY" || file == "GITHUB_PATH" {
			look(file, raw)
			continue
		}
		entries, err := runner.ParseFileCommand(file, []byte(raw))
		if err != nil {
			look(file+" (unparsable)", raw)
			continue
		}
		for _, e := range entries {
			if !mxAllowed(file, e.Name) {
				look(file+" entry "+e.Name, e.Name+"="+e.Value)
			}
		}
	}
	// Every file of the job: workspace, runner temp (the action's HOME),
	// the later steps' HOME. The file-command files were checked above.
	fcDir := filepath.Join(w.job.Temp(), "_runner_file_commands")
	_ = filepath.WalkDir(w.job.Root(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && path == fcDir {
				return filepath.SkipDir
			}
			return nil
		}
		if path == w.credentials || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(w.job.Root(), path)
		if mxInTokenCache(path) {
			// The provider's token cache holds the access token by
			// design: private to the job's user, never the ID token.
			if fi, err := d.Info(); err != nil || fi.Mode().Perm() != 0o600 {
				leaks = append(leaks, fmt.Sprintf("file %s of the token cache is not mode 0600", rel))
			}
			for _, tok := range w.s.Store.Tokens() {
				if tok.Kind == fakes.KindIDToken && strings.Contains(string(data), tok.Value) {
					leaks = append(leaks, fmt.Sprintf("file %s of the token cache holds an ID token", rel))
				}
			}
			return nil
		}
		look("file "+rel, string(data))
		return nil
	})
	return leaks
}

// mxFingerprint maps every path under dir to its type, mode and content
// hash; symlinks to their target.
func mxFingerprint(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			v += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			v += " " + hex.EncodeToString(sum[:8])
		}
		m[rel] = v
		return nil
	})
	if err != nil {
		t.Errorf("fingerprint %s: %v", dir, err)
	}
	return m
}

// mxDiff lists what changed between two fingerprints.
func mxDiff(before, after map[string]string) []string {
	var p []string
	for k, v := range before {
		if a, ok := after[k]; !ok {
			p = append(p, fmt.Sprintf("workspace: %s was removed", k))
		} else if a != v {
			p = append(p, fmt.Sprintf("workspace: %s changed (%s -> %s)", k, v, a))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			p = append(p, fmt.Sprintf("workspace: %s was created", k))
		}
	}
	sort.Strings(p)
	return p
}

// mxWrite writes a file under the job's workspace.
func mxWrite(w *mxWorld, rel, content string) string {
	return writeFile(w.t, filepath.Join(w.job.Workspace(), rel), content, 0o644)
}

// mxN is a request count a row expects.
func mxN(n int) *int { return &n }

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
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
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
	provider string // jfrog, cloudsmith, crates-io, codeartifact or azure: the base inputs
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
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
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
	if row.provider == "codeartifact" {
		maps.Copy(opts.Env, w.s.AWSEnv())
	}
	if row.provider == "azure" {
		maps.Copy(opts.Env, w.s.AzureEnv())
	}
	if !row.noIDToken {
		opts.IDTokenURL, opts.IDTokenToken = w.s.RequestURL, w.s.RequestToken
	}
	if row.job != nil {
		row.job(&opts)
	}
	w.job = runner.NewJob(t, opts)
	w.extraSecrets = append(w.extraSecrets, w.s.RequestToken)

	w.inputs = mxBaseInputs(w.s, row.provider)
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

// mxBaseInputs are a working step's inputs for provider.
func mxBaseInputs(s *fakes.Stack, provider string) map[string]string {
	switch provider {
	case "cloudsmith":
		return s.CloudsmithInputs()
	case "crates-io":
		return s.CratesIOInputs()
	case "codeartifact":
		return s.CodeArtifactInputs()
	case "azure":
		return s.AzureInputs()
	}
	return s.JFrogInputs()
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

func (w *mxWorld) svcRequests() int {
	switch w.row.provider {
	case "cloudsmith":
		return w.s.Cloudsmith.Faults.Requests()
	case "crates-io":
		return w.s.CratesIO.Faults.Requests()
	case "codeartifact": // STS and CodeArtifact together
		return w.s.STS.Faults.Requests() + w.s.CodeArtifact.Faults.Requests()
	case "azure":
		return w.s.Azure.Entra.Faults.Requests()
	}
	return w.s.JFrog.Faults.Requests()
}

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
					leaks = append(leaks, fmt.Sprintf("%s holds a secret (%s...)", where, mxPrefix(s)))
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
		look("file "+rel, string(data))
		return nil
	})
	return leaks
}

func mxPrefix(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > 6 {
		s = s[:6]
	}
	return s
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
	p := filepath.Join(w.job.Workspace(), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// mxServiceError is a fault answering status with the service's own error
// shape holding msg.
func mxServiceError(provider string, status int, msg string) fakes.Fault {
	var body any
	switch provider {
	case "cloudsmith":
		body = map[string]any{"detail": msg}
	case "crates-io":
		body = map[string]any{"errors": []any{map[string]any{"detail": msg}}}
	default:
		body = map[string]any{"errors": []any{map[string]any{"code": http.StatusText(status), "message": msg}}}
	}
	b, _ := json.Marshal(body)
	return fakes.Fault{Kind: fakes.FaultStatus, Status: status, Body: string(b), ContentType: "application/json"}
}

// mxForkEvent is a pull_request payload whose head is a fork.
func mxForkEvent() []byte {
	repo := func(full string) map[string]any {
		owner, name, _ := strings.Cut(full, "/")
		return map[string]any{"full_name": full, "name": name, "owner": map[string]any{"login": owner}, "fork": owner != "octo-org"}
	}
	ev := map[string]any{
		"action": "opened", "number": 7,
		"repository": repo("octo-org/octo-repo"),
		"pull_request": map[string]any{
			"number": 7,
			"head":   map[string]any{"ref": "patch-1", "sha": "ffac537e6cbbf934b08745a378932722df287a53", "repo": repo("forker/octo-repo")},
			"base":   map[string]any{"ref": "main", "repo": repo("octo-org/octo-repo")},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// mxImmutable makes dir immutable with chattr +i, which stops root too
// (file modes do not: the tests run as root, like the action's container).
// It is undone in t.Cleanup. It fails the test when chattr is unavailable.
func mxImmutable(w *mxWorld, dir string) {
	w.t.Helper()
	if os.Geteuid() != 0 {
		// Not root: file modes are enough.
		if err := os.Chmod(dir, 0o555); err != nil {
			w.t.Fatal(err)
		}
		w.t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return
	}
	out, err := exec.Command("chattr", "+i", dir).CombinedOutput()
	if err != nil {
		harness.Require(w.t, "chattr +i", fmt.Errorf("%s: %v: %s (root ignores file modes; the read-only workspace row needs chattr on a file system with the immutable attribute)", dir, err, out))
	}
	w.t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
}

// mxNoneOf checks that none of the ID tokens the issuer minted reached the
// redirect target, and that the target got no request at all.
func mxNoneOf(w *mxWorld) []string {
	var p []string
	for _, tok := range w.s.Store.Tokens() {
		if w.s.Sink.Received(tok.Value) {
			p = append(p, fmt.Sprintf("the redirect target received a %s", tok.Kind))
		}
	}
	if n := w.s.Store.Requests(fakes.SinkPathPrefix + fakes.JFrogTokenPath); n != 0 {
		p = append(p, fmt.Sprintf("the redirect target got %d requests", n))
	}
	return p
}

// mxHintLines are the claims the hint block must list for a refused ID token.
var mxHintLines = []string{"iss: ", "aud: ", "sub: ", "repository: ", "ref: ", "environment: ", "job_workflow_ref: "}

// mxRows is the matrix.
func mxRows() []mxRow {
	var rows []mxRow
	add := func(r mxRow) { rows = append(rows, r) }
	fail := func(r mxRow) mxRow {
		r.exit = 1
		return r
	}
	noNet := func(r mxRow) mxRow { // fails before any request
		r = fail(r)
		r.idReqs, r.svcReqs = mxN(0), mxN(0)
		return r
	}

	// ---- the ID token endpoint
	add(noNet(mxRow{name: "id-token/variables-missing", expected: "fail: names permissions: id-token: write", provider: "jfrog",
		noIDToken: true, want: []string{"ACTIONS_ID_TOKEN_REQUEST_", "permissions: id-token: write"}, notWant: []string{"fork"}}))
	add(noNet(mxRow{name: "id-token/fork-pull-request", expected: "fail: forks get no ID token", provider: "jfrog",
		noIDToken: true,
		job: func(o *runner.Options) {
			o.EventName, o.Ref, o.Event = "pull_request", "refs/pull/7/merge", mxForkEvent()
		},
		want: []string{"id-token: write", "fork", "forker/octo-repo", "octo-org/octo-repo"}}))
	add(mxRow{name: "id-token/500-503-then-ok", expected: "ok after 3 ID token requests", provider: "jfrog",
		setup:  func(w *mxWorld) { w.s.Issuer.Faults.Push(fakes.Status(500), fakes.Status(503)) },
		idReqs: mxN(3), svcReqs: mxN(1), maxTime: 8 * time.Second})
	add(mxRow{name: "id-token/429-retry-after-then-ok", expected: "ok, waits Retry-After: 1", provider: "cloudsmith",
		setup:  func(w *mxWorld) { w.s.Issuer.Faults.Push(fakes.StatusRetryAfter(429, "1")) },
		idReqs: mxN(2), svcReqs: mxN(1), minTime: 900 * time.Millisecond, maxTime: 8 * time.Second})
	add(fail(mxRow{name: "id-token/always-503", expected: "fail in bounded time: endpoint and last status", provider: "jfrog",
		inputs: map[string]string{"retries": "2"},
		setup: func(w *mxWorld) {
			w.s.Issuer.Faults.Push(fakes.Status(503), fakes.Status(503), fakes.Status(503), fakes.Status(503))
		},
		want:   []string{"github id token", mxIDTokenPath, "503"},
		idReqs: mxN(3), svcReqs: mxN(0), maxTime: 10 * time.Second}))
	add(fail(mxRow{name: "id-token/hang-timeout-5s", expected: "fail after timeout 5s", provider: "jfrog",
		inputs: map[string]string{"timeout": "5s"},
		setup:  func(w *mxWorld) { w.s.Issuer.Faults.Push(fakes.Of(fakes.FaultHang)) },
		want:   []string{"timeout"}, svcReqs: mxN(0), minTime: 4 * time.Second, maxTime: 12 * time.Second}))

	// ---- the token services
	add(mxRow{name: "service/500-502-503-then-ok", expected: "ok after 4 exchange requests", provider: "jfrog",
		setup: func(w *mxWorld) {
			w.s.JFrog.Faults.Push(fakes.Status(500), fakes.Status(502), fakes.Status(503))
		},
		svcReqs: mxN(4), maxTime: 10 * time.Second})
	add(mxRow{name: "service/crates-io-503-then-ok", expected: "ok; a fresh ID token per attempt", provider: "crates-io",
		setup:  func(w *mxWorld) { w.s.CratesIO.Faults.Push(fakes.Status(503)) },
		idReqs: mxN(2), svcReqs: mxN(2), maxTime: 8 * time.Second})
	add(mxRow{name: "service/429-retry-after-3600-then-ok", expected: "ok; Retry-After capped, within timeout", provider: "jfrog",
		inputs:  map[string]string{"timeout": "15s"},
		setup:   func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.StatusRetryAfter(429, "3600")) },
		svcReqs: mxN(2), maxTime: 12 * time.Second})
	add(fail(mxRow{name: "service/429-retry-after-3600-always", expected: "fail within timeout 5s", provider: "jfrog",
		inputs: map[string]string{"timeout": "5s"},
		setup: func(w *mxWorld) {
			for range 11 {
				w.s.JFrog.Faults.Push(fakes.StatusRetryAfter(429, "3600"))
			}
		},
		want:    []string{"429"},
		maxTime: 9 * time.Second}))
	for _, code := range []int{400, 401, 403, 404} {
		msg := fmt.Sprintf("mx service says %d: identity mapping does not match", code)
		add(fail(mxRow{name: fmt.Sprintf("service/%d-no-retry", code), expected: "fail at once: message + claims hint", provider: "jfrog",
			stack:  fakes.Options{Issuer: fakes.IssuerConfig{Environment: "release"}},
			setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(mxServiceError("jfrog", code, msg)) },
			want:   append([]string{fmt.Sprint(code), msg, "environment: release"}, mxHintLines...),
			idReqs: mxN(1), svcReqs: mxN(1), maxTime: 5 * time.Second}))
	}
	add(fail(mxRow{name: "service/cloudsmith-403-no-retry", expected: "fail at once: message + claims hint", provider: "cloudsmith",
		stack: fakes.Options{Issuer: fakes.IssuerConfig{Environment: "release"}},
		setup: func(w *mxWorld) {
			w.s.Cloudsmith.Faults.Push(mxServiceError("cloudsmith", 403, "mx cloudsmith refuses"))
		},
		want:   append([]string{"403", "mx cloudsmith refuses"}, mxHintLines...),
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/crates-io-400-no-retry", expected: "fail at once: message + claims hint", provider: "crates-io",
		stack: fakes.Options{Issuer: fakes.IssuerConfig{Environment: "release"}},
		setup: func(w *mxWorld) {
			w.s.CratesIO.Faults.Push(mxServiceError("crates-io", 400, "mx no trusted publisher"))
		},
		want:   append([]string{"400", "mx no trusted publisher"}, mxHintLines...),
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/real-403-wrong-claim", expected: "fail at once: JFrog's message + claims hint", provider: "jfrog",
		stack: fakes.Options{Issuer: fakes.IssuerConfig{Environment: "release"},
			Mapping: map[string]string{"repository": "other-org/other-repo"}},
		want:   append([]string{"repository"}, mxHintLines...),
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(mxRow{name: "service/reset-then-ok", expected: "ok after a connection reset", provider: "jfrog",
		setup:   func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultReset)) },
		svcReqs: mxN(2), maxTime: 8 * time.Second})
	add(fail(mxRow{name: "service/reset-always", expected: "fail: connection error, retried", provider: "jfrog",
		inputs: map[string]string{"retries": "1"},
		setup: func(w *mxWorld) {
			w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultReset), fakes.Of(fakes.FaultReset), fakes.Of(fakes.FaultReset))
		},
		want:    []string{"jfrog", "connection"},
		svcReqs: mxN(2), maxTime: 8 * time.Second}))
	add(fail(mxRow{name: "service/tls-untrusted", expected: "fail at once: certificate", provider: "jfrog",
		setup: func(w *mxWorld) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					w.tlsConns.Add(1)
				}
			}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
			srv.StartTLS()
			w.t.Cleanup(srv.Close)
			w.inputs["url"] = srv.URL
			w.inputs["repository"] = "cargo-local"
		},
		want:   []string{"certificate"},
		idReqs: mxN(1), svcReqs: mxN(0), maxTime: 5 * time.Second,
		check: func(w *mxWorld) []string {
			// With SSL_CERT_FILE set (the fakes' CA) a handshake first
			// trusts the file alone, then once more with the system's
			// roots added (exchange.BaseHTTPClient loads them lazily);
			// the retry policy adds none: a certificate error is final.
			if n := w.tlsConns.Load(); n != 2 {
				return []string{fmt.Sprintf("the untrusted server saw %d connections, want 2 (the file's roots, then the system's; no retry)", n)}
			}
			return nil
		}}))
	add(fail(mxRow{name: "service/malformed-json", expected: "fail: not valid JSON, first line", provider: "jfrog",
		setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultMalformedJSON)) },
		want:   []string{"json"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/html-error-page", expected: "fail: title shown, no body dump", provider: "cloudsmith",
		inputs: map[string]string{"retries": "1"},
		setup: func(w *mxWorld) {
			w.s.Cloudsmith.Faults.Push(fakes.Of(fakes.FaultHTML), fakes.Of(fakes.FaultHTML))
		},
		want:    []string{"502 Bad Gateway"},
		notWant: []string{"padding", "<html", "<body", "nginx</center>"},
		svcReqs: mxN(2)}))
	add(fail(mxRow{name: "service/html-200", expected: "fail: an HTML page is not an answer", provider: "jfrog",
		setup: func(w *mxWorld) {
			w.s.JFrog.Faults.Push(fakes.Fault{Kind: fakes.FaultHTML, Status: 200})
		},
		notWant: []string{"padding", "<html"},
		idReqs:  mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/empty-token", expected: "fail: no token", provider: "jfrog",
		setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultEmptyToken)) },
		want:   []string{"token"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/missing-token", expected: "fail: no token", provider: "cloudsmith",
		setup:  func(w *mxWorld) { w.s.Cloudsmith.Faults.Push(fakes.Of(fakes.FaultMissingToken)) },
		want:   []string{"token"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/newline-token", expected: "fail: token refused, not shown", provider: "jfrog",
		setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultNewlineToken)) },
		want:   []string{"refused"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/control-char-token", expected: "fail: token refused, not shown", provider: "crates-io",
		setup:  func(w *mxWorld) { w.s.CratesIO.Faults.Push(fakes.Of(fakes.FaultControlToken)) },
		want:   []string{"refused"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "service/100MB-body", expected: "fail: too large; peak RSS < 50 MB", provider: "jfrog",
		memory: true,
		setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(fakes.FaultHugeBody)) },
		want:   []string{"too large"},
		idReqs: mxN(1), svcReqs: mxN(1), maxTime: 10 * time.Second,
		check: func(w *mxWorld) []string {
			if w.mem == nil || w.mem.peak() == 0 {
				return []string{"no memory measure of the child"}
			}
			if peak := w.mem.peak(); peak >= mxMaxRSS {
				return []string{fmt.Sprintf("peak RSS %d MB (rusage %d KB, VmHWM %d KB), want < %d MB", peak>>20, w.mem.maxrss, w.mem.hwm, mxMaxRSS>>20)}
			}
			return nil
		}}))
	for _, k := range []fakes.FaultKind{fakes.FaultRedirect307, fakes.FaultRedirect308} {
		add(fail(mxRow{name: "service/" + k.String() + "-other-host", expected: "fail: redirects refused; ID token not sent there", provider: "jfrog",
			setup:  func(w *mxWorld) { w.s.JFrog.Faults.Push(fakes.Of(k)) },
			want:   []string{"redirects are refused", "localhost"},
			idReqs: mxN(1), svcReqs: mxN(1), check: mxNoneOf}))
	}
	add(fail(mxRow{name: "service/crates-io-308-other-host", expected: "fail: redirects refused; JWT not sent there", provider: "crates-io",
		setup:  func(w *mxWorld) { w.s.CratesIO.Faults.Push(fakes.Of(fakes.FaultRedirect308)) },
		want:   []string{"redirects are refused"},
		idReqs: mxN(1), svcReqs: mxN(1), check: mxNoneOf}))

	// ---- inputs: all fail before any request
	in := func(name, provider, expected string, inputs map[string]string, want ...string) {
		add(noNet(mxRow{name: "input/" + name, expected: expected, provider: provider, inputs: inputs, want: want}))
	}
	in("provider-missing", "jfrog", "fail: provider is required", map[string]string{"provider": mxDrop}, "input provider", "required")
	for _, name := range []string{"url", "provider-name", "repository"} {
		in("jfrog-"+name+"-missing", "jfrog", "fail: "+name+" is required", map[string]string{name: mxDrop}, "input "+name, "required")
	}
	in("cloudsmith-namespace-missing", "cloudsmith", "fail: namespace is required", map[string]string{"namespace": mxDrop}, "input namespace", "required")
	in("cloudsmith-service-slug-missing", "cloudsmith", "fail: service-slug is required", map[string]string{"service-slug": mxDrop}, "input service-slug", "required")
	in("cloudsmith-repository-missing", "cloudsmith", "fail: repository or index-url is required", map[string]string{"index-url": mxDrop}, "input repository", "required")
	in("unknown-provider", "jfrog", "fail: names the known providers", map[string]string{"provider": "nexus"}, "nexus", "jfrog", "cloudsmith", "crates-io")
	in("http-url", "jfrog", "fail: https only", map[string]string{"url": "http://{jfrog-host}"}, "input url", "https")
	in("url-with-path", "jfrog", "fail: no path", map[string]string{"url": "{jfrog}/artifactory"}, "input url", "path")
	in("url-with-query", "cloudsmith", "fail: no query", map[string]string{"url": "{cloudsmith}?x=1"}, "input url", "query")
	in("crates-io-url-with-path", "crates-io", "fail: no path", map[string]string{"url": "{crates}/api"}, "input url", "path")
	in("registry-name-invalid", "jfrog", "fail: Cargo's rules", map[string]string{"registry-name": "my registry!"}, "input registry-name")
	in("boolean-not-boolean", "jfrog", "fail: true or false", map[string]string{"default-registry": "maybe"}, "input default-registry", "true or false")
	in("export-env-not-boolean", "cloudsmith", "fail: true or false", map[string]string{"export-env": "yes please"}, "input export-env", "true or false")
	in("retries-negative", "jfrog", "fail: 0 to 10", map[string]string{"retries": "-1"}, "input retries", "0 to 10")
	in("retries-huge", "jfrog", "fail: 0 to 10", map[string]string{"retries": "1000000"}, "input retries", "0 to 10")
	in("timeout-unparsable", "jfrog", "fail: a Go duration", map[string]string{"timeout": "soon"}, "input timeout", "duration")
	in("cloudsmith-input-for-jfrog", "jfrog", "fail: belongs to cloudsmith", map[string]string{"namespace": "acme"}, "input namespace", "cloudsmith")
	in("jfrog-input-for-crates-io", "crates-io", "fail: belongs to jfrog", map[string]string{"provider-name": "github-oidc"}, "input provider-name", "jfrog")
	in("crates-io-input-for-cloudsmith", "cloudsmith", "fail: belongs to crates-io", map[string]string{"revoke": "false"}, "input revoke", "crates-io")

	// ---- AWS CodeArtifact: STS, then CodeArtifact (svcReqs counts both)
	caSecretsMasked := func(w *mxWorld) []string {
		var p []string
		masks := map[string]bool{}
		for _, line := range strings.Split(w.res.Stdout, "\n") {
			if m, ok := strings.CutPrefix(strings.TrimSpace(line), "::add-mask::"); ok {
				masks[m] = true
			}
		}
		for _, it := range w.s.Store.Tokens() {
			switch it.Kind {
			case fakes.KindAWSAccessKeyID, fakes.KindAWSSecretAccessKey, fakes.KindAWSSessionToken, fakes.KindAccessToken:
				if !masks[it.Value] {
					p = append(p, "no ::add-mask:: for the "+it.Kind)
				}
			}
		}
		return p
	}
	add(mxRow{name: "codeartifact/ok", expected: "ok: raw token, every AWS secret masked", provider: "codeartifact",
		idReqs: mxN(1), svcReqs: mxN(2),
		check: func(w *mxWorld) []string {
			p := caSecretsMasked(w)
			tok := w.res.Outputs["token"]
			if !w.s.Store.Valid(tok) || w.res.Env["CARGO_REGISTRIES_CODEARTIFACT_TOKEN"] != tok {
				p = append(p, "CARGO_REGISTRIES_CODEARTIFACT_TOKEN is not the raw CodeArtifact token")
			}
			if v, ok := w.res.State["token"]; ok && v != "" {
				p = append(p, "the CodeArtifact token was saved as state (nothing revokes it)")
			}
			if got := w.res.Outputs["username"]; !strings.HasPrefix(got, "arn:aws:sts::"+fakes.DefaultAWSAccount+":assumed-role/") {
				p = append(p, "username output "+got)
			}
			if got := w.s.STS.SessionNames(); len(got) != 1 || got[0] != "cargo-oidc-"+w.job.Env()["GITHUB_RUN_ID"]+"-"+w.job.Env()["GITHUB_RUN_ATTEMPT"] {
				p = append(p, fmt.Sprintf("role session names %v", got))
			}
			return p
		}})
	add(mxRow{name: "codeartifact/files-and-default", expected: "ok: config merged, credentials file raw token", provider: "codeartifact",
		inputs: map[string]string{"replace-crates-io": "true", "default-registry": "true", "credentials-file": "{temp}/ca-creds/credentials.toml"},
		idReqs: mxN(1), svcReqs: mxN(2),
		check: func(w *mxWorld) []string {
			var p []string
			tok := w.res.Outputs["token"]
			cfg, err := os.ReadFile(filepath.Join(w.job.Workspace(), ".cargo", "config.toml"))
			if err != nil || !strings.Contains(string(cfg), `replace-with = "codeartifact"`) || !strings.Contains(string(cfg), "[registries.codeartifact]") ||
				!strings.Contains(string(cfg), `index = "`+w.s.CodeArtifactIndex+`"`) {
				p = append(p, fmt.Sprintf("config file: %v\n%s", err, cfg))
			}
			creds, err := os.ReadFile(w.credentials)
			if err != nil || !strings.Contains(string(creds), `token = "`+tok+`"`) {
				p = append(p, fmt.Sprintf("the credentials file does not hold the raw token: %v", err))
			}
			if w.res.Env["CARGO_REGISTRY_DEFAULT"] != "codeartifact" {
				p = append(p, "CARGO_REGISTRY_DEFAULT is not codeartifact")
			}
			return p
		}})
	add(mxRow{name: "codeartifact/sts-throttling-400-then-ok", expected: "ok: STS Throttling retried", provider: "codeartifact",
		setup: func(w *mxWorld) {
			w.s.STS.Faults.Push(fakes.Fault{Kind: fakes.FaultStatus, Status: 400, ContentType: "text/xml",
				Body: "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"})
		},
		idReqs: mxN(1), svcReqs: mxN(3), maxTime: 8 * time.Second})
	add(mxRow{name: "codeartifact/503-then-ok", expected: "ok: the retry is signed afresh", provider: "codeartifact",
		setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Status(503)) },
		idReqs: mxN(1), svcReqs: mxN(3), maxTime: 8 * time.Second})
	add(fail(mxRow{name: "codeartifact/sts-access-denied", expected: "fail at once: trust policy + claims", provider: "codeartifact",
		stack: fakes.Options{Issuer: fakes.IssuerConfig{Environment: "release"}, Mapping: map[string]string{"repository": "other-org/other-repo"}},
		want: append([]string{"403", "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity", "trust policy",
			`token.actions.githubusercontent.com:aud = "sts.amazonaws.com"`, "token.actions.githubusercontent.com:sub", fakes.DefaultAWSRole}, mxHintLines...),
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "codeartifact/sts-invalid-identity-token", expected: "fail at once: OIDC provider and audience", provider: "codeartifact",
		inputs: map[string]string{"audience": "https://github.com/octo-org"},
		want:   []string{"InvalidIdentityToken: Incorrect token audience", "IAM OIDC identity provider", `"https://github.com/octo-org"`, "aud: https://github.com/octo-org"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "codeartifact/access-denied-exception", expected: "fail at once: the two permissions", provider: "codeartifact",
		setup: func(w *mxWorld) { w.s.CodeArtifact.SetPermitted(false) },
		want: []string{"403", "AccessDeniedException", "codeartifact:GetAuthorizationToken", "sts:GetServiceBearerToken",
			"arn:aws:codeartifact:" + fakes.DefaultAWSRegion + ":" + fakes.DefaultAWSAccount + ":domain/" + fakes.DefaultCADomain},
		idReqs: mxN(1), svcReqs: mxN(2), check: caSecretsMasked}))
	add(fail(mxRow{name: "codeartifact/wrong-domain-owner", expected: "fail at once: names domain-owner", provider: "codeartifact",
		inputs: map[string]string{"domain-owner": "444455556666"},
		want:   []string{"AccessDeniedException", "444455556666", "domain-owner"},
		idReqs: mxN(1), svcReqs: mxN(2)}))
	add(fail(mxRow{name: "codeartifact/wrong-domain", expected: "fail at once: domain not found", provider: "codeartifact",
		inputs: map[string]string{"domain": "other-domain"},
		want:   []string{"404", "ResourceNotFoundException", "domain-owner", "aws-region"},
		idReqs: mxN(1), svcReqs: mxN(2)}))
	add(fail(mxRow{name: "codeartifact/wrong-region", expected: "fail at once: names aws-region", provider: "codeartifact",
		inputs: map[string]string{"aws-region": "us-east-1"},
		want:   []string{"InvalidSignatureException", "aws-region", `"us-east-1"`},
		idReqs: mxN(1), svcReqs: mxN(2)}))
	add(fail(mxRow{name: "codeartifact/sts-not-xml", expected: "fail: not valid XML, nothing quoted", provider: "codeartifact",
		setup:  func(w *mxWorld) { w.s.STS.Faults.Push(fakes.Of(fakes.FaultMalformedJSON)) },
		want:   []string{"aws sts", "not valid XML"},
		idReqs: mxN(1), svcReqs: mxN(1)}))
	add(fail(mxRow{name: "codeartifact/newline-token", expected: "fail: token refused, not shown", provider: "codeartifact",
		setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Of(fakes.FaultNewlineToken)) },
		want:   []string{"authorization token", "refused"},
		idReqs: mxN(1), svcReqs: mxN(2), check: caSecretsMasked}))
	add(fail(mxRow{name: "codeartifact/308-other-host", expected: "fail: redirects refused; credentials not sent there", provider: "codeartifact",
		setup:  func(w *mxWorld) { w.s.CodeArtifact.Faults.Push(fakes.Of(fakes.FaultRedirect308)) },
		want:   []string{"redirects are refused"},
		idReqs: mxN(1), svcReqs: mxN(2)}))
	add(noNet(mxRow{name: "codeartifact/http-endpoint", expected: "fail before any request: https only", provider: "codeartifact",
		job:  func(o *runner.Options) { o.Env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9" },
		want: []string{"AWS_ENDPOINT_URL_STS must be an https URL"}}))
	in("codeartifact-role-missing", "codeartifact", "fail: role-to-assume is required", map[string]string{"role-to-assume": mxDrop}, "input role-to-assume", "required")
	in("codeartifact-domain-owner-invalid", "codeartifact", "fail: 12 digits", map[string]string{"domain-owner": "1111-2222-3333"}, "input domain-owner", "12 digits")
	in("codeartifact-duration-too-long", "codeartifact", "fail: 15m to 12h", map[string]string{"duration": "24h"}, "input duration", "15m to 12h")
	in("codeartifact-region-invalid", "codeartifact", "fail: a region code", map[string]string{"aws-region": "London"}, "input aws-region", "us-east-1")
	in("jfrog-input-for-codeartifact", "codeartifact", "fail: belongs to jfrog", map[string]string{"provider-name": "github-oidc"}, "input provider-name", "jfrog")
	in("codeartifact-input-for-cloudsmith", "cloudsmith", "fail: belongs to codeartifact", map[string]string{"role-to-assume": fakes.DefaultAWSRole}, "input role-to-assume", "codeartifact")

	// ---- files
	add(noNet(mxRow{name: "files/config-does-not-parse", expected: "fail before the exchange: names the file", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup:  func(w *mxWorld) { mxWrite(w, ".cargo/config.toml", "[source.crates-io\nreplace-with = \n") },
		want:   []string{"config.toml"}}))
	add(fail(mxRow{name: "files/read-only-workspace", expected: "fail: nothing written, workspace unchanged", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup: func(w *mxWorld) {
			mxWrite(w, "Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n")
			mxImmutable(w, w.job.Workspace())
		},
		want: []string{"config.toml"},
	}))
	add(fail(mxRow{name: "files/read-only-config-dir", expected: "fail: config unchanged", provider: "cloudsmith",
		inputs: map[string]string{"replace-crates-io": "true", "credentials-file": "{temp}/mx-creds/credentials.toml"},
		setup: func(w *mxWorld) {
			mxWrite(w, ".cargo/config.toml", "# keep me\n[build]\njobs = 2\n")
			mxImmutable(w, filepath.Join(w.job.Workspace(), ".cargo"))
		},
		want: []string{"config.toml"},
		check: func(w *mxWorld) []string {
			if _, err := os.Lstat(filepath.Join(w.job.Temp(), "mx-creds", "credentials.toml")); err == nil {
				return []string{"the credentials file written before the config failed was not rolled back"}
			}
			return nil
		}}))
	add(noNet(mxRow{name: "files/credentials-symlink", expected: "fail before the exchange: link refused, target unchanged", provider: "jfrog",
		inputs: map[string]string{"credentials-file": ".cargo/credentials.toml"},
		setup: func(w *mxWorld) {
			target := filepath.Join(w.job.Root(), "elsewhere.toml")
			if err := os.WriteFile(target, []byte("# not yours\n"), 0o600); err != nil {
				w.t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(w.job.Workspace(), ".cargo"), 0o755); err != nil {
				w.t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(w.job.Workspace(), ".cargo", "credentials.toml")); err != nil {
				w.t.Fatal(err)
			}
		},
		want: []string{"symbolic link"},
		check: func(w *mxWorld) []string {
			data, err := os.ReadFile(filepath.Join(w.job.Root(), "elsewhere.toml"))
			if err != nil || string(data) != "# not yours\n" {
				return []string{fmt.Sprintf("the symlink's target changed: %q, %v", data, err)}
			}
			return nil
		}}))
	brokenEnv := func(name, expected string, path func(w *mxWorld) string) {
		add(fail(mxRow{name: "files/github-env-" + name, expected: expected, provider: "jfrog",
			inputs: map[string]string{"credentials-file": "{temp}/mx-creds/credentials.toml", "replace-crates-io": "true"},
			fileEnv: func(w *mxWorld) map[string]string {
				return map[string]string{"GITHUB_ENV": path(w)}
			},
			want: []string{"GITHUB_ENV"},
			check: func(w *mxWorld) []string {
				if _, err := os.Lstat(filepath.Join(w.job.Temp(), "mx-creds", "credentials.toml")); err == nil {
					return []string{"the credentials file was written although GITHUB_ENV could not be"}
				}
				return nil
			}}))
	}
	brokenEnv("missing-dir", "fail: GITHUB_ENV named; no file written", func(w *mxWorld) string {
		return filepath.Join(w.job.Temp(), "no-such-dir", "set_env")
	})
	brokenEnv("is-a-directory", "fail: GITHUB_ENV named; no file written", func(w *mxWorld) string {
		d := filepath.Join(w.job.Temp(), "env-dir")
		if err := os.MkdirAll(d, 0o755); err != nil {
			w.t.Fatal(err)
		}
		return d
	})

	rows = append(rows, mxSecretRows()...)
	// ---- files: links, bounded reads, owners, the post stage's deletion.
	// Nothing outside the workspace and the runner's temp folder is read,
	// written or deleted, whatever links the job planted.
	fsOutside := func(w *mxWorld, rel, content string) string { // a file outside both folders
		p := filepath.Join(w.job.Root(), "outside", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			w.t.Fatal(err)
		}
		return p
	}
	fsLink := func(w *mxWorld, target, link string) {
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			w.t.Fatal(err)
		}
	}
	fsUnchanged := func(path, want string) []string {
		data, err := os.ReadFile(path)
		if err != nil || string(data) != want {
			return []string{fmt.Sprintf("%s changed: %q, %v", path, data, err)}
		}
		return nil
	}
	fsOutsideOnly := func(w *mxWorld, names ...string) []string { // the outside folder holds only names
		entries, _ := os.ReadDir(filepath.Join(w.job.Root(), "outside"))
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if strings.Join(got, ",") != strings.Join(names, ",") {
			return []string{fmt.Sprintf("the folder outside the workspace holds %v, want %v", got, names)}
		}
		return nil
	}
	// fsOwned gives path to user 1234 (root ignores modes; the test runs as
	// root like the action's container).
	fsOwned := func(w *mxWorld, path string, mode os.FileMode) {
		if uid := os.Geteuid(); uid != 0 {
			harness.Require(w.t, "root (the row gives a file to another user)", fmt.Errorf("running as uid %d", uid))
		}
		if err := os.Chown(path, 1234, 1234); err != nil {
			w.t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			w.t.Fatal(err)
		}
	}
	fsOwnerMode := func(path string, mode os.FileMode) []string {
		fi, err := os.Lstat(path)
		if err != nil {
			return []string{err.Error()}
		}
		uid, gid := ownerOf(fi)
		if uid != 1234 || gid != 1234 || fi.Mode() != mode {
			return []string{fmt.Sprintf("%s is %v %d:%d, want %v 1234:1234 (its owner and mode kept)", path, fi.Mode(), uid, gid, mode)}
		}
		return nil
	}
	// fsPost runs the post stage and checks its output holds no secret.
	fsPost := func(w *mxWorld) (*runner.StepResult, []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := w.job.RunPost(ctx, mxStepID)
		if err != nil || res == nil {
			return res, []string{fmt.Sprintf("post stage: %v", err)}
		}
		var p []string
		if res.ExitCode != 0 {
			p = append(p, fmt.Sprintf("post stage exit %d", res.ExitCode))
		}
		for _, line := range strings.Split(res.Stdout+"\n"+res.Stderr, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
				continue
			}
			for _, needles := range w.mxSecrets() {
				for _, n := range needles {
					if strings.Contains(line, n) {
						p = append(p, "LEAK: the post stage printed a secret")
					}
				}
			}
		}
		return res, p
	}
	const fsUserConfig = "# the user's own settings\n[build]\njobs = 2\n"

	add(mxRow{name: "files/config-link-inside-kept", expected: "ok: the linked file is updated, the link stays", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup: func(w *mxWorld) {
			shared := mxWrite(w, "shared/cargo-config.toml", fsUserConfig)
			fsLink(w, shared, filepath.Join(w.job.Workspace(), ".cargo", "config.toml"))
		},
		check: func(w *mxWorld) []string {
			link := filepath.Join(w.job.Workspace(), ".cargo", "config.toml")
			var p []string
			if target, err := os.Readlink(link); err != nil || target != filepath.Join(w.job.Workspace(), "shared", "cargo-config.toml") {
				p = append(p, fmt.Sprintf(".cargo/config.toml is no longer the link: %q, %v", target, err))
			}
			data, _ := os.ReadFile(filepath.Join(w.job.Workspace(), "shared", "cargo-config.toml"))
			if !strings.HasPrefix(string(data), fsUserConfig) || !strings.Contains(string(data), `replace-with = "artifactory"`) {
				p = append(p, fmt.Sprintf("the linked file was not updated in place:\n%s", data))
			}
			return p
		}})
	add(noNet(mxRow{name: "files/config-link-outside", expected: "fail before the exchange: link leaves the workspace", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup: func(w *mxWorld) {
			fsLink(w, fsOutside(w, "config.toml", "[registries.other]\ntoken = \"not-for-the-workspace\"\n"),
				filepath.Join(w.job.Workspace(), ".cargo", "config.toml"))
		},
		want: []string{"symbolic link", "outside the workspace", "config.toml"},
		check: func(w *mxWorld) []string {
			return append(fsUnchanged(filepath.Join(w.job.Root(), "outside", "config.toml"), "[registries.other]\ntoken = \"not-for-the-workspace\"\n"),
				fsOutsideOnly(w, "config.toml")...)
		}}))
	add(noNet(mxRow{name: "files/dot-cargo-linked-outside", expected: "fail before the exchange: no credentials written outside", provider: "cloudsmith",
		inputs: map[string]string{"credentials-file": ".cargo/credentials.toml"},
		setup: func(w *mxWorld) {
			fsOutside(w, "keep", "x")
			fsLink(w, filepath.Join(w.job.Root(), "outside"), filepath.Join(w.job.Workspace(), ".cargo"))
		},
		want:  []string{"symbolic link", ".cargo", "outside the workspace"},
		check: func(w *mxWorld) []string { return fsOutsideOnly(w, "keep") }}))
	add(noNet(mxRow{name: "files/config-link-proc-pagemap", expected: "fail before the exchange: link refused, nothing read", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup: func(w *mxWorld) {
			fsLink(w, "/proc/self/pagemap", filepath.Join(w.job.Workspace(), ".cargo", "config.toml"))
		},
		want: []string{"symbolic link", "/proc/self/pagemap"}, maxTime: 5 * time.Second}))
	add(noNet(mxRow{name: "files/config-200GB-sparse", expected: "fail before the exchange: over 1 MiB, not read", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true", "config-file": "{temp}/big/config.toml"},
		setup: func(w *mxWorld) {
			p := filepath.Join(w.job.Temp(), "big", "config.toml")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				w.t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				w.t.Fatal(err)
			}
			if err := os.Truncate(p, 200<<30); err != nil {
				w.t.Fatalf("a sparse file of 200 GB: %v", err)
			}
		},
		want: []string{"1 MiB", "config.toml"}, maxTime: 5 * time.Second,
		check: func(w *mxWorld) []string {
			p := filepath.Join(w.job.Temp(), "big", "config.toml")
			fi, err := os.Stat(p)
			_ = os.Remove(p) // the leak scan reads every file
			if err != nil || fi.Size() != 200<<30 {
				return []string{fmt.Sprintf("the sparse file changed: %v", err)}
			}
			return nil
		}}))
	add(noNet(mxRow{name: "files/credentials-file-tilde", expected: "fail before the exchange: ~ refused, points to runner.temp", provider: "jfrog",
		inputs: map[string]string{"credentials-file": "~/.cargo/credentials.toml"},
		want:   []string{"input credentials-file", "~", "${{ runner.temp }}"}}))
	add(mxRow{name: "files/config-0600-owner-kept", expected: "ok: a user's 0600 config keeps mode and owner", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true"},
		setup: func(w *mxWorld) {
			fsOwned(w, mxWrite(w, ".cargo/config.toml", fsUserConfig), 0o600)
		},
		check: func(w *mxWorld) []string {
			p := filepath.Join(w.job.Workspace(), ".cargo", "config.toml")
			data, _ := os.ReadFile(p)
			if !strings.HasPrefix(string(data), fsUserConfig) || !strings.Contains(string(data), "[registries.artifactory]") {
				return []string{fmt.Sprintf("config not merged:\n%s", data)}
			}
			return fsOwnerMode(p, 0o600)
		}})
	add(fail(mxRow{name: "files/failed-step-keeps-credentials-owner", expected: "fail: the user's credentials file keeps content, 0644, owner", provider: "jfrog",
		inputs: map[string]string{"replace-crates-io": "true", "credentials-file": "{temp}/mine/credentials.toml"},
		setup: func(w *mxWorld) {
			p := filepath.Join(w.job.Temp(), "mine", "credentials.toml")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				w.t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("[registries.other]\ntoken = \"mine\"\n"), 0o644); err != nil {
				w.t.Fatal(err)
			}
			fsOwned(w, p, 0o644)
			mxWrite(w, ".cargo/config.toml", fsUserConfig)
			mxImmutable(w, filepath.Join(w.job.Workspace(), ".cargo"))
		},
		want: []string{"config.toml"},
		check: func(w *mxWorld) []string {
			p := filepath.Join(w.job.Temp(), "mine", "credentials.toml")
			return append(fsUnchanged(p, "[registries.other]\ntoken = \"mine\"\n"), fsOwnerMode(p, 0o644)...)
		}}))
	add(fail(mxRow{name: "files/failed-step-restores-config-owner", expected: "fail late: the config is put back with its 0644 and owner", provider: "cloudsmith",
		inputs: map[string]string{"replace-crates-io": "true", "credentials-file": "{temp}/ro/credentials.toml"},
		setup: func(w *mxWorld) {
			fsOwned(w, mxWrite(w, ".cargo/config.toml", fsUserConfig), 0o644)
			if err := os.MkdirAll(filepath.Join(w.job.Temp(), "ro"), 0o755); err != nil {
				w.t.Fatal(err)
			}
			mxImmutable(w, filepath.Join(w.job.Temp(), "ro"))
		},
		want: []string{"credentials.toml"},
		check: func(w *mxWorld) []string {
			return fsOwnerMode(filepath.Join(w.job.Workspace(), ".cargo", "config.toml"), 0o644)
		}}))
	add(noNet(mxRow{name: "files/provider-home-linked-outside", expected: "fail before the exchange: no binary installed outside", provider: "jfrog",
		inputs: map[string]string{"credential-mode": "provider"},
		setup: func(w *mxWorld) {
			fsOutside(w, "keep", "x")
			fsLink(w, filepath.Join(w.job.Root(), "outside"), filepath.Join(w.job.GitHubHome(), ".cargo-oidc"))
		},
		want:  []string{"symbolic link", ".cargo-oidc"},
		check: func(w *mxWorld) []string { return fsOutsideOnly(w, "keep") }}))
	// The post stage deletes only the file the main stage created.
	postRow := func(name, expected string, later func(w *mxWorld) []string) {
		add(mxRow{name: "files/post-" + name, expected: expected, provider: "jfrog",
			inputs: map[string]string{"credentials-file": ".cargo/credentials.toml"},
			check:  later})
	}
	postRow("after-cargo-repointed-outside", "ok; post leaves <outside>/credentials.toml alone", func(w *mxWorld) []string {
		const theirs = "[registries.artifactory]\ntoken = \"someone else's\"\n"
		fsOutside(w, "credentials.toml", theirs)
		ws := w.job.Workspace()
		if err := os.Rename(filepath.Join(ws, ".cargo"), filepath.Join(w.job.Root(), "moved")); err != nil {
			w.t.Fatal(err)
		}
		fsLink(w, filepath.Join(w.job.Root(), "outside"), filepath.Join(ws, ".cargo"))
		w.t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(w.job.Root(), "moved")) })
		_, p := fsPost(w)
		p = append(p, fsUnchanged(filepath.Join(w.job.Root(), "outside", "credentials.toml"), theirs)...)
		_ = os.RemoveAll(filepath.Join(w.job.Root(), "moved")) // holds the token; the scan follows
		return p
	})
	postRow("after-file-replaced", "ok; post leaves a file a later step put there", func(w *mxWorld) []string {
		p := filepath.Join(w.job.Workspace(), ".cargo", "credentials.toml")
		const theirs = "[registries.artifactory]\ntoken = \"a later step's\"\n"
		if err := os.WriteFile(p+".new", []byte(theirs), 0o600); err != nil {
			w.t.Fatal(err)
		}
		if err := os.Rename(p+".new", p); err != nil {
			w.t.Fatal(err)
		}
		res, probs := fsPost(w)
		probs = append(probs, fsUnchanged(p, theirs)...)
		if res != nil && !strings.Contains(res.Stdout, "not cleaned up") {
			probs = append(probs, "the post stage did not warn that it left the file")
		}
		return probs
	})

	rows = append(rows, mxAzureRows()...)
	return rows
}

// mxN is a request count a row expects.
func mxN(n int) *int { return &n }

// mxMem is the peak memory of the action's process, measured two ways.
//
// The rusage Maxrss of a child started by a Go program is an upper bound
// only: Go starts children with vfork (CLONE_VM), and at exec Linux records
// the high-water mark of the address space being left, which is the test
// process's own (over 80 MB under -race). VmHWM, sampled from
// /proc/<pid>/status every 2 ms, belongs to the child's own address space
// but may miss growth in the last milliseconds before exit.
type mxMem struct {
	maxrss int64 // KB, from wait4's rusage
	hwm    int64 // KB, the largest VmHWM sampled
}

// watch samples the VmHWM of a started process every 2 ms until it exits,
// then reads its rusage (a runner.HostRuntime.Watch).
func (m *mxMem) watch(p *os.Process) func(*os.ProcessState) {
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // VmHWM is per address space: it starts afresh at exec
		defer close(sampled)
		status := fmt.Sprintf("/proc/%d/status", p.Pid)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb := mxVmHWM(status); kb > m.hwm {
				m.hwm = kb
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func(st *os.ProcessState) {
		close(stop)
		<-sampled
		if st == nil {
			return
		}
		if rss, ok := maxRSS(st); ok {
			m.maxrss = rss
		}
	}
}

// peak is the child's peak resident memory in bytes: the sampled VmHWM,
// or Maxrss (an upper bound) when nothing was sampled.
func (m *mxMem) peak() int64 {
	if m.hwm > 0 {
		return m.hwm << 10
	}
	return m.maxrss << 10
}

// mxVmHWM reads VmHWM (KB) from a /proc/<pid>/status file; 0 when absent.
func mxVmHWM(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}

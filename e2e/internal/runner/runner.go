// Package runner emulates the GitHub Actions runner for one job, so the e2e
// suite can drive the action the way GitHub does: the runner's folders (a
// workspace, RUNNER_TEMP with _github_home, _github_workflow and
// _runner_file_commands), the job's GITHUB_*/RUNNER_* environment, INPUT_*
// variables for every input given or with a default, the runner's rules for
// which contexts each key of action.yml may use (Action.Validate), runs.args
// evaluated with the inputs context only, fresh file-command files per step
// parsed afterwards exactly as the runner parses them, GITHUB_ENV and GITHUB_PATH applied to the later steps, and the
// post stage run with STATE_* from the main stage.
//
// The action runs either as the built binary on the host (Host) or as the
// built image through Podman with the runner's `docker run` flags
// (Container). Later steps (Run) run commands such as the real cargo on the
// host with the job's environment.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
)

// Options describe the job. Zero fields get the defaults documented on each.
type Options struct {
	// Repository is GITHUB_REPOSITORY; default "octo-org/octo-repo".
	Repository string
	// Ref is GITHUB_REF; default "refs/heads/main".
	Ref string
	// SHA is GITHUB_SHA; default a fixed 40-digit hex string.
	SHA string
	// EventName is GITHUB_EVENT_NAME; default "push".
	EventName string
	// Event is the event payload written to GITHUB_EVENT_PATH; nil means a
	// minimal payload for EventName naming the repository.
	Event []byte
	// Workflow is the workflow file under .github/workflows/; default
	// "ci.yml". GITHUB_WORKFLOW_REF is "<repo>/.github/workflows/<file>@<ref>".
	Workflow string
	// JobID is GITHUB_JOB; default "build".
	JobID string
	// RunID is GITHUB_RUN_ID; default "1234567890".
	RunID string
	// IDTokenURL and IDTokenToken are ACTIONS_ID_TOKEN_REQUEST_URL and
	// _TOKEN, set only when IDTokenURL is non-empty: the job has
	// `permissions: id-token: write`.
	IDTokenURL, IDTokenToken string
	// GitHubToken is the value of ${{ github.token }} in action.yml
	// defaults; default "" (no such secret in the emulation).
	GitHubToken string
	// Debug sets RUNNER_DEBUG=1 (and ACTIONS_STEP_DEBUG=true).
	Debug bool
	// PATH is the job's base PATH; default the test process's PATH.
	PATH string
	// Env adds to (or overrides) the job's environment, e.g. SSL_CERT_FILE.
	Env map[string]string
	// Tee, when set, receives every step's stdout and stderr as they
	// happen (for the playground or verbose tests).
	Tee io.Writer
}

// Job is one emulated job. Its methods are safe for use by one goroutine at
// a time, like steps of a job.
type Job struct {
	root, workspace, temp, home, runnerHome string
	opts                                    Options

	env      map[string]string // job environment, GITHUB_ENV applied
	path     []string          // GITHUB_PATH entries, first = searched first
	outputs  map[string]map[string]string
	state    map[string]map[string]string
	actions  []*actionStep // action steps that ran, for the post stages
	results  []*StepResult
	stepSeq  int
	teeMu    sync.Mutex
	eventDir string
}

// actionStep remembers what the post stage of an action step needs.
type actionStep struct {
	id     string
	rt     Runtime
	action *Action
	step   Step
	posted bool
}

// NewJob creates a job in t.TempDir(). It fails the test on error.
func NewJob(t testing.TB, opts Options) *Job {
	t.Helper()
	j, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// New creates a job under dir: dir/work/<repo>/<repo> is the workspace
// (GITHUB_WORKSPACE), dir/_temp is RUNNER_TEMP with _github_home,
// _github_workflow and _runner_file_commands, dir/home is the runner user's
// HOME for later steps (with CARGO_HOME=dir/home/.cargo).
func New(dir string, opts Options) (*Job, error) {
	setDefault(&opts.Repository, "octo-org/octo-repo")
	setDefault(&opts.Ref, "refs/heads/main")
	setDefault(&opts.SHA, "ffac537e6cbbf934b08745a378932722df287a53")
	setDefault(&opts.EventName, "push")
	setDefault(&opts.Workflow, "ci.yml")
	setDefault(&opts.JobID, "build")
	setDefault(&opts.RunID, "1234567890")
	if opts.PATH == "" {
		opts.PATH = os.Getenv("PATH")
	}
	owner, repoName, ok := strings.Cut(opts.Repository, "/")
	if !ok || owner == "" || repoName == "" {
		return nil, fmt.Errorf("runner: repository %q is not OWNER/NAME", opts.Repository)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	j := &Job{
		root:       abs,
		workspace:  filepath.Join(abs, "work", repoName, repoName),
		temp:       filepath.Join(abs, "_temp"),
		runnerHome: filepath.Join(abs, "home"),
		opts:       opts,
		env:        map[string]string{},
		outputs:    map[string]map[string]string{},
		state:      map[string]map[string]string{},
	}
	j.home = filepath.Join(j.temp, "_github_home")
	j.eventDir = filepath.Join(j.temp, "_github_workflow")
	for _, d := range []string{j.workspace, j.home, j.eventDir, j.fileCommandDir(), filepath.Join(j.runnerHome, ".cargo"), filepath.Join(abs, "toolcache")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
	}
	event := opts.Event
	if event == nil {
		event, err = defaultEvent(opts, owner)
		if err != nil {
			return nil, err
		}
	}
	eventPath := filepath.Join(j.eventDir, "event.json")
	if err := os.WriteFile(eventPath, event, 0o644); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}

	refName := opts.Ref
	refType := "branch"
	switch {
	case strings.HasPrefix(refName, "refs/heads/"):
		refName = strings.TrimPrefix(refName, "refs/heads/")
	case strings.HasPrefix(refName, "refs/tags/"):
		refName, refType = strings.TrimPrefix(refName, "refs/tags/"), "tag"
	case strings.HasPrefix(refName, "refs/pull/"):
		refName = strings.TrimPrefix(refName, "refs/")
	}
	e := j.env
	maps.Copy(e, map[string]string{
		"PATH": opts.PATH, "HOME": j.runnerHome, "CARGO_HOME": filepath.Join(j.runnerHome, ".cargo"), "CI": "true",
		"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": owner, "GITHUB_ACTOR_ID": "1", "GITHUB_TRIGGERING_ACTOR": owner,
		"GITHUB_API_URL": "https://api.github.com", "GITHUB_GRAPHQL_URL": "https://api.github.com/graphql",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": opts.Repository, "GITHUB_REPOSITORY_ID": "100",
		"GITHUB_REPOSITORY_OWNER": owner, "GITHUB_REPOSITORY_OWNER_ID": "1", "GITHUB_SHA": opts.SHA, "GITHUB_REF": opts.Ref,
		"GITHUB_REF_NAME": refName, "GITHUB_REF_TYPE": refType, "GITHUB_REF_PROTECTED": "false", "GITHUB_RUN_ID": opts.RunID,
		"GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_RETENTION_DAYS": "90", "GITHUB_JOB": opts.JobID,
		"GITHUB_EVENT_NAME": opts.EventName, "GITHUB_EVENT_PATH": eventPath,
		"GITHUB_WORKFLOW":     strings.TrimSuffix(strings.TrimSuffix(opts.Workflow, ".yml"), ".yaml"),
		"GITHUB_WORKFLOW_REF": opts.Repository + "/.github/workflows/" + opts.Workflow + "@" + opts.Ref,
		"GITHUB_WORKFLOW_SHA": opts.SHA, "GITHUB_WORKSPACE": j.workspace, "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
		"RUNNER_NAME": "GitHub Actions 1", "RUNNER_ENVIRONMENT": "github-hosted", "RUNNER_TEMP": j.temp,
		"RUNNER_TOOL_CACHE": filepath.Join(abs, "toolcache"), "RUNNER_WORKSPACE": filepath.Dir(j.workspace),
	})
	if strings.HasPrefix(opts.EventName, "pull_request") {
		e["GITHUB_HEAD_REF"] = "feature"
		e["GITHUB_BASE_REF"] = "main"
	}
	if opts.Debug {
		e["RUNNER_DEBUG"] = "1"
		e["ACTIONS_STEP_DEBUG"] = "true"
		e["ACTIONS_RUNNER_DEBUG"] = "true"
	}
	if opts.IDTokenURL != "" {
		e["ACTIONS_ID_TOKEN_REQUEST_URL"] = opts.IDTokenURL
		e["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = opts.IDTokenToken
	}
	// Hosted runners set RUSTUP_HOME next to CARGO_HOME; keep the
	// machine's so the rustup proxies (cargo) keep working with a job HOME.
	if rh := rustupHome(); rh != "" {
		e["RUSTUP_HOME"] = rh
	}
	for _, name := range []string{"RUSTUP_TOOLCHAIN", "RUSTUP_AUTO_INSTALL"} {
		if v, ok := os.LookupEnv(name); ok {
			e[name] = v
		}
	}
	for k, v := range opts.Env {
		e[k] = v
	}
	return j, nil
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func rustupHome() string {
	if v := os.Getenv("RUSTUP_HOME"); v != "" {
		return v
	}
	if h, err := os.UserHomeDir(); err == nil {
		if fi, err := os.Stat(filepath.Join(h, ".rustup")); err == nil && fi.IsDir() {
			return filepath.Join(h, ".rustup")
		}
	}
	return ""
}

func defaultEvent(opts Options, owner string) ([]byte, error) {
	repo := map[string]any{
		"full_name": opts.Repository,
		"name":      opts.Repository[len(owner)+1:],
		"owner":     map[string]any{"login": owner},
	}
	ev := map[string]any{"repository": repo, "sender": map[string]any{"login": owner}}
	switch {
	case strings.HasPrefix(opts.EventName, "pull_request"):
		ev["action"] = "opened"
		ev["number"] = 1
		ev["pull_request"] = map[string]any{
			"number": 1,
			"head":   map[string]any{"ref": "feature", "sha": opts.SHA, "repo": repo},
			"base":   map[string]any{"ref": "main", "repo": repo},
		}
	default:
		ev["ref"] = opts.Ref
		ev["after"] = opts.SHA
	}
	return json.MarshalIndent(ev, "", "  ")
}

// Root returns the job's top folder.
func (j *Job) Root() string { return j.root }

// Workspace returns GITHUB_WORKSPACE (a host path).
func (j *Job) Workspace() string { return j.workspace }

// Temp returns RUNNER_TEMP (a host path).
func (j *Job) Temp() string { return j.temp }

// GitHubHome returns RUNNER_TEMP/_github_home, the action's HOME (mounted
// as /github/home in the container).
func (j *Job) GitHubHome() string { return j.home }

// Home returns the HOME of later steps (the runner user's home).
func (j *Job) Home() string { return j.runnerHome }

// EventPath returns GITHUB_EVENT_PATH.
func (j *Job) EventPath() string { return filepath.Join(j.eventDir, "event.json") }

func (j *Job) fileCommandDir() string { return filepath.Join(j.temp, "_runner_file_commands") }

// SetEnv sets a job environment variable for every later step (like
// `env:` at the job level).
func (j *Job) SetEnv(name, value string) { j.env[name] = value }

// Env returns a copy of the job's environment as later steps see it:
// the base environment, the extra variables and everything applied from
// GITHUB_ENV, with GITHUB_PATH entries prepended to PATH.
func (j *Job) Env() map[string]string {
	m := make(map[string]string, len(j.env))
	for k, v := range j.env {
		m[k] = v
	}
	if len(j.path) > 0 {
		p := strings.Join(j.path, string(os.PathListSeparator))
		if m["PATH"] != "" {
			p += string(os.PathListSeparator) + m["PATH"]
		}
		m["PATH"] = p
	}
	return m
}

// Outputs returns the outputs of the step with the given id (nil if none).
func (j *Job) Outputs(stepID string) map[string]string { return j.outputs[stepID] }

// State returns what the step with the given id saved with GITHUB_STATE.
func (j *Job) State(stepID string) map[string]string { return j.state[stepID] }

// Results returns every step's result so far, in order (post stages
// included), for scanners that look at all output of a job.
func (j *Job) Results() []*StepResult { return append([]*StepResult(nil), j.results...) }

// Stage is the stage of an action step.
type Stage string

// The stages of an action step.
const (
	Main Stage = "main"
	Post Stage = "post"
)

// Step is one `uses:` step of the action.
type Step struct {
	// ID is the step id (outputs and state are kept under it); default
	// "step<N>".
	ID string
	// Inputs are the `with:` values, by input name.
	Inputs map[string]string
	// Env is the step's `env:`.
	Env map[string]string
	// Args, when non-nil, replace runs.args (already evaluated).
	Args []string
	// Override replaces variables of the main stage that the runner sets
	// itself, the file-command paths (GITHUB_ENV, ...) included, to test
	// what the action does when a runner hands it an unusable path. The
	// runner still reads its own file-command files afterwards.
	Override map[string]string
}

// StepResult is everything a step left behind.
type StepResult struct {
	ID       string
	Stage    Stage // Main or Post for the action; "" for Run steps
	ExitCode int
	Stdout   string
	Stderr   string
	// Outputs, Env and State are the parsed GITHUB_OUTPUT, GITHUB_ENV and
	// GITHUB_STATE entries (the last value wins, as on the runner).
	Outputs map[string]string
	Env     map[string]string
	State   map[string]string
	// EnvEntries lists GITHUB_ENV entries in file order.
	EnvEntries []Entry
	// Path lists GITHUB_PATH entries in file order.
	Path []string
	// Summary is the GITHUB_STEP_SUMMARY content.
	Summary string
	// Files holds the raw contents of the step's file-command files, by
	// variable name (GITHUB_ENV, GITHUB_OUTPUT, GITHUB_STATE,
	// GITHUB_STEP_SUMMARY, GITHUB_PATH).
	Files map[string]string
	// Commands are the workflow commands (`::name props::data` lines) from
	// stdout and stderr, in order; Masks the values of ::add-mask::.
	Commands []Command
	Masks    []string
	// Warnings are what the runner would warn about (an unexpected input,
	// a blocked GITHUB_ENV name).
	Warnings []string
	// Args are the arguments the action got; Environ its environment
	// (host values, before any container path rewriting).
	Args     []string
	Environ  []string
	Duration time.Duration
}

// Failed reports whether the step failed.
func (r *StepResult) Failed() bool { return r.ExitCode != 0 }

// Combined returns stdout followed by stderr.
func (r *StepResult) Combined() string { return r.Stdout + r.Stderr }

// Command is a workflow command read from a step's output.
type Command struct {
	Name       string
	Properties map[string]string
	Data       string
}

// Runtime runs an action stage: Host or Container.
type Runtime interface {
	// String names the runtime for messages.
	String() string
	exec(ctx context.Context, inv *invocation) (int, error)
}

// invocation is one stage run of the action.
type invocation struct {
	job            *Job
	stage          Stage
	postEntrypoint string
	args           []string
	env            []string // NAME=VALUE, host values
	stdout, stderr io.Writer
}

// fileCommands are the per-step file-command files.
type fileCommands map[string]string // variable name -> host path

var fileCommandPrefixes = map[string]string{
	"GITHUB_ENV":          "set_env_",
	"GITHUB_OUTPUT":       "set_output_",
	"GITHUB_STATE":        "save_state_",
	"GITHUB_STEP_SUMMARY": "step_summary_",
	"GITHUB_PATH":         "add_path_",
}

func (j *Job) newFileCommands() (fileCommands, error) {
	j.stepSeq++
	suffix := fmt.Sprintf("%d_%d", j.stepSeq, time.Now().UnixNano())
	fc := fileCommands{}
	for name, prefix := range fileCommandPrefixes {
		p := filepath.Join(j.fileCommandDir(), prefix+suffix)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return nil, fmt.Errorf("runner: create file command file: %w", err)
		}
		fc[name] = p
	}
	return fc, nil
}

// stepEnv returns the job env (without GITHUB_PATH changes), the given
// overlays, the file-command variables and override, sorted by name.
func (j *Job) stepEnv(fc fileCommands, override map[string]string, overlays ...map[string]string) []string {
	m := j.Env()
	for _, o := range overlays {
		maps.Copy(m, o)
	}
	maps.Copy(m, fc)
	maps.Copy(m, override)
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// lookup resolves an expression's context reference for this job, with
// only the contexts allowed: github and runner from the job, inputs from
// the step's inputs. A context that is not allowed resolves to nothing (the
// action was validated first, so that does not happen).
func (j *Job) lookup(allowed Contexts, inputs map[string]string) func(string) (string, bool) {
	return func(ref string) (string, bool) {
		ctxName, key, _ := strings.Cut(ref, ".")
		if !containsFold(allowed.Names, ctxName) {
			return "", false
		}
		switch ref {
		case "github.workspace":
			return j.workspace, true
		case "runner.temp":
			return j.temp, true
		case "github.token":
			return j.opts.GitHubToken, true
		case "github.event_path":
			return j.EventPath(), true
		case "github.action_path":
			return "", false
		}
		switch ctxName {
		case "inputs":
			for k, v := range inputs {
				if strings.EqualFold(k, key) {
					return v, true
				}
			}
			return "", true
		case "env":
			for k, v := range j.env {
				if strings.EqualFold(k, key) {
					return v, true
				}
			}
			return "", true
		case "github", "runner":
			prefix := "GITHUB_"
			if ctxName == "runner" {
				prefix = "RUNNER_"
			}
			v, ok := j.env[prefix+strings.ToUpper(key)]
			return v, ok
		}
		return "", false
	}
}

// ActionInputs returns the inputs the action gets for step: the step's
// values, then action.yml's defaults for inputs not given, evaluated with
// the contexts an input default may use. The runner sets INPUT_<NAME> for
// every one of them, so an input with a default is always set. It also
// returns warnings for inputs action.yml does not declare.
func (j *Job) ActionInputs(a *Action, step Step) (map[string]string, []string, error) {
	if err := a.Validate(); err != nil {
		return nil, nil, fmt.Errorf("runner: %w", err)
	}
	inputs := map[string]string{}
	var warnings []string
	for k, v := range step.Inputs {
		inputs[k] = v
		if _, ok := a.Input(k); !ok {
			warnings = append(warnings, fmt.Sprintf("Unexpected input(s) '%s'", k))
		}
	}
	sort.Strings(warnings)
	for _, in := range a.Inputs {
		given := false
		for k := range step.Inputs {
			if strings.EqualFold(k, in.Name) {
				given = true
			}
		}
		if given || !in.HasDefault {
			continue
		}
		v, err := Evaluate(in.Default, j.lookup(InputDefaultContexts, nil))
		if err != nil {
			return nil, nil, fmt.Errorf("runner: default of input %q: %w", in.Name, err)
		}
		inputs[in.Name] = v
	}
	return inputs, warnings, nil
}

// ActionArgs evaluates runs.args for the step with the inputs context only,
// as the runner does; the values are not rewritten to container paths.
func (j *Job) ActionArgs(a *Action, inputs map[string]string) ([]string, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	args := make([]string, 0, len(a.Runs.Args))
	for _, raw := range a.Runs.Args {
		v, err := Evaluate(raw, j.lookup(ArgsContexts, inputs))
		if err != nil {
			return nil, fmt.Errorf("runner: runs.args: %w", err)
		}
		args = append(args, v)
	}
	return args, nil
}

// RunAction runs the main stage of the action as step. The result is
// returned even when err is non-nil; err reports a harness problem or a
// file-command file the runner would reject (*FileCommandError), never the
// action's own failure (see StepResult.ExitCode).
func (j *Job) RunAction(ctx context.Context, rt Runtime, a *Action, step Step) (*StepResult, error) {
	if step.ID == "" {
		step.ID = fmt.Sprintf("step%d", len(j.results)+1)
	}
	as := &actionStep{id: step.ID, rt: rt, action: a, step: step}
	j.actions = append(j.actions, as)
	return j.runStage(ctx, as, Main)
}

// RunPost runs the post stage of the action step with the given id, if
// action.yml declares runs.post-entrypoint (post-if is always()). It
// returns (nil, nil) when there is no post stage.
func (j *Job) RunPost(ctx context.Context, stepID string) (*StepResult, error) {
	for _, as := range j.actions {
		if as.id == stepID {
			if as.action.Runs.PostEntrypoint == "" {
				return nil, nil
			}
			if as.posted {
				return nil, fmt.Errorf("runner: post stage of step %q already ran", stepID)
			}
			as.posted = true
			return j.runStage(ctx, as, Post)
		}
	}
	return nil, fmt.Errorf("runner: no action step %q ran", stepID)
}

func (j *Job) runStage(ctx context.Context, as *actionStep, stage Stage) (*StepResult, error) {
	a := as.action
	inputs, warnings, err := j.ActionInputs(a, as.step)
	if err != nil {
		return nil, err
	}
	args := as.step.Args
	if args == nil {
		if args, err = j.ActionArgs(a, inputs); err != nil {
			return nil, err
		}
	}
	overlay := map[string]string{}
	for k, v := range as.step.Env {
		overlay[k] = v
	}
	for k, raw := range a.Runs.Env {
		v, err := Evaluate(raw, j.lookup(ArgsContexts, inputs))
		if err != nil {
			return nil, fmt.Errorf("runner: runs.env.%s: %w", k, err)
		}
		overlay[k] = v
	}
	for k, v := range inputs {
		overlay[InputEnvName(k)] = v
	}
	if stage == Post {
		for k, v := range j.state[as.id] {
			overlay[StateEnvName(k)] = v
		}
	}
	overlay["HOME"] = j.home
	overlay["GITHUB_ACTION"] = as.id
	fc, err := j.newFileCommands()
	if err != nil {
		return nil, err
	}
	res := &StepResult{ID: as.id, Stage: stage, Args: args, Warnings: warnings}
	var override map[string]string
	if stage == Main {
		override = as.step.Override
	}
	res.Environ = j.stepEnv(fc, override, overlay)
	stdout, stderr := j.streams(res)
	inv := &invocation{job: j, stage: stage, postEntrypoint: a.Runs.PostEntrypoint, args: args, env: res.Environ, stdout: stdout, stderr: stderr}
	start := time.Now()
	code, runErr := as.rt.exec(ctx, inv)
	res.Duration = time.Since(start)
	res.ExitCode = code
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	fcErr := j.finishStep(res, fc)
	j.results = append(j.results, res)
	if runErr != nil {
		return res, fmt.Errorf("runner: %s stage of step %q (%s): %w", stage, as.id, as.rt, runErr)
	}
	return res, fcErr
}

// lockedWriter serialises writes from stdout and stderr to the tee.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// capture collects a stream and copies it to the tee.
type capture struct {
	mu  sync.Mutex
	buf strings.Builder
	tee io.Writer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	if c.tee != nil {
		_, _ = c.tee.Write(p)
	}
	return len(p), nil
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// streams returns the stdout and stderr collectors of a step.
func (j *Job) streams(_ *StepResult) (*capture, *capture) {
	var tee io.Writer
	if j.opts.Tee != nil {
		tee = lockedWriter{mu: &j.teeMu, w: j.opts.Tee}
	}
	return &capture{tee: tee}, &capture{tee: tee}
}

// blockedEnv are names the runner refuses to set through GITHUB_ENV.
var blockedEnv = map[string]bool{"NODE_OPTIONS": true}

// finishStep reads and parses the step's file-command files, applies
// GITHUB_ENV and GITHUB_PATH to the job and stores outputs and state.
func (j *Job) finishStep(res *StepResult, fc fileCommands) error {
	res.Files = map[string]string{}
	for name, p := range fc {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("runner: read %s: %w", name, err)
		}
		res.Files[name] = string(data)
	}
	res.Commands = parseCommands(res.Stdout + "\n" + res.Stderr)
	for _, c := range res.Commands {
		if c.Name == "add-mask" {
			res.Masks = append(res.Masks, c.Data)
		}
	}
	res.Summary = res.Files["GITHUB_STEP_SUMMARY"]
	var errs []error
	envEntries, err := ParseFileCommand("GITHUB_ENV", []byte(res.Files["GITHUB_ENV"]))
	errs = append(errs, err)
	res.EnvEntries = envEntries
	res.Env = map[string]string{}
	for _, e := range envEntries {
		if blockedEnv[strings.ToUpper(e.Name)] {
			res.Warnings = append(res.Warnings, fmt.Sprintf("Can't store %s output parameter using '$GITHUB_ENV' command.", e.Name))
			continue
		}
		res.Env[e.Name] = e.Value
		j.env[e.Name] = e.Value
	}
	outs, err := ParseFileCommand("GITHUB_OUTPUT", []byte(res.Files["GITHUB_OUTPUT"]))
	errs = append(errs, err)
	res.Outputs = entriesMap(outs)
	if res.Stage != Post && res.ID != "" {
		j.outputs[res.ID] = res.Outputs
	}
	st, err := ParseFileCommand("GITHUB_STATE", []byte(res.Files["GITHUB_STATE"]))
	errs = append(errs, err)
	res.State = entriesMap(st)
	if res.Stage == Main {
		j.state[res.ID] = res.State
	}
	res.Path = ParsePathFile([]byte(res.Files["GITHUB_PATH"]))
	for _, p := range res.Path {
		kept := j.path[:0]
		for _, q := range j.path {
			if q != p {
				kept = append(kept, q)
			}
		}
		j.path = append([]string{p}, kept...)
	}
	return errors.Join(errs...)
}

func entriesMap(entries []Entry) map[string]string {
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		m[e.Name] = e.Value
	}
	return m
}

// parseCommands finds workflow commands: lines that, trimmed, start with
// "::" and have a second "::" (`::name k=v,k2=v2::data`).
func parseCommands(out string) []Command {
	var cmds []Command
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "::") {
			continue
		}
		head, data, ok := strings.Cut(line[2:], "::")
		if !ok {
			continue
		}
		name, props, _ := strings.Cut(head, " ")
		if name == "" {
			continue
		}
		c := Command{Name: name, Data: unescapeData(data)}
		if props != "" {
			c.Properties = map[string]string{}
			for _, p := range strings.Split(props, ",") {
				k, v, ok := strings.Cut(p, "=")
				if ok && k != "" {
					c.Properties[k] = unescapeProperty(v)
				}
			}
		}
		cmds = append(cmds, c)
	}
	return cmds
}

func unescapeData(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(s)
}

func unescapeProperty(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace(s)
}

// Cmd describes a later `run:` step.
type Cmd struct {
	// Name and Args are the program and its arguments.
	Name string
	Args []string
	// Dir is the working folder, relative to the workspace (or absolute);
	// empty means the workspace.
	Dir string
	// Env is the step's `env:`.
	Env map[string]string
	// Stdin is the step's standard input; nil means none.
	Stdin io.Reader
	// ID is the step id; default "step<N>".
	ID string
}

// Run runs a later step on the host: name with args in the workspace, with
// the job's environment plus everything applied from GITHUB_ENV and
// GITHUB_PATH, and fresh file-command files. A non-zero exit status is in
// the result, not an error.
func (j *Job) Run(ctx context.Context, name string, args ...string) (*StepResult, error) {
	return j.RunCmd(ctx, Cmd{Name: name, Args: args})
}

// RunCmd runs a later step described by spec (see Run).
func (j *Job) RunCmd(ctx context.Context, spec Cmd) (*StepResult, error) {
	if spec.ID == "" {
		spec.ID = fmt.Sprintf("step%d", len(j.results)+1)
	}
	fc, err := j.newFileCommands()
	if err != nil {
		return nil, err
	}
	res := &StepResult{ID: spec.ID, Args: spec.Args}
	res.Environ = j.stepEnv(fc, nil, spec.Env, map[string]string{"GITHUB_ACTION": "__run_" + spec.ID})
	env := j.Env()
	for k, v := range spec.Env {
		env[k] = v
	}
	prog, err := lookPath(spec.Name, env["PATH"])
	if err != nil {
		return nil, fmt.Errorf("runner: step %q: %w", spec.ID, err)
	}
	dir := spec.Dir
	if dir == "" {
		dir = j.workspace
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(j.workspace, dir)
	}
	stdout, stderr := j.streams(res)
	cmd := exec.CommandContext(ctx, prog, spec.Args...)
	cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = dir, res.Environ, spec.Stdin, stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	res.Duration = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) && ctx.Err() == nil {
		res.ExitCode, runErr = exitErr.ExitCode(), nil
	} else if runErr != nil {
		res.ExitCode = -1
	}
	fcErr := j.finishStep(res, fc)
	j.results = append(j.results, res)
	if runErr != nil {
		return res, fmt.Errorf("runner: step %q: %s: %w", spec.ID, spec.Name, runErr)
	}
	return res, fcErr
}

// lookPath finds name in the step's PATH (not the test process's).
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the step's PATH", name)
}

// exitCode turns a command's error into an exit status, or returns the
// error when the command did not run to an exit.
func exitCode(ctx context.Context, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && ctx.Err() == nil && exitErr.ExitCode() >= 0 {
		return exitErr.ExitCode(), nil
	}
	return -1, err
}

// Host returns a Runtime that runs the built binary directly on the host, in
// the workspace, with the host paths (HOME is RUNNER_TEMP/_github_home). The
// post stage runs `binary post ARGS...`.
func Host(binary string) Runtime {
	return HostRuntime{Binary: binary}
}

// HostRuntime is the Runtime Host returns, with a hook for tests that
// measure the action's process (its peak memory, for example).
type HostRuntime struct {
	// Binary is the built action.
	Binary string
	// Watch, when set, is called with each stage's process once it has
	// started; the function it returns, when not nil, is called with the
	// process's state once it has exited, before the step's files are read.
	Watch func(p *os.Process) (exited func(*os.ProcessState))
}

// String names the runtime for messages.
func (h HostRuntime) String() string { return "host " + filepath.Base(h.Binary) }

func (h HostRuntime) exec(ctx context.Context, inv *invocation) (int, error) {
	args := inv.args
	if inv.stage == Post {
		args = append([]string{"post"}, args...)
	}
	cmd := exec.CommandContext(ctx, h.Binary, args...)
	cmd.Dir = inv.job.workspace
	cmd.Env = inv.env
	cmd.Stdout, cmd.Stderr = inv.stdout, inv.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return exitCode(ctx, err)
	}
	var exited func(*os.ProcessState)
	if h.Watch != nil {
		exited = h.Watch(cmd.Process)
	}
	err := cmd.Wait()
	if exited != nil {
		exited(cmd.ProcessState)
	}
	return exitCode(ctx, err)
}

// Container returns a Runtime that runs image through Podman with the
// runner's `docker run` flags: the /github/ mounts, --workdir
// /github/workspace, -e for every variable with host paths rewritten to
// container paths, --network=host, and --entrypoint <runs.post-entrypoint>
// for the post stage. PATH is not passed: the container keeps the image's.
func Container(engine *container.Engine, image string) Runtime {
	return containerRuntime{engine: engine, image: image}
}

type containerRuntime struct {
	engine *container.Engine
	image  string
}

func (c containerRuntime) String() string { return "container " + c.image }

func (c containerRuntime) exec(ctx context.Context, inv *invocation) (int, error) {
	env := make([]string, 0, len(inv.env))
	for _, kv := range inv.env {
		if len(kv) >= 5 && kv[:5] == "PATH=" {
			continue
		}
		env = append(env, kv)
	}
	opts := container.RunOptions{
		Workspace:  inv.job.workspace,
		RunnerTemp: inv.job.temp,
		Env:        env,
		Args:       inv.args,
		Stdout:     inv.stdout,
		Stderr:     inv.stderr,
	}
	if inv.stage == Post {
		if inv.postEntrypoint == "" {
			return -1, fmt.Errorf("action has no post-entrypoint")
		}
		opts.Entrypoint = inv.postEntrypoint
	}
	res, err := c.engine.Run(ctx, c.image, opts)
	if err != nil {
		return -1, err
	}
	return res.ExitCode, nil
}

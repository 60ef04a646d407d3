// Package runner emulates the GitHub Actions runner for one job: folders,
// environment, inputs, action.yml's contexts, file commands and the post
// stage, for an action on the host, in Podman or as a composite.
package runner

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
)

const (
	repository = "octo-org/octo-repo"
	commitSHA  = "ffac537e6cbbf934b08745a378932722df287a53"
	ref        = "refs/heads/main" // a push to main
)

// Options describe the job.
type Options struct {
	// ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN, set when IDTokenURL is.
	IDTokenURL, IDTokenToken string
	Debug                    bool              // RUNNER_DEBUG=1, ACTIONS_STEP_DEBUG=true
	Env                      map[string]string // added to the job's environment
}

// Job is one emulated job, used by one goroutine at a time.
type Job struct {
	root, workspace, temp string
	env                   map[string]string // job environment, GITHUB_ENV applied
	actions               []*actionStep     // action steps that ran, for the post stages
	results               []*StepResult
}

// actionStep remembers what the post stage of an action step needs.
type actionStep struct {
	rt     Runtime
	action *Action
	step   Step
	state  map[string]string // GITHUB_STATE of the main stage
}

// NewJob creates a job in t.TempDir(), failing the test on error.
func NewJob(t testing.TB, opts Options) *Job {
	t.Helper()
	j, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// New creates a job under dir, with dir/home the HOME of later steps.
func New(dir string, opts Options) (*Job, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	owner, name, _ := strings.Cut(repository, "/")
	j := &Job{root: abs, workspace: filepath.Join(abs, "work", name, name), temp: filepath.Join(abs, "_temp")}
	home, eventPath := filepath.Join(abs, "home"), filepath.Join(j.temp, "_github_workflow", "event.json")
	for _, d := range []string{j.workspace, j.GitHubHome(), filepath.Dir(eventPath), filepath.Join(j.temp, "_runner_file_commands"), filepath.Join(home, ".cargo"), filepath.Join(abs, "toolcache")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
	}
	event := fmt.Appendf(nil, `{"ref": %q, "after": %q, "repository": {"full_name": %q, "name": %q, "owner": {"login": %q}}}`,
		ref, commitSHA, repository, name, owner)
	if err := os.WriteFile(eventPath, event, 0o644); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	j.env = map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": home, "CARGO_HOME": filepath.Join(home, ".cargo"), "CI": "true",
		"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": owner, "GITHUB_ACTOR_ID": "1", "GITHUB_TRIGGERING_ACTOR": owner,
		"GITHUB_API_URL": "https://api.github.com", "GITHUB_GRAPHQL_URL": "https://api.github.com/graphql",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": repository, "GITHUB_REPOSITORY_ID": "100",
		"GITHUB_REPOSITORY_OWNER": owner, "GITHUB_REPOSITORY_OWNER_ID": "1", "GITHUB_SHA": commitSHA, "GITHUB_REF": ref,
		"GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch", "GITHUB_REF_PROTECTED": "false", "GITHUB_RUN_ID": "1234567890",
		"GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_RETENTION_DAYS": "90", "GITHUB_JOB": "build",
		"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": eventPath, "GITHUB_WORKFLOW": "ci",
		"GITHUB_WORKFLOW_REF": repository + "/.github/workflows/ci.yml@" + ref, "GITHUB_WORKFLOW_SHA": commitSHA,
		"GITHUB_WORKSPACE": j.workspace, "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_NAME": "GitHub Actions 1",
		"RUNNER_ENVIRONMENT": "github-hosted", "RUNNER_TEMP": j.temp, "RUNNER_TOOL_CACHE": filepath.Join(abs, "toolcache"),
		"RUNNER_WORKSPACE": filepath.Dir(j.workspace),
	}
	if opts.Debug {
		j.env["RUNNER_DEBUG"], j.env["ACTIONS_STEP_DEBUG"], j.env["ACTIONS_RUNNER_DEBUG"] = "1", "true", "true"
	}
	if opts.IDTokenURL != "" {
		j.env["ACTIONS_ID_TOKEN_REQUEST_URL"], j.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = opts.IDTokenURL, opts.IDTokenToken
	}
	// Keep the machine's rustup toolchains with the job's HOME.
	if h, err := os.UserHomeDir(); err == nil {
		j.env["RUSTUP_HOME"] = filepath.Join(h, ".rustup")
	}
	for _, name := range []string{"RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "RUSTUP_AUTO_INSTALL"} {
		if v, ok := os.LookupEnv(name); ok {
			j.env[name] = v
		}
	}
	maps.Copy(j.env, opts.Env)
	return j, nil
}

// Root returns the job's top folder.
func (j *Job) Root() string { return j.root }

// Workspace returns GITHUB_WORKSPACE.
func (j *Job) Workspace() string { return j.workspace }

// Temp returns RUNNER_TEMP.
func (j *Job) Temp() string { return j.temp }

// GitHubHome returns the action's HOME, /github/home in the container.
func (j *Job) GitHubHome() string { return filepath.Join(j.temp, "_github_home") }

// SetEnv sets a variable for every later step, like a job's `env:`.
func (j *Job) SetEnv(name, value string) { j.env[name] = value }

// Env returns a copy of the job's environment, GITHUB_ENV applied.
func (j *Job) Env() map[string]string { return maps.Clone(j.env) }

// Results returns every step's result so far in order, post stages included.
func (j *Job) Results() []*StepResult { return slices.Clone(j.results) }

// Stage is the stage of an action step.
type Stage string

const (
	Main Stage = "main"
	Post Stage = "post"
)

// Step is one `uses:` step of the action.
type Step struct {
	ID     string            // default "step<N>"
	Inputs map[string]string // with:
	Env    map[string]string // env:
	// Override replaces the runner's variables in the main stage, not its file-command files.
	Override map[string]string
}

// StepResult is everything a step left behind.
type StepResult struct {
	ID             string
	Stage          Stage // Main or Post for the action; "" for Run steps
	ExitCode       int
	Stdout, Stderr string
	Outputs, Env   map[string]string // GITHUB_OUTPUT, GITHUB_ENV (last value wins)
	State          map[string]string // GITHUB_STATE
	EnvEntries     []Entry           // GITHUB_ENV in file order
	Summary        string            // GITHUB_STEP_SUMMARY
	Files          map[string]string // the file-command files, by variable name
	Commands       []Command         // `::name props::data` lines of stdout and stderr
	Masks          []string          // the values of ::add-mask::
	Warnings       []string          // the runner's warnings (an unexpected input)
	Args           []string
	Environ        []string // host values, before container path rewriting
	Duration       time.Duration
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
	String() string // for messages
	exec(ctx context.Context, inv *invocation) (int, error)
}

// invocation is one stage run of the action.
type invocation struct {
	job            *Job
	stage          Stage
	postEntrypoint string
	args           []string
	env            []string // NAME=VALUE, host values
	stdout, stderr *bytes.Buffer
}

// fileCommandPrefixes name the runner's per-step file-command files.
var fileCommandPrefixes = map[string]string{
	"GITHUB_ENV":          "set_env_",
	"GITHUB_OUTPUT":       "set_output_",
	"GITHUB_STATE":        "save_state_",
	"GITHUB_STEP_SUMMARY": "step_summary_",
	"GITHUB_PATH":         "add_path_",
}

// step runs run with fresh file-command files; res.Environ: job env, overlay, file commands, override.
func (j *Job) step(res *StepResult, what string, overlay, override map[string]string, run func(stdout, stderr *bytes.Buffer) (int, error)) error {
	fc := map[string]string{}
	for name, prefix := range fileCommandPrefixes {
		fc[name] = filepath.Join(j.temp, "_runner_file_commands", fmt.Sprintf("%s%d_%d", prefix, len(j.results)+1, time.Now().UnixNano()))
		if err := os.WriteFile(fc[name], nil, 0o666); err != nil {
			return fmt.Errorf("runner: create file command file: %w", err)
		}
	}
	env := j.Env()
	for _, m := range []map[string]string{overlay, fc, override} {
		maps.Copy(env, m)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		res.Environ = append(res.Environ, k+"="+env[k])
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code, runErr := run(&stdout, &stderr)
	res.ExitCode, res.Duration, res.Stdout, res.Stderr = code, time.Since(start), stdout.String(), stderr.String()
	j.results = append(j.results, res)
	res.Files = map[string]string{}
	for name, p := range fc {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("runner: read %s: %w", name, err)
		}
		res.Files[name] = string(data)
	}
	res.Summary = res.Files["GITHUB_STEP_SUMMARY"]
	parseCommands(res)
	var errs []error
	parse := func(file string) ([]Entry, map[string]string) {
		entries, err := ParseFileCommand(file, []byte(res.Files[file]))
		errs = append(errs, err)
		m := map[string]string{}
		for _, e := range entries {
			m[e.Name] = e.Value
		}
		return entries, m
	}
	res.EnvEntries, res.Env = parse("GITHUB_ENV")
	_, res.Outputs = parse("GITHUB_OUTPUT")
	_, res.State = parse("GITHUB_STATE")
	maps.Copy(j.env, res.Env)
	if runErr != nil {
		return fmt.Errorf("runner: %s: %w", what, runErr)
	}
	return errors.Join(errs...)
}

// ActionInputs returns inputs by lower-cased name (step's, then defaults) and warnings for undeclared ones.
func (j *Job) ActionInputs(a *Action, step Step) (map[string]string, []string, error) {
	if err := a.Validate(); err != nil {
		return nil, nil, fmt.Errorf("runner: %w", err)
	}
	inputs := map[string]string{}
	var warnings []string
	for k, v := range step.Inputs {
		inputs[strings.ToLower(k)] = v
		if _, ok := a.Input(k); !ok {
			warnings = append(warnings, fmt.Sprintf("Unexpected input(s) '%s'", k))
		}
	}
	slices.Sort(warnings)
	lookup := j.lookup(inputs)
	for _, in := range a.Inputs {
		name := strings.ToLower(in.Name)
		if _, given := inputs[name]; given || !in.HasDefault {
			continue
		}
		v, err := Evaluate(in.Default, lookup)
		if err != nil {
			return nil, nil, fmt.Errorf("runner: default of input %q: %w", in.Name, err)
		}
		inputs[name] = v
	}
	return inputs, warnings, nil
}

// lookup resolves the inputs, github and runner contexts.
func (j *Job) lookup(inputs map[string]string) func(string) (string, bool) {
	return func(ref string) (string, bool) {
		ctxName, key, _ := strings.Cut(ref, ".")
		if ctxName == "inputs" {
			return inputs[key], true
		}
		v, ok := j.env[strings.ToUpper(ctxName+"_"+key)]
		return v, ok && (ctxName == "github" || ctxName == "runner")
	}
}

// RunAction runs the action's main stage as step; err is the harness's or a *FileCommandError, never ExitCode.
func (j *Job) RunAction(ctx context.Context, rt Runtime, a *Action, step Step) (*StepResult, error) {
	step.ID = cmp.Or(step.ID, fmt.Sprintf("step%d", len(j.results)+1))
	as := &actionStep{rt: rt, action: a, step: step}
	j.actions = append(j.actions, as)
	return j.runStage(ctx, as, Main)
}

// RunPost runs step stepID's post stage as `post-if: always()`; nil without runs.post-entrypoint.
func (j *Job) RunPost(ctx context.Context, stepID string) (*StepResult, error) {
	i := slices.IndexFunc(j.actions, func(as *actionStep) bool { return as.step.ID == stepID })
	switch {
	case i < 0:
		return nil, fmt.Errorf("runner: no action step %q ran", stepID)
	case j.actions[i].action.Runs.PostEntrypoint == "":
		return nil, nil
	}
	return j.runStage(ctx, j.actions[i], Post)
}

func (j *Job) runStage(ctx context.Context, as *actionStep, stage Stage) (*StepResult, error) {
	inputs, warnings, err := j.ActionInputs(as.action, as.step)
	if err != nil {
		return nil, err
	}
	lookup, res := j.lookup(inputs), &StepResult{ID: as.step.ID, Stage: stage, Warnings: warnings}
	for _, raw := range as.action.Runs.Args {
		v, err := Evaluate(raw, lookup)
		if err != nil {
			return nil, fmt.Errorf("runner: runs.args: %w", err)
		}
		res.Args = append(res.Args, v)
	}
	overlay := map[string]string{}
	maps.Copy(overlay, as.step.Env)
	for k, raw := range as.action.Runs.Env {
		if overlay[k], err = Evaluate(raw, lookup); err != nil {
			return nil, fmt.Errorf("runner: runs.env.%s: %w", k, err)
		}
	}
	for k, v := range inputs {
		overlay["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v // INPUT_REGISTRY-NAME
	}
	override := as.step.Override
	if stage == Post {
		for k, v := range as.state {
			overlay["STATE_"+k] = v
		}
		override = nil
	}
	overlay["HOME"], overlay["GITHUB_ACTION"] = j.GitHubHome(), as.step.ID
	err = j.step(res, fmt.Sprintf("%s stage of step %q (%s)", stage, as.step.ID, as.rt), overlay, override,
		func(stdout, stderr *bytes.Buffer) (int, error) {
			return as.rt.exec(ctx, &invocation{job: j, stage: stage, postEntrypoint: as.action.Runs.PostEntrypoint,
				args: res.Args, env: res.Environ, stdout: stdout, stderr: stderr})
		})
	if stage == Main {
		as.state = res.State
	}
	return res, err
}

// RunComposite runs composite action a as step: its `shell: bash` steps until one fails, in one result.
// A step with if:, uses: or another shell is an error: the emulation would have to guess.
func (j *Job) RunComposite(ctx context.Context, a *Action, step Step) (*StepResult, error) {
	step.ID = cmp.Or(step.ID, fmt.Sprintf("step%d", len(j.results)+1))
	inputs, warnings, err := j.ActionInputs(a, step)
	res := &StepResult{ID: step.ID, Outputs: map[string]string{}, Env: map[string]string{}, Warnings: warnings}
	if err != nil {
		return res, err
	}
	steps := map[string]map[string]string{}
	lookup := func(ref string) (string, bool) {
		ctxName, key, _ := strings.Cut(ref, ".")
		switch {
		case ref == "github.action_path":
			return a.Dir, true
		case ctxName == "steps":
			id, out, _ := strings.Cut(key, ".outputs.")
			return steps[id][out], true
		}
		return j.lookup(inputs)(ref)
	}
	var evalErr error
	eval := func(what, raw string) string {
		v, err := Evaluate(raw, lookup)
		if err != nil && evalErr == nil {
			evalErr = fmt.Errorf("runner: %s of %s: %w", what, a.Dir, err)
		}
		return v
	}
	for i, st := range a.Runs.Steps {
		if st.If != "" || st.Uses != "" || st.Shell != "bash" {
			return res, fmt.Errorf("runner: %s step %d: only `shell: bash` run: steps without if: are emulated", a.Dir, i+1)
		}
		cmd := Cmd{Name: "bash", ID: fmt.Sprintf("%s/%d", step.ID, i+1), Env: map[string]string{}}
		maps.Copy(cmd.Env, step.Env)
		cmd.Env["GITHUB_ACTION_PATH"] = a.Dir
		for k, raw := range st.Env {
			cmd.Env[k] = eval("env."+k, raw)
		}
		script := eval("run", st.Run)
		if evalErr != nil {
			return res, evalErr
		}
		file := filepath.Join(j.temp, fmt.Sprintf("%s-%d-%d.sh", step.ID, i+1, time.Now().UnixNano()))
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			return res, fmt.Errorf("runner: %w", err)
		}
		cmd.Args = []string{"--noprofile", "--norc", "-e", "-o", "pipefail", file}
		r, err := j.RunCmd(ctx, cmd)
		if err != nil {
			return res, err
		}
		res.Stdout, res.ExitCode = res.Stdout+r.Combined(), r.ExitCode
		res.Masks, res.Commands = append(res.Masks, r.Masks...), append(res.Commands, r.Commands...)
		steps[st.ID] = r.Outputs
		maps.Copy(res.Env, r.Env)
		if r.Failed() {
			break
		}
	}
	for _, out := range a.Outputs {
		res.Outputs[out.Name] = eval("outputs."+out.Name, out.Value)
	}
	return res, evalErr
}

// parseCommands sets res.Commands and res.Masks from the step's output.
func parseCommands(res *StepResult) {
	data := strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
	property := strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
	for _, line := range strings.Split(res.Stdout+"\n"+res.Stderr, "\n") {
		line, ok := strings.CutPrefix(strings.TrimSpace(line), "::")
		head, text, ok2 := strings.Cut(line, "::")
		name, props, _ := strings.Cut(head, " ")
		if !ok || !ok2 || name == "" {
			continue
		}
		c := Command{Name: name, Data: data.Replace(text), Properties: map[string]string{}}
		for _, p := range strings.Split(props, ",") {
			if k, v, ok := strings.Cut(p, "="); ok && k != "" {
				c.Properties[k] = property.Replace(v)
			}
		}
		res.Commands = append(res.Commands, c)
		if name == "add-mask" {
			res.Masks = append(res.Masks, c.Data)
		}
	}
}

// Cmd describes a later `run:` step.
type Cmd struct {
	Name string
	Args []string
	Env  map[string]string // env:
	ID   string            // default "step<N>"
}

// Run runs a later step on the host in the workspace; a failure is in the result, not err.
func (j *Job) Run(ctx context.Context, name string, args ...string) (*StepResult, error) {
	return j.RunCmd(ctx, Cmd{Name: name, Args: args})
}

// RunCmd runs a later step described by spec (see Run).
func (j *Job) RunCmd(ctx context.Context, spec Cmd) (*StepResult, error) {
	spec.ID = cmp.Or(spec.ID, fmt.Sprintf("step%d", len(j.results)+1))
	prog, err := lookPath(spec.Name, cmp.Or(spec.Env["PATH"], j.env["PATH"]))
	if err != nil {
		return nil, fmt.Errorf("runner: step %q: %w", spec.ID, err)
	}
	res := &StepResult{ID: spec.ID, Args: spec.Args}
	override := map[string]string{"GITHUB_ACTION": "__run_" + spec.ID}
	err = j.step(res, fmt.Sprintf("step %q: %s", spec.ID, spec.Name), spec.Env, override, func(stdout, stderr *bytes.Buffer) (int, error) {
		return HostRuntime{Binary: prog}.exec(ctx, &invocation{job: j, args: spec.Args, env: res.Environ, stdout: stdout, stderr: stderr})
	})
	return res, err
}

// lookPath finds name in the step's PATH (not the test process's).
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); dir != "" && err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the step's PATH", name)
}

// Host returns a Runtime that runs binary on the host, `binary post` for the post stage.
func Host(binary string) Runtime { return HostRuntime{Binary: binary} }

// HostRuntime is the Runtime Host returns.
type HostRuntime struct {
	Binary string
	// Watch gets each stage's process once started, exited its state.
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
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = inv.job.workspace, inv.env, inv.stdout, inv.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	exited := func(*os.ProcessState) {}
	if h.Watch != nil {
		exited = h.Watch(cmd.Process)
	}
	err := cmd.Wait()
	exited(cmd.ProcessState)
	// An exit status is the action's; a killed process the harness's.
	var exitErr *exec.ExitError
	if err == nil || errors.As(err, &exitErr) && ctx.Err() == nil && exitErr.ExitCode() >= 0 {
		return cmd.ProcessState.ExitCode(), nil
	}
	return -1, err
}

// Container returns a Runtime running image through Podman as the runner does, without host PATH.
func Container(engine *container.Engine, image string) Runtime {
	return containerRuntime{engine: engine, image: image}
}

type containerRuntime struct {
	engine *container.Engine
	image  string
}

func (c containerRuntime) String() string { return "container " + c.image }

func (c containerRuntime) exec(ctx context.Context, inv *invocation) (int, error) {
	opts := container.RunOptions{Workspace: inv.job.workspace, RunnerTemp: inv.job.temp, Args: inv.args, Stdout: inv.stdout, Stderr: inv.stderr,
		Env: slices.DeleteFunc(slices.Clone(inv.env), func(kv string) bool { return strings.HasPrefix(kv, "PATH=") })}
	if inv.stage == Post {
		opts.Entrypoint = inv.postEntrypoint
	}
	res, err := c.engine.Run(ctx, c.image, opts)
	if err != nil {
		return -1, err
	}
	return res.ExitCode, nil
}

// Action is what the runner reads from action.yml.
type Action struct {
	Dir     string   // the folder LoadAction read action.yml from
	Inputs  []Input  // in file order
	Outputs []Output // in file order
	Runs    Runs
}

// Input is one entry of action.yml's `inputs:` mapping.
type Input struct {
	Name        string
	Description string
	Required    bool
	Default     string // unevaluated; may hold ${{ }} expressions
	HasDefault  bool
}

// Output is one entry of action.yml's `outputs:` mapping.
type Output struct {
	Name        string
	Description string
	Value       string // a composite's value:, unevaluated
}

// Runs is action.yml's `runs:` section, unevaluated.
type Runs struct {
	Using          string            `yaml:"using"`
	Image          string            `yaml:"image"` // "Dockerfile" or "docker://..."
	PostEntrypoint string            `yaml:"post-entrypoint"`
	Args           []string          `yaml:"args"`
	Env            map[string]string `yaml:"env"`
	Steps          []CompositeStep   `yaml:"steps"` // using: composite
}

// CompositeStep is one step of a composite action.
type CompositeStep struct {
	ID               string            `yaml:"id"`
	Name             string            `yaml:"name"`
	If               string            `yaml:"if"`
	Uses             string            `yaml:"uses"`
	Run              string            `yaml:"run"`
	Shell            string            `yaml:"shell"`
	WorkingDirectory string            `yaml:"working-directory"`
	ContinueOnError  string            `yaml:"continue-on-error"`
	With             map[string]string `yaml:"with"`
	Env              map[string]string `yaml:"env"`
}

// LoadAction reads action.yml and checks it as the runner does (Validate).
func LoadAction(path string) (*Action, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read action metadata: %w", err)
	}
	a, err := ParseAction(data)
	if err == nil {
		err = a.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a.Dir = filepath.Dir(path)
	return a, nil
}

// ParseAction parses action.yml, checking its shape only.
func ParseAction(data []byte) (*Action, error) {
	var doc struct {
		Inputs, Outputs yaml.Node // nodes, to keep the file order
		Runs            *Runs
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("action metadata: %w", err)
	}
	if doc.Runs == nil || doc.Runs.Using == "" {
		return nil, fmt.Errorf("action metadata: runs.using is missing")
	}
	a := &Action{Runs: *doc.Runs}
	type inputDoc struct {
		Description string  `yaml:"description"`
		Required    string  `yaml:"required"`
		Default     *string `yaml:"default"`
	}
	err := eachEntry(&doc.Inputs, "inputs", func(name string, spec inputDoc) error {
		in := Input{Name: name, Description: spec.Description}
		switch spec.Required {
		case "", "false", "False", "FALSE":
		case "true", "True", "TRUE":
			in.Required = true
		default:
			return fmt.Errorf("input %q: required must be true or false, got %q", name, spec.Required)
		}
		if spec.Default != nil {
			in.Default, in.HasDefault = *spec.Default, true
		}
		a.Inputs = append(a.Inputs, in)
		return nil
	})
	if err == nil {
		err = eachEntry(&doc.Outputs, "outputs", func(name string, out Output) error {
			out.Name = name
			a.Outputs = append(a.Outputs, out)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("action metadata: %w", err)
	}
	return a, nil
}

// eachEntry calls fn with each key of a mapping node and its value, in order.
func eachEntry[T any](n *yaml.Node, what string, fn func(name string, v T) error) error {
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s is not a mapping", n.Line, what)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v T
		if err := n.Content[i+1].Decode(&v); err != nil && n.Content[i+1].Tag != "!!null" {
			return fmt.Errorf("%s.%s: %w", what, n.Content[i].Value, err)
		}
		if err := fn(n.Content[i].Value, v); err != nil {
			return err
		}
	}
	return nil
}

// Input returns the input named name, ignoring case as the runner does.
func (a *Action) Input(name string) (Input, bool) {
	for _, in := range a.Inputs {
		if strings.EqualFold(in.Name, name) {
			return in, true
		}
	}
	return Input{}, false
}

// contexts is what an action.yml key's expressions may use, per actions/runner's src/Runner.Worker/action_yaml.json.
type contexts struct {
	names, functions []string // functions: beyond builtinFunctions
}

var (
	argsContexts         = contexts{names: []string{"inputs"}} // runs.args, runs.env
	inputDefaultContexts = contexts{names: []string{"github", "strategy", "matrix", "job", "runner"}, functions: []string{"hashFiles"}}
	outputValueContexts  = contexts{names: []string{"github", "strategy", "matrix", "steps", "inputs", "job", "runner", "env"}}
	stepContexts         = contexts{names: outputValueContexts.names, functions: []string{"hashFiles"}} // a composite step's keys but if
	stepIfContexts       = contexts{names: stepContexts.names, functions: []string{"hashFiles", "always", "failure", "cancelled", "success"}}
)

var builtinFunctions = []string{"contains", "startswith", "endswith", "format", "join", "tojson", "fromjson"}

// Validate checks each expression against its key's contexts; the first refused gets the runner's message.
func (a *Action) Validate() error {
	type check struct {
		key, value string
		allowed    contexts
	}
	var checks []check
	for _, in := range a.Inputs {
		checks = append(checks, check{"inputs." + in.Name + ".default", in.Default, inputDefaultContexts})
	}
	for _, out := range a.Outputs {
		checks = append(checks, check{"outputs." + out.Name + ".value", out.Value, outputValueContexts})
	}
	for i, arg := range a.Runs.Args {
		checks = append(checks, check{fmt.Sprintf("runs.args[%d]", i), arg, argsContexts})
	}
	for _, k := range slices.Sorted(maps.Keys(a.Runs.Env)) {
		checks = append(checks, check{"runs.env." + k, a.Runs.Env[k], argsContexts})
	}
	for i, s := range a.Runs.Steps {
		fields := map[string]string{"name": s.Name, "run": s.Run, "shell": s.Shell,
			"working-directory": s.WorkingDirectory, "continue-on-error": s.ContinueOnError}
		for k, v := range s.With {
			fields["with."+k] = v
		}
		for k, v := range s.Env {
			fields["env."+k] = v
		}
		key := fmt.Sprintf("runs.steps[%d].", i)
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			checks = append(checks, check{key + k, fields[k], stepContexts})
		}
		// An if: without ${{ }} is an expression all the same.
		if cond := strings.TrimSpace(s.If); cond != "" && !strings.Contains(cond, "${{") {
			s.If = "${{ " + cond + " }}"
		}
		checks = append(checks, check{key + "if", s.If, stepIfContexts})
	}
	for _, c := range checks {
		if _, err := expressions(c.value, func(expr string) (string, error) { return "", checkExpression(expr, c.allowed) }); err != nil {
			return fmt.Errorf("action metadata: %s: %w", c.key, err)
		}
	}
	return nil
}

// expressions replaces every `${{ expr }}` in s with fn(expr).
func expressions(s string, fn func(expr string) (string, error)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			return b.String() + s, nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("expression %q: missing }}", s[i:])
		}
		v, err := fn(strings.TrimSpace(s[i+3 : i+j]))
		if err != nil {
			return "", err
		}
		b.WriteString(s[:i] + v)
		s = s[i+j+2:]
	}
}

// checkExpression refuses, with the runner's message, a name or function allowed does not list.
// Split at quotes, even parts are outside literals (an empty one between two is a doubled quote).
func checkExpression(expr string, allowed contexts) error {
	parts := strings.Split(expr, "'")
	offset, literal := 0, 0 // literal: where the literal being read starts
	for i, part := range parts {
		if i%2 == 1 && (i == 1 || parts[i-1] != "") {
			literal = offset
		}
		if i%2 == 1 && i == len(parts)-1 {
			return refused("Unexpected symbol: '%s'. Located at position %d within expression: %s", expr[literal-1:], literal, expr)
		}
		for p := 0; i%2 == 0 && p < len(part); p++ {
			if !isNameStart(part[p]) && !isDigit(part[p]) {
				continue
			}
			q := p + 1 // a number runs on over dots and letters (1.5e3)
			for q < len(part) && (isNameStart(part[q]) || isDigit(part[q]) || part[q] == '-' || part[q] == '.' && isDigit(part[p])) {
				q++
			}
			name := part[p:q]
			switch lower := strings.ToLower(name); {
			case isDigit(name[0]) || p > 0 && part[p-1] == '.': // a number or a property
			case strings.HasPrefix(strings.TrimLeft(part[q:], " "), "("):
				if !slices.Contains(builtinFunctions, lower) && !containsFold(allowed.functions, name) {
					return refused("Unrecognized function: '%s'. Located at position %d within expression: %s", name, offset+p+1, expr)
				}
			case slices.Contains([]string{"true", "false", "null", "nan", "infinity"}, lower):
			case !containsFold(allowed.names, name):
				return refused("Unrecognized named-value: '%s'. Located at position %d within expression: %s", name, offset+p+1, expr)
			}
			p = q - 1
		}
		offset += len(part) + 1
	}
	return nil
}

// refused is the runner's message, capitalised as the runner writes it.
func refused(format string, args ...any) error { return fmt.Errorf(format, args...) }

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}

// Evaluate replaces each `${{ context.reference }}` in s by lookup(lower-cased ref); else an error.
func Evaluate(s string, lookup func(ref string) (string, bool)) (string, error) {
	return expressions(s, func(expr string) (string, error) {
		valid := strings.Contains(expr, ".")
		for _, c := range []byte(expr) {
			valid = valid && (isNameStart(c) || isDigit(c) || c == '.' || c == '-')
		}
		if !valid {
			return "", fmt.Errorf("expression %q is not supported by the runner emulation (only context references)", expr)
		}
		v, ok := lookup(strings.ToLower(expr))
		if !ok {
			return "", fmt.Errorf("expression %q: unknown context value in the runner emulation", expr)
		}
		return v, nil
	})
}

// Entry is one name/value pair of a file-command file.
type Entry struct {
	Name  string
	Value string
}

// FileCommandError is a file-command file the runner would reject.
type FileCommandError struct {
	File string // "GITHUB_ENV", ...
	Msg  string // the runner's reason
}

// Error returns the file and the runner's reason.
func (e *FileCommandError) Error() string { return e.File + ": " + e.Msg }

// ParseFileCommand parses a GITHUB_ENV, GITHUB_OUTPUT or GITHUB_STATE file as the Linux runner does:
// lines end at "\n" only, a UTF-8 BOM is dropped; a reject is a *FileCommandError, with prior entries.
func ParseFileCommand(file string, data []byte) ([]Entry, error) {
	var entries []Entry
	fail := func(format string, args ...any) ([]Entry, error) {
		return entries, &FileCommandError{File: file, Msg: fmt.Sprintf(format, args...)}
	}
	lines := strings.Split(string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))), "\n")
	n := len(lines) // lines[i] ended with "\n" for i < len(lines)-1
	if lines[n-1] == "" {
		n-- // what follows the last "\n" is not a line
	}
	for i := 0; i < n; i++ {
		line := lines[i]
		eq, hd := strings.Index(line, "="), strings.Index(line, "<<")
		switch {
		case line == "":
		case eq >= 0 && (hd < 0 || eq < hd):
			if eq == 0 {
				return fail("invalid format %q: name must not be empty", line)
			}
			entries = append(entries, Entry{Name: line[:eq], Value: line[eq+1:]})
		case hd >= 0:
			name, delim, start := line[:hd], line[hd+2:], i+1
			if name == "" || delim == "" {
				return fail("invalid format %q: name must not be empty and delimiter must not be empty", line)
			}
			for i = start; i >= n || lines[i] != delim; i++ {
				if i >= n {
					return fail("invalid value: matching delimiter not found %q", delim)
				}
				if i == len(lines)-1 {
					return fail("invalid value: EOF marker missing new line")
				}
			}
			entries = append(entries, Entry{Name: name, Value: strings.Join(lines[start:i], "\n")})
		default:
			return fail("invalid format %q", line)
		}
	}
	return entries, nil
}

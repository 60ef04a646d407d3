package e2e

// Checks of the workflows under examples/ and .github/workflows/ and of the
// composite wrapper examples/composite/action.yml: actionlint passes on every
// workflow, and every input and output a step of cargo-oidc (or of the
// composite) uses is declared in the action.yml it runs. actionlint does not
// read composite actions, and it cannot know which inputs belong to which
// provider, so the second part is done here on the YAML tree
// (go.yaml.in/yaml/v3, a test-only dependency, whose nodes keep the order of
// keys and the line of every node, which the messages point at).

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// parseYAML reads a document whose top level is a mapping.
func parseYAML(src []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the document is not a mapping")
	}
	return doc.Content[0], nil
}

// yget follows keys through nested mappings and returns the value found, or
// nil when a key is missing or a node on the way is not a mapping.
func yget(n *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var v *yaml.Node
		for k, val := range ypairs(n) {
			if k.Value == key {
				v = val
				break
			}
		}
		n = v
	}
	return n
}

// ystr returns a scalar's value, "" for anything else.
func ystr(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// ypairs yields the keys and values of a mapping in order (nothing for
// anything else).
func ypairs(n *yaml.Node) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(*yaml.Node, *yaml.Node) bool) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(n.Content[i], n.Content[i+1]) {
				return
			}
		}
	}
}

// yitems returns a sequence's items (nil for anything else).
func yitems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// yscalars calls f for every scalar value under n (mapping keys excluded).
func yscalars(n *yaml.Node, f func(*yaml.Node)) {
	switch {
	case n == nil:
	case n.Kind == yaml.ScalarNode:
		f(n)
	case n.Kind == yaml.MappingNode:
		for _, v := range ypairs(n) {
			yscalars(v, f)
		}
	case n.Kind == yaml.SequenceNode:
		for _, it := range n.Content {
			yscalars(it, f)
		}
	}
}

// Action metadata and the checks.

// actionSpec is what an action.yml declares.
type actionSpec struct {
	File      string
	Inputs    map[string]inputSpec
	Outputs   []string
	Composite *yaml.Node // runs of a composite action
}

type inputSpec struct {
	Required   bool
	HasDefault bool
	Providers  []string // from a "[jfrog, cloudsmith] ..." description; nil = every provider
}

var providerTagRE = regexp.MustCompile(`^\[([a-z, -]+)\]`)

// providerTags reads the providers an input belongs to from the start of its
// description ("[jfrog, cloudsmith] ..."); nil means every provider.
func providerTags(description string) []string {
	m := providerTagRE.FindStringSubmatch(description)
	if m == nil {
		return nil
	}
	var out []string
	for _, p := range strings.Split(m[1], ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// mainActionSpec is what the repository's action.yml declares, as the
// runner reads it.
func mainActionSpec(a *runner.Action) *actionSpec {
	spec := &actionSpec{File: "action.yml", Inputs: map[string]inputSpec{}}
	for _, in := range a.Inputs {
		spec.Inputs[in.Name] = inputSpec{Required: in.Required, HasDefault: in.HasDefault, Providers: providerTags(in.Description)}
	}
	for _, o := range a.Outputs {
		spec.Outputs = append(spec.Outputs, o.Name)
	}
	return spec
}

func readActionSpec(file string, src []byte) (*actionSpec, error) {
	doc, err := parseYAML(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	spec := &actionSpec{File: file, Inputs: map[string]inputSpec{}}
	for k, d := range ypairs(yget(doc, "inputs")) {
		spec.Inputs[k.Value] = inputSpec{Required: ystr(yget(d, "required")) == "true", HasDefault: yget(d, "default") != nil,
			Providers: providerTags(ystr(yget(d, "description")))}
	}
	for k := range ypairs(yget(doc, "outputs")) {
		spec.Outputs = append(spec.Outputs, k.Value)
	}
	if runs := yget(doc, "runs"); ystr(yget(runs, "using")) == "composite" {
		spec.Composite = runs
	}
	if len(spec.Inputs) == 0 || len(spec.Outputs) == 0 {
		return nil, fmt.Errorf("%s: no inputs or no outputs found", file)
	}
	return spec, nil
}

// actionSet maps a step's uses: to the action it runs.
type actionSet struct {
	Main, Composite *actionSpec
}

// target returns the action a uses: value runs, or nil when it is not ours.
func (a actionSet) target(uses string) *actionSpec {
	switch {
	case uses == "./" || uses == "." || strings.HasPrefix(uses, "cargo-oidc/cargo-oidc@"):
		return a.Main
	case strings.TrimSuffix(uses, "/") == "./examples/composite":
		return a.Composite
	}
	return nil
}

var (
	stepOutputRE = regexp.MustCompile(`steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)`)
	inputsRefRE  = regexp.MustCompile(`inputs\.([A-Za-z_][A-Za-z0-9_-]*)`)
)

// checkSteps checks a list of steps (a job's, or a composite's runs.steps)
// and the expressions in scope (the job, or the whole composite action):
// every with: key of a step running one of our actions is a declared input,
// no input of another provider is given, required inputs are there, and every
// steps.<id>.outputs.<name> of such a step is a declared output. own is the
// action the steps belong to when they are a composite's, for inputs.* refs.
func checkSteps(where string, steps, scope *yaml.Node, acts actionSet, own *actionSpec) []string {
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", where, line, fmt.Sprintf(format, args...)))
	}
	ids := map[string]*actionSpec{}
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return []string{where + ": no steps"}
	}
	for _, st := range steps.Content {
		uses := ystr(yget(st, "uses"))
		spec := acts.target(uses)
		if spec == nil {
			continue
		}
		if id := ystr(yget(st, "id")); id != "" {
			ids[id] = spec
		}
		with := yget(st, "with")
		given := map[string]bool{}
		if with != nil {
			if with.Kind != yaml.MappingNode {
				bad(with.Line, "with: of %s is not a mapping", uses)
				continue
			}
			for k := range ypairs(with) {
				given[k.Value] = true
				if _, ok := spec.Inputs[k.Value]; !ok {
					bad(k.Line, "input %q of %s is not declared in %s", k.Value, uses, spec.File)
				}
			}
		}
		for name, in := range spec.Inputs {
			if in.Required && !in.HasDefault && !given[name] {
				bad(st.Line, "required input %q of %s is missing", name, uses)
			}
		}
		// Provider-specific inputs only with their provider (when the
		// provider is a literal known one).
		provider := strings.ToLower(ystr(yget(with, "provider")))
		if provider == "artifactory" {
			provider = "jfrog"
		}
		if spec == acts.Main && slices.Contains([]string{"jfrog", "cloudsmith", "crates-io", "codeartifact"}, provider) {
			for k := range ypairs(with) {
				in, ok := spec.Inputs[k.Value]
				if ok && in.Providers != nil && !slices.Contains(in.Providers, provider) {
					bad(k.Line, "input %q is for %s, not provider %s", k.Value, strings.Join(in.Providers, ", "), provider)
				}
			}
		}
	}
	yscalars(scope, func(n *yaml.Node) {
		for _, m := range stepOutputRE.FindAllStringSubmatch(n.Value, -1) {
			spec := ids[m[1]]
			if spec != nil && !slices.Contains(spec.Outputs, m[2]) {
				bad(n.Line, "output %q of step %s is not declared in %s", m[2], m[1], spec.File)
			}
		}
		if own != nil {
			for _, m := range inputsRefRE.FindAllStringSubmatch(n.Value, -1) {
				if _, ok := own.Inputs[m[1]]; !ok {
					bad(n.Line, "inputs.%s is not an input of %s", m[1], own.File)
				}
			}
		}
	})
	return problems
}

// checkWorkflow checks every job of a workflow document.
func checkWorkflow(file string, src []byte, acts actionSet) []string {
	doc, err := parseYAML(src)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	jobs := yget(doc, "jobs")
	if jobs == nil || jobs.Kind != yaml.MappingNode {
		return []string{file + ": no jobs"}
	}
	var problems []string
	for id, job := range ypairs(jobs) {
		if yget(job, "uses") != nil {
			continue // a reusable workflow call
		}
		problems = append(problems, checkSteps(file+" job "+id.Value, yget(job, "steps"), job, acts, nil)...)
	}
	return problems
}

// checkComposite checks a composite action's steps and that it forwards every
// output of the main action from its cargo-oidc step.
func checkComposite(file string, src []byte, acts actionSet) []string {
	spec, err := readActionSpec(file, src)
	if err != nil {
		return []string{err.Error()}
	}
	if spec.Composite == nil {
		return []string{file + ": runs.using is not composite"}
	}
	doc, _ := parseYAML(src) // parsed without error by readActionSpec
	steps := yget(spec.Composite, "steps")
	problems := checkSteps(file, steps, doc, acts, spec)
	var stepID string
	for _, st := range yitems(steps) {
		if acts.target(ystr(yget(st, "uses"))) == acts.Main {
			stepID = ystr(yget(st, "id"))
		}
	}
	if stepID == "" {
		return append(problems, file+": no step with an id runs cargo-oidc")
	}
	outs := yget(doc, "outputs")
	for _, name := range acts.Main.Outputs {
		want := "${{ steps." + stepID + ".outputs." + name + " }}"
		if got := ystr(yget(outs, name, "value")); got != want {
			problems = append(problems, fmt.Sprintf("%s: output %q is %q, want it forwarded as %q", file, name, got, want))
		}
	}
	return problems
}

// workflowFiles lists the workflows under examples/ and .github/workflows/,
// relative to root.
func workflowFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"examples/*.yml", "examples/*.yaml", ".github/workflows/*.yml", ".github/workflows/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			rel, _ := filepath.Rel(root, f)
			files = append(files, filepath.ToSlash(rel))
		}
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatal("no workflows found under examples/ and .github/workflows/")
	}
	return files
}

func loadActions(t *testing.T, root string) actionSet {
	t.Helper()
	read := func(rel string) *actionSpec {
		s, err := readActionSpec(rel, []byte(readFile(t, filepath.Join(root, rel))))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return actionSet{Main: mainActionSpec(repoAction(t)), Composite: read("examples/composite/action.yml")}
}

// ---------------------------------------------------------------------------
// Tests.

func TestActionlintWorkflows(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	bin, err := exec.LookPath("actionlint")
	if err != nil {
		gopath, gerr := exec.Command("go", "env", "GOPATH").Output()
		cand := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "actionlint")
		if _, serr := os.Stat(cand); gerr == nil && serr == nil {
			bin, err = cand, nil
		}
	}
	if err != nil {
		harness.Require(t, "actionlint", fmt.Errorf("%w; go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12", err))
	}
	files := workflowFiles(t, root)
	cmd := exec.Command(bin, append([]string{"-no-color"}, files...)...)
	cmd.Dir = root // finds .github/actionlint.yaml
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("actionlint %s: %v\n%s", strings.Join(files, " "), err, out.String())
	}
	t.Logf("actionlint passed on %d workflows", len(files))
}

// TestWorkflows checks every workflow under examples/ and
// .github/workflows/, and the composite wrapper examples/composite: every
// input and output a step of cargo-oidc (or of the composite) uses is
// declared in the action.yml it runs (checkWorkflow, checkComposite), and the
// composite wraps cargo-oidc/cargo-oidc by a literal uses: and forwards its
// every output; every third-party action is pinned by a full commit SHA
// followed by a version comment; every workflow grants nothing at the top;
// every job that runs the action asks for id-token: write, and in examples
// for nothing but id-token: write and contents: read, using the published
// cargo-oidc/cargo-oidc@v1; an example that runs on pull_request skips the
// cargo-oidc step (or its whole job) for pull requests from forks, which
// never get an ID token.
func TestWorkflows(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	acts := loadActions(t, root)
	onPR := 0
	for _, f := range append(workflowFiles(t, root), "examples/composite/action.yml") {
		src := []byte(readFile(t, filepath.Join(root, f)))
		doc, err := parseYAML(src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		problems := pinnedProblems(f, string(src))
		if strings.HasSuffix(f, "composite/action.yml") {
			problems = append(problems, checkComposite(f, src, acts)...)
			if got := yitems(yget(doc, "runs", "steps")); len(got) == 0 || !strings.HasPrefix(ystr(yget(got[0], "uses")), "cargo-oidc/cargo-oidc@") {
				problems = append(problems, f+": the composite does not wrap cargo-oidc/cargo-oidc by a literal uses:")
			}
		} else {
			problems = append(problems, checkWorkflow(f, src, acts)...)
			problems = append(problems, permissionProblems(f, doc, acts)...)
			fp, pr := forkProblems(f, doc)
			problems = append(problems, fp...)
			if pr {
				onPR++
			}
		}
		for _, p := range problems {
			t.Error(p)
		}
	}
	if onPR == 0 {
		t.Error("no example runs on pull_request; the fork check proves nothing")
	}
}

// permissionProblems checks the permissions of a workflow and of its jobs.
func permissionProblems(f string, doc *yaml.Node, acts actionSet) []string {
	var problems []string
	if p := yget(doc, "permissions"); p == nil || p.Kind != yaml.MappingNode || len(p.Content) != 0 {
		problems = append(problems, f+": top-level permissions is not {}")
	}
	example := strings.HasPrefix(f, "examples/")
	usesAction := 0
	for idNode, job := range ypairs(yget(doc, "jobs")) {
		id, perms := idNode.Value, yget(job, "permissions")
		if perms == nil {
			problems = append(problems, fmt.Sprintf("%s: job %s declares no permissions", f, id))
			continue
		}
		runsAction := false
		for _, st := range yitems(yget(job, "steps")) {
			uses := ystr(yget(st, "uses"))
			if acts.target(uses) != nil {
				runsAction = true
				usesAction++
			}
			if example && strings.HasPrefix(uses, "cargo-oidc/") && uses != "cargo-oidc/cargo-oidc@v1" {
				problems = append(problems, fmt.Sprintf("%s: job %s uses %s, want cargo-oidc/cargo-oidc@v1", f, id, uses))
			}
		}
		if runsAction && ystr(yget(perms, "id-token")) != "write" {
			problems = append(problems, fmt.Sprintf("%s: job %s runs the action without id-token: write", f, id))
		}
		got := map[string]string{}
		for k, v := range ypairs(perms) {
			got[k.Value] = ystr(v)
		}
		if want := map[string]string{"id-token": "write", "contents": "read"}; example && fmt.Sprint(got) != fmt.Sprint(want) {
			problems = append(problems, fmt.Sprintf("%s: job %s permissions = %v, want %v", f, id, got, want))
		}
	}
	if example && usesAction == 0 {
		problems = append(problems, f+": the example never runs cargo-oidc")
	}
	return problems
}

var (
	usesLineRE = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinnedRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`)
	versionRE  = regexp.MustCompile(`^\s+#\s*v\d+(\.\d+)*\b`)
)

// pinnedProblems finds third-party actions not pinned by commit SHA with a
// version comment.
func pinnedProblems(f, src string) []string {
	var problems []string
	for n, line := range strings.Split(src, "\n") {
		m := usesLineRE.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		uses := strings.Trim(m[1], `"'`)
		if !strings.HasPrefix(uses, "./") && uses != "cargo-oidc/cargo-oidc@v1" && (!pinnedRE.MatchString(uses) || !versionRE.MatchString(m[2])) {
			problems = append(problems, fmt.Sprintf("%s:%d: %s is not pinned by commit SHA with a # vX.Y.Z comment", f, n+1, uses))
		}
	}
	return problems
}

// forkProblems checks that an example on pull_request skips cargo-oidc for
// forks: a job is skipped when its if: says so, when it runs for tags only,
// or when a job it needs is skipped. It reports whether f runs on
// pull_request at all.
func forkProblems(f string, doc *yaml.Node) ([]string, bool) {
	const forkCheck = "github.event.pull_request.head.repo.full_name == github.repository"
	on := yget(doc, "on")
	isPR := func(n *yaml.Node) bool { return ystr(n) == "pull_request" }
	if !strings.HasPrefix(f, "examples/") || yget(on, "pull_request") == nil && !isPR(on) && !slices.ContainsFunc(yitems(on), isPR) {
		return nil, false
	}
	jobs := yget(doc, "jobs")
	skips := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for idNode, job := range ypairs(jobs) {
			cond := ystr(yget(job, "if"))
			s := strings.Contains(cond, forkCheck) || strings.Contains(cond, "startsWith(github.ref, 'refs/tags/")
			needs := yget(job, "needs")
			for _, n := range append([]*yaml.Node{needs}, yitems(needs)...) {
				s = s || skips[ystr(n)]
			}
			if s && !skips[idNode.Value] {
				skips[idNode.Value], changed = true, true
			}
		}
	}
	var problems []string
	for idNode, job := range ypairs(jobs) {
		for _, st := range yitems(yget(job, "steps")) {
			if strings.HasPrefix(ystr(yget(st, "uses")), "cargo-oidc/") && !skips[idNode.Value] && !strings.Contains(ystr(yget(st, "if")), forkCheck) {
				problems = append(problems, fmt.Sprintf("%s: job %s runs cargo-oidc on pull_request without skipping forks (if: ... %s)", f, idNode.Value, forkCheck))
			}
		}
	}
	return problems, true
}

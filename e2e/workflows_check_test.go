package e2e

// The checker of workflows and composite actions that use cargo-oidc:
// actionlint does not read composite actions, and it cannot know which
// inputs belong to which provider, so this is done here on the YAML tree
// (go.yaml.in/yaml/v3, a test-only dependency, whose nodes keep the order of
// keys and the line of every node, which the messages point at).

import (
	"errors"
	"fmt"
	"iter"
	"os"
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

// sampleActions is a small main action and composite for the checker's
// in-memory tests.
func sampleActions() actionSet {
	main := &actionSpec{File: "action.yml", Outputs: []string{"token", "index-url"}, Inputs: map[string]inputSpec{
		"provider":     {Required: true},
		"url":          {Providers: []string{"jfrog", "cloudsmith", "crates-io"}},
		"repository":   {Providers: []string{"jfrog", "cloudsmith"}},
		"service-slug": {Providers: []string{"cloudsmith"}},
		"revoke":       {Providers: []string{"crates-io"}, HasDefault: true},
		"retries":      {HasDefault: true},
	}}
	return actionSet{Main: main, Composite: &actionSpec{File: "examples/composite/action.yml",
		Inputs: map[string]inputSpec{"repository": {Required: true}}, Outputs: []string{"token"}}}
}

// TestWorkflowCheckerCatchesMistakes proves the checker on in-memory samples.
func TestWorkflowCheckerCatchesMistakes(t *testing.T) {
	t.Parallel()
	acts := sampleActions()
	workflow := func(with, run string) string {
		return `name: t
on: push
permissions: {}
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - id: reg
        uses: cargo-oidc/cargo-oidc@v1
        with:
` + with + `
      - run: ` + run + "\n"
	}
	ok := "          provider: jfrog\n          url: https://x.jfrog.io\n          repository: cargo"
	tests := []struct {
		name, src, want string
	}{
		{"good", workflow(ok, `echo "${{ steps.reg.outputs.token }}"`), ""},
		{"artifactory alias", workflow("          provider: artifactory\n          repository: cargo", "true"), ""},
		{"undeclared input", workflow(ok+"\n          registry-nmae: x", "true"), `input "registry-nmae" of cargo-oidc/cargo-oidc@v1 is not declared in action.yml`},
		{"undeclared output", workflow(ok, `echo ${{ steps.reg.outputs.access-token }}`), `output "access-token" of step reg is not declared`},
		{"input of another provider", workflow(ok+"\n          service-slug: ci", "true"), `input "service-slug" is for cloudsmith, not provider jfrog`},
		{"crates-io with repository", workflow("          provider: crates-io\n          repository: x", "true"), `input "repository" is for jfrog, cloudsmith, not provider crates-io`},
		{"missing required", workflow("          url: https://x.jfrog.io", "true"), `required input "provider" of cargo-oidc/cargo-oidc@v1 is missing`},
		{"local uses", strings.Replace(workflow(ok+"\n          bogus: 1", "true"), "cargo-oidc/cargo-oidc@v1", "./", 1), `input "bogus" of ./ is not declared`},
		{"composite undeclared input", strings.Replace(workflow("          repository: r\n          provider: jfrog", "true"), "cargo-oidc/cargo-oidc@v1", "./examples/composite", 1), `input "provider" of ./examples/composite is not declared in examples/composite/action.yml`},
		{"composite undeclared output", strings.Replace(workflow("          repository: r", "echo ${{ steps.reg.outputs.index-url }}"), "cargo-oidc/cargo-oidc@v1", "./examples/composite", 1), `output "index-url" of step reg is not declared in examples/composite/action.yml`},
		{"other actions ignored", strings.Replace(workflow("          anything: 1", "true"), "cargo-oidc/cargo-oidc@v1", "someone/else@v1", 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			problems := checkWorkflow("w.yml", []byte(tt.src), acts)
			joined := strings.Join(problems, "\n")
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("problems in a good sample:\n%s", joined)
			case tt.want != "" && !strings.Contains(joined, tt.want):
				t.Errorf("problems:\n%s\nwant one saying %q", joined, tt.want)
			}
		})
	}

	composite := func(outputs string) string {
		return `name: c
description: d
inputs:
  repository:
    description: r
    required: true
outputs:
` + outputs + `
runs:
  using: composite
  steps:
    - uses: cargo-oidc/cargo-oidc@v1
      id: inner
      with:
        provider: jfrog
        repository: ${{ inputs.repository }}
`
	}
	both := "  token:\n    description: t\n    value: ${{ steps.inner.outputs.token }}\n  index-url:\n    description: i\n    value: ${{ steps.inner.outputs.index-url }}"
	for _, tt := range []struct{ name, src, want string }{
		{"forwards all", composite(both), ""},
		{"misses one", composite("  token:\n    description: t\n    value: ${{ steps.inner.outputs.token }}"), `output "index-url" is ""`},
		{"wrong step", composite(strings.Replace(both, "steps.inner.outputs.token", "steps.other.outputs.token", 1)), `output "token" is "${{ steps.other.outputs.token }}"`},
		{"unknown inner output", composite(both + "\n  extra:\n    description: x\n    value: ${{ steps.inner.outputs.nope }}"), `output "nope" of step inner is not declared in action.yml`},
		{"unknown composite input", strings.Replace(composite(both), "inputs.repository", "inputs.repo", 1), "inputs.repo is not an input"},
	} {
		t.Run("composite "+tt.name, func(t *testing.T) {
			t.Parallel()
			joined := strings.Join(checkComposite("c/action.yml", []byte(tt.src), acts), "\n")
			switch {
			case tt.want == "" && joined != "":
				t.Errorf("problems in a good sample:\n%s", joined)
			case tt.want != "" && !strings.Contains(joined, tt.want):
				t.Errorf("problems:\n%s\nwant one saying %q", joined, tt.want)
			}
		})
	}
}

// FuzzWorkflowChecker: the checks never panic on any YAML (wrong kinds where
// mappings or sequences are expected, aliases, empty documents), and every
// problem names the file it is about.
func FuzzWorkflowChecker(f *testing.F) {
	if root, err := harness.RepoRoot(); err == nil {
		for _, pat := range []string{"examples/*.yml", "examples/composite/action.yml", ".github/workflows/*.yml", "action.yml"} {
			m, _ := filepath.Glob(filepath.Join(root, pat))
			for _, file := range m {
				if b, err := os.ReadFile(file); err == nil {
					f.Add(string(b))
				}
			}
		}
	}
	f.Add("jobs:\n  j:\n    steps:\n      - uses: ./\n        with: [a]\n")
	f.Add("jobs:\n  j:\n    steps: &s\n      - uses: ./\n        id: x\n  k:\n    steps: *s\n")
	f.Add("inputs: {a: {}}\noutputs: {b: 1}\nruns: {using: composite, steps: {}}\n")
	acts := sampleActions()
	f.Fuzz(func(t *testing.T, src string) {
		for _, p := range append(checkWorkflow("w.yml", []byte(src), acts), checkComposite("c.yml", []byte(src), acts)...) {
			if !strings.HasPrefix(p, "w.yml") && !strings.HasPrefix(p, "c.yml") {
				t.Fatalf("problem without its file: %q", p)
			}
		}
	})
}

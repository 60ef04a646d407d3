package e2e

// Checks of the workflows and examples/composite for the project's own
// rules, which GitHub's parser (.ci/gh-parser) and actionlint cannot know.

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
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

// yget follows keys through nested mappings; nil when one is missing.
func yget(n *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var v *yaml.Node
		for i := 0; i+1 < len(n.Content) && v == nil; i += 2 {
			if n.Content[i].Value == key {
				v = n.Content[i+1]
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

// yitems returns a sequence's items (nil for anything else).
func yitems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// workflow is what the checks read of a workflow file.
type workflow struct {
	On, Permissions yaml.Node
	Jobs            map[string]struct {
		If          string
		Needs       yaml.Node
		Permissions map[string]string
		Steps       []runner.CompositeStep
	}
}

// actionSet is the actions of ours a step can run.
type actionSet struct{ Main, Composite *runner.Action }

// target returns the action a uses: value runs, or nil when it is not ours.
func (a actionSet) target(uses string) *runner.Action {
	switch {
	case uses == "./" || uses == "." || strings.HasPrefix(uses, "cargo-oidc/cargo-oidc@"):
		return a.Main
	case strings.TrimSuffix(uses, "/") == "./examples/composite":
		return a.Composite
	}
	return nil
}

// file is the file that declares x, one of a's actions.
func (a actionSet) file(x *runner.Action) string {
	if x == a.Main {
		return "action.yml"
	}
	return "examples/composite/action.yml"
}

var (
	providerTagRE = regexp.MustCompile(`^\[([a-z, -]+)\]`)
	stepOutputRE  = regexp.MustCompile(`steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)`)
	inputsRefRE   = regexp.MustCompile(`inputs\.([A-Za-z_][A-Za-z0-9_-]*)`)
	usesLineRE    = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinnedRE      = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`)
	versionRE     = regexp.MustCompile(`^\s+#\s*v\d+(\.\d+)*\b`)
)

// checkSteps checks the with: of steps that run our actions (an input's
// description starts with its providers: "[jfrog, cloudsmith] ...") and
// records their ids in ids.
func checkSteps(where string, steps []runner.CompositeStep, acts actionSet, ids map[string]*runner.Action) []string {
	var problems []string
	for _, st := range steps {
		a := acts.target(st.Uses)
		if a == nil {
			continue
		}
		if st.ID != "" {
			ids[st.ID] = a
		}
		declared := map[string]runner.Input{}
		for _, in := range a.Inputs {
			declared[in.Name] = in
			if _, given := st.With[in.Name]; in.Required && !in.HasDefault && !given {
				problems = append(problems, fmt.Sprintf("%s: required input %q of %s is missing", where, in.Name, st.Uses))
			}
		}
		provider := strings.ToLower(st.With["provider"])
		if provider == "artifactory" {
			provider = "jfrog"
		}
		for _, name := range slices.Sorted(maps.Keys(st.With)) {
			in, ok := declared[name]
			m := providerTagRE.FindStringSubmatch(in.Description)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: input %q of %s is not declared in %s", where, name, st.Uses, acts.file(a)))
			case m != nil && slices.Contains([]string{"jfrog", "cloudsmith", "crates-io", "codeartifact", "azure"}, provider) &&
				!slices.Contains(strings.Split(m[1], ", "), provider):
				problems = append(problems, fmt.Sprintf("%s: input %q is for %s, not provider %s", where, name, m[1], provider))
			}
		}
	}
	return problems
}

// checkRefs checks that every steps.<id>.outputs.<name> of a step in ids
// is declared, and, in a composite action (own), every inputs.<name>.
func checkRefs(file, src string, acts actionSet, ids map[string]*runner.Action, own *runner.Action) []string {
	var problems []string
	for n, line := range strings.Split(src, "\n") {
		for _, m := range stepOutputRE.FindAllStringSubmatch(line, -1) {
			if a := ids[m[1]]; a != nil && !slices.ContainsFunc(a.Outputs, func(o runner.Output) bool { return o.Name == m[2] }) {
				problems = append(problems, fmt.Sprintf("%s:%d: output %q of step %s is not declared in %s", file, n+1, m[2], m[1], acts.file(a)))
			}
		}
		for _, m := range inputsRefRE.FindAllStringSubmatch(line, -1) {
			if own != nil && !slices.ContainsFunc(own.Inputs, func(in runner.Input) bool { return in.Name == m[1] }) {
				problems = append(problems, fmt.Sprintf("%s:%d: inputs.%s is not an input of %s", file, n+1, m[1], file))
			}
		}
	}
	return problems
}

// pinnedProblems finds third-party actions not pinned by SHA with a version comment.
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

// checkWorkflow checks a workflow's actions, permissions and our steps; an
// example on pull_request (onPR) must skip forks, which get no ID token.
func checkWorkflow(f string, src []byte, acts actionSet) (problems []string, onPR bool) {
	var w workflow
	if err := yaml.Unmarshal(src, &w); err != nil {
		return []string{fmt.Sprintf("%s: %v", f, err)}, false
	}
	problems = pinnedProblems(f, string(src))
	if w.Permissions.Kind != yaml.MappingNode || len(w.Permissions.Content) != 0 {
		problems = append(problems, f+": top-level permissions is not {}")
	}
	example := strings.HasPrefix(f, "examples/")
	isPR := func(n *yaml.Node) bool { return ystr(n) == "pull_request" }
	onPR = example && (yget(&w.On, "pull_request") != nil || isPR(&w.On) || slices.ContainsFunc(yitems(&w.On), isPR))
	const forkCheck = "github.event.pull_request.head.repo.full_name == github.repository"
	skips := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for id, job := range w.Jobs {
			s := strings.Contains(job.If, forkCheck) || strings.Contains(job.If, "startsWith(github.ref, 'refs/tags/")
			for _, n := range append([]*yaml.Node{&job.Needs}, yitems(&job.Needs)...) {
				s = s || skips[ystr(n)]
			}
			if s && !skips[id] {
				skips[id], changed = true, true
			}
		}
	}
	ids := map[string]*runner.Action{}
	runsAction := false
	for _, id := range slices.Sorted(maps.Keys(w.Jobs)) {
		job := w.Jobs[id]
		problems = append(problems, checkSteps(f+" job "+id, job.Steps, acts, ids)...)
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%s: job %s ", f, id)+fmt.Sprintf(format, args...))
		}
		ours := slices.ContainsFunc(job.Steps, func(st runner.CompositeStep) bool { return acts.target(st.Uses) != nil })
		runsAction = runsAction || ours
		want := map[string]string{"id-token": "write", "contents": "read"}
		switch {
		case job.Permissions == nil:
			bad("declares no permissions")
		case ours && job.Permissions["id-token"] != "write":
			bad("runs the action without id-token: write")
		case example && !maps.Equal(job.Permissions, want):
			bad("permissions = %v, want %v", job.Permissions, want)
		}
		for _, st := range job.Steps {
			if example && strings.HasPrefix(st.Uses, "cargo-oidc/") && st.Uses != "cargo-oidc/cargo-oidc@v1" {
				bad("uses %s, want cargo-oidc/cargo-oidc@v1", st.Uses)
			}
			if onPR && strings.HasPrefix(st.Uses, "cargo-oidc/") && !skips[id] && !strings.Contains(st.If, forkCheck) {
				bad("runs cargo-oidc on pull_request without skipping forks (if: ... %s)", forkCheck)
			}
		}
	}
	if example && !runsAction {
		problems = append(problems, f+": the example never runs cargo-oidc")
	}
	return append(problems, checkRefs(f, string(src), acts, ids, nil)...), onPR
}

// checkComposite checks that a composite action wraps cargo-oidc in a step
// with an id and forwards every output of it.
func checkComposite(file string, src []byte, acts actionSet) []string {
	a, err := runner.ParseAction(src)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	ids := map[string]*runner.Action{}
	problems := append(checkSteps(file, a.Runs.Steps, acts, ids), checkRefs(file, string(src), acts, ids, a)...)
	i := slices.IndexFunc(a.Runs.Steps, func(st runner.CompositeStep) bool {
		return strings.HasPrefix(st.Uses, "cargo-oidc/cargo-oidc@") && st.ID != ""
	})
	if i < 0 {
		return append(problems, file+": no step with an id wraps cargo-oidc/cargo-oidc by a literal uses:")
	}
	for _, o := range acts.Main.Outputs {
		want := "${{ steps." + a.Runs.Steps[i].ID + ".outputs." + o.Name + " }}"
		j := slices.IndexFunc(a.Outputs, func(c runner.Output) bool { return c.Name == o.Name })
		if j < 0 || a.Outputs[j].Value != want {
			problems = append(problems, fmt.Sprintf("%s: output %q is not forwarded as %q", file, o.Name, want))
		}
	}
	return problems
}

// workflowFiles lists examples/ and .github/workflows/ workflows, relative to root.
func workflowFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"examples/*.y*ml", ".github/workflows/*.y*ml"} {
		m, _ := fs.Glob(os.DirFS(root), pat)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no workflows found under examples/ and .github/workflows/")
	}
	return files
}

// TestWorkflows checks every workflow and the composite examples/composite.
func TestWorkflows(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	composite, err := runner.LoadAction(filepath.Join(root, "examples/composite/action.yml"))
	testenv.Must(t, err)
	acts := actionSet{Main: repoAction(t), Composite: composite}
	onPR := false
	for _, f := range workflowFiles(t, root) {
		problems, pr := checkWorkflow(f, []byte(readFile(t, filepath.Join(root, f))), acts)
		onPR = onPR || pr
		for _, p := range problems {
			t.Error(p)
		}
	}
	f := "examples/composite/action.yml"
	src := readFile(t, filepath.Join(root, f))
	for _, p := range append(pinnedProblems(f, src), checkComposite(f, []byte(src), acts)...) {
		t.Error(p)
	}
	if !onPR {
		t.Error("no example runs on pull_request; the fork check proves nothing")
	}
}

// TestWorkflowCheckerCatchesMistakes proves the checkers on in-memory samples.
func TestWorkflowCheckerCatchesMistakes(t *testing.T) {
	main := &runner.Action{
		Inputs: []runner.Input{
			{Name: "provider", Description: "p", Required: true},
			{Name: "url", Description: "[jfrog, cloudsmith, crates-io] u"},
			{Name: "repository", Description: "[jfrog, cloudsmith] r"},
			{Name: "service-slug", Description: "[cloudsmith] s"},
			{Name: "retries", Description: "r", Default: "3", HasDefault: true},
		},
		Outputs: []runner.Output{{Name: "token"}, {Name: "index-url"}},
	}
	acts := actionSet{Main: main, Composite: &runner.Action{Inputs: []runner.Input{{Name: "repository", Required: true}}, Outputs: []runner.Output{{Name: "token"}}}}
	workflow := func(with, run string) string {
		return `on: push
permissions: {}
jobs:
  j:
    runs-on: ubuntu-latest
    permissions: {id-token: write, contents: read}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - id: reg
        uses: cargo-oidc/cargo-oidc@v1
        with:
` + with + `
      - run: ` + run + "\n"
	}
	ok := "          provider: jfrog\n          url: https://x.jfrog.io\n          repository: cargo"
	uses := func(src, uses string) string { return strings.Replace(src, "cargo-oidc/cargo-oidc@v1", uses, 1) }
	composite := func(outputs string) string {
		return "name: c\ndescription: d\ninputs:\n  repository: {description: r, required: true}\noutputs:\n" + outputs + `
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
	both := "  token: {description: t, value: '${{ steps.inner.outputs.token }}'}\n  index-url: {description: i, value: '${{ steps.inner.outputs.index-url }}'}"
	pr := strings.Replace(workflow(ok, "true"), "on: push", "on: pull_request", 1)
	testenv.Run(t, map[string]struct{ file, src, want string }{
		"good":                           {"w.yml", workflow(ok, `echo "${{ steps.reg.outputs.token }}"`), ""},
		"artifactory alias":              {"w.yml", workflow("          provider: artifactory\n          repository: cargo", "true"), ""},
		"undeclared input":               {"w.yml", workflow(ok+"\n          registry-nmae: x", "true"), `input "registry-nmae" of cargo-oidc/cargo-oidc@v1 is not declared in action.yml`},
		"undeclared output":              {"w.yml", workflow(ok, `echo ${{ steps.reg.outputs.access-token }}`), `w.yml:15: output "access-token" of step reg is not declared`},
		"input of another provider":      {"w.yml", workflow(ok+"\n          service-slug: ci", "true"), `input "service-slug" is for cloudsmith, not provider jfrog`},
		"missing required":               {"w.yml", workflow("          url: https://x.jfrog.io", "true"), `required input "provider" of cargo-oidc/cargo-oidc@v1 is missing`},
		"local uses":                     {"w.yml", uses(workflow(ok+"\n          bogus: 1", "true"), "./"), `input "bogus" of ./ is not declared`},
		"composite undeclared input":     {"w.yml", uses(workflow("          repository: r\n          provider: jfrog", "true"), "./examples/composite"), `input "provider" of ./examples/composite is not declared in examples/composite/action.yml`},
		"composite undeclared output":    {"w.yml", uses(workflow("          repository: r", "echo ${{ steps.reg.outputs.index-url }}"), "./examples/composite"), `output "index-url" of step reg is not declared in examples/composite/action.yml`},
		"other actions ignored":          {"w.yml", uses(workflow("          anything: 1", "true"), "someone/else@11bd71901bbe5b1630ceea73d27597364c9af683 # v1.0.0"), ""},
		"not pinned":                     {"w.yml", strings.Replace(workflow(ok, "true"), " # v4.2.2", "", 1), "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 is not pinned"},
		"top-level permissions":          {"w.yml", strings.Replace(workflow(ok, "true"), "permissions: {}", "permissions: read-all", 1), "w.yml: top-level permissions is not {}"},
		"no id-token":                    {"w.yml", strings.Replace(workflow(ok, "true"), "id-token: write", "id-token: none", 1), "job j runs the action without id-token: write"},
		"example's permissions":          {"examples/w.yml", strings.Replace(workflow(ok, "true"), "contents: read", "contents: write", 1), "job j permissions = "},
		"example not on v1":              {"examples/w.yml", uses(workflow(ok, "true"), "cargo-oidc/cargo-oidc@main"), "job j uses cargo-oidc/cargo-oidc@main, want cargo-oidc/cargo-oidc@v1"},
		"example on pull_request":        {"examples/w.yml", pr, "job j runs cargo-oidc on pull_request without skipping forks"},
		"forks skipped":                  {"examples/w.yml", strings.Replace(pr, "    runs-on:", "    if: github.event.pull_request.head.repo.full_name == github.repository\n    runs-on:", 1), ""},
		"composite forwards all":         {"c.yml", composite(both), ""},
		"composite misses one":           {"c.yml", composite("  token: {description: t, value: '${{ steps.inner.outputs.token }}'}"), `output "index-url" is not forwarded`},
		"composite wrong step":           {"c.yml", composite(strings.Replace(both, "steps.inner.outputs.token", "steps.other.outputs.token", 1)), `output "token" is not forwarded`},
		"composite unknown inner output": {"c.yml", composite(both + "\n  extra: {description: x, value: '${{ steps.inner.outputs.nope }}'}"), `output "nope" of step inner is not declared in action.yml`},
		"composite unknown input":        {"c.yml", strings.Replace(composite(both), "inputs.repository", "inputs.repo", 1), "inputs.repo is not an input"},
		"composite wraps ./":             {"c.yml", uses(composite(both), "./"), "no step with an id wraps cargo-oidc/cargo-oidc by a literal uses:"},
	}, func(t *testing.T, _ string, tt struct{ file, src, want string }) {
		problems, _ := checkWorkflow(tt.file, []byte(tt.src), acts)
		if tt.file == "c.yml" {
			problems = checkComposite(tt.file, []byte(tt.src), acts)
		}
		wantProblem(t, problems, tt.want)
	})
}

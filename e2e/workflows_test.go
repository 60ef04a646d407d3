package e2e

// Checks of the workflows under examples/ and .github/workflows/ and of the
// composite wrapper examples/composite/action.yml: actionlint passes on every
// workflow, and every input and output a step of cargo-oidc (or of the
// composite) uses is declared in the action.yml it runs. actionlint does not
// read composite actions, and it cannot know which inputs belong to which
// provider, so the second part is done here with a small YAML reader.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// ---------------------------------------------------------------------------
// A small YAML reader: block mappings, block sequences, plain and quoted
// scalars, block scalars (| and >) and comments. Flow collections ({}, [a, b])
// are kept as scalars. Enough for workflow and action files.

type yamlKind int

const (
	yamlScalar yamlKind = iota
	yamlMap
	yamlSeq
)

// yamlNode is one node of a document.
type yamlNode struct {
	Kind  yamlKind
	Value string               // scalar: the value, unquoted
	Keys  []string             // map: keys in order
	Map   map[string]*yamlNode // map: values
	Items []*yamlNode          // seq: items
	Line  int                  // 1-based line of the node
}

// get returns the value of key in a mapping, or nil.
func (n *yamlNode) get(key string) *yamlNode {
	if n == nil || n.Kind != yamlMap {
		return nil
	}
	return n.Map[key]
}

// str returns a scalar's value, "" for anything else.
func (n *yamlNode) str() string {
	if n == nil || n.Kind != yamlScalar {
		return ""
	}
	return n.Value
}

// scalars calls f for every scalar under n (keys are not scalars here).
func (n *yamlNode) scalars(f func(*yamlNode)) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yamlScalar:
		f(n)
	case yamlMap:
		for _, k := range n.Keys {
			n.Map[k].scalars(f)
		}
	case yamlSeq:
		for _, it := range n.Items {
			it.scalars(f)
		}
	}
}

type yamlLine struct {
	indent  int
	content string // without indentation; comment lines and blank lines are dropped
	raw     string // the whole line, for block scalars
	num     int
}

type yamlParser struct {
	lines []yamlLine
	all   []string // every raw line, for block scalars
	i     int
}

// parseYAML reads a document whose top level is a block mapping.
func parseYAML(src []byte) (*yamlNode, error) {
	p := &yamlParser{}
	p.all = strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	for n, raw := range p.all {
		content := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(content, "\t") {
			return nil, fmt.Errorf("line %d: tab indentation", n+1)
		}
		if content == "" || strings.HasPrefix(content, "#") || content == "---" {
			continue
		}
		p.lines = append(p.lines, yamlLine{indent: len(raw) - len(content), content: strings.TrimRight(content, " "), raw: raw, num: n + 1})
	}
	if len(p.lines) == 0 {
		return &yamlNode{Kind: yamlMap, Map: map[string]*yamlNode{}}, nil
	}
	if p.lines[0].indent != 0 {
		return nil, fmt.Errorf("line %d: the document does not start at column 1", p.lines[0].num)
	}
	n, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.lines) {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].num)
	}
	return n, nil
}

func isSeqItem(content string) bool { return content == "-" || strings.HasPrefix(content, "- ") }

// block parses the mapping or sequence whose lines start at indent.
func (p *yamlParser) block(indent int) (*yamlNode, error) {
	if isSeqItem(p.lines[p.i].content) {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) seq(indent int) (*yamlNode, error) {
	n := &yamlNode{Kind: yamlSeq, Line: p.lines[p.i].num}
	for p.i < len(p.lines) && p.lines[p.i].indent == indent && isSeqItem(p.lines[p.i].content) {
		l := p.lines[p.i]
		rest := strings.TrimLeft(strings.TrimPrefix(l.content, "-"), " ")
		if rest == "" {
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				item, err := p.block(p.lines[p.i].indent)
				if err != nil {
					return nil, err
				}
				n.Items = append(n.Items, item)
			} else {
				n.Items = append(n.Items, &yamlNode{Kind: yamlScalar, Line: l.num})
			}
			continue
		}
		// "- key: value" starts a mapping at the column of "key";
		// "- value" is a scalar.
		col := indent + len(l.content) - len(rest)
		if _, _, ok := splitKey(rest); ok || isSeqItem(rest) {
			p.lines[p.i] = yamlLine{indent: col, content: rest, raw: l.raw, num: l.num}
			item, err := p.block(col)
			if err != nil {
				return nil, err
			}
			n.Items = append(n.Items, item)
			continue
		}
		v, err := p.scalarValue(rest, indent)
		if err != nil {
			return nil, err
		}
		v.Line = l.num
		n.Items = append(n.Items, v)
	}
	return n, nil
}

func (p *yamlParser) mapping(indent int) (*yamlNode, error) {
	n := &yamlNode{Kind: yamlMap, Map: map[string]*yamlNode{}, Line: p.lines[p.i].num}
	for p.i < len(p.lines) && p.lines[p.i].indent == indent {
		l := p.lines[p.i]
		if isSeqItem(l.content) {
			return nil, fmt.Errorf("line %d: a sequence item inside a mapping", l.num)
		}
		key, rest, ok := splitKey(l.content)
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not a key: value", l.num, l.content)
		}
		if _, dup := n.Map[key]; dup {
			return nil, fmt.Errorf("line %d: key %q repeated", l.num, key)
		}
		var v *yamlNode
		var err error
		switch {
		case rest == "":
			p.i++
			switch {
			case p.i < len(p.lines) && p.lines[p.i].indent > indent:
				v, err = p.block(p.lines[p.i].indent)
			case p.i < len(p.lines) && p.lines[p.i].indent == indent && isSeqItem(p.lines[p.i].content):
				v, err = p.seq(indent) // a sequence may sit at its key's column
			default:
				v = &yamlNode{Kind: yamlScalar, Line: l.num}
			}
		default:
			v, err = p.scalarValue(rest, indent)
		}
		if err != nil {
			return nil, err
		}
		if v.Line == 0 {
			v.Line = l.num
		}
		n.Keys = append(n.Keys, key)
		n.Map[key] = v
	}
	if p.i < len(p.lines) && p.lines[p.i].indent > indent {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].num)
	}
	return n, nil
}

// scalarValue reads the value rest of the current line (at indent) and
// advances past it, and past a block scalar's body.
func (p *yamlParser) scalarValue(rest string, indent int) (*yamlNode, error) {
	l := p.lines[p.i]
	p.i++
	if rest[0] == '|' || rest[0] == '>' {
		var body []string
		n := l.num // index in p.all of the line after the header
		for ; n < len(p.all); n++ {
			raw := p.all[n]
			c := strings.TrimLeft(raw, " ")
			if c != "" && len(raw)-len(c) <= indent {
				break
			}
			body = append(body, raw)
		}
		for p.i < len(p.lines) && p.lines[p.i].num <= n {
			p.i++
		}
		return &yamlNode{Kind: yamlScalar, Value: dedent(body), Line: l.num}, nil
	}
	v, err := unquoteScalar(rest)
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", l.num, err)
	}
	// A plain scalar may continue on more-indented lines.
	if rest[0] != '"' && rest[0] != '\'' {
		for p.i < len(p.lines) && p.lines[p.i].indent > indent {
			c := stripComment(p.lines[p.i].content)
			if strings.Contains(c, ": ") || strings.HasSuffix(c, ":") {
				return nil, fmt.Errorf("line %d: a mapping inside a plain scalar", p.lines[p.i].num)
			}
			v += " " + c
			p.i++
		}
	}
	return &yamlNode{Kind: yamlScalar, Value: v, Line: l.num}, nil
}

func dedent(body []string) string {
	low := -1
	for _, b := range body {
		c := strings.TrimLeft(b, " ")
		if c != "" && (low < 0 || len(b)-len(c) < low) {
			low = len(b) - len(c)
		}
	}
	var out []string
	for _, b := range body {
		if low >= 0 && len(b) >= low {
			b = b[low:]
		}
		out = append(out, b)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

// splitKey splits "key: rest" or "key:"; the key may be quoted.
func splitKey(s string) (key, rest string, ok bool) {
	if s == "" || strings.ContainsAny(s[:1], "{[|>&*!%@`") {
		return "", "", false
	}
	var end int // index of the ':' after the key
	switch s[0] {
	case '"', '\'':
		j := strings.IndexByte(s[1:], s[0])
		if j < 0 {
			return "", "", false
		}
		key, end = s[1:j+1], j+2
		if end >= len(s) || s[end] != ':' {
			return "", "", false
		}
	default:
		end = -1
		for j := 0; j < len(s); j++ {
			if s[j] == ':' && (j+1 == len(s) || s[j+1] == ' ') {
				end = j
				break
			}
			if s[j] == ' ' && j+1 < len(s) && s[j+1] == '#' {
				return "", "", false
			}
		}
		if end <= 0 {
			return "", "", false
		}
		key = strings.TrimRight(s[:end], " ")
	}
	rest = strings.TrimSpace(s[end+1:])
	if strings.HasPrefix(rest, "#") {
		rest = ""
	}
	return key, rest, true
}

// stripComment removes " # ..." from a plain scalar.
func stripComment(s string) string {
	if j := strings.Index(s, " #"); j >= 0 {
		s = s[:j]
	}
	return strings.TrimSpace(s)
}

// unquoteScalar reads a plain, single- or double-quoted scalar (comment
// after it dropped). Flow collections are returned as written.
func unquoteScalar(s string) (string, error) {
	switch s[0] {
	case '\'':
		var b strings.Builder
		for j := 1; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				return b.String(), trailing(s[j+1:])
			}
			b.WriteByte(s[j])
		}
		return "", fmt.Errorf("unterminated single-quoted scalar")
	case '"':
		var b strings.Builder
		for j := 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				if j+1 == len(s) {
					return "", fmt.Errorf("bad escape")
				}
				j++
				switch s[j] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(s[j])
				}
			case '"':
				return b.String(), trailing(s[j+1:])
			default:
				b.WriteByte(s[j])
			}
		}
		return "", fmt.Errorf("unterminated double-quoted scalar")
	}
	return stripComment(s), nil
}

func trailing(s string) error {
	s = strings.TrimSpace(s)
	if s != "" && !strings.HasPrefix(s, "#") {
		return fmt.Errorf("text %q after a quoted scalar", s)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Action metadata and the checks.

// actionSpec is what an action.yml declares.
type actionSpec struct {
	File      string
	Inputs    map[string]inputSpec
	Outputs   []string
	Composite *yamlNode // runs of a composite action
}

type inputSpec struct {
	Required   bool
	HasDefault bool
	Providers  []string // from a "[jfrog, cloudsmith] ..." description; nil = every provider
}

var providerTagRE = regexp.MustCompile(`^\[([a-z, -]+)\]`)

func readActionSpec(file string, src []byte) (*actionSpec, error) {
	doc, err := parseYAML(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	spec := &actionSpec{File: file, Inputs: map[string]inputSpec{}}
	if in := doc.get("inputs"); in != nil {
		for _, k := range in.Keys {
			d := in.Map[k]
			s := inputSpec{Required: d.get("required").str() == "true", HasDefault: d.get("default") != nil}
			if m := providerTagRE.FindStringSubmatch(d.get("description").str()); m != nil {
				for _, p := range strings.Split(m[1], ",") {
					s.Providers = append(s.Providers, strings.TrimSpace(p))
				}
			}
			spec.Inputs[k] = s
		}
	}
	if out := doc.get("outputs"); out != nil {
		spec.Outputs = append(spec.Outputs, out.Keys...)
	}
	if runs := doc.get("runs"); runs.get("using").str() == "composite" {
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
func checkSteps(where string, steps, scope *yamlNode, acts actionSet, own *actionSpec) []string {
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", where, line, fmt.Sprintf(format, args...)))
	}
	ids := map[string]*actionSpec{}
	if steps == nil || steps.Kind != yamlSeq {
		return []string{where + ": no steps"}
	}
	for _, st := range steps.Items {
		uses := st.get("uses").str()
		spec := acts.target(uses)
		if spec == nil {
			continue
		}
		if id := st.get("id").str(); id != "" {
			ids[id] = spec
		}
		with := st.get("with")
		given := map[string]bool{}
		if with != nil {
			if with.Kind != yamlMap {
				bad(with.Line, "with: of %s is not a mapping", uses)
				continue
			}
			for _, k := range with.Keys {
				given[k] = true
				if _, ok := spec.Inputs[k]; !ok {
					bad(with.Map[k].Line, "input %q of %s is not declared in %s", k, uses, spec.File)
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
		provider := strings.ToLower(with.get("provider").str())
		if provider == "artifactory" {
			provider = "jfrog"
		}
		if spec == acts.Main && with != nil && slices.Contains([]string{"jfrog", "cloudsmith", "crates-io", "codeartifact"}, provider) {
			for _, k := range with.Keys {
				in, ok := spec.Inputs[k]
				if ok && in.Providers != nil && !slices.Contains(in.Providers, provider) {
					bad(with.Map[k].Line, "input %q is for %s, not provider %s", k, strings.Join(in.Providers, ", "), provider)
				}
			}
		}
	}
	scope.scalars(func(n *yamlNode) {
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
	jobs := doc.get("jobs")
	if jobs == nil || jobs.Kind != yamlMap {
		return []string{file + ": no jobs"}
	}
	var problems []string
	for _, id := range jobs.Keys {
		job := jobs.Map[id]
		if job.get("uses") != nil {
			continue // a reusable workflow call
		}
		problems = append(problems, checkSteps(file+" job "+id, job.get("steps"), job, acts, nil)...)
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
	problems := checkSteps(file, spec.Composite.get("steps"), doc, acts, spec)
	var stepID string
	for _, st := range spec.Composite.get("steps").Items {
		if acts.target(st.get("uses").str()) == acts.Main {
			stepID = st.get("id").str()
		}
	}
	if stepID == "" {
		return append(problems, file+": no step with an id runs cargo-oidc")
	}
	outs := doc.get("outputs")
	for _, name := range acts.Main.Outputs {
		want := "${{ steps." + stepID + ".outputs." + name + " }}"
		if got := outs.get(name).get("value").str(); got != want {
			problems = append(problems, fmt.Sprintf("%s: output %q is %q, want it forwarded as %q", file, name, got, want))
		}
	}
	return problems
}

// ---------------------------------------------------------------------------
// The repository's files.

// repoRoot is the repository's root (harness.RepoRoot), or a test failure.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
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
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no workflows found under examples/ and .github/workflows/")
	}
	return files
}

func loadActions(t *testing.T, root string) actionSet {
	t.Helper()
	read := func(rel string) *actionSpec {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		s, err := readActionSpec(rel, b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return actionSet{Main: read("action.yml"), Composite: read("examples/composite/action.yml")}
}

// ---------------------------------------------------------------------------
// Tests.

func TestActionlintWorkflows(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	bin, err := exec.LookPath("actionlint")
	if err != nil {
		gopath, gerr := exec.Command("go", "env", "GOPATH").Output()
		cand := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "actionlint")
		if _, serr := os.Stat(cand); gerr == nil && serr == nil {
			bin, err = cand, nil
		}
	}
	if err != nil {
		msg := "actionlint is not installed (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
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

func TestWorkflowAndExampleInputsOutputsDeclared(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	acts := loadActions(t, root)
	for _, f := range workflowFiles(t, root) {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkWorkflow(f, b, acts) {
				t.Error(p)
			}
		})
	}
}

func TestCompositeExampleForwardsEveryOutput(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	acts := loadActions(t, root)
	b, err := os.ReadFile(filepath.Join(root, "examples/composite/action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkComposite("examples/composite/action.yml", b, acts) {
		t.Error(p)
	}
	doc, _ := parseYAML(b)
	if got := doc.get("runs").get("steps").Items; len(got) == 0 || !strings.HasPrefix(got[0].get("uses").str(), "cargo-oidc/cargo-oidc@") {
		t.Error("the composite does not wrap cargo-oidc/cargo-oidc by a literal uses:")
	}
}

// TestWorkflowExamplesUseTheActionAndMinimalPermissions: examples use the
// published cargo-oidc/cargo-oidc@v1; every workflow grants nothing at the
// top; every job that runs the action asks for id-token: write, and in
// examples for nothing but id-token: write and contents: read.
func TestWorkflowExamplesUseTheActionAndMinimalPermissions(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	acts := loadActions(t, root)
	for _, f := range workflowFiles(t, root) {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := parseYAML(b)
			if err != nil {
				t.Fatal(err)
			}
			if p := doc.get("permissions"); p == nil || p.str() != "{}" {
				t.Errorf("top-level permissions is not {}")
			}
			example := strings.HasPrefix(f, "examples/")
			jobs := doc.get("jobs")
			usesAction := 0
			for _, id := range jobs.Keys {
				job := jobs.Map[id]
				perms := job.get("permissions")
				if perms == nil {
					t.Errorf("job %s declares no permissions", id)
					continue
				}
				runsAction := false
				for _, st := range job.get("steps").Items {
					uses := st.get("uses").str()
					if acts.target(uses) != nil {
						runsAction = true
						usesAction++
					}
					if example && strings.HasPrefix(uses, "cargo-oidc/") && uses != "cargo-oidc/cargo-oidc@v1" {
						t.Errorf("job %s uses %s, want cargo-oidc/cargo-oidc@v1", id, uses)
					}
				}
				if runsAction && perms.get("id-token").str() != "write" {
					t.Errorf("job %s runs the action without id-token: write", id)
				}
				if example {
					want := map[string]string{"id-token": "write", "contents": "read"}
					got := map[string]string{}
					for _, k := range perms.Keys {
						got[k] = perms.Map[k].str()
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("job %s permissions = %v, want %v", id, got, want)
					}
				}
			}
			if example && usesAction == 0 {
				t.Error("the example never runs cargo-oidc")
			}
		})
	}
}

var (
	usesLineRE = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinnedRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`)
	versionRE  = regexp.MustCompile(`^\s+#\s*v\d+(\.\d+)*\b`)
)

// TestWorkflowThirdPartyActionsPinned: every third-party action is pinned by
// a full commit SHA followed by a version comment.
func TestWorkflowThirdPartyActionsPinned(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	files := append(workflowFiles(t, root), "examples/composite/action.yml")
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			m := usesLineRE.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			uses := strings.Trim(m[1], `"'`)
			if strings.HasPrefix(uses, "./") || uses == "cargo-oidc/cargo-oidc@v1" {
				continue
			}
			if !pinnedRE.MatchString(uses) || !versionRE.MatchString(m[2]) {
				t.Errorf("%s:%d: %s is not pinned by commit SHA with a # vX.Y.Z comment", f, n+1, uses)
			}
		}
	}
}

// TestWorkflowCheckerCatchesMistakes proves the checker on in-memory samples.
func TestWorkflowCheckerCatchesMistakes(t *testing.T) {
	t.Parallel()
	main := &actionSpec{File: "action.yml", Outputs: []string{"token", "index-url"}, Inputs: map[string]inputSpec{
		"provider":     {Required: true},
		"url":          {Providers: []string{"jfrog", "cloudsmith", "crates-io"}},
		"repository":   {Providers: []string{"jfrog", "cloudsmith"}},
		"service-slug": {Providers: []string{"cloudsmith"}},
		"revoke":       {Providers: []string{"crates-io"}, HasDefault: true},
		"retries":      {HasDefault: true},
	}}
	acts := actionSet{Main: main, Composite: &actionSpec{File: "examples/composite/action.yml",
		Inputs: map[string]inputSpec{"repository": {Required: true}}, Outputs: []string{"token"}}}
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

// TestWorkflowYAMLReader checks the reader on the constructs the files use.
func TestWorkflowYAMLReader(t *testing.T) {
	t.Parallel()
	src := `# comment
name: "quoted: name" # trailing
on:
  push:
    tags: ["v*.*.*"]
permissions: {}
jobs:
  a:
    steps:
    - uses: x/y@v1
      with:
        k: 'it''s'
    - run: |
        echo "a: b"

        echo c
      env:
        X: plain value # c
  b:
    steps:
      -
        run: >
          folded
`
	doc, err := parseYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ got, want string }{
		{doc.get("name").str(), "quoted: name"},
		{doc.get("on").get("push").get("tags").str(), `["v*.*.*"]`},
		{doc.get("permissions").str(), "{}"},
		{doc.get("jobs").get("a").get("steps").Items[0].get("with").get("k").str(), "it's"},
		{doc.get("jobs").get("a").get("steps").Items[1].get("run").str(), "echo \"a: b\"\n\necho c\n"},
		{doc.get("jobs").get("a").get("steps").Items[1].get("env").get("X").str(), "plain value"},
		{doc.get("jobs").get("b").get("steps").Items[0].get("run").str(), "folded\n"},
		{strings.Join(doc.Keys, ","), "name,on,permissions,jobs"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
	for _, bad := range []string{"a:\n\tb: c\n", "a: 'x\n", "a: b\na: c\n", "a:\n  b: c\n    d: e\n"} {
		if _, err := parseYAML([]byte(bad)); err == nil {
			t.Errorf("parsed %q without an error", bad)
		}
	}
}

// FuzzWorkflowYAMLReader: the reader never panics or loops, and on the files
// it accepts every node has a line.
func FuzzWorkflowYAMLReader(f *testing.F) {
	root, err := os.Getwd()
	if err == nil {
		for _, pat := range []string{"../examples/*.yml", "../examples/composite/action.yml", "../.github/workflows/*.yml", "../action.yml"} {
			m, _ := filepath.Glob(filepath.Join(root, pat))
			for _, file := range m {
				if b, err := os.ReadFile(file); err == nil {
					f.Add(string(b))
				}
			}
		}
	}
	f.Add("a:\n- b: |\n    x\n  c: 'd''e' # f\n-\n  - g\n")
	f.Add("a: \"\\\nb: >-\n")
	f.Fuzz(func(t *testing.T, src string) {
		doc, err := parseYAML([]byte(src))
		if err != nil {
			return
		}
		var walk func(n *yamlNode)
		walk = func(n *yamlNode) {
			if n == nil {
				t.Fatal("nil node")
			}
			switch n.Kind {
			case yamlMap:
				if len(n.Keys) != len(n.Map) {
					t.Fatalf("%d keys, %d values", len(n.Keys), len(n.Map))
				}
				for _, k := range n.Keys {
					walk(n.Map[k])
				}
			case yamlSeq:
				for _, it := range n.Items {
					walk(it)
				}
			}
		}
		walk(doc)
	})
}

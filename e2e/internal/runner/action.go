package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Action is what the runner reads from an action's metadata file
// (action.yml): its inputs with their defaults, its outputs and how it runs.
type Action struct {
	Name        string
	Description string
	Inputs      []Input  // in file order
	Outputs     []Output // in file order
	Runs        Runs
}

// Input is one entry of action.yml's `inputs:` mapping.
type Input struct {
	Name               string
	Description        string
	Required           bool
	Default            string // unevaluated; may hold ${{ }} expressions
	HasDefault         bool
	DeprecationMessage string
}

// Output is one entry of action.yml's `outputs:` mapping.
type Output struct {
	Name        string
	Description string
	// Value is a composite action's `value:` (unevaluated); empty for a
	// container action, whose outputs come from GITHUB_OUTPUT.
	Value string
}

// Runs is action.yml's `runs:` section. Args and Env values are unevaluated.
type Runs struct {
	Using          string // "docker" for this project
	Image          string // "Dockerfile" or "docker://..."
	Entrypoint     string
	PreEntrypoint  string
	PostEntrypoint string
	PreIf, PostIf  string
	Args           []string
	Env            map[string]string
	// Steps are a composite action's steps (using: composite).
	Steps []CompositeStep
}

// CompositeStep is one step of a composite action, kept so that its
// expressions can be checked against the contexts the runner allows.
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

// LoadAction reads and parses an action.yml file and checks it the way the
// runner does when it loads an action (see Validate): an action the runner
// would refuse fails here too.
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
	return a, nil
}

// The shapes of action.yml as yaml.v3 decodes them. Inputs and outputs are
// nodes so that their file order is kept.
type (
	actionDoc struct {
		Name        string    `yaml:"name"`
		Description string    `yaml:"description"`
		Inputs      yaml.Node `yaml:"inputs"`
		Outputs     yaml.Node `yaml:"outputs"`
		Runs        *runsDoc  `yaml:"runs"`
	}
	inputDoc struct {
		Description        string  `yaml:"description"`
		Required           string  `yaml:"required"`
		Default            *string `yaml:"default"`
		DeprecationMessage string  `yaml:"deprecationMessage"`
	}
	outputDoc struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	}
	runsDoc struct {
		Using          string            `yaml:"using"`
		Image          string            `yaml:"image"`
		Entrypoint     string            `yaml:"entrypoint"`
		PreEntrypoint  string            `yaml:"pre-entrypoint"`
		PostEntrypoint string            `yaml:"post-entrypoint"`
		PreIf          string            `yaml:"pre-if"`
		PostIf         string            `yaml:"post-if"`
		Args           yaml.Node         `yaml:"args"`
		Env            map[string]string `yaml:"env"`
		Steps          []CompositeStep   `yaml:"steps"`
	}
)

// ParseAction parses the contents of an action.yml file (YAML, one
// document). It checks the file's shape only; Validate checks the
// expressions.
func ParseAction(data []byte) (*Action, error) {
	var doc actionDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("action metadata: runs is missing")
		}
		return nil, fmt.Errorf("action metadata: %w", err)
	}
	a := &Action{Name: doc.Name, Description: doc.Description}
	err := eachEntry(&doc.Inputs, "inputs", func(name string, v *yaml.Node) error {
		var spec inputDoc
		if err := v.Decode(&spec); err != nil {
			return fmt.Errorf("input %q: %w", name, err)
		}
		in := Input{Name: name, Description: spec.Description, DeprecationMessage: spec.DeprecationMessage}
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
		err = eachEntry(&doc.Outputs, "outputs", func(name string, v *yaml.Node) error {
			var spec outputDoc
			if err := v.Decode(&spec); err != nil {
				return fmt.Errorf("output %q: %w", name, err)
			}
			a.Outputs = append(a.Outputs, Output{Name: name, Description: spec.Description, Value: spec.Value})
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("action metadata: %w", err)
	}
	r := doc.Runs
	if r == nil {
		return nil, fmt.Errorf("action metadata: runs is missing")
	}
	a.Runs = Runs{Using: r.Using, Image: r.Image, Entrypoint: r.Entrypoint, PreEntrypoint: r.PreEntrypoint,
		PostEntrypoint: r.PostEntrypoint, PreIf: r.PreIf, PostIf: r.PostIf, Env: r.Env, Steps: r.Steps}
	if r.Args.Kind != 0 && r.Args.Tag != "!!null" {
		if r.Args.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("action metadata: line %d: runs.args is not a sequence", r.Args.Line)
		}
		if err := r.Args.Decode(&a.Runs.Args); err != nil {
			return nil, fmt.Errorf("action metadata: runs.args: %w", err)
		}
	}
	if a.Runs.Using == "" {
		return nil, fmt.Errorf("action metadata: runs.using is missing")
	}
	return a, nil
}

// eachEntry calls fn for every key of a mapping node, in file order. An
// absent or empty node has no entries; a null value is passed as an empty
// mapping.
func eachEntry(n *yaml.Node, what string, fn func(name string, v *yaml.Node) error) error {
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s is not a mapping", n.Line, what)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Tag == "!!null" {
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		if err := fn(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

// Input returns the input named name (compared case-insensitively, as the
// runner does).
func (a *Action) Input(name string) (Input, bool) {
	for _, in := range a.Inputs {
		if strings.EqualFold(in.Name, name) {
			return in, true
		}
	}
	return Input{}, false
}

// Output returns the output named name (compared case-insensitively).
func (a *Action) Output(name string) (Output, bool) {
	for _, out := range a.Outputs {
		if strings.EqualFold(out.Name, name) {
			return out, true
		}
	}
	return Output{}, false
}

// InputEnvName returns the environment variable the runner sets for an
// input: "INPUT_" + the name with spaces turned into '_', upper-cased. Dashes
// are kept: "registry-name" becomes "INPUT_REGISTRY-NAME".
func InputEnvName(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
}

// StateEnvName returns the environment variable under which the post stage
// receives a value the main stage saved with GITHUB_STATE.
func StateEnvName(name string) string {
	return "STATE_" + name
}

// Contexts is what an expression in one key of action.yml may use: the
// named values (contexts) and the functions beyond the built-in ones
// (contains, startsWith, endsWith, format, join, toJSON, fromJSON), as the
// runner's schema for action metadata (src/Runner.Worker/action_yaml.json in
// actions/runner) lists them for that key.
type Contexts struct {
	Names     []string
	Functions []string
}

// The contexts of each key of action.yml, from the runner's schema.
var (
	// ArgsContexts apply to runs.args and runs.env of a container action.
	ArgsContexts = Contexts{Names: []string{"inputs"}}
	// InputDefaultContexts apply to inputs.<name>.default.
	InputDefaultContexts = Contexts{Names: []string{"github", "strategy", "matrix", "job", "runner"}, Functions: []string{"hashFiles"}}
	// OutputValueContexts apply to a composite action's outputs.<name>.value.
	OutputValueContexts = Contexts{Names: []string{"github", "strategy", "matrix", "steps", "inputs", "job", "runner", "env"}}
	// StepContexts apply to a composite step's name, run, shell,
	// working-directory, continue-on-error, with and env.
	StepContexts = Contexts{Names: []string{"github", "inputs", "strategy", "matrix", "steps", "job", "runner", "env"}, Functions: []string{"hashFiles"}}
	// StepIfContexts apply to a composite step's if.
	StepIfContexts = Contexts{Names: StepContexts.Names, Functions: []string{"hashFiles", "always", "failure", "cancelled", "success"}}
)

var builtinFunctions = []string{"contains", "startswith", "endswith", "format", "join", "tojson", "fromjson"}

// ExpressionError is an expression the runner would refuse; the action fails
// to load.
type ExpressionError struct {
	Key    string // the action.yml key, like runs.args[0]
	Reason string // the runner's message
}

func (e *ExpressionError) Error() string {
	return fmt.Sprintf("action metadata: %s: %s", e.Key, e.Reason)
}

// Validate checks every expression of the action against the contexts the
// runner allows for its key, the way the runner does when it loads the
// action (before any step runs): runs.args and runs.env may use inputs only,
// input defaults github, runner, job, matrix, strategy and hashFiles(), a
// composite action's output values and steps their own lists. The first
// refused expression is returned as an *ExpressionError whose message is
// the runner's ("Unrecognized named-value: 'github'. Located at position 1
// within expression: github.workspace").
func (a *Action) Validate() error {
	for _, in := range a.Inputs {
		if err := CheckExpressions(in.Default, InputDefaultContexts); err != nil {
			return &ExpressionError{Key: "inputs." + in.Name + ".default", Reason: err.Error()}
		}
	}
	for _, out := range a.Outputs {
		if err := CheckExpressions(out.Value, OutputValueContexts); err != nil {
			return &ExpressionError{Key: "outputs." + out.Name + ".value", Reason: err.Error()}
		}
	}
	for i, arg := range a.Runs.Args {
		if err := CheckExpressions(arg, ArgsContexts); err != nil {
			return &ExpressionError{Key: fmt.Sprintf("runs.args[%d]", i), Reason: err.Error()}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.Runs.Env)) {
		if err := CheckExpressions(a.Runs.Env[k], ArgsContexts); err != nil {
			return &ExpressionError{Key: "runs.env." + k, Reason: err.Error()}
		}
	}
	for i, s := range a.Runs.Steps {
		key := fmt.Sprintf("runs.steps[%d]", i)
		fields := map[string]string{"name": s.Name, "run": s.Run, "shell": s.Shell,
			"working-directory": s.WorkingDirectory, "continue-on-error": s.ContinueOnError}
		for k, v := range s.With {
			fields["with."+k] = v
		}
		for k, v := range s.Env {
			fields["env."+k] = v
		}
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			if err := CheckExpressions(fields[k], StepContexts); err != nil {
				return &ExpressionError{Key: key + "." + k, Reason: err.Error()}
			}
		}
		if cond := strings.TrimSpace(s.If); cond != "" {
			if !strings.Contains(cond, "${{") {
				cond = "${{ " + cond + " }}"
			}
			if err := CheckExpressions(cond, StepIfContexts); err != nil {
				return &ExpressionError{Key: key + ".if", Reason: err.Error()}
			}
		}
	}
	return nil
}

// CheckExpressions checks every `${{ }}` expression in s: each named value
// (a context such as github or inputs) must be in allowed.Names and each
// function call a built-in one or in allowed.Functions. The error is the
// runner's message for the first one that is not.
func CheckExpressions(s string, allowed Contexts) error {
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			return nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return fmt.Errorf("expression %q: missing }}", s[i:])
		}
		if err := checkExpression(strings.TrimSpace(s[i+3:i+j]), allowed); err != nil {
			return err
		}
		s = s[i+j+2:]
	}
}

// checkExpression tokenises one expression just enough to find its named
// values and function names: string literals are skipped, an identifier
// after '.' is a property, one followed by '(' a function.
func checkExpression(expr string, allowed Contexts) error {
	prevDot := false
	for p := 0; p < len(expr); {
		c := expr[p]
		switch {
		case c == '\'':
			q := p + 1
			for q < len(expr) {
				if expr[q] == '\'' {
					if q+1 < len(expr) && expr[q+1] == '\'' {
						q += 2
						continue
					}
					break
				}
				q++
			}
			if q >= len(expr) {
				return refused("Unexpected symbol: '%s'. Located at position %d within expression: %s", expr[p:], p+1, expr)
			}
			p, prevDot = q+1, false
		case isIdentStart(c):
			q := p
			for q < len(expr) && isIdentPart(expr[q]) {
				q++
			}
			name := expr[p:q]
			r := q
			for r < len(expr) && expr[r] == ' ' {
				r++
			}
			isCall := r < len(expr) && expr[r] == '('
			lower := strings.ToLower(name)
			switch {
			case prevDot:
			case isCall:
				if !slices.Contains(builtinFunctions, lower) && !containsFold(allowed.Functions, name) {
					return refused("Unrecognized function: '%s'. Located at position %d within expression: %s", name, p+1, expr)
				}
			case lower == "true" || lower == "false" || lower == "null" || lower == "nan" || lower == "infinity":
			default:
				if !containsFold(allowed.Names, name) {
					return refused("Unrecognized named-value: '%s'. Located at position %d within expression: %s", name, p+1, expr)
				}
			}
			p, prevDot = q, false
		case c >= '0' && c <= '9':
			for p < len(expr) && (isIdentPart(expr[p]) || expr[p] == '.') {
				p++
			}
			prevDot = false
		default:
			prevDot = c == '.'
			p++
		}
	}
	return nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdentPart(c byte) bool { return isIdentStart(c) || c == '-' || c >= '0' && c <= '9' }

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// refusal is the runner's message for an expression it refuses.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refused(format string, args ...any) error { return &refusal{fmt.Sprintf(format, args...)} }

// Evaluate replaces every `${{ expr }}` in s. An expression is either a
// context reference such as `github.workspace`, `runner.temp` or
// `inputs.registry-name` (looked up with lookup, which gets the lower-cased
// reference) or a single-quoted string literal. Anything else is an error:
// the harness supports only what action metadata needs, and says so instead
// of guessing.
func Evaluate(s string, lookup func(ref string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("expression %q: missing }}", s[i:])
		}
		expr := strings.TrimSpace(s[i+3 : i+j])
		v, err := evalExpr(expr, lookup)
		if err != nil {
			return "", err
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+2:]
	}
}

func evalExpr(expr string, lookup func(string) (string, bool)) (string, error) {
	if len(expr) >= 2 && expr[0] == '\'' && expr[len(expr)-1] == '\'' {
		inner := expr[1 : len(expr)-1]
		if strings.Count(strings.ReplaceAll(inner, "''", ""), "'") == 0 {
			return strings.ReplaceAll(inner, "''", "'"), nil
		}
	}
	for _, r := range expr {
		if !(r == '.' || r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", fmt.Errorf("expression %q is not supported by the runner emulation (only context references and string literals)", expr)
		}
	}
	if !strings.Contains(expr, ".") {
		return "", fmt.Errorf("expression %q is not a context reference", expr)
	}
	ref := strings.ToLower(expr)
	v, ok := lookup(ref)
	if !ok {
		return "", fmt.Errorf("expression %q: unknown context value in the runner emulation", expr)
	}
	return v, nil
}

// Entry is one name/value pair read from a file-command file (GITHUB_ENV,
// GITHUB_OUTPUT or GITHUB_STATE), in the order the file holds it.
type Entry struct {
	Name  string
	Value string
}

// FileCommandError reports a file-command file the runner would reject. The
// real runner fails the step with this message; the harness treats it as a
// test failure.
type FileCommandError struct {
	File string // "GITHUB_ENV", "GITHUB_OUTPUT", ...
	Msg  string // the runner's reason, e.g. "matching delimiter not found"
}

// Error returns the file and the runner's reason.
func (e *FileCommandError) Error() string {
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseFileCommand parses the contents of a GITHUB_ENV, GITHUB_OUTPUT or
// GITHUB_STATE file exactly as the Linux runner does: `name=value` lines and
// `name<<DELIM` heredocs whose value runs up to a line equal to DELIM. Lines
// end at "\n" only; a "\r" stays part of the line (and of the value), as on the
// runner for Linux. A leading UTF-8 byte order mark is dropped. file names the
// file for error messages.
//
// The returned error is a *FileCommandError for: a line that is neither form,
// an empty name, an empty delimiter, a heredoc without its end delimiter, and
// a heredoc value line that is the last line of the file without a newline.
func ParseFileCommand(file string, data []byte) ([]Entry, error) {
	text := string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	var entries []Entry
	index := 0
	for {
		line, _, ok := readLine(text, &index)
		if !ok {
			return entries, nil
		}
		if line == "" {
			continue
		}
		eq := strings.Index(line, "=")
		hd := strings.Index(line, "<<")
		switch {
		case eq >= 0 && (hd < 0 || eq < hd):
			name, value := line[:eq], line[eq+1:]
			if name == "" {
				return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid format %q: name must not be empty", line)}
			}
			entries = append(entries, Entry{Name: name, Value: value})
		case hd >= 0 && (eq < 0 || hd < eq):
			name, delim := line[:hd], line[hd+2:]
			if name == "" || delim == "" {
				return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid format %q: name must not be empty and delimiter must not be empty", line)}
			}
			start, end := index, index
			for {
				l, nl, ok := readLine(text, &index)
				if ok && l == delim {
					break
				}
				if !ok {
					return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid value: matching delimiter not found %q", delim)}
				}
				if !nl {
					return entries, &FileCommandError{File: file, Msg: "invalid value: EOF marker missing new line"}
				}
				end = index - 1
			}
			value := ""
			if end > start {
				value = text[start:end]
			}
			entries = append(entries, Entry{Name: name, Value: value})
		default:
			return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid format %q", line)}
		}
	}
}

// readLine reads the line starting at *index. ok is false at the end of text;
// nl reports whether the line ended with "\n".
func readLine(text string, index *int) (line string, nl, ok bool) {
	if *index >= len(text) {
		return "", false, false
	}
	start := *index
	i := strings.IndexByte(text[start:], '\n')
	if i < 0 {
		*index = len(text)
		return text[start:], false, true
	}
	*index = start + i + 1
	return text[start : start+i], true, true
}

// ParsePathFile parses a GITHUB_PATH file the way the runner does: every
// non-empty line (split on "\n", "\r\n" or "\r") is a directory to prepend to
// PATH; a later line comes before an earlier one. The result is in the order
// the lines appear.
func ParsePathFile(data []byte) []string {
	text := string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	var dirs []string
	for _, l := range strings.Split(text, "\n") {
		if l != "" {
			dirs = append(dirs, l)
		}
	}
	return dirs
}

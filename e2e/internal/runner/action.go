package runner

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Action is what the runner reads from an action's metadata file
// (action.yml): its inputs with their defaults, its outputs and how it runs.
type Action struct {
	Inputs  []Input  // in file order
	Outputs []Output // in file order
	Runs    Runs
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
	Using          string            `yaml:"using"`
	Image          string            `yaml:"image"` // "Dockerfile" or "docker://..."
	PostEntrypoint string            `yaml:"post-entrypoint"`
	Args           []string          `yaml:"args"`
	Env            map[string]string `yaml:"env"`
	// Steps are a composite action's steps (using: composite).
	Steps []CompositeStep `yaml:"steps"`
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
	a, err := parseAction(data)
	if err == nil {
		err = a.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// parseAction parses the contents of an action.yml file. It checks the
// file's shape only; Validate checks the expressions.
func parseAction(data []byte) (*Action, error) {
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
		Description        string  `yaml:"description"`
		Required           string  `yaml:"required"`
		Default            *string `yaml:"default"`
		DeprecationMessage string  `yaml:"deprecationMessage"`
	}
	err := eachEntry(&doc.Inputs, "inputs", func(name string, spec inputDoc) error {
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

// eachEntry decodes every value of a mapping node into a T and calls fn with
// its key, in file order. An absent or null node has no entries; a null
// value is a zero T.
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

// inputEnvName returns the environment variable the runner sets for an
// input: "INPUT_" + the name with spaces turned into '_', upper-cased. Dashes
// are kept: "registry-name" becomes "INPUT_REGISTRY-NAME".
func inputEnvName(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
}

// contexts is what an expression in one key of action.yml may use: the
// named values (contexts) and the functions beyond the built-in ones
// (contains, startsWith, endsWith, format, join, toJSON, fromJSON), as the
// runner's schema for action metadata (src/Runner.Worker/action_yaml.json in
// actions/runner) lists them for that key.
type contexts struct {
	names, functions []string
}

// The contexts of each key of action.yml, from the runner's schema.
var (
	// argsContexts apply to runs.args and runs.env of a container action.
	argsContexts = contexts{names: []string{"inputs"}}
	// inputDefaultContexts apply to inputs.<name>.default.
	inputDefaultContexts = contexts{names: []string{"github", "strategy", "matrix", "job", "runner"}, functions: []string{"hashFiles"}}
	// outputValueContexts apply to a composite action's outputs.<name>.value.
	outputValueContexts = contexts{names: []string{"github", "strategy", "matrix", "steps", "inputs", "job", "runner", "env"}}
	// stepContexts apply to a composite step's name, run, shell,
	// working-directory, continue-on-error, with and env.
	stepContexts = contexts{names: outputValueContexts.names, functions: []string{"hashFiles"}}
	// stepIfContexts apply to a composite step's if.
	stepIfContexts = contexts{names: stepContexts.names, functions: []string{"hashFiles", "always", "failure", "cancelled", "success"}}
)

var builtinFunctions = []string{"contains", "startswith", "endswith", "format", "join", "tojson", "fromjson"}

// Validate checks every expression of the action against the contexts the
// runner allows for its key, the way the runner does when it loads the
// action (before any step runs): runs.args and runs.env may use inputs only,
// input defaults github, runner, job, matrix, strategy and hashFiles(), a
// composite action's output values and steps their own lists. The error for
// the first refused expression carries the runner's message ("runs.args[0]:
// Unrecognized named-value: 'github'. Located at position 1 within
// expression: github.workspace").
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

// expressions calls fn for every `${{ expr }}` in s, with expr trimmed, and
// returns s with each expression replaced by what fn returned.
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

// exprToken is a named value with its properties (github.workspace), a
// function name or a number, in an expression outside string literals.
var exprToken = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*|[0-9][A-Za-z0-9_.-]*`)

// checkExpression refuses, with the runner's message, a named value (a
// context such as github) not in allowed.names and a call of a function
// neither built in nor in allowed.functions. String literals ('it”s') are
// skipped: split at quotes, the even parts are outside them.
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
		for _, m := range exprToken.FindAllStringIndex(part, -1) {
			name, _, dotted := strings.Cut(part[m[0]:m[1]], ".")
			switch lower := strings.ToLower(name); {
			case i%2 == 1: // inside a literal
			case name[0] >= '0' && name[0] <= '9' || m[0] > 0 && part[m[0]-1] == '.': // a number or a property
			case !dotted && strings.HasPrefix(strings.TrimLeft(part[m[1]:], " "), "("):
				if !slices.Contains(builtinFunctions, lower) && !containsFold(allowed.functions, name) {
					return refused("Unrecognized function: '%s'. Located at position %d within expression: %s", name, offset+m[0]+1, expr)
				}
			case slices.Contains([]string{"true", "false", "null", "nan", "infinity"}, lower):
			case !containsFold(allowed.names, name):
				return refused("Unrecognized named-value: '%s'. Located at position %d within expression: %s", name, offset+m[0]+1, expr)
			}
		}
		offset += len(part) + 1
	}
	return nil
}

// refused is the runner's message for an expression it refuses, capitalised
// as the runner writes it.
func refused(format string, args ...any) error { return refusal(fmt.Sprintf(format, args...)) }

type refusal string

func (r refusal) Error() string { return string(r) }

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}

// contextRef is the one kind of expression Evaluate supports.
var contextRef = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$`)

// Evaluate replaces every `${{ expr }}` in s. An expression must be a
// context reference such as `github.workspace`, `runner.temp` or
// `inputs.registry-name`, looked up with lookup, which gets the lower-cased
// reference. Anything else is an error: the harness supports only what
// action metadata needs, and says so instead of guessing.
func Evaluate(s string, lookup func(ref string) (string, bool)) (string, error) {
	return expressions(s, func(expr string) (string, error) {
		if !contextRef.MatchString(expr) {
			return "", fmt.Errorf("expression %q is not supported by the runner emulation (only context references)", expr)
		}
		v, ok := lookup(strings.ToLower(expr))
		if !ok {
			return "", fmt.Errorf("expression %q: unknown context value in the runner emulation", expr)
		}
		return v, nil
	})
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

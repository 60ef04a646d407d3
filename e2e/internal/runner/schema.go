package runner

import (
	"fmt"
	"slices"
	"strings"
)

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
	for _, k := range sortedKeys(a.Runs.Env) {
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
		for _, k := range sortedKeys(fields) {
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

package runner

import (
	"fmt"
	"strings"
)

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

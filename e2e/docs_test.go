package e2e

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
)

func TestCLIHelpVersionPlugin(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		want     string
		wantCode int
	}{
		{[]string{"--help"}, "Usage:", 0},
		{[]string{"--version"}, "cargo-oidc e2e", 0},
		{[]string{"--bogus"}, "Usage:", 2},
		{[]string{"extra"}, "Usage:", 2},
		{[]string{"--cargo-plugin"}, "{\"v\":[1]}\n", 0},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.wantCode || !strings.Contains(string(out), tt.want) {
			t.Errorf("cargo-oidc %v: exit %d, output %q; want exit %d with %q", tt.args, code, out, tt.wantCode, tt.want)
		}
	}
}

// actionEntries reads action.yml's inputs or outputs: name, default and
// description, in order.
func docActionEntries(t *testing.T, section string) [][3]string {
	t.Helper()
	data, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var out [][3]string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if regexp.MustCompile(`^[a-z]+:`).MatchString(line) {
			in = strings.HasPrefix(line, section+":")
			continue
		}
		if !in {
			continue
		}
		if m := regexp.MustCompile(`^  ([a-z-]+):$`).FindStringSubmatch(line); m != nil {
			out = append(out, [3]string{m[1]})
		} else if m := regexp.MustCompile(`^    (default|description): "?(.*?)"?$`).FindStringSubmatch(line); m != nil && len(out) > 0 {
			if m[1] == "default" {
				out[len(out)-1][1] = m[2]
			} else {
				out[len(out)-1][2] = m[2]
			}
		}
	}
	return out
}

// TestReadmeTablesMatchActionYML keeps README.md's inputs and outputs tables
// identical to action.yml: same names, order, defaults and descriptions.
func TestReadmeTablesMatchActionYML(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"inputs", "outputs"} {
		start := strings.Index(string(readme), "<!-- "+section+":begin -->")
		end := strings.Index(string(readme), "<!-- "+section+":end -->")
		if start < 0 || end < start {
			t.Fatalf("README.md has no %s table markers", section)
		}
		var rows []string
		for _, line := range strings.Split(string(readme)[start:end], "\n") {
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		var want []string
		for _, e := range docActionEntries(t, section) {
			desc := strings.ReplaceAll(e[2], "|", `\|`)
			if section == "outputs" {
				want = append(want, "| `"+e[0]+"` | "+desc+" |")
				continue
			}
			def := ""
			if e[1] != "" {
				def = "`" + e[1] + "`"
			}
			want = append(want, "| `"+e[0]+"` | "+def+" | "+desc+" |")
		}
		if len(want) == 0 {
			t.Fatalf("no %s read from action.yml", section)
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("README.md %s table differs from action.yml.\nREADME:\n%s\naction.yml:\n%s", section, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestActionYMLMatchesConfig keeps action.yml's inputs and defaults the
// ones the code reads.
func TestActionYMLMatchesConfig(t *testing.T) {
	t.Parallel()
	var names []string
	for _, e := range docActionEntries(t, "inputs") {
		if slices.Contains(config.RunnerInputs, e[0]) {
			continue // read from runs.args, not as an input
		}
		names = append(names, e[0])
		if got := config.Default(e[0]); got != e[1] {
			t.Errorf("input %s: action.yml default %q, code default %q", e[0], e[1], got)
		}
	}
	if strings.Join(names, " ") != strings.Join(config.Inputs, " ") {
		t.Errorf("action.yml inputs %v\ncode inputs %v", names, config.Inputs)
	}
}

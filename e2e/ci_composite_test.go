package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// compositeRewriteStep is the name of the step of ci.yml's composite job
// that points examples/composite at the checkout.
const compositeRewriteStep = "point examples/composite at this checkout"

// TestCICompositeTestsThisCheckout runs the script of ci.yml's composite
// job that rewrites examples/composite/action.yml, as GitHub runs a bash
// step, on the example as committed and on variants: it must turn the
// example's one `uses: cargo-oidc/cargo-oidc@v1` into `uses: ./` (this
// checkout) and change nothing else, and fail, leaving the file alone, when
// it cannot find exactly one such reference, so the job never tests the
// release, or nothing, by mistake. The rewrite must come before the step
// that runs ./examples/composite.
func TestCICompositeTestsThisCheckout(t *testing.T) {
	t.Parallel()
	bash := harness.Tool(t, "bash", "install bash (with grep and sed)")
	root := harness.Root(t)
	doc, err := parseYAML([]byte(readFile(t, filepath.Join(root, ".github/workflows/ci.yml"))))
	if err != nil {
		t.Fatal(err)
	}
	rewrite, uses := -1, -1
	var script string
	for i, st := range yitems(yget(doc, "jobs", "composite", "steps")) {
		switch {
		case ystr(yget(st, "name")) == compositeRewriteStep:
			rewrite, script = i, ystr(yget(st, "run"))
		case strings.TrimSuffix(ystr(yget(st, "uses")), "/") == "./examples/composite" && uses < 0:
			uses = i
		}
	}
	if rewrite < 0 || script == "" || uses < 0 || rewrite > uses {
		t.Fatalf("ci.yml's composite job: step %q at %d, uses: ./examples/composite at %d; want the rewrite first", compositeRewriteStep, rewrite, uses)
	}
	example := readFile(t, filepath.Join(root, "examples/composite/action.yml"))
	const ref = "    - uses: cargo-oidc/cargo-oidc@v1\n"
	if strings.Count(example, ref) != 1 {
		t.Fatalf("examples/composite/action.yml has %d lines %q, want 1", strings.Count(example, ref), ref)
	}
	step, _, _ := strings.Cut(example[strings.Index(example, ref):], "\n\n")
	tests := []struct {
		name, in string
		want     string // "" = the step fails with an ::error:: and leaves the file alone
	}{
		{"the example", example, strings.Replace(example, ref, "    - uses: ./\n", 1)},
		{"uses after id", strings.Replace(example, ref+"      id: cargo-oidc\n", "    - id: cargo-oidc\n      uses: cargo-oidc/cargo-oidc@v1\n", 1),
			strings.Replace(example, ref+"      id: cargo-oidc\n", "    - id: cargo-oidc\n      uses: ./\n", 1)},
		{"another release", strings.ReplaceAll(example, "cargo-oidc/cargo-oidc@v1", "cargo-oidc/cargo-oidc@v2"), ""},
		{"pinned to a commit", strings.Replace(example, ref, "    - uses: cargo-oidc/cargo-oidc@0123456789abcdef0123456789abcdef01234567 # v1\n", 1), ""},
		{"two steps", strings.Replace(example, step, step+"\n"+strings.Replace(step, "id: cargo-oidc", "id: again", 1), 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := writeFile(t, filepath.Join(dir, "examples/composite/action.yml"), tt.in, 0o644)
			scriptFile := writeFile(t, filepath.Join(t.TempDir(), "step.sh"), script, 0o644)
			// How GitHub runs a step with shell: bash.
			cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", scriptFile)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			got, rerr := os.ReadFile(file)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if tt.want == "" {
				if err == nil || !strings.Contains(string(out), "::error title=composite::") {
					t.Errorf("the step succeeded or said nothing (%v):\n%s", err, out)
				}
				if string(got) != tt.in {
					t.Error("a failed step changed the file")
				}
				return
			}
			if err != nil {
				t.Fatalf("the step failed: %v\n%s", err, out)
			}
			if string(got) != tt.want {
				t.Errorf("rewritten file:\n%s\nwant:\n%s", got, tt.want)
			}
			if _, err := os.Stat(file + ".pr"); !os.IsNotExist(err) {
				t.Errorf("the step left %s.pr behind", file)
			}
		})
	}
}

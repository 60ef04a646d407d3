package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

const sampleAction = `# A comment
name: fake action
description: >-
  Folded text
  over two lines.
inputs:
  registry-name:
    description: "Name: with a colon # and a hash"
    required: false
    default: artifactory
  provider:
    description: 'It''s required'
    required: true
  with space:
    description: |
      Line one
      Line two
    default: ""   # empty default
  ws-default:
    description: plain text that
      continues here
    default: ${{ github.workspace }}/x
  no-spec:
outputs:
  token:
    description: The token
  index-url:
    description: "The index"
runs:
  using: docker
  image: Dockerfile
  args:
    - --host-workspace=${{ github.workspace }}
    - "--host-temp=${{ runner.temp }}"
  env:
    FROM_RUNS: "${{ inputs.registry-name }}"
  post-entrypoint: /cargo-oidc-post
`

// TestValidate holds the runner's rules for which contexts each key of
// action.yml may use (action_yaml.json in actions/runner): what GitHub
// refuses to load is refused here too, with the runner's message.
func TestValidate(t *testing.T) {
	t.Parallel()
	const head = "name: x\n"
	docker := func(body string) string { return head + body }
	for _, tc := range []struct {
		name, doc string
		want      string // "" means valid
	}{
		{"args inputs", docker("runs:\n  using: docker\n  image: Dockerfile\n  args:\n    - --a=${{ inputs.a }}\n"), ""},
		{"args github", docker("runs:\n  using: docker\n  args:\n    - --host-workspace=${{ github.workspace }}\n"),
			"runs.args[0]: Unrecognized named-value: 'github'. Located at position 1 within expression: github.workspace"},
		{"args runner", docker("runs:\n  using: docker\n  args:\n    - x\n    - ${{ runner.temp }}\n"),
			"runs.args[1]: Unrecognized named-value: 'runner'"},
		{"args env", docker("runs:\n  using: docker\n  args:\n    - ${{ env.HOME }}\n"), "Unrecognized named-value: 'env'"},
		{"args hashFiles", docker("runs:\n  using: docker\n  args:\n    - ${{ hashFiles('x') }}\n"), "Unrecognized function: 'hashFiles'"},
		{"args builtin function", docker("runs:\n  using: docker\n  args:\n    - ${{ format('{0}', inputs.a) }}\n"), ""},
		{"args string literal", docker("runs:\n  using: docker\n  args:\n    - ${{ 'github.workspace' }}\n"), ""},
		{"args second expression", docker("runs:\n  using: docker\n  args:\n    - ${{ inputs.a }}/${{ github.sha }}\n"),
			"Located at position 1 within expression: github.sha"},
		{"args position", docker("runs:\n  using: docker\n  args:\n    - ${{ inputs.a || secrets.X }}\n"),
			"Unrecognized named-value: 'secrets'. Located at position 13 within expression: inputs.a || secrets.X"},
		{"env inputs", docker("runs:\n  using: docker\n  env:\n    A: ${{ inputs.a }}\n"), ""},
		{"env github", docker("runs:\n  using: docker\n  env:\n    A: ${{ github.token }}\n"), "runs.env.A: Unrecognized named-value: 'github'"},
		{"default github runner", docker("inputs:\n  a:\n    default: ${{ github.workspace }}:${{ runner.temp }}:${{ job.status }}\nruns:\n  using: docker\n"), ""},
		{"default matrix strategy hashFiles", docker("inputs:\n  a:\n    default: ${{ matrix.os }}-${{ strategy.job-index }}-${{ hashFiles('Cargo.lock') }}\nruns:\n  using: docker\n"), ""},
		{"default inputs", docker("inputs:\n  a:\n    default: ${{ inputs.b }}\nruns:\n  using: docker\n"), "inputs.a.default: Unrecognized named-value: 'inputs'"},
		{"default env", docker("inputs:\n  a:\n    default: ${{ env.X }}\nruns:\n  using: docker\n"), "Unrecognized named-value: 'env'"},
		{"default secrets", docker("inputs:\n  a:\n    default: ${{ secrets.X }}\nruns:\n  using: docker\n"), "Unrecognized named-value: 'secrets'"},
		{"default steps", docker("inputs:\n  a:\n    default: ${{ steps.x.outputs.y }}\nruns:\n  using: docker\n"), "Unrecognized named-value: 'steps'"},
		{"output value steps", docker("outputs:\n  t:\n    value: ${{ steps.a.outputs.t }}${{ env.X }}${{ inputs.y }}${{ github.sha }}\nruns:\n  using: composite\n"), ""},
		{"output value secrets", docker("outputs:\n  t:\n    value: ${{ secrets.T }}\nruns:\n  using: composite\n"), "outputs.t.value: Unrecognized named-value: 'secrets'"},
		{"output value hashFiles", docker("outputs:\n  t:\n    value: ${{ hashFiles('x') }}\nruns:\n  using: composite\n"), "Unrecognized function: 'hashFiles'"},
		{"composite step with", docker("runs:\n  using: composite\n  steps:\n    - uses: ./\n      if: always() && inputs.a == 'x'\n      with:\n        a: ${{ inputs.a }}${{ env.B }}\n"), ""},
		{"composite step secrets", docker("runs:\n  using: composite\n  steps:\n    - run: echo ${{ secrets.X }}\n      shell: bash\n"), "runs.steps[0].run: Unrecognized named-value: 'secrets'"},
		{"composite step if", docker("runs:\n  using: composite\n  steps:\n    - run: x\n      shell: bash\n      if: ${{ vars.X }}\n"), "runs.steps[0].if: Unrecognized named-value: 'vars'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := ParseAction([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			err = a.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid action refused: %v", err)
				}
				return
			}
			var ee *ExpressionError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an *ExpressionError containing %q", err, tc.want)
			}
		})
	}
}

// TestLoadActionRefuses proves that an action GitHub's runner would refuse
// does not load, and that the job refuses to run one built in code.
func TestLoadActionRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "action.yml")
	doc := "name: x\nruns:\n  using: docker\n  image: Dockerfile\n  args:\n    - --host-workspace=${{ github.workspace }}\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAction(path); err == nil || !strings.Contains(err.Error(), "Unrecognized named-value: 'github'") {
		t.Fatalf("LoadAction: %v", err)
	}
	a := &Action{Runs: Runs{Using: "docker", Args: []string{"${{ runner.temp }}"}}}
	j := NewJob(t, Options{})
	if _, err := j.RunAction(context.Background(), Host("/bin/true"), a, Step{}); err == nil || !strings.Contains(err.Error(), "Unrecognized named-value: 'runner'") {
		t.Fatalf("RunAction: %v", err)
	}
	if _, err := j.ActionArgs(a, nil); err == nil {
		t.Fatal("ActionArgs accepted runner in runs.args")
	}
}

// TestProjectActionYAML reads the repository's own action.yml and the
// release action.yml made from it: both load under the runner's rules,
// every input with a default arrives as INPUT_<NAME>, and the host paths
// reach runs.args through inputs.
func TestProjectActionYAML(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "..", "action.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := release.ReleaseActionYAML(data, "ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha256:"+strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"action.yml": data, "release action.yml": rel} {
		a, err := ParseAction(doc)
		if err == nil {
			err = a.Validate()
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a.Runs.Using != "docker" || a.Runs.PostEntrypoint == "" || len(a.Inputs) == 0 || len(a.Outputs) == 0 {
			t.Errorf("%s: unexpected metadata: %+v", name, a.Runs)
		}
		for input, def := range map[string]string{"host-workspace": "${{ github.workspace }}", "host-temp": "${{ runner.temp }}"} {
			if in, ok := a.Input(input); !ok || !in.HasDefault || in.Default != def || in.Required {
				t.Errorf("%s: input %s = %+v, want an optional input with default %s", name, input, in, def)
			}
		}
		j := NewJob(t, Options{})
		inputs, _, err := j.ActionInputs(a, Step{Inputs: map[string]string{"provider": "jfrog"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range a.Inputs {
			if _, ok := inputs[in.Name]; in.HasDefault && !ok {
				t.Errorf("%s: input %s has a default but would not arrive as %s", name, in.Name, InputEnvName(in.Name))
			}
		}
		args, err := j.ActionArgs(a, inputs)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"--host-workspace=" + j.Workspace(), "--host-temp=" + j.Temp()}
		if !reflect.DeepEqual(args, want) {
			t.Errorf("%s: args %q, want %q", name, args, want)
		}
	}
}

func TestInputEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"registry-name":  "INPUT_REGISTRY-NAME",
		"provider":       "INPUT_PROVIDER",
		"with space":     "INPUT_WITH_SPACE",
		"Mixed_Case-x y": "INPUT_MIXED_CASE-X_Y",
	} {
		if got := InputEnvName(in); got != want {
			t.Errorf("InputEnvName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := StateEnvName("token_file"); got != "STATE_token_file" {
		t.Errorf("StateEnvName = %q", got)
	}
}

// FuzzParseAction checks that reading and validating action metadata never
// panics or loops.
func FuzzParseAction(f *testing.F) {
	f.Add([]byte(sampleAction))
	f.Add([]byte("a:\n- b\n- c: d\n  e: f\n"))
	f.Add([]byte("a: |+\n  x\n\n"))
	f.Add([]byte("a: ['x', \"y\\u0041\", z]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if a, err := ParseAction(data); err == nil {
			_ = a.Validate()
		}
	})
}

// TestTestOnlyDependencies keeps the YAML reader (and the other test-only
// modules) out of the shipped binary.
func TestTestOnlyDependencies(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Dir = filepath.Join("..", "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	for _, mod := range []string{"go.yaml.in/yaml", "gopkg.in/yaml", "github.com/go-jose/", "github.com/google/go-containerregistry"} {
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, mod) {
				t.Errorf("the binary depends on %s, a test-only module", pkg)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/cargo-oidc/cargo-oidc/internal/action") {
		t.Fatalf("go list -deps . printed no package of the project:\n%s", out)
	}
}

package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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

func TestParseAction(t *testing.T) {
	t.Parallel()
	a, err := ParseAction([]byte(sampleAction))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "fake action" || a.Description != "Folded text over two lines." {
		t.Errorf("name %q, description %q", a.Name, a.Description)
	}
	want := []Input{
		{Name: "registry-name", Description: "Name: with a colon # and a hash", Default: "artifactory", HasDefault: true},
		{Name: "provider", Description: "It's required", Required: true},
		{Name: "with space", Description: "Line one\nLine two\n", Default: "", HasDefault: true},
		{Name: "ws-default", Description: "plain text that continues here", Default: "${{ github.workspace }}/x", HasDefault: true},
		{Name: "no-spec"},
	}
	if !reflect.DeepEqual(a.Inputs, want) {
		t.Errorf("inputs:\n got %+v\nwant %+v", a.Inputs, want)
	}
	if wantOut := []Output{{"token", "The token"}, {"index-url", "The index"}}; !reflect.DeepEqual(a.Outputs, wantOut) {
		t.Errorf("outputs %+v", a.Outputs)
	}
	wantRuns := Runs{
		Using: "docker", Image: "Dockerfile", PostEntrypoint: "/cargo-oidc-post",
		Args: []string{"--host-workspace=${{ github.workspace }}", "--host-temp=${{ runner.temp }}"},
		Env:  map[string]string{"FROM_RUNS": "${{ inputs.registry-name }}"},
	}
	if !reflect.DeepEqual(a.Runs, wantRuns) {
		t.Errorf("runs:\n got %+v\nwant %+v", a.Runs, wantRuns)
	}
	if in, ok := a.Input("REGISTRY-NAME"); !ok || in.Name != "registry-name" {
		t.Errorf("Input lookup is not case-insensitive")
	}
}

func TestParseActionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, doc, want string }{
		{"no runs", "name: x\n", "runs is missing"},
		{"no using", "runs:\n  image: Dockerfile\n", "runs.using is missing"},
		{"bad required", "inputs:\n  a:\n    required: maybe\nruns:\n  using: docker\n", "required must be true or false"},
		{"tab", "runs:\n\tusing: docker\n", "tabs"},
		{"flow map", "runs: {using: docker}\n", "flow mappings"},
		{"duplicate", "runs:\n  using: docker\n  using: node20\n", "duplicate key"},
		{"bad indent", "runs:\n  using: docker\n    image: x\n", "line 3"},
		{"args not list", "runs:\n  using: docker\n  args: x\n", "not a sequence"},
		{"not a map", "- a\n- b\n", "not a mapping"},
		{"unterminated quote", "name: \"abc\nruns:\n  using: docker\n", "double-quoted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseAction([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestProjectActionYAML reads the repository's own action.yml, which the
// e2e suite runs: every input default and arg must evaluate.
func TestProjectActionYAML(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "..", "action.yml")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: no action.yml at the repository root yet: %v", err)
	}
	a, err := LoadAction(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "docker" || a.Runs.PostEntrypoint == "" || len(a.Inputs) == 0 || len(a.Outputs) == 0 {
		t.Errorf("unexpected metadata: %+v", a.Runs)
	}
	j := NewJob(t, Options{})
	if _, _, err := j.ActionInputs(a, Step{}); err != nil {
		t.Error(err)
	}
	args, err := j.ActionArgs(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range args {
		if strings.Contains(arg, "${{") {
			t.Errorf("unevaluated arg %q", arg)
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

func TestEvaluate(t *testing.T) {
	t.Parallel()
	lookup := func(ref string) (string, bool) {
		v, ok := map[string]string{"github.workspace": "/w/repo", "runner.temp": "/w/_temp", "inputs.x-y": "val"}[ref]
		return v, ok
	}
	for _, tc := range []struct {
		in, want string
		wantErr  bool
	}{
		{"--host-workspace=${{ github.workspace }}", "--host-workspace=/w/repo", false},
		{"${{runner.temp}}/a ${{ github.workspace }}", "/w/_temp/a /w/repo", false},
		{"${{ GitHub.Workspace }}", "/w/repo", false},
		{"${{ inputs.x-y }}", "val", false},
		{"${{ 'lit''s' }}", "lit's", false},
		{"plain", "plain", false},
		{"${{ github.unknown }}", "", true},
		{"${{ github.workspace == 'x' }}", "", true},
		{"${{ toJSON(github) }}", "", true},
		{"${{ github.workspace", "", true},
	} {
		got, err := Evaluate(tc.in, lookup)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Evaluate(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// FuzzParseAction checks that the YAML reader never panics or loops.
func FuzzParseAction(f *testing.F) {
	f.Add([]byte(sampleAction))
	f.Add([]byte("a:\n- b\n- c: d\n  e: f\n"))
	f.Add([]byte("a: |+\n  x\n\n"))
	f.Add([]byte("a: ['x', \"y\\u0041\", z]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseAction(data)
		_, _ = parseYAML(data)
	})
}

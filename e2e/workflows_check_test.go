package e2e

// The workflow checker of workflows_test.go proven on in-memory samples.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// sampleActions is a small main action and composite for the checker's
// in-memory tests.
func sampleActions() actionSet {
	main := &actionSpec{File: "action.yml", Outputs: []string{"token", "index-url"}, Inputs: map[string]inputSpec{
		"provider":     {Required: true},
		"url":          {Providers: []string{"jfrog", "cloudsmith", "crates-io"}},
		"repository":   {Providers: []string{"jfrog", "cloudsmith"}},
		"service-slug": {Providers: []string{"cloudsmith"}},
		"revoke":       {Providers: []string{"crates-io"}, HasDefault: true},
		"retries":      {HasDefault: true},
	}}
	return actionSet{Main: main, Composite: &actionSpec{File: "examples/composite/action.yml",
		Inputs: map[string]inputSpec{"repository": {Required: true}}, Outputs: []string{"token"}}}
}

// TestWorkflowCheckerCatchesMistakes proves the checker on in-memory samples.
func TestWorkflowCheckerCatchesMistakes(t *testing.T) {
	t.Parallel()
	acts := sampleActions()
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

// FuzzWorkflowChecker: the checks never panic on any YAML (wrong kinds where
// mappings or sequences are expected, aliases, empty documents), and every
// problem names the file it is about.
func FuzzWorkflowChecker(f *testing.F) {
	if root, err := harness.RepoRoot(); err == nil {
		for _, pat := range []string{"examples/*.yml", "examples/composite/action.yml", ".github/workflows/*.yml", "action.yml"} {
			m, _ := filepath.Glob(filepath.Join(root, pat))
			for _, file := range m {
				if b, err := os.ReadFile(file); err == nil {
					f.Add(string(b))
				}
			}
		}
	}
	f.Add("jobs:\n  j:\n    steps:\n      - uses: ./\n        with: [a]\n")
	f.Add("jobs:\n  j:\n    steps: &s\n      - uses: ./\n        id: x\n  k:\n    steps: *s\n")
	f.Add("inputs: {a: {}}\noutputs: {b: 1}\nruns: {using: composite, steps: {}}\n")
	acts := sampleActions()
	f.Fuzz(func(t *testing.T, src string) {
		for _, p := range append(checkWorkflow("w.yml", []byte(src), acts), checkComposite("c.yml", []byte(src), acts)...) {
			if !strings.HasPrefix(p, "w.yml") && !strings.HasPrefix(p, "c.yml") {
				t.Fatalf("problem without its file: %q", p)
			}
		}
	})
}

package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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

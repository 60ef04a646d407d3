package runner

import (
	"fmt"
	"os"
	"strings"
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
}

// LoadAction reads and parses an action.yml file.
func LoadAction(path string) (*Action, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read action metadata: %w", err)
	}
	a, err := ParseAction(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// ParseAction parses the contents of an action.yml file. It understands the
// YAML that action metadata files use (block mappings and sequences, quoted
// and plain scalars, block scalars, flow sequences, comments) and refuses the
// rest with an error naming the line.
func ParseAction(data []byte) (*Action, error) {
	doc, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	top, ok := doc.(*yamlMap)
	if !ok {
		return nil, fmt.Errorf("action metadata: top level is not a mapping")
	}
	a := &Action{}
	if a.Name, err = optString(top, "name"); err != nil {
		return nil, err
	}
	if a.Description, err = optString(top, "description"); err != nil {
		return nil, err
	}
	if v, ok := top.get("inputs"); ok && v != "" {
		m, ok := v.(*yamlMap)
		if !ok {
			return nil, fmt.Errorf("action metadata: inputs is not a mapping")
		}
		for _, name := range m.keys {
			in := Input{Name: name}
			spec, ok := m.values[name].(*yamlMap)
			if !ok {
				if m.values[name] != "" {
					return nil, fmt.Errorf("action metadata: input %q is not a mapping", name)
				}
				spec = &yamlMap{values: map[string]any{}}
			}
			if in.Description, err = optString(spec, "description"); err != nil {
				return nil, err
			}
			req, err := optString(spec, "required")
			if err != nil {
				return nil, err
			}
			switch req {
			case "", "false", "False", "FALSE":
			case "true", "True", "TRUE":
				in.Required = true
			default:
				return nil, fmt.Errorf("action metadata: input %q: required must be true or false, got %q", name, req)
			}
			if _, in.HasDefault = spec.get("default"); in.HasDefault {
				if in.Default, err = optString(spec, "default"); err != nil {
					return nil, err
				}
			}
			if in.DeprecationMessage, err = optString(spec, "deprecationMessage"); err != nil {
				return nil, err
			}
			a.Inputs = append(a.Inputs, in)
		}
	}
	if v, ok := top.get("outputs"); ok && v != "" {
		m, ok := v.(*yamlMap)
		if !ok {
			return nil, fmt.Errorf("action metadata: outputs is not a mapping")
		}
		for _, name := range m.keys {
			out := Output{Name: name}
			if spec, ok := m.values[name].(*yamlMap); ok {
				if out.Description, err = optString(spec, "description"); err != nil {
					return nil, err
				}
			}
			a.Outputs = append(a.Outputs, out)
		}
	}
	v, ok := top.get("runs")
	if !ok {
		return nil, fmt.Errorf("action metadata: runs is missing")
	}
	runs, ok := v.(*yamlMap)
	if !ok {
		return nil, fmt.Errorf("action metadata: runs is not a mapping")
	}
	r := &a.Runs
	for key, dst := range map[string]*string{
		"using": &r.Using, "image": &r.Image, "entrypoint": &r.Entrypoint,
		"pre-entrypoint": &r.PreEntrypoint, "post-entrypoint": &r.PostEntrypoint,
		"pre-if": &r.PreIf, "post-if": &r.PostIf,
	} {
		if *dst, err = optString(runs, key); err != nil {
			return nil, err
		}
	}
	if v, ok := runs.get("args"); ok && v != "" {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("action metadata: runs.args is not a sequence")
		}
		for i, item := range list {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("action metadata: runs.args[%d] is not a string", i)
			}
			r.Args = append(r.Args, s)
		}
	}
	if v, ok := runs.get("env"); ok && v != "" {
		m, ok := v.(*yamlMap)
		if !ok {
			return nil, fmt.Errorf("action metadata: runs.env is not a mapping")
		}
		r.Env = map[string]string{}
		for _, k := range m.keys {
			s, ok := m.values[k].(string)
			if !ok {
				return nil, fmt.Errorf("action metadata: runs.env.%s is not a string", k)
			}
			r.Env[k] = s
		}
	}
	if r.Using == "" {
		return nil, fmt.Errorf("action metadata: runs.using is missing")
	}
	return a, nil
}

func optString(m *yamlMap, key string) (string, error) {
	v, ok := m.get(key)
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("action metadata: %s is not a string", key)
	}
	return s, nil
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

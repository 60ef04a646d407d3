package release

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const (
	digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	image  = "ghcr.io/cargo-oidc/cargo-oidc:1.2.3@" + digest
)

// realActionYAML is the repository's own action.yml.
func realActionYAML(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shape is the part of an action.yml the release must not change: the
// top-level keys, the input and output names, runs.using and the other keys
// of runs.
type shape struct {
	Top, Inputs, Outputs, Runs []string
	Using, Image               string
}

// shapeOf reads the shape with an indentation scan: enough for action.yml.
func shapeOf(t *testing.T, doc []byte) shape {
	t.Helper()
	var s shape
	section := ""
	child := map[string]int{}
	for n, line := range strings.Split(strings.ReplaceAll(string(doc), "\r\n", "\n"), "\n") {
		content := strings.TrimLeft(line, " ")
		if content == "" || strings.HasPrefix(content, "#") {
			continue
		}
		indent := len(line) - len(content)
		key, rest, ok := mappingKey(content)
		if indent == 0 {
			if !ok {
				t.Fatalf("line %d: top-level line %q is not a key", n+1, line)
			}
			s.Top = append(s.Top, key)
			section = key
			continue
		}
		if _, seen := child[section]; !seen {
			child[section] = indent
		}
		if indent != child[section] || !ok {
			continue
		}
		switch section {
		case "inputs":
			s.Inputs = append(s.Inputs, key)
		case "outputs":
			s.Outputs = append(s.Outputs, key)
		case "runs":
			s.Runs = append(s.Runs, key)
			switch key {
			case "using":
				s.Using = unquote(stripComment(rest))
			case "image":
				s.Image = unquote(stripComment(rest))
			}
		}
	}
	return s
}

func TestReleaseWorkflowActionYAMLChangesOnlyImage(t *testing.T) {
	small := "name: x\nruns:\n  using: docker\n  image: Dockerfile\n  post-entrypoint: /p\n"
	type test struct {
		in       string
		image    string
		wantLine string
	}
	testenv.Run(t, map[string]test{
		"real action.yml":               {string(realActionYAML(t)), image, "  image: docker://" + image},
		"small":                         {small, image, "  image: docker://" + image},
		"v prefix and prerelease":       {small, "ghcr.io/acme/x-y:v2.0.0-rc.1@" + digest, "  image: docker://ghcr.io/acme/x-y:v2.0.0-rc.1@" + digest},
		"quoted value, comment":         {"runs:\n  using: docker\n  image: 'Dockerfile' # built per job\n", image, "  image: docker://" + image},
		"four-space indent":             {"runs:\n    using: docker\n    image: Dockerfile\n", image, "    image: docker://" + image},
		"crlf kept":                     {"runs:\r\n  using: docker\r\n  image: Dockerfile\r\n", image, "  image: docker://" + image + "\r"},
		"no final newline":              {"runs:\n  using: docker\n  image: Dockerfile", image, "  image: docker://" + image},
		"image key elsewhere untouched": {"inputs:\n  image:\n    description: image: Dockerfile\nruns:\n  using: docker\n  image: Dockerfile\n  env:\n    image: Dockerfile\n", image, "  image: docker://" + image},
	}, func(t *testing.T, _ string, tt test) {
		out, err := ReleaseActionYAML([]byte(tt.in), tt.image)
		if err != nil {
			t.Fatal(err)
		}
		inLines := strings.Split(tt.in, "\n")
		outLines := strings.Split(string(out), "\n")
		if len(inLines) != len(outLines) {
			t.Fatalf("%d lines in, %d out", len(inLines), len(outLines))
		}
		changed := 0
		for i := range inLines {
			if inLines[i] == outLines[i] {
				continue
			}
			changed++
			if strings.TrimSpace(inLines[i]) == "" || !strings.Contains(inLines[i], "image:") {
				t.Errorf("line %d changed and is not runs.image: %q -> %q", i+1, inLines[i], outLines[i])
			}
			if outLines[i] != tt.wantLine {
				t.Errorf("line %d = %q, want %q", i+1, outLines[i], tt.wantLine)
			}
		}
		if changed != 1 {
			t.Errorf("%d lines changed, want exactly 1", changed)
		}
	})
}

func TestReleaseWorkflowActionYAMLKeepsStructure(t *testing.T) {
	t.Parallel()
	in := realActionYAML(t)
	out, err := ReleaseActionYAML(in, image)
	if err != nil {
		t.Fatal(err)
	}
	before, after := shapeOf(t, in), shapeOf(t, out)
	if before.Image != "Dockerfile" {
		t.Errorf("main action.yml runs.image = %q, want Dockerfile", before.Image)
	}
	if after.Using != "docker" {
		t.Errorf("runs.using = %q, want docker", after.Using)
	}
	if after.Image != "docker://"+image {
		t.Errorf("runs.image = %q, want docker://%s", after.Image, image)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"top-level keys", after.Top, before.Top},
		{"inputs", after.Inputs, before.Inputs},
		{"outputs", after.Outputs, before.Outputs},
		{"runs keys", after.Runs, before.Runs},
	} {
		if len(c.want) == 0 || !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v (non-empty)", c.what, c.got, c.want)
		}
	}
}

func TestReleaseWorkflowRefusesBadImages(t *testing.T) {
	t.Parallel()
	in := realActionYAML(t)
	for _, bad := range []string{
		"",
		"ghcr.io/cargo-oidc/cargo-oidc:1.2.3", // no digest
		"ghcr.io/cargo-oidc/cargo-oidc@" + digest,                               // no version
		"ghcr.io/cargo-oidc/cargo-oidc:latest@" + digest,                        // not semver
		"ghcr.io/cargo-oidc/cargo-oidc:1.2@" + digest,                           // not semver
		"ghcr.io/cargo-oidc/cargo-oidc:01.2.3@" + digest,                        // leading zero
		"docker.io/cargo-oidc/cargo-oidc:1.2.3@" + digest,                       // not GHCR
		"docker://ghcr.io/cargo-oidc/cargo-oidc:1.2.3@" + digest,                // scheme given twice
		"ghcr.io/Cargo-OIDC/cargo-oidc:1.2.3@" + digest,                         // upper case
		"ghcr.io/cargo-oidc:1.2.3@" + digest,                                    // no owner
		"ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha256:0123",                       // short digest
		"ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha256:" + strings.Repeat("A", 64), // upper-case hex
		"ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha512:" + strings.Repeat("a", 64),
		"ghcr.io/cargo-oidc/cargo-oidc:1.2.3@" + digest + "\n  using: node20", // injection
		"ghcr.io/cargo-oidc/cargo-oidc:1.2.3@" + digest + " # x",
	} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			out, err := ReleaseActionYAML(in, bad)
			if err == nil || out != nil {
				t.Fatalf("image %q accepted", bad)
			}
			if !strings.Contains(err.Error(), "ghcr.io/OWNER/NAME:VERSION@sha256:DIGEST") {
				t.Errorf("error %q does not say what an image must look like", err)
			}
		})
	}
}

func TestReleaseWorkflowRefusesBadActionYAML(t *testing.T) {
	type test struct{ in, want string }
	testenv.Run(t, map[string]test{
		"no runs":            {"name: x\n", "no top-level runs"},
		"no image":           {"runs:\n  using: docker\n", "no runs.image"},
		"image only nested":  {"runs:\n  using: docker\n  env:\n    image: Dockerfile\n", "no runs.image"},
		"image outside runs": {"image: Dockerfile\nruns:\n  using: docker\n", "no runs.image"},
		"image twice":        {"runs:\n  using: docker\n  image: Dockerfile\n  image: Dockerfile\n", "runs.image twice"},
		"runs twice":         {"runs:\n  image: Dockerfile\nruns:\n  using: docker\n", "two runs"},
		"already released":   {"runs:\n  using: docker\n  image: docker://" + image + "\n", "already a release"},
		"flow mapping":       {"runs: {using: docker, image: Dockerfile}\n", "block mapping"},
		"tab":                {"runs:\n\timage: Dockerfile\n", "tab"},
	}, func(t *testing.T, _ string, tt test) {
		out, err := ReleaseActionYAML([]byte(tt.in), image)
		if err == nil || out != nil {
			t.Fatalf("accepted, out:\n%s", out)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %q does not say %q", err, tt.want)
		}
	})
}

func TestReleaseWorkflowScalarQuoting(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"docker://ghcr.io/a/b:1.0.0@" + digest, "docker://ghcr.io/a/b:1.0.0@" + digest},
		{"a: b", `"a: b"`},
		{"a #b", `"a #b"`},
		{"@x", `"@x"`},
		{`a"b\`, `"a\"b\\"`},
		{"a\nb", `"a\x0ab"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := scalar(tt.in); got != tt.want {
			t.Errorf("scalar(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzReleaseWorkflowActionYAML: for any input, ReleaseActionYAML fails or
// changes exactly one line, into the runs.image line.
func FuzzReleaseWorkflowActionYAML(f *testing.F) {
	f.Add(string(mustRead(f, "../../action.yml")))
	f.Add("runs:\n  using: docker\n  image: Dockerfile\n")
	f.Add("runs:\r\n  image: \"Dockerfile\"\r\n  args:\r\n    - image: x\r\n")
	f.Add("runs:\n  image: Dockerfile\nruns:\n")
	f.Add("runs: \n # c\n   image: Dockerfile # c\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ReleaseActionYAML([]byte(in), image)
		if err != nil {
			if out != nil {
				t.Fatal("output with an error")
			}
			return
		}
		a, b := strings.Split(in, "\n"), strings.Split(string(out), "\n")
		if len(a) != len(b) {
			t.Fatalf("%d lines in, %d out", len(a), len(b))
		}
		changed := 0
		for i := range a {
			if a[i] != b[i] {
				changed++
				if !strings.HasSuffix(strings.TrimRight(b[i], "\r"), "image: docker://"+image) {
					t.Fatalf("line %d became %q", i+1, b[i])
				}
			}
		}
		if changed != 1 {
			t.Fatalf("%d lines changed", changed)
		}
	})
}

func mustRead(f *testing.F, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

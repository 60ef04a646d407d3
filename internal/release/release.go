// Package release produces the action.yml of a release: the main branch's
// action.yml builds the Dockerfile in every job (runs.image: Dockerfile), a
// release's runs a prebuilt image pinned by digest
// (runs.image: docker://ghcr.io/OWNER/NAME:VERSION@sha256:DIGEST). Nothing
// else in the file changes, byte for byte.
//
// It also knows the released binaries (Targets, their file names and build
// flags) and their SHA256SUMS, and writes the files a release commit adds
// to the composite action's folder (SetupFiles): the composite runs a
// downloaded binary only when it matches them.
//
// The release commands (cmd/...) share their command-line handling through
// ParseFlags and ExitCode.
package release

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// imageRE is what a release image reference must look like: GHCR, a
// repository owner/name, a semantic version tag (an optional leading v) and
// a sha256 digest.
var imageRE = regexp.MustCompile(`^ghcr\.io/[a-z0-9]+(?:[._-][a-z0-9]+)*/[a-z0-9]+(?:[._-][a-z0-9]+)*` +
	`:v?(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?` +
	`@sha256:[0-9a-f]{64}$`)

// ValidateImage reports whether image is a GHCR image reference with a
// semantic version tag and a sha256 digest, like
// ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha256:<64 hex digits>.
func ValidateImage(image string) error {
	if !imageRE.MatchString(image) {
		return fmt.Errorf("image %q is not ghcr.io/OWNER/NAME:VERSION@sha256:DIGEST "+
			"(lower-case owner and name, a semantic version like 1.2.3, 64 lower-case hex digits)", image)
	}
	return nil
}

// ReleaseActionYAML returns mainYAML with the value of runs.image, which must
// be Dockerfile, replaced by docker://image. It fails when image is not a
// valid release image (see ValidateImage) or when runs.image is not found
// exactly once. Every other line, line endings included, is kept as is.
func ReleaseActionYAML(mainYAML []byte, image string) ([]byte, error) {
	if err := ValidateImage(image); err != nil {
		return nil, err
	}
	return PinImage(mainYAML, image)
}

// pinnedRE is any image reference pinned by digest:
// HOST[:PORT]/PATH[:TAG]@sha256:DIGEST.
var pinnedRE = regexp.MustCompile(`^[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+(?::[0-9A-Za-z_][0-9A-Za-z_.-]*)?@sha256:[0-9a-f]{64}$`)

// PinImage is ReleaseActionYAML for an image in any registry, as long as it
// is pinned by digest (HOST[:PORT]/PATH[:TAG]@sha256:DIGEST): the e2e tests
// run the release path against a registry on 127.0.0.1. Releases use
// ReleaseActionYAML, which also insists on GHCR and a version tag.
func PinImage(mainYAML []byte, image string) ([]byte, error) {
	if !pinnedRE.MatchString(image) {
		return nil, fmt.Errorf("image %q is not HOST/NAME[:TAG]@sha256:DIGEST (pinned by a sha256 digest)", image)
	}
	lines := bytes.SplitAfter(mainYAML, []byte("\n"))
	runs, at := -1, -1
	inRuns := false
	childIndent := -1
	for i, raw := range lines {
		line := strings.TrimRight(string(raw), "\r\n")
		content := strings.TrimLeft(line, " ")
		if content == "" || strings.HasPrefix(content, "#") {
			continue
		}
		if strings.HasPrefix(line, "\t") {
			return nil, fmt.Errorf("action.yml line %d: indented with a tab, which YAML does not allow", i+1)
		}
		indent := len(line) - len(content)
		if indent == 0 {
			inRuns = false
			if key, rest, ok := mappingKey(content); ok && key == "runs" {
				if runs >= 0 {
					return nil, fmt.Errorf("action.yml has two runs: sections (lines %d and %d)", runs+1, i+1)
				}
				if rest != "" {
					return nil, fmt.Errorf("action.yml line %d: runs: must be a block mapping, found %q", i+1, rest)
				}
				runs, inRuns = i, true
			}
			continue
		}
		if !inRuns {
			continue
		}
		if childIndent < 0 {
			childIndent = indent
		}
		if indent != childIndent {
			continue // deeper: args items, env values, ...
		}
		if key, _, ok := mappingKey(content); ok && key == "image" {
			if at >= 0 {
				return nil, fmt.Errorf("action.yml has runs.image twice (lines %d and %d)", at+1, i+1)
			}
			at = i
		}
	}
	if runs < 0 {
		return nil, fmt.Errorf("action.yml has no top-level runs: section")
	}
	if at < 0 {
		return nil, fmt.Errorf("action.yml has no runs.image (want a line \"image: Dockerfile\" inside runs:)")
	}

	raw := string(lines[at])
	body := strings.TrimRight(raw, "\r\n")
	eol := raw[len(body):]
	indent := body[:len(body)-len(strings.TrimLeft(body, " "))]
	_, value, _ := mappingKey(strings.TrimLeft(body, " "))
	if v := unquote(stripComment(value)); v != "Dockerfile" {
		return nil, fmt.Errorf("action.yml line %d: runs.image is %q, want Dockerfile (is this already a release action.yml?)", at+1, v)
	}

	var out bytes.Buffer
	for i, l := range lines {
		if i == at {
			out.WriteString(indent + "image: " + scalar("docker://"+image) + eol)
			continue
		}
		out.Write(l)
	}
	return out.Bytes(), nil
}

// mappingKey splits "key: value" (or "key:") into key and the trimmed rest.
func mappingKey(s string) (key, rest string, ok bool) {
	i := strings.Index(s, ":")
	if i <= 0 {
		return "", "", false
	}
	if i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\t' {
		return "", "", false
	}
	key = s[:i]
	if strings.ContainsAny(key, " \t\"'{}[]#") {
		return "", "", false
	}
	return key, strings.TrimSpace(s[i+1:]), true
}

// stripComment drops a trailing " # comment" from a plain or quoted scalar.
func stripComment(v string) string {
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "'") {
		if j := strings.LastIndex(v, v[:1]); j > 0 {
			return v[:j+1]
		}
		return v
	}
	if j := strings.Index(v, " #"); j >= 0 {
		v = v[:j]
	}
	return strings.TrimSpace(v)
}

// unquote removes one pair of matching YAML quotes.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// scalar writes v as a YAML scalar, double-quoted when a plain scalar would
// be read differently.
func scalar(v string) string {
	plain := v != "" &&
		!strings.ContainsAny(v[:1], "!&*-?{}[],#|>@`\"'%: ") &&
		!strings.Contains(v, ": ") && !strings.Contains(v, " #") &&
		!strings.HasSuffix(v, ":") && !strings.HasSuffix(v, " ")
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r == '\\' {
			plain = false
		}
	}
	if plain {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

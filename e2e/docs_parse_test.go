package e2e

// Reading README.md and the other Markdown files for the docs checks: the
// commands a reader copies, go test command lines, headings, anchors, links,
// the table of contents and CHANGELOG.md's Unreleased section.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"unicode"
)

// readmeCommands returns the commands README.md gives a reader to copy: the
// lines of fenced sh/bash/console blocks and the inline code spans outside
// fenced blocks, comments after " # " dropped.
func readmeCommands(readme string) []string {
	var out []string
	inFence, shell := false, false
	for _, line := range strings.Split(readme, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "```"); ok {
			if inFence {
				inFence = false
				continue
			}
			inFence, shell = true, rest == "sh" || rest == "bash" || rest == "console" || rest == ""
			continue
		}
		if inFence {
			if shell {
				cmd, _, _ := strings.Cut(line, " # ")
				if cmd = strings.TrimSpace(cmd); cmd != "" {
					out = append(out, cmd)
				}
			}
			continue
		}
		// Inline code is a command only when it starts with go (a
		// troubleshooting title such as `cannot write the runner's files`
		// is prose).
		for _, m := range docCodeSpanRE.FindAllStringSubmatch(line, -1) {
			if strings.HasPrefix(m[1], "go ") {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// shellWords splits a command line as a POSIX shell would for the simple
// quoting README.md uses: single and double quotes, no expansions.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// goTestCommand is the part of a `go test` command line the checks need.
type goTestCommand struct {
	pkgs       []string
	run, bench string
}

// packages are the packages a go test command names; none for another
// command (a nil c).
func (c *goTestCommand) packages() []string {
	if c == nil {
		return nil
	}
	return c.pkgs
}

func parseGoTest(line string) (*goTestCommand, error) {
	words, err := shellWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "test" {
		return nil, nil
	}
	c := &goTestCommand{}
	for i := 2; i < len(words); i++ {
		w := words[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		switch {
		case strings.HasPrefix(w, "-") && (name == "run" || name == "bench"):
			if !hasValue {
				if i+1 >= len(words) {
					return nil, fmt.Errorf("%q: -%s without a pattern", line, name)
				}
				i++
				value = words[i]
			}
			if name == "run" {
				c.run = value
			} else {
				c.bench = value
			}
		case !strings.HasPrefix(w, "-") && (strings.HasPrefix(w, "./") || w == "."):
			c.pkgs = append(c.pkgs, w)
		}
	}
	if len(c.pkgs) == 0 {
		c.pkgs = []string{"."}
	}
	return c, nil
}

// goTestList runs `go test -list pattern pkg` at the repository root and
// returns the names it lists.
func goTestList(t *testing.T, root, pattern, pkg string) []string {
	t.Helper()
	args := []string{"test", "-list", pattern, pkg}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, st := range bi.Settings {
			if st.Key == "-race" && st.Value == "true" {
				args = append(args[:1], append([]string{"-race"}, args[1:]...)...) // reuse what this run compiled
			}
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -list %q %s: %v\n%s", pattern, pkg, err, out)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if docTestNameRE.MatchString(l) {
			names = append(names, l)
		}
	}
	return names
}

// githubSlug is the anchor GitHub gives a heading.
func githubSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdHeading is one Markdown heading: its level (the number of #), text,
// GitHub anchor and 1-based line.
type mdHeading struct {
	Level        int
	Text, Anchor string
	Line         int
}

// mdHeadings returns a Markdown file's headings in order, skipping lines in
// fenced code blocks.
func mdHeadings(md string) []mdHeading {
	var out []mdHeading
	inFence := false
	for n, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if m := docHeadingRE.FindStringSubmatch(line); m != nil && !inFence {
			level := len(line) - len(strings.TrimLeft(line, "#"))
			out = append(out, mdHeading{Level: level, Text: m[1], Anchor: githubSlug(m[1]), Line: n + 1})
		}
	}
	return out
}

// mdAnchors returns the set of anchors a Markdown file's headings make.
func mdAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, h := range mdHeadings(md) {
		out[h.Anchor] = true
	}
	return out
}

// mdLinkProblems checks every link of the Markdown file rel (relative to
// root, forward slashes): an in-page #anchor names one of its headings, a
// relative link names a file or folder that exists, and a relative link to
// a Markdown file with #anchor names a heading of that file. It returns the
// problems and the relative targets, resolved against root.
func mdLinkProblems(root, rel, md string) (problems []string, targets []string) {
	own := mdAnchors(md)
	for _, m := range docLinkRE.FindAllStringSubmatch(md, -1) {
		target := m[1]
		switch {
		case strings.HasPrefix(target, "#"):
			if !own[target[1:]] {
				problems = append(problems, fmt.Sprintf("%s links to #%s, which no heading of it has", rel, target[1:]))
			}
		case strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:"):
		default:
			file, anchor, _ := strings.Cut(target, "#")
			resolved := path.Clean(path.Join(path.Dir(rel), file))
			targets = append(targets, resolved)
			b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(resolved)))
			if _, serr := os.Stat(filepath.Join(root, filepath.FromSlash(resolved))); serr != nil {
				problems = append(problems, fmt.Sprintf("%s links to %s, which does not exist", rel, target))
				continue
			}
			if anchor != "" && strings.HasSuffix(resolved, ".md") && (err != nil || !mdAnchors(string(b))[anchor]) {
				problems = append(problems, fmt.Sprintf("%s links to %s, but %s has no heading with anchor #%s", rel, target, resolved, anchor))
			}
		}
	}
	return problems, targets
}

// readmeContents returns the links of README.md's table of contents: the
// list under the "## Contents" heading, up to the next heading.
func readmeContents(readme string) ([]string, error) {
	_, rest, ok := strings.Cut(readme, "\n## Contents\n")
	if !ok {
		return nil, errors.New(`README.md has no "## Contents" heading`)
	}
	if i := strings.Index(rest, "\n#"); i >= 0 {
		rest = rest[:i]
	}
	var links []string
	for _, m := range docLinkRE.FindAllStringSubmatch(rest, -1) {
		links = append(links, m[1])
	}
	if len(links) == 0 {
		return nil, errors.New("README.md's Contents list has no links")
	}
	return links, nil
}

// contentsProblems checks a table of contents against the headings: every
// level-2 heading but Contents itself is listed once, in order; a deeper
// heading may be listed after the level-2 heading it belongs to, in order;
// nothing else is listed.
func contentsProblems(links []string, headings []mdHeading) []string {
	var problems []string
	var sections []mdHeading  // level-2 headings, Contents excluded
	owner := map[string]int{} // anchor => index in sections of its level-2 heading
	order := map[string]int{} // anchor => position in the document
	for i, h := range headings {
		if h.Level < 2 || h.Text == "Contents" {
			continue
		}
		if h.Level == 2 {
			sections = append(sections, h)
		}
		if len(sections) > 0 {
			owner[h.Anchor] = len(sections) - 1
		}
		order[h.Anchor] = i
	}
	next, last := 0, -1 // next level-2 heading expected; position of the last link
	for _, l := range links {
		anchor, ok := strings.CutPrefix(l, "#")
		pos, known := order[anchor]
		switch {
		case !ok || !known:
			problems = append(problems, fmt.Sprintf("Contents lists %s, which is no heading of README.md", l))
			continue
		case pos <= last:
			problems = append(problems, fmt.Sprintf("Contents lists %s out of the headings' order", l))
			continue
		}
		if headings[pos].Level == 2 {
			k := owner[anchor]
			for _, s := range sections[next:k] {
				problems = append(problems, fmt.Sprintf("Contents does not list %q (line %d)", s.Text, s.Line))
			}
			next = k + 1
		} else if owner[anchor] != next-1 {
			s := sections[owner[anchor]]
			problems = append(problems, fmt.Sprintf("Contents lists %s before its section %q (line %d)", l, s.Text, s.Line))
		}
		last = pos
	}
	for _, s := range sections[next:] {
		problems = append(problems, fmt.Sprintf("Contents does not list %q (line %d)", s.Text, s.Line))
	}
	return problems
}

// changelogProblems checks CHANGELOG.md's text: before the first release
// (no "## [x.y.z]" section) the Unreleased section describes the first
// release, so it has no Fixed, Removed or Deprecated section (there is
// nothing released to fix, remove or deprecate) and no section twice; and
// it names every example (each file and folder under examples/, by its
// name relative to examples/).
func changelogProblems(changelog string, examples []string) []string {
	var problems []string
	released := docReleaseRE.MatchString(changelog)
	_, unreleased, ok := strings.Cut(changelog, "\n## [Unreleased]\n")
	if !ok {
		return []string{`CHANGELOG.md has no "## [Unreleased]" section`}
	}
	if i := strings.Index(unreleased, "\n## "); i >= 0 {
		unreleased = unreleased[:i]
	}
	seen := map[string]bool{}
	for _, m := range docSubheadingRE.FindAllStringSubmatch(unreleased, -1) {
		kind := strings.TrimSpace(m[1])
		if seen[kind] {
			problems = append(problems, fmt.Sprintf("CHANGELOG.md: Unreleased has two %q sections", kind))
		}
		seen[kind] = true
		if !released && (kind == "Fixed" || kind == "Removed" || kind == "Deprecated") {
			problems = append(problems, fmt.Sprintf("CHANGELOG.md: Unreleased has a %q section, but nothing has been released: describe the first release (Added, Changed, Security)", kind))
		}
	}
	for _, ex := range examples {
		if !strings.Contains(unreleased, "`"+ex+"`") {
			problems = append(problems, fmt.Sprintf("CHANGELOG.md does not name the example `%s`", ex))
		}
	}
	return problems
}

// goRunHelp is what the program pkg prints for -help.
func goRunHelp(t *testing.T, root, pkg string) string {
	bin := filepath.Join(t.TempDir(), "prog")
	if pkg == "." {
		bin = provBinary(t)
	} else {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	out, _ := exec.Command(bin, "-help").CombinedOutput() // the exit code is the program's business here
	return string(out)
}

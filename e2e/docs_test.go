package e2e

// The checks of README.md, docs/, the examples' references and
// CHANGELOG.md. Each check returns the problems it finds; the checkers are
// proven on small samples in TestDocCheckersCatchMistakes.

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// The patterns the docs tests read README.md, help texts and test lists with.
var (
	docFlagAssignRE = regexp.MustCompile(`--([a-z][a-z-]*)=`)                            // --name= in a help text
	docCodeSpanRE   = regexp.MustCompile("`([^`]+)`")                                    // a `code span`
	docTestNameRE   = regexp.MustCompile(`^(Test|Benchmark|Fuzz|Example)\w*$`)           // a line of go test -list
	docCommandRE    = regexp.MustCompile(`^(go|git|cargo|bash|sh|curl|docker|podman) `)  // a shell command
	docHeadingRE    = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*$`)                          // a Markdown heading
	docLinkRE       = regexp.MustCompile(`\]\(([^)\s]+)\)`)                              // a Markdown link's target
	docReadmeRefRE  = regexp.MustCompile(`README\.md(?:, "([^"]+)"|#([A-Za-z0-9_-]+))`)  // a reference to a README section
	docHelpFlagRE   = regexp.MustCompile(`(?:^|[\s\[|])--?([A-Za-z0-9][A-Za-z0-9_.-]*)`) // a flag named in a help text
	docDocsRefRE    = regexp.MustCompile(`\bdocs/[A-Za-z0-9_.-]+\.md\b`)                 // a reference to a docs/ page
	docReleaseRE    = regexp.MustCompile(`(?m)^## \[\d+\.\d+\.\d+`)                      // a released version's CHANGELOG section
	docSubheadingRE = regexp.MustCompile(`(?m)^### (.+)$`)                               // a level-3 Markdown heading
)

type docSet struct{ root, readme string }

// readmeOrder is the order of README.md's level-2 sections.
var readmeOrder = []string{
	"Quickstart", "Inputs", "Outputs", "What the action writes, and where",
	"Long jobs: credential-provider mode", "Supported runners", "Requirements",
	"macOS and Windows runners", "Outside GitHub Actions", "Troubleshooting", "Development",
}

// readmeQuickstartWithin is the line by which the first quickstart starts.
const readmeQuickstartWithin = 60

// TestReadme runs every check of README.md, docs/, examples/ and CHANGELOG.md.
func TestReadme(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	d := docSet{root: root, readme: readFile(t, filepath.Join(root, "README.md"))}
	for name, check := range map[string]func(*testing.T, docSet) []string{
		"tables match action.yml":     readmeTableProblems,
		"action.yml matches the code": func(t *testing.T, _ docSet) []string { return actionConfigProblems(t) },
		"commands run as written":     commandProblems,
		"no command in a table cell":  func(_ *testing.T, d docSet) []string { return tableCellProblems(d.readme) },
		"contents match the headings": func(_ *testing.T, d docSet) []string {
			_, contents, _ := strings.Cut(d.readme, "\n## Contents\n")
			contents, _, _ = strings.Cut(contents, "\n#")
			return contentsProblems(reGroups(docLinkRE, contents), mdHeadings(d.readme))
		},
		"sections in order, quickstart": func(_ *testing.T, d docSet) []string { return shapeProblems(mdHeadings(d.readme)) },
		"examples' references resolve":  exampleRefProblems,
		"links resolve":                 linkProblems,
		"changelog": func(t *testing.T, d docSet) []string {
			examples, _ := fs.Glob(os.DirFS(filepath.Join(d.root, "examples")), "*")
			for i, e := range examples {
				if fi, err := os.Stat(filepath.Join(d.root, "examples", e)); err == nil && fi.IsDir() {
					examples[i] += "/"
				}
			}
			if len(examples) < 2 {
				return []string{fmt.Sprintf("examples/ holds %d entries; the check proves nothing", len(examples))}
			}
			return changelogProblems(readFile(t, filepath.Join(d.root, "CHANGELOG.md")), examples)
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, p := range check(t, d) {
				t.Error(p)
			}
		})
	}
}

// TestDocCheckersCatchMistakes proves the checkers on small samples.
func TestDocCheckersCatchMistakes(t *testing.T) {
	const md = "# T\n## Contents\n## A\n### A1\n### A2\n## B\n#### B1\n## C\n"
	contents := func(links ...string) func() []string {
		return func() []string { return contentsProblems(links, mdHeadings(md)) }
	}
	head := "# Changelog\n\n## [Unreleased]\n\n"
	changelog := func(text string) func() []string {
		return func() []string { return changelogProblems(text, []string{"a.yml", "dir/"}) }
	}
	goTest := func(line, run, bench string, pkgs int) func() []string {
		return func() []string {
			if c, ok := parseGoTest(line); !ok || c.run != run || c.bench != bench || len(c.pkgs) != pkgs {
				return []string{fmt.Sprintf("parseGoTest(%q) = %+v, %v", line, c, ok)}
			}
			return nil
		}
	}
	type sample struct {
		problems func() []string
		want     string // "": no problem
	}
	testenv.Run(t, map[string]sample{
		"contents: every section":                       {contents("#a", "#b", "#c"), ""},
		"contents: with subsections":                    {contents("#a", "#a1", "#a2", "#b", "#b1", "#c"), ""},
		"contents: missing section":                     {contents("#a", "#c"), `does not list "B"`},
		"contents: out of order":                        {contents("#b", "#a", "#c"), "#a out of the headings' order"},
		"contents: subsection under the wrong section":  {contents("#a", "#b", "#a2", "#c"), "out of the headings' order"},
		"contents: subsection before its section":       {contents("#a1", "#a", "#b", "#c"), `lists #a1 before its section "A"`},
		"contents: a file":                              {contents("#a", "#b", "#c", "docs/x.md"), "docs/x.md, which is no heading"},
		"contents: none":                                {contents(), "Contents list has no links"},
		"changelog: good":                               {changelog(head + "### Added\n\n- `a.yml` and `dir/`\n\n### Security\n\n- x\n"), ""},
		"changelog: fixed before a release":             {changelog(head + "### Added\n\n- `a.yml` `dir/`\n\n### Fixed\n\n- y\n"), `a "Fixed" section`},
		"changelog: fixed after a release":              {changelog(head + "### Fixed\n\n- `a.yml` `dir/`\n\n## [1.0.0] - 2026-01-01\n\n### Added\n"), ""},
		"changelog: two security sections":              {changelog(head + "### Security\n\n- `a.yml` `dir/`\n\n### Security\n\n- z\n"), `two "Security" sections`},
		"changelog: an example named only in a release": {changelog(head + "### Added\n\n- `a.yml`\n\n## [1.0.0]\n\n- `dir/`\n"), "does not name the example `dir/`"},
		"changelog: no unreleased":                      {changelog("# Changelog\n"), "no \"## [Unreleased]\""},
		"go test: quoted pattern":                       {goTest(`go test ./e2e/ -run 'Scenario|Container' -v`, "Scenario|Container", "", 1), ""},
		// A table cell's escaped pipe leaves a backslash: no test matches.
		"go test: escaped pipe kept":              {goTest(`go test ./e2e/ -run 'Scenario\|Container' -v`, `Scenario\|Container`, "", 1), ""},
		"go test: two packages and -bench":        {goTest(`go test ./exchange ./cargoconf -run '^$' -bench . -benchmem`, "^$", ".", 2), ""},
		"go test: double quotes, default package": {goTest(`go test -run "A|B"`, "A|B", "", 1), ""},
		// An unterminated quote stays in the pattern: no test matches.
		"go test: unterminated quote": {goTest(`go test -run 'open`, "'open", "", 1), ""},
		"table cell":                  {func() []string { return tableCellProblems("| `go test ./x` | y |\n| `a \\| b` |\n`go test` outside\n") }, "README.md:2: command in a table cell"},
		"slug": {func() []string {
			return []string{githubSlug("crates.io set-up"), githubSlug("Pinning, and what it costs")}
		}, "cratesio-set-up\npinning-and-what-it-costs"},
	}, func(t *testing.T, _ string, tt sample) {
		wantProblem(t, tt.problems(), tt.want)
	})
}

// wantProblem fails t unless a problem holds want (want "": none).
func wantProblem(t *testing.T, problems []string, want string) {
	t.Helper()
	got := strings.Join(problems, "\n")
	switch {
	case want == "" && got != "":
		t.Errorf("problems in a good sample:\n%s", got)
	case want != "" && !strings.Contains(got, want):
		t.Errorf("problems:\n%s\nwant one saying %q", got, want)
	}
}

// readmeTableProblems compares README.md's inputs and outputs tables with
// action.yml: same names, order, defaults and descriptions.
func readmeTableProblems(t *testing.T, d docSet) []string {
	a := repoAction(t)
	esc := strings.NewReplacer("|", `\|`).Replace
	want := map[string][]string{}
	for _, in := range a.Inputs {
		def := ""
		if in.Default != "" {
			def = "`" + in.Default + "`"
		}
		want["inputs"] = append(want["inputs"], "| `"+in.Name+"` | "+def+" | "+esc(in.Description)+" |")
	}
	for _, o := range a.Outputs {
		want["outputs"] = append(want["outputs"], "| `"+o.Name+"` | "+esc(o.Description)+" |")
	}
	var problems []string
	for _, section := range []string{"inputs", "outputs"} {
		_, table, begun := strings.Cut(d.readme, "<!-- "+section+":begin -->")
		table, _, ended := strings.Cut(table, "<!-- "+section+":end -->")
		var rows []string
		for _, line := range strings.Split(table, "\n") {
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		if !begun || !ended || !slices.Equal(rows, want[section]) {
			problems = append(problems, fmt.Sprintf("README.md's %s table (between <!-- %[1]s:begin --> and <!-- %[1]s:end -->) differs from action.yml.\nREADME:\n%s\naction.yml:\n%s",
				section, strings.Join(rows, "\n"), strings.Join(want[section], "\n")))
		}
	}
	return problems
}

// actionConfigProblems compares action.yml's inputs and defaults with the code's.
func actionConfigProblems(t *testing.T) []string {
	var problems, names []string
	for _, in := range repoAction(t).Inputs {
		if slices.Contains(config.RunnerInputs, in.Name) {
			continue // read from runs.args, not as an input
		}
		names = append(names, in.Name)
		if got := config.Default(in.Name); got != in.Default {
			problems = append(problems, fmt.Sprintf("input %s: action.yml default %q, code default %q", in.Name, in.Default, got))
		}
	}
	if !slices.Equal(names, config.Inputs) {
		problems = append(problems, fmt.Sprintf("action.yml inputs %v\ncode inputs %v", names, config.Inputs))
	}
	return problems
}

// commandProblems checks README.md's commands: every -run or -bench pattern
// of a `go test` selects a test or benchmark in each package, and every
// flag of a `go run` is in the program's -help.
func commandProblems(t *testing.T, d docSet) []string {
	var problems []string
	helps := map[string]string{}
	tests, flags := 0, 0
	for _, line := range readmeCommands(d.readme) {
		c, _ := parseGoTest(line)
		for _, pkg := range c.pkgs {
			for what, pattern := range map[string]string{"test": c.run, "benchmark": c.bench} {
				if pattern == "" || pattern == "^$" {
					continue
				}
				tests++
				isBench := func(n string) bool { return strings.HasPrefix(n, "Benchmark") == (what == "benchmark") }
				if !slices.ContainsFunc(goTestList(t, d.root, pattern, pkg), isBench) {
					problems = append(problems, fmt.Sprintf("README.md: %q: %q selects no %s in %s", line, pattern, what, pkg))
				}
			}
		}
		words := strings.Fields(line)
		if len(words) < 3 || words[0] != "go" || words[1] != "run" {
			continue
		}
		h, ok := helps[words[2]]
		if !ok {
			h = goRunHelp(t, d.root, words[2])
			helps[words[2]] = h
		}
		known := reGroups(docHelpFlagRE, h)
		for _, w := range words[3:] {
			name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
			switch {
			case !strings.HasPrefix(w, "-"):
				continue
			case (name == "help" || name == "h") && strings.Contains(h, "Usage"):
				// the flag package accepts -help and -h in every program
			case !slices.Contains(known, name):
				problems = append(problems, fmt.Sprintf("README.md: %q: %s is not a flag of %s:\n%s", line, w, words[2], h))
			}
			flags++
		}
	}
	if tests < 5 || flags < 4 {
		problems = append(problems, fmt.Sprintf("checked %d go test patterns and %d go run flags in README.md; the extraction is broken", tests, flags))
	}
	return problems
}

// readmeCommands returns the lines of README.md's shell blocks and its
// inline code spans that start with go, comments after " # " dropped.
func readmeCommands(readme string) []string {
	var out []string
	inFence, shell := false, false
	for _, line := range strings.Split(readme, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "```"); ok {
			inFence, shell = !inFence, rest == "sh" || rest == "bash" || rest == "console" || rest == ""
			continue
		}
		if !inFence {
			for _, span := range reGroups(docCodeSpanRE, line) {
				if strings.HasPrefix(span, "go ") {
					out = append(out, span)
				}
			}
		} else if cmd, _, _ := strings.Cut(line, " # "); shell && strings.TrimSpace(cmd) != "" {
			out = append(out, strings.TrimSpace(cmd))
		}
	}
	return out
}

// docPatternRE is a -run or -bench flag and its pattern, shell-quoted or bare.
var docPatternRE = regexp.MustCompile(`\s-(run|bench)[= ](?:'([^']*)'|"([^"]*)"|(\S+))`)

// goTest is a `go test` command line's packages (default .) and patterns.
type goTest struct {
	pkgs       []string
	run, bench string
}

// parseGoTest reads a `go test` command line; ok is false for another.
func parseGoTest(line string) (c goTest, ok bool) {
	if !strings.HasPrefix(line, "go test ") {
		return c, false
	}
	for _, m := range docPatternRE.FindAllStringSubmatch(line, -1) {
		if m[1] == "run" {
			c.run = m[2] + m[3] + m[4]
		} else {
			c.bench = m[2] + m[3] + m[4]
		}
	}
	for _, w := range strings.Fields(docPatternRE.ReplaceAllString(line, " ")) {
		if w == "." || strings.HasPrefix(w, "./") {
			c.pkgs = append(c.pkgs, w)
		}
	}
	if len(c.pkgs) == 0 {
		c.pkgs = []string{"."}
	}
	return c, true
}

func goTestList(t *testing.T, root, pattern, pkg string) []string {
	t.Helper()
	args := []string{"test", "-list", pattern, pkg}
	if bi, ok := debug.ReadBuildInfo(); ok && slices.Contains(bi.Settings, debug.BuildSetting{Key: "-race", Value: "true"}) {
		args = append([]string{"test", "-race"}, args[1:]...) // reuse what this run compiled
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -list %q %s: %v\n%s", pattern, pkg, err, out)
	}
	return slices.DeleteFunc(strings.Split(string(out), "\n"), func(l string) bool { return !docTestNameRE.MatchString(l) })
}

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

// tableCellProblems finds commands in table cells, where | must be escaped
// as \|, which a reader copying the raw file keeps.
func tableCellProblems(readme string) []string {
	var problems []string
	for n, line := range strings.Split(readme, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, span := range reGroups(docCodeSpanRE, line) {
			if strings.Contains(span, `\|`) || docCommandRE.MatchString(span) {
				problems = append(problems, fmt.Sprintf("README.md:%d: command in a table cell: `%s`", n+1, span))
			}
		}
	}
	return problems
}

// mdHeading is one Markdown heading and its 1-based line.
type mdHeading struct {
	Level        int
	Text, Anchor string
	Line         int
}

// mdHeadings returns a Markdown file's headings outside fenced blocks.
func mdHeadings(md string) []mdHeading {
	var out []mdHeading
	inFence := false
	for n, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		} else if m := docHeadingRE.FindStringSubmatch(line); m != nil && !inFence {
			level := len(line) - len(strings.TrimLeft(line, "#"))
			out = append(out, mdHeading{Level: level, Text: m[1], Anchor: githubSlug(m[1]), Line: n + 1})
		}
	}
	return out
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

func mdAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, h := range mdHeadings(md) {
		out[h.Anchor] = true
	}
	return out
}

// shapeProblems checks the headings against readmeOrder and readmeQuickstartWithin.
func shapeProblems(headings []mdHeading) []string {
	var problems []string
	pos := map[string]int{}
	for i, h := range headings {
		if _, dup := pos[h.Text]; !dup {
			pos[h.Text] = i
		}
	}
	last := -1
	for _, name := range readmeOrder {
		i, ok := pos[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("README.md has no heading %q", name))
			continue
		case headings[i].Level != 2:
			problems = append(problems, fmt.Sprintf("README.md:%d: %q is a level-%d heading, inside another section; want ## %s", headings[i].Line, name, headings[i].Level, name))
		case i < last:
			problems = append(problems, fmt.Sprintf("README.md:%d: %q comes before %q; want the order %q", headings[i].Line, name, headings[last].Text, readmeOrder))
		}
		last = max(last, i)
	}
	q, ok := pos["Quickstart"]
	switch {
	case !ok || q+1 >= len(headings) || headings[q+1].Level != 3:
		problems = append(problems, "README.md's Quickstart has no subsection")
	case headings[q+1].Line > readmeQuickstartWithin:
		problems = append(problems, fmt.Sprintf("README.md:%d: the first quickstart (%s) starts after line %d", headings[q+1].Line, headings[q+1].Text, readmeQuickstartWithin))
	}
	return problems
}

// reGroups returns the first group of every match of re in s.
func reGroups(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// contentsProblems checks that a table of contents lists every level-2
// heading in order, deeper ones only in their section, and nothing else.
func contentsProblems(links []string, headings []mdHeading) []string {
	if len(links) == 0 {
		return []string{`README.md's Contents list has no links (a "## Contents" heading followed by a list of links)`}
	}
	var problems []string
	var sections []mdHeading        // level-2 headings, Contents excluded
	pos := map[string]int{}         // anchor => index in headings
	owner := map[string]mdHeading{} // anchor => its level-2 heading
	for i, h := range headings {
		if h.Level < 2 || h.Text == "Contents" {
			continue
		}
		if h.Level == 2 {
			sections = append(sections, h)
		}
		if len(sections) > 0 {
			owner[h.Anchor] = sections[len(sections)-1]
		}
		pos[h.Anchor] = i
	}
	listed := map[string]bool{}
	last, current := -1, "" // position of the last link; the last section listed
	for _, l := range links {
		anchor, ok := strings.CutPrefix(l, "#")
		p, known := pos[anchor]
		switch {
		case !ok || !known:
			problems = append(problems, fmt.Sprintf("Contents lists %s, which is no heading of README.md", l))
			continue
		case p <= last:
			problems = append(problems, fmt.Sprintf("Contents lists %s out of the headings' order", l))
			continue
		case headings[p].Level == 2:
			listed[anchor], current = true, anchor
		case owner[anchor].Anchor != current:
			problems = append(problems, fmt.Sprintf("Contents lists %s before its section %q (line %d)", l, owner[anchor].Text, owner[anchor].Line))
		}
		last = p
	}
	for _, s := range sections {
		if !listed[s.Anchor] {
			problems = append(problems, fmt.Sprintf("Contents does not list %q (line %d)", s.Text, s.Line))
		}
	}
	return problems
}

// changelogProblems checks that CHANGELOG.md's Unreleased section has no
// section twice, no Fixed, Removed or Deprecated before the first release,
// and names every example (a file, or a folder/).
func changelogProblems(changelog string, examples []string) []string {
	_, unreleased, ok := strings.Cut(changelog, "\n## [Unreleased]\n")
	if !ok {
		return []string{`CHANGELOG.md has no "## [Unreleased]" section`}
	}
	unreleased, _, _ = strings.Cut(unreleased, "\n## ")
	var problems []string
	seen := map[string]bool{}
	for _, kind := range reGroups(docSubheadingRE, unreleased) {
		kind = strings.TrimSpace(kind)
		if seen[kind] {
			problems = append(problems, fmt.Sprintf("CHANGELOG.md: Unreleased has two %q sections", kind))
		}
		seen[kind] = true
		if !docReleaseRE.MatchString(changelog) && (kind == "Fixed" || kind == "Removed" || kind == "Deprecated") {
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

// exampleRefProblems checks examples/' references to README.md and docs/.
func exampleRefProblems(t *testing.T, d docSet) []string {
	headings, anchors := map[string]bool{}, mdAnchors(d.readme)
	for _, h := range mdHeadings(d.readme) {
		headings[h.Text] = true
	}
	var problems []string
	refs := 0
	err := filepath.WalkDir(filepath.Join(d.root, "examples"), func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(d.root, p)
		for n, line := range strings.Split(readFile(t, p), "\n") {
			bad := func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf("%s:%d: ", rel, n+1)+fmt.Sprintf(format, args...))
			}
			for _, m := range docDocsRefRE.FindAllString(line, -1) {
				refs++
				if _, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(m))); err != nil {
					bad("%s does not exist", m)
				}
			}
			ms := docReadmeRefRE.FindAllStringSubmatch(line, -1)
			if strings.Contains(line, "README.md") && len(ms) == 0 {
				bad("a mention of README.md without a heading on the same line (README.md, \"Heading\"): %s", strings.TrimSpace(line))
			}
			for _, m := range ms {
				refs++
				if m[1] != "" && !headings[m[1]] {
					bad("README.md has no heading %q", m[1])
				} else if m[1] == "" && !anchors[m[2]] {
					bad("README.md has no heading with anchor #%s", m[2])
				}
			}
		}
		return nil
	})
	if err != nil || refs == 0 {
		problems = append(problems, fmt.Sprintf("no reference from examples/ to README.md or docs/ found (%v); the check proves nothing", err))
	}
	return problems
}

// linkProblems checks the links of README.md and docs/*.md, that README.md
// links examples, CHANGELOG.md, LICENSE and every page, and each page back.
func linkProblems(t *testing.T, d docSet) []string {
	problems, targets := mdLinkProblems(d.root, "README.md", d.readme)
	pages, _ := filepath.Glob(filepath.Join(d.root, "docs", "*.md"))
	if len(pages) == 0 {
		problems = append(problems, "no pages under docs/")
	}
	wantLinked := []string{"examples", "CHANGELOG.md", "LICENSE"}
	for _, p := range pages {
		page := "docs/" + filepath.Base(p)
		wantLinked = append(wantLinked, page)
		pp, pt := mdLinkProblems(d.root, page, readFile(t, p))
		problems = append(problems, pp...)
		if !slices.Contains(pt, "README.md") {
			problems = append(problems, page+" does not link back to README.md")
		}
	}
	for _, want := range wantLinked {
		if !slices.Contains(targets, want) {
			problems = append(problems, "README.md does not link "+want)
		}
	}
	return problems
}

// mdLinkProblems checks that rel's anchors and relative targets exist, and
// returns the targets, resolved against root.
func mdLinkProblems(root, rel, md string) (problems []string, targets []string) {
	own := mdAnchors(md)
	for _, target := range reGroups(docLinkRE, md) {
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
			full := filepath.Join(root, filepath.FromSlash(resolved))
			if _, err := os.Stat(full); err != nil {
				problems = append(problems, fmt.Sprintf("%s links to %s, which does not exist", rel, target))
			} else if b, err := os.ReadFile(full); anchor != "" && strings.HasSuffix(resolved, ".md") && (err != nil || !mdAnchors(string(b))[anchor]) {
				problems = append(problems, fmt.Sprintf("%s links to %s, but %s has no heading with anchor #%s", rel, target, resolved, anchor))
			}
		}
	}
	return problems, targets
}

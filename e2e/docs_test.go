package e2e

// The checks of the documents: README.md against action.yml and the code,
// the commands it gives against the tests and programs they run, its shape
// and links, the pages under docs/, the examples' references and
// CHANGELOG.md. Each check is a row returning the problems it finds; the
// checkers are proven on small samples in TestDocCheckersCatchMistakes.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
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

// docSet is the repository's root and its README.md.
type docSet struct{ root, readme string }

// docCheck is one check of the documents: the problems it finds.
type docCheck struct {
	name  string
	check func(t *testing.T, d docSet) []string
}

// runDocChecks runs every check as a subtest.
func runDocChecks(t *testing.T, checks []docCheck) {
	t.Parallel()
	root := harness.Root(t)
	d := docSet{root: root, readme: readFile(t, filepath.Join(root, "README.md"))}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range c.check(t, d) {
				t.Error(p)
			}
		})
	}
}

// readmeOrder is the order README.md's sections take, as a user needs them:
// what it is and a quickstart per provider, then options, then runners and
// requirements, then other CIs, then troubleshooting, then development.
// Each is a level-2 heading, so none sits inside another's section.
var readmeOrder = []string{
	"Quickstart", "Inputs", "Outputs", "What the action writes, and where",
	"Long jobs: credential-provider mode", "Supported runners", "Requirements",
	"macOS and Windows runners", "Outside GitHub Actions", "Troubleshooting", "Development",
}

// readmeQuickstartWithin is the line by which the first quickstart starts.
const readmeQuickstartWithin = 60

// TestReadme: README.md's inputs and outputs tables are action.yml's (names,
// order, defaults, descriptions), and action.yml's inputs and defaults the
// code's; every `go test` command it gives runs as written (each -run
// pattern selects a test, each -bench pattern a benchmark, in every package
// named); every flag it gives a `go run` command is one the program's -help
// lists; no command sits in a table cell (a reader copying from the raw file
// keeps the \| escape); the table of contents lists every section in order
// and nothing else; the sections keep readmeOrder, and the first quickstart
// starts within readmeQuickstartWithin lines.
func TestReadme(t *testing.T) {
	runDocChecks(t, []docCheck{
		{"tables match action.yml", readmeTableProblems},
		{"action.yml matches the code", func(t *testing.T, _ docSet) []string { return actionConfigProblems(t) }},
		{"commands run as written", commandProblems},
		{"no command in a table cell", func(_ *testing.T, d docSet) []string { return tableCellProblems(d.readme) }},
		{"contents match the headings", func(_ *testing.T, d docSet) []string {
			links, err := readmeContents(d.readme)
			if err != nil {
				return []string{err.Error()}
			}
			return contentsProblems(links, mdHeadings(d.readme))
		}},
		{"shape", func(_ *testing.T, d docSet) []string { return shapeProblems(mdHeadings(d.readme)) }},
	})
}

// TestDocs: every reference from examples/ to README.md (`README.md,
// "Heading"` or `README.md#anchor`) names a heading that exists, and every
// reference to a docs/ page a page that exists; every link of README.md and
// of the pages under docs/ resolves (its own #anchors, files, and headings of
// the Markdown files it links with #anchor); README.md links examples,
// CHANGELOG.md, LICENSE and every page, and every page links back; and
// CHANGELOG.md passes changelogProblems with the examples there are.
func TestDocs(t *testing.T) {
	runDocChecks(t, []docCheck{
		{"examples' references resolve", exampleRefProblems},
		{"links resolve", linkProblems},
		{"changelog", func(t *testing.T, d docSet) []string {
			entries, err := os.ReadDir(filepath.Join(d.root, "examples"))
			if err != nil || len(entries) < 2 {
				return []string{fmt.Sprintf("examples/ holds %d entries (%v); the check proves nothing", len(entries), err)}
			}
			var examples []string
			for _, e := range entries {
				name := e.Name()
				if e.IsDir() {
					name += "/"
				}
				examples = append(examples, name)
			}
			return changelogProblems(readFile(t, filepath.Join(d.root, "CHANGELOG.md")), examples)
		}},
	})
}

// TestDocCheckersCatchMistakes proves the checkers on small samples: each
// row's problems must hold want ("" = none).
func TestDocCheckersCatchMistakes(t *testing.T) {
	t.Parallel()
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
			c, err := parseGoTest(line)
			if err != nil || c == nil || c.run != run || c.bench != bench || len(c.pkgs) != pkgs {
				return []string{fmt.Sprintf("parseGoTest(%q) = %+v, %v", line, c, err)}
			}
			return nil
		}
	}
	tests := []struct {
		name     string
		problems func() []string
		want     string
	}{
		{"contents: every section", contents("#a", "#b", "#c"), ""},
		{"contents: with subsections", contents("#a", "#a1", "#a2", "#b", "#b1", "#c"), ""},
		{"contents: missing section", contents("#a", "#c"), `does not list "B"`},
		{"contents: missing last", contents("#a", "#b"), `does not list "C"`},
		{"contents: out of order", contents("#b", "#a", "#c"), "#a out of the headings' order"},
		{"contents: unknown", contents("#a", "#b", "#c", "#d"), "#d, which is no heading"},
		{"contents: subsection under the wrong section", contents("#a", "#b", "#a2", "#c"), "out of the headings' order"},
		{"contents: subsection before its section", contents("#a1", "#a", "#b", "#c"), `lists #a1 before its section "A"`},
		{"contents: a file", contents("#a", "#b", "#c", "docs/x.md"), "docs/x.md, which is no heading"},
		{"contents: contents itself", contents("#contents", "#a", "#b", "#c"), "#contents, which is no heading"},
		{"changelog: good", changelog(head + "### Added\n\n- `a.yml` and `dir/`\n\n### Security\n\n- x\n"), ""},
		{"changelog: fixed before a release", changelog(head + "### Added\n\n- `a.yml` `dir/`\n\n### Fixed\n\n- y\n"), `a "Fixed" section`},
		{"changelog: fixed after a release", changelog(head + "### Fixed\n\n- `a.yml` `dir/`\n\n## [1.0.0] - 2026-01-01\n\n### Added\n"), ""},
		{"changelog: two security sections", changelog(head + "### Security\n\n- `a.yml` `dir/`\n\n### Security\n\n- z\n"), `two "Security" sections`},
		{"changelog: an example left out", changelog(head + "### Added\n\n- `a.yml`\n"), "does not name the example `dir/`"},
		{"changelog: an example named only in a release", changelog(head + "### Added\n\n- `a.yml`\n\n## [1.0.0]\n\n- `dir/`\n"), "does not name the example `dir/`"},
		{"changelog: no unreleased", changelog("# Changelog\n"), "no \"## [Unreleased]\""},
		{"go test: quoted pattern", goTest(`go test ./e2e/ -run 'Scenario|Container' -v`, "Scenario|Container", "", 1), ""},
		// What a reader gets from a table cell's escaped pipe: a backslash
		// in the pattern, which then matches no test.
		{"go test: escaped pipe kept", goTest(`go test ./e2e/ -run 'Scenario\|Container' -v`, `Scenario\|Container`, "", 1), ""},
		{"go test: two packages and -bench", goTest(`go test ./exchange ./cargoconf -run '^$' -bench=. -benchmem`, "^$", ".", 2), ""},
		{"go test: unterminated quote", goTest(`go test -run 'open`, "", "", 0), "unterminated quote"},
		{"table cell", func() []string { return tableCellProblems("| `go test ./x` | y |\n| `a \\| b` |\n`go test` outside\n") }, "README.md:2: command in a table cell"},
		{"slug", func() []string {
			if githubSlug("crates.io set-up") != "cratesio-set-up" || githubSlug("Pinning, and what it costs") != "pinning-and-what-it-costs" {
				return []string{"githubSlug does not make GitHub's anchors"}
			}
			return nil
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(tt.problems(), "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("problems in a good sample:\n%s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("problems:\n%s\nwant one saying %q", got, tt.want)
			}
		})
	}
}

// readmeTableProblems compares README.md's inputs and outputs tables with
// action.yml: same names, order, defaults and descriptions.
func readmeTableProblems(t *testing.T, d docSet) []string {
	a := repoAction(t)
	var problems []string
	for _, section := range []string{"inputs", "outputs"} {
		start := strings.Index(d.readme, "<!-- "+section+":begin -->")
		end := strings.Index(d.readme, "<!-- "+section+":end -->")
		if start < 0 || end < start {
			problems = append(problems, "README.md has no "+section+" table markers")
			continue
		}
		var rows, want []string
		for _, line := range strings.Split(d.readme[start:end], "\n") {
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
		if section == "outputs" {
			for _, o := range a.Outputs {
				want = append(want, "| `"+o.Name+"` | "+esc(o.Description)+" |")
			}
		}
		for _, in := range a.Inputs {
			if section == "inputs" {
				def := ""
				if in.Default != "" {
					def = "`" + in.Default + "`"
				}
				want = append(want, "| `"+in.Name+"` | "+def+" | "+esc(in.Description)+" |")
			}
		}
		if len(want) == 0 || strings.Join(rows, "\n") != strings.Join(want, "\n") {
			problems = append(problems, fmt.Sprintf("README.md %s table differs from action.yml.\nREADME:\n%s\naction.yml:\n%s", section, strings.Join(rows, "\n"), strings.Join(want, "\n")))
		}
	}
	return problems
}

// actionConfigProblems compares action.yml's inputs and defaults with the
// ones the code reads.
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
	if strings.Join(names, " ") != strings.Join(config.Inputs, " ") {
		problems = append(problems, fmt.Sprintf("action.yml inputs %v\ncode inputs %v", names, config.Inputs))
	}
	return problems
}

// commandProblems runs every command README.md gives as written: each -run
// pattern of a `go test` selects a test and each -bench pattern a benchmark
// (`go test -list`) in every package named, and each flag of a `go run` is
// one the program's -help lists.
func commandProblems(t *testing.T, d docSet) []string {
	var problems []string
	helps := map[string]string{}
	tests, flags := 0, 0
	for _, line := range readmeCommands(d.readme) {
		words, err := shellWords(line)
		c, perr := parseGoTest(line)
		if err != nil || perr != nil {
			problems = append(problems, fmt.Sprintf("README.md: %q: %v", line, errors.Join(err, perr)))
			continue
		}
		for _, pkg := range c.packages() {
			for _, sel := range []struct {
				pattern, what string
				bench         bool
			}{{c.run, "test", false}, {c.bench, "benchmark", true}} {
				if sel.pattern == "" || sel.pattern == "^$" {
					continue
				}
				tests++
				if !slices.ContainsFunc(goTestList(t, d.root, sel.pattern, pkg), func(n string) bool { return strings.HasPrefix(n, "Benchmark") == sel.bench }) {
					problems = append(problems, fmt.Sprintf("README.md: %q: %q selects no %s in %s", line, sel.pattern, sel.what, pkg))
				}
			}
		}
		if len(words) < 3 || words[0] != "go" || words[1] != "run" {
			continue
		}
		h, ok := helps[words[2]]
		if !ok {
			h = goRunHelp(t, d.root, words[2])
			helps[words[2]] = h
		}
		var known []string
		for _, m := range docHelpFlagRE.FindAllStringSubmatch(h, -1) {
			known = append(known, m[1])
		}
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

// tableCellProblems finds commands in table cells: a command needs its |
// escaped as \| there, which a reader copying from the raw file keeps;
// commands belong in code blocks.
func tableCellProblems(readme string) []string {
	var problems []string
	for n, line := range strings.Split(readme, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, m := range docCodeSpanRE.FindAllStringSubmatch(line, -1) {
			if strings.Contains(m[1], `\|`) || docCommandRE.MatchString(m[1]) {
				problems = append(problems, fmt.Sprintf("README.md:%d: command in a table cell: `%s`", n+1, m[1]))
			}
		}
	}
	return problems
}

// shapeProblems checks that the sections of readmeOrder are level-2
// headings in that order and that the first quickstart (the first heading
// under Quickstart) starts within readmeQuickstartWithin lines.
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

// exampleRefProblems checks every reference from examples/ to README.md and
// to docs/ pages.
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

// linkProblems checks the links of README.md and of every page under docs/.
func linkProblems(t *testing.T, d docSet) []string {
	problems, targets := mdLinkProblems(d.root, "README.md", d.readme)
	pages, _ := filepath.Glob(filepath.Join(d.root, "docs", "*.md"))
	if len(pages) == 0 {
		problems = append(problems, "no pages under docs/")
	}
	wantLinked := []string{"examples", "CHANGELOG.md", "LICENSE"}
	for _, p := range pages {
		rel, _ := filepath.Rel(d.root, p)
		page := filepath.ToSlash(rel)
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

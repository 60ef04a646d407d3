package e2e

import (
	"errors"
	"fmt"
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

	"go.yaml.in/yaml/v3"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
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

// helpFlags returns the names of the flags a help text mentions (-name or
// --name, at the start of a word or after [ or |).
func helpFlags(help string) []string {
	var out []string
	for _, m := range docHelpFlagRE.FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestCLIHelpVersionPlugin(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	// The help lists everything the binary and its credential provider
	// accept: the stages, every flag, --cargo-plugin, the provider's own
	// arguments and every input (credprovider.ParseArgs takes --<input>=).
	help := []string{"Usage:", "post", "--cargo-plugin", "--help", "-h", "--version", "--host-workspace=DIR", "--host-temp=DIR",
		"--<input>=value", "--id-token-env=VAR", "--id-token-file=PATH"}
	help = append(help, config.Inputs...)
	tests := []struct {
		args       []string
		wantStdout []string
		wantStderr []string
		wantCode   int
	}{
		{args: []string{"--help"}, wantStdout: help},
		{args: []string{"-h"}, wantStdout: help},
		{args: []string{"-help"}, wantStdout: help},
		{args: []string{"--version"}, wantStdout: []string{"cargo-oidc e2e"}},
		{args: []string{"--bogus"}, wantStderr: []string{"unknown flag --bogus", "--help"}, wantCode: 2},
		{args: []string{"-x=1"}, wantStderr: []string{"unknown flag -x"}, wantCode: 2},
		{args: []string{"post", "--nope"}, wantStderr: []string{"unknown flag --nope"}, wantCode: 2},
		{args: []string{"--provider=jfrog"}, wantStderr: []string{"unknown flag --provider", "credential-provider setting", "INPUT_"}, wantCode: 2},
		{args: []string{"--host-temp"}, wantStderr: []string{"--host-temp"}, wantCode: 2},
		{args: []string{"extra"}, wantStderr: []string{`unexpected argument "extra"`}, wantCode: 2},
		{args: []string{"--cargo-plugin"}, wantStdout: []string{"{\"v\":[1]}\n"}},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		stdout, stderr, code, err := harness.Output(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if code != tt.wantCode {
			t.Errorf("cargo-oidc %v: exit %d, want %d; stderr %q", tt.args, code, tt.wantCode, stderr)
		}
		for _, w := range tt.wantStdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("cargo-oidc %v: stdout lacks %q:\n%s", tt.args, w, stdout)
			}
		}
		for _, w := range tt.wantStderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("cargo-oidc %v: stderr lacks %q:\n%s", tt.args, w, stderr)
			}
		}
		if tt.wantCode == 2 && stdout != "" {
			t.Errorf("cargo-oidc %v: a command-line error wrote to stdout: %q", tt.args, stdout)
		}
	}
}

// TestCLIHelpListsOnlyWhatIsAccepted: every --name= the help shows is
// accepted: the stage flags by the binary, the provider's arguments and
// inputs by credprovider.ParseArgs.
func TestCLIHelpListsOnlyWhatIsAccepted(t *testing.T) {
	t.Parallel()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	help := string(out)
	flagsPart, providerPart, ok := strings.Cut(help, "Credential provider:")
	if !ok {
		t.Fatalf("help has no credential provider section:\n%s", help)
	}
	names := func(s string) []string {
		var out []string
		for _, m := range docFlagAssignRE.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	stageFlags := names(flagsPart)
	if len(stageFlags) == 0 {
		t.Fatal("help lists no stage flags")
	}
	for _, f := range stageFlags {
		// The post stage with no state does nothing: only the flag is judged.
		cmd := exec.Command(bin, "post", "--"+f+"="+t.TempDir())
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("help lists --%s=, which the binary refuses: %v\n%s", f, err, out)
		}
	}
	providerArgs := names(providerPart)
	for _, in := range config.Inputs {
		if !strings.Contains(providerPart, " "+in) {
			t.Errorf("help does not list input %s", in)
		}
		providerArgs = append(providerArgs, in)
	}
	for _, a := range providerArgs {
		args := []string{"--provider=jfrog", "--url=https://example.jfrog.io", "--provider-name=p", "--repository=r"}
		_, err := credprovider.ParseArgs(append(args, "--"+a+"=x"))
		if err != nil && strings.Contains(err.Error(), "unknown argument") {
			t.Errorf("help lists --%s=, which the credential provider refuses: %v", a, err)
		}
	}
	if _, err := credprovider.ParseArgs([]string{"--provider=crates-io", "--nonsense=x"}); err == nil || !strings.Contains(err.Error(), "unknown argument") {
		t.Errorf("ParseArgs accepted an unknown argument (err %v): the check above proves nothing", err)
	}
}

// docActionEntries lists action.yml's inputs or outputs: name, default
// and description, in file order.
func docActionEntries(t *testing.T, section string) [][3]string {
	t.Helper()
	a := repoAction(t)
	var out [][3]string
	if section == "outputs" {
		for _, o := range a.Outputs {
			out = append(out, [3]string{o.Name, "", o.Description})
		}
		return out
	}
	for _, in := range a.Inputs {
		out = append(out, [3]string{in.Name, in.Default, in.Description})
	}
	return out
}

// TestReadmeTablesMatchActionYML keeps README.md's inputs and outputs tables
// identical to action.yml: same names, order, defaults and descriptions.
func TestReadmeTablesMatchActionYML(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"inputs", "outputs"} {
		start := strings.Index(string(readme), "<!-- "+section+":begin -->")
		end := strings.Index(string(readme), "<!-- "+section+":end -->")
		if start < 0 || end < start {
			t.Fatalf("README.md has no %s table markers", section)
		}
		var rows []string
		for _, line := range strings.Split(string(readme)[start:end], "\n") {
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		var want []string
		for _, e := range docActionEntries(t, section) {
			desc := strings.ReplaceAll(e[2], "|", `\|`)
			if section == "outputs" {
				want = append(want, "| `"+e[0]+"` | "+desc+" |")
				continue
			}
			def := ""
			if e[1] != "" {
				def = "`" + e[1] + "`"
			}
			want = append(want, "| `"+e[0]+"` | "+def+" | "+desc+" |")
		}
		if len(want) == 0 {
			t.Fatalf("no %s read from action.yml", section)
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("README.md %s table differs from action.yml.\nREADME:\n%s\naction.yml:\n%s", section, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestActionYMLMatchesConfig keeps action.yml's inputs and defaults the
// ones the code reads.
func TestActionYMLMatchesConfig(t *testing.T) {
	t.Parallel()
	var names []string
	for _, e := range docActionEntries(t, "inputs") {
		if slices.Contains(config.RunnerInputs, e[0]) {
			continue // read from runs.args, not as an input
		}
		names = append(names, e[0])
		if got := config.Default(e[0]); got != e[1] {
			t.Errorf("input %s: action.yml default %q, code default %q", e[0], e[1], got)
		}
	}
	if strings.Join(names, " ") != strings.Join(config.Inputs, " ") {
		t.Errorf("action.yml inputs %v\ncode inputs %v", names, config.Inputs)
	}
}

// readmeText reads README.md at the repository root.
func readmeText(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

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
	line       string
	pkgs       []string
	run, bench string
	hasRun     bool
}

func parseGoTest(line string) (*goTestCommand, error) {
	words, err := shellWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "test" {
		return nil, nil
	}
	c := &goTestCommand{line: line}
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
				c.run, c.hasRun = value, true
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

func TestShellWordsAndParseGoTest(t *testing.T) {
	t.Parallel()
	c, err := parseGoTest(`go test ./e2e/ -run 'Scenario|Container' -v`)
	if err != nil || c == nil || c.run != "Scenario|Container" || strings.Join(c.pkgs, " ") != "./e2e/" {
		t.Errorf("parseGoTest = %+v, %v", c, err)
	}
	// What a reader gets from a table cell's escaped pipe: a backslash in
	// the pattern, which then matches no test.
	c, err = parseGoTest(`go test ./e2e/ -run 'Scenario\|Container' -v`)
	if err != nil || c.run != `Scenario\|Container` {
		t.Errorf("parseGoTest kept %q, want the backslash", c.run)
	}
	c, err = parseGoTest(`go test ./exchange ./cargoconf -run '^$' -bench=. -benchmem`)
	if err != nil || c.run != "^$" || c.bench != "." || len(c.pkgs) != 2 {
		t.Errorf("parseGoTest = %+v, %v", c, err)
	}
	if _, err := shellWords(`go test -run 'open`); err == nil {
		t.Error("an unterminated quote was accepted")
	}
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

// TestReadmeGoTestPatternsSelectTests: every `go test` command README.md
// gives runs as written: each -run pattern selects at least one test, and
// each -bench pattern at least one benchmark, in every package named.
func TestReadmeGoTestPatternsSelectTests(t *testing.T) {
	t.Parallel()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, line := range readmeCommands(readmeText(t)) {
		c, err := parseGoTest(line)
		if err != nil {
			t.Error(err)
			continue
		}
		if c == nil || (!c.hasRun && c.bench == "") {
			continue
		}
		for _, pkg := range c.pkgs {
			if c.hasRun && c.run != "^$" {
				names := goTestList(t, root, c.run, pkg)
				if !slices.ContainsFunc(names, func(n string) bool { return !strings.HasPrefix(n, "Benchmark") }) {
					t.Errorf("README.md: %q: -run %q selects no test in %s", line, c.run, pkg)
				}
			}
			if c.bench != "" {
				names := goTestList(t, root, c.bench, pkg)
				if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "Benchmark") }) {
					t.Errorf("README.md: %q: -bench %q selects no benchmark in %s", line, c.bench, pkg)
				}
			}
			checked++
		}
	}
	if checked < 5 {
		t.Errorf("checked %d go test commands in README.md; the extraction is broken", checked)
	}
	t.Logf("%d go test commands checked", checked)
}

// TestReadmeGoRunFlagsExist: every flag README.md gives a `go run` command
// is one the program accepts (its -help lists it).
func TestReadmeGoRunFlagsExist(t *testing.T) {
	t.Parallel()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	helps := map[string]string{}
	help := func(pkg string) string {
		if h, ok := helps[pkg]; ok {
			return h
		}
		bin := filepath.Join(t.TempDir(), "prog")
		if pkg == "." {
			b, err := harness.Binary()
			if err != nil {
				t.Fatal(err)
			}
			bin = b
		} else {
			build := exec.Command("go", "build", "-o", bin, pkg)
			build.Dir = root
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", pkg, err, out)
			}
		}
		out, _ := exec.Command(bin, "-help").CombinedOutput() // the exit code is the program's business here
		helps[pkg] = string(out)
		return helps[pkg]
	}
	checked := 0
	for _, line := range readmeCommands(readmeText(t)) {
		words, err := shellWords(line)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(words) < 3 || words[0] != "go" || words[1] != "run" {
			continue
		}
		h := help(words[2])
		for _, w := range words[3:] {
			if !strings.HasPrefix(w, "-") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if (name == "help" || name == "h") && strings.Contains(h, "Usage") {
				checked++ // the flag package accepts -help and -h in every program
				continue
			}
			if !slices.Contains(helpFlags(h), name) {
				t.Errorf("README.md: %q: %s is not a flag of %s:\n%s", line, w, words[2], h)
			}
			checked++
		}
	}
	if checked < 4 {
		t.Errorf("checked %d go run flags in README.md; the extraction is broken", checked)
	}
}

// TestReadmeNoCommandInTableCell: a command in a table cell needs its | escaped
// as \|, which a reader copying from the raw file keeps; commands belong in
// code blocks.
func TestReadmeNoCommandInTableCell(t *testing.T) {
	t.Parallel()
	for n, line := range strings.Split(readmeText(t), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, m := range docCodeSpanRE.FindAllStringSubmatch(line, -1) {
			span := m[1]
			if strings.Contains(span, `\|`) || docCommandRE.MatchString(span) {
				t.Errorf("README.md:%d: command in a table cell: `%s`", n+1, span)
			}
		}
	}
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

// readmeHeadings returns README.md's headings, text and anchor.
func readmeHeadings(readme string) map[string]string {
	out := map[string]string{}
	for _, h := range mdHeadings(readme) {
		out[h.Text] = h.Anchor
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

// docsPages lists the Markdown pages under docs/, relative to root with
// forward slashes.
func docsPages(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range m {
		rel, _ := filepath.Rel(root, f)
		out = append(out, filepath.ToSlash(rel))
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

// TestDocReferencesResolve: every reference from examples/ to README.md
// (`README.md, "Heading"` or `README.md#anchor`) names a heading that
// exists, every reference from examples/ to a docs/ page names a page that
// exists, every in-page link of README.md points at a heading, and every
// relative link points at a file that exists.
func TestDocReferencesResolve(t *testing.T) {
	t.Parallel()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme := readmeText(t)
	headings := readmeHeadings(readme)
	anchors := mdAnchors(readme)
	if githubSlug("crates.io set-up") != "cratesio-set-up" || githubSlug("Pinning, and what it costs") != "pinning-and-what-it-costs" {
		t.Fatal("githubSlug does not make GitHub's anchors")
	}

	refs := 0
	err = filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for n, line := range strings.Split(string(b), "\n") {
			for _, m := range docDocsRefRE.FindAllString(line, -1) {
				refs++
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(m))); err != nil {
					t.Errorf("%s:%d: %s does not exist", rel, n+1, m)
				}
			}
			if !strings.Contains(line, "README.md") {
				continue
			}
			ms := docReadmeRefRE.FindAllStringSubmatch(line, -1)
			if len(ms) == 0 {
				t.Errorf("%s:%d: a mention of README.md without a heading on the same line (README.md, \"Heading\"): %s", rel, n+1, strings.TrimSpace(line))
			}
			for _, m := range ms {
				refs++
				if m[1] != "" {
					if _, ok := headings[m[1]]; !ok {
						t.Errorf("%s:%d: README.md has no heading %q", rel, n+1, m[1])
					}
				} else if !anchors[m[2]] {
					t.Errorf("%s:%d: README.md has no heading with anchor #%s", rel, n+1, m[2])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refs == 0 {
		t.Error("no reference from examples/ to README.md or docs/ found; the check proves nothing")
	}

	problems, targets := mdLinkProblems(root, "README.md", readme)
	for _, p := range problems {
		t.Error(p)
	}
	linked := map[string]bool{}
	for _, target := range targets {
		linked[target] = true
	}
	for _, want := range []string{"examples", "CHANGELOG.md", "LICENSE"} {
		if !linked[want] {
			t.Errorf("README.md does not link %s", want)
		}
	}
}

// TestDocsPagesLinksResolve: every page under docs/ is linked from
// README.md, and every link of a page resolves: its own #anchors, relative
// files, and headings of the Markdown files it links with #anchor
// (README.md's included).
func TestDocsPagesLinksResolve(t *testing.T) {
	t.Parallel()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pages := docsPages(t, root)
	if len(pages) == 0 {
		t.Fatal("no pages under docs/")
	}
	_, readmeTargets := mdLinkProblems(root, "README.md", readmeText(t))
	for _, page := range pages {
		if !slices.Contains(readmeTargets, page) {
			t.Errorf("README.md does not link %s", page)
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		if err != nil {
			t.Fatal(err)
		}
		problems, targets := mdLinkProblems(root, page, string(b))
		for _, p := range problems {
			t.Error(p)
		}
		if !slices.ContainsFunc(targets, func(s string) bool { return s == "README.md" }) {
			t.Errorf("%s does not link back to README.md", page)
		}
	}
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

// TestReadmeContentsMatchesHeadings: README.md's table of contents lists
// every section in order and nothing that is not a heading.
func TestReadmeContentsMatchesHeadings(t *testing.T) {
	t.Parallel()
	readme := readmeText(t)
	links, err := readmeContents(readme)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range contentsProblems(links, mdHeadings(readme)) {
		t.Error(p)
	}
}

// TestReadmeContentsCheckCatchesMistakes proves the table-of-contents check on small samples.
func TestReadmeContentsCheckCatchesMistakes(t *testing.T) {
	t.Parallel()
	const md = "# T\n## Contents\n## A\n### A1\n### A2\n## B\n#### B1\n## C\n"
	tests := []struct {
		name  string
		links []string
		want  string
	}{
		{"every section", []string{"#a", "#b", "#c"}, ""},
		{"with subsections", []string{"#a", "#a1", "#a2", "#b", "#b1", "#c"}, ""},
		{"missing section", []string{"#a", "#c"}, `does not list "B"`},
		{"missing last", []string{"#a", "#b"}, `does not list "C"`},
		{"out of order", []string{"#b", "#a", "#c"}, "#a out of the headings' order"},
		{"unknown", []string{"#a", "#b", "#c", "#d"}, "#d, which is no heading"},
		{"subsection under the wrong section", []string{"#a", "#b", "#a2", "#c"}, "out of the headings' order"},
		{"subsection before its section", []string{"#a1", "#a", "#b", "#c"}, `lists #a1 before its section "A"`},
		{"a file", []string{"#a", "#b", "#c", "docs/x.md"}, "docs/x.md, which is no heading"},
		{"contents itself", []string{"#contents", "#a", "#b", "#c"}, "#contents, which is no heading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(contentsProblems(tt.links, mdHeadings(md)), "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("problems in a good sample:\n%s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("problems:\n%s\nwant one saying %q", got, tt.want)
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

// TestReadmeShape: the sections of readmeOrder are level-2 headings in that
// order, and the first quickstart (the first heading under Quickstart)
// starts within readmeQuickstartWithin lines.
func TestReadmeShape(t *testing.T) {
	t.Parallel()
	headings := mdHeadings(readmeText(t))
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
			t.Errorf("README.md has no heading %q", name)
			continue
		case headings[i].Level != 2:
			t.Errorf("README.md:%d: %q is a level-%d heading, inside another section; want ## %s", headings[i].Line, name, headings[i].Level, name)
		case i < last:
			t.Errorf("README.md:%d: %q comes before %q; want the order %q", headings[i].Line, name, headings[last].Text, readmeOrder)
		}
		last = max(last, i)
	}
	q, ok := pos["Quickstart"]
	if !ok || q+1 >= len(headings) || headings[q+1].Level != 3 {
		t.Fatal("README.md's Quickstart has no subsection")
	}
	if first := headings[q+1]; first.Line > readmeQuickstartWithin {
		t.Errorf("README.md:%d: the first quickstart (%s) starts after line %d", first.Line, first.Text, readmeQuickstartWithin)
	}
}

// TestExamplesSkipForksOnPullRequest: an example that runs on pull_request
// skips the cargo-oidc step (or its whole job) for pull requests from forks,
// which never get an ID token.
func TestExamplesSkipForksOnPullRequest(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	const forkCheck = "github.event.pull_request.head.repo.full_name == github.repository"
	onPR := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := parseYAML(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		on := yget(doc, "on")
		isPR := func(n *yaml.Node) bool { return ystr(n) == "pull_request" }
		if yget(on, "pull_request") == nil && !isPR(on) && !slices.ContainsFunc(yitems(on), isPR) {
			continue
		}
		onPR++
		jobs := yget(doc, "jobs")
		// A job is skipped for forks when its if: says so, when it runs
		// for tags only, or when a job it needs is skipped.
		skips := map[string]bool{}
		for changed := true; changed; {
			changed = false
			for idNode, job := range ypairs(jobs) {
				id := idNode.Value
				cond := ystr(yget(job, "if"))
				s := strings.Contains(cond, forkCheck) || strings.Contains(cond, "startsWith(github.ref, 'refs/tags/")
				needs := yget(job, "needs")
				for _, n := range append([]*yaml.Node{needs}, yitems(needs)...) {
					s = s || skips[ystr(n)]
				}
				if s && !skips[id] {
					skips[id], changed = true, true
				}
			}
		}
		for idNode, job := range ypairs(jobs) {
			id := idNode.Value
			jobSkips := skips[id]
			for _, st := range yitems(yget(job, "steps")) {
				if !strings.HasPrefix(ystr(yget(st, "uses")), "cargo-oidc/") {
					continue
				}
				if !jobSkips && !strings.Contains(ystr(yget(st, "if")), forkCheck) {
					t.Errorf("%s: job %s runs cargo-oidc on pull_request without skipping forks (if: ... %s)", filepath.Base(f), id, forkCheck)
				}
			}
		}
	}
	if onPR == 0 {
		t.Error("no example runs on pull_request; the check proves nothing")
	}
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

// TestDocChangelog: CHANGELOG.md's Unreleased section passes changelogProblems
// with the examples there are.
func TestDocChangelog(t *testing.T) {
	t.Parallel()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	var examples []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		examples = append(examples, name)
	}
	if len(examples) < 2 {
		t.Fatalf("examples/ holds %v; the check proves nothing", examples)
	}
	for _, p := range changelogProblems(string(b), examples) {
		t.Error(p)
	}
}

// TestDocChangelogCheckCatchesMistakes proves changelogProblems on small samples.
func TestDocChangelogCheckCatchesMistakes(t *testing.T) {
	t.Parallel()
	head := "# Changelog\n\n## [Unreleased]\n\n"
	tests := []struct {
		name, text, want string
	}{
		{"good", head + "### Added\n\n- `a.yml` and `dir/`\n\n### Security\n\n- x\n", ""},
		{"fixed before a release", head + "### Added\n\n- `a.yml` `dir/`\n\n### Fixed\n\n- y\n", `a "Fixed" section`},
		{"fixed after a release", head + "### Fixed\n\n- `a.yml` `dir/`\n\n## [1.0.0] - 2026-01-01\n\n### Added\n", ""},
		{"two security sections", head + "### Security\n\n- `a.yml` `dir/`\n\n### Security\n\n- z\n", `two "Security" sections`},
		{"an example left out", head + "### Added\n\n- `a.yml`\n", "does not name the example `dir/`"},
		{"an example named only in a release", head + "### Added\n\n- `a.yml`\n\n## [1.0.0]\n\n- `dir/`\n", "does not name the example `dir/`"},
		{"no unreleased", "# Changelog\n", "no \"## [Unreleased]\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(changelogProblems(tt.text, []string{"a.yml", "dir/"}), "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("problems in a good sample:\n%s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("problems:\n%s\nwant one saying %q", got, tt.want)
			}
		})
	}
}

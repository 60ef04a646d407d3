package e2e

// Checks of the workflows under examples/ and .github/workflows/ and of the
// composite wrapper examples/composite/action.yml: actionlint passes on every
// workflow, and the checks of workflows_check_test.go and the rules below
// hold.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// workflowFiles lists the workflows under examples/ and .github/workflows/,
// relative to root.
func workflowFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"examples/*.yml", "examples/*.yaml", ".github/workflows/*.yml", ".github/workflows/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			rel, _ := filepath.Rel(root, f)
			files = append(files, filepath.ToSlash(rel))
		}
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatal("no workflows found under examples/ and .github/workflows/")
	}
	return files
}

func loadActions(t *testing.T, root string) actionSet {
	t.Helper()
	read := func(rel string) *actionSpec {
		s, err := readActionSpec(rel, []byte(readFile(t, filepath.Join(root, rel))))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return actionSet{Main: mainActionSpec(repoAction(t)), Composite: read("examples/composite/action.yml")}
}

// ---------------------------------------------------------------------------
// Tests.

func TestActionlintWorkflows(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	bin, err := exec.LookPath("actionlint")
	if err != nil {
		gopath, gerr := exec.Command("go", "env", "GOPATH").Output()
		cand := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "actionlint")
		if _, serr := os.Stat(cand); gerr == nil && serr == nil {
			bin, err = cand, nil
		}
	}
	if err != nil {
		harness.Require(t, "actionlint", fmt.Errorf("%w; go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12", err))
	}
	files := workflowFiles(t, root)
	cmd := exec.Command(bin, append([]string{"-no-color"}, files...)...)
	cmd.Dir = root // finds .github/actionlint.yaml
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("actionlint %s: %v\n%s", strings.Join(files, " "), err, out.String())
	}
	t.Logf("actionlint passed on %d workflows", len(files))
}

// TestWorkflows checks every workflow under examples/ and
// .github/workflows/, and the composite wrapper examples/composite: every
// input and output a step of cargo-oidc (or of the composite) uses is
// declared in the action.yml it runs (checkWorkflow, checkComposite), and the
// composite wraps cargo-oidc/cargo-oidc by a literal uses: and forwards its
// every output; every third-party action is pinned by a full commit SHA
// followed by a version comment; every workflow grants nothing at the top;
// every job that runs the action asks for id-token: write, and in examples
// for nothing but id-token: write and contents: read, using the published
// cargo-oidc/cargo-oidc@v1; an example that runs on pull_request skips the
// cargo-oidc step (or its whole job) for pull requests from forks, which
// never get an ID token.
func TestWorkflows(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	acts := loadActions(t, root)
	onPR := 0
	for _, f := range append(workflowFiles(t, root), "examples/composite/action.yml") {
		src := []byte(readFile(t, filepath.Join(root, f)))
		doc, err := parseYAML(src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		problems := pinnedProblems(f, string(src))
		if strings.HasSuffix(f, "composite/action.yml") {
			problems = append(problems, checkComposite(f, src, acts)...)
			if got := yitems(yget(doc, "runs", "steps")); len(got) == 0 || !strings.HasPrefix(ystr(yget(got[0], "uses")), "cargo-oidc/cargo-oidc@") {
				problems = append(problems, f+": the composite does not wrap cargo-oidc/cargo-oidc by a literal uses:")
			}
		} else {
			problems = append(problems, checkWorkflow(f, src, acts)...)
			problems = append(problems, permissionProblems(f, doc, acts)...)
			fp, pr := forkProblems(f, doc)
			problems = append(problems, fp...)
			if pr {
				onPR++
			}
		}
		for _, p := range problems {
			t.Error(p)
		}
	}
	if onPR == 0 {
		t.Error("no example runs on pull_request; the fork check proves nothing")
	}
}

// permissionProblems checks the permissions of a workflow and of its jobs.
func permissionProblems(f string, doc *yaml.Node, acts actionSet) []string {
	var problems []string
	if p := yget(doc, "permissions"); p == nil || p.Kind != yaml.MappingNode || len(p.Content) != 0 {
		problems = append(problems, f+": top-level permissions is not {}")
	}
	example := strings.HasPrefix(f, "examples/")
	usesAction := 0
	for idNode, job := range ypairs(yget(doc, "jobs")) {
		id, perms := idNode.Value, yget(job, "permissions")
		if perms == nil {
			problems = append(problems, fmt.Sprintf("%s: job %s declares no permissions", f, id))
			continue
		}
		runsAction := false
		for _, st := range yitems(yget(job, "steps")) {
			uses := ystr(yget(st, "uses"))
			if acts.target(uses) != nil {
				runsAction = true
				usesAction++
			}
			if example && strings.HasPrefix(uses, "cargo-oidc/") && uses != "cargo-oidc/cargo-oidc@v1" {
				problems = append(problems, fmt.Sprintf("%s: job %s uses %s, want cargo-oidc/cargo-oidc@v1", f, id, uses))
			}
		}
		if runsAction && ystr(yget(perms, "id-token")) != "write" {
			problems = append(problems, fmt.Sprintf("%s: job %s runs the action without id-token: write", f, id))
		}
		got := map[string]string{}
		for k, v := range ypairs(perms) {
			got[k.Value] = ystr(v)
		}
		if want := map[string]string{"id-token": "write", "contents": "read"}; example && fmt.Sprint(got) != fmt.Sprint(want) {
			problems = append(problems, fmt.Sprintf("%s: job %s permissions = %v, want %v", f, id, got, want))
		}
	}
	if example && usesAction == 0 {
		problems = append(problems, f+": the example never runs cargo-oidc")
	}
	return problems
}

var (
	usesLineRE = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinnedRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`)
	versionRE  = regexp.MustCompile(`^\s+#\s*v\d+(\.\d+)*\b`)
)

// pinnedProblems finds third-party actions not pinned by commit SHA with a
// version comment.
func pinnedProblems(f, src string) []string {
	var problems []string
	for n, line := range strings.Split(src, "\n") {
		m := usesLineRE.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		uses := strings.Trim(m[1], `"'`)
		if !strings.HasPrefix(uses, "./") && uses != "cargo-oidc/cargo-oidc@v1" && (!pinnedRE.MatchString(uses) || !versionRE.MatchString(m[2])) {
			problems = append(problems, fmt.Sprintf("%s:%d: %s is not pinned by commit SHA with a # vX.Y.Z comment", f, n+1, uses))
		}
	}
	return problems
}

// forkProblems checks that an example on pull_request skips cargo-oidc for
// forks: a job is skipped when its if: says so, when it runs for tags only,
// or when a job it needs is skipped. It reports whether f runs on
// pull_request at all.
func forkProblems(f string, doc *yaml.Node) ([]string, bool) {
	const forkCheck = "github.event.pull_request.head.repo.full_name == github.repository"
	on := yget(doc, "on")
	isPR := func(n *yaml.Node) bool { return ystr(n) == "pull_request" }
	if !strings.HasPrefix(f, "examples/") || yget(on, "pull_request") == nil && !isPR(on) && !slices.ContainsFunc(yitems(on), isPR) {
		return nil, false
	}
	jobs := yget(doc, "jobs")
	skips := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for idNode, job := range ypairs(jobs) {
			cond := ystr(yget(job, "if"))
			s := strings.Contains(cond, forkCheck) || strings.Contains(cond, "startsWith(github.ref, 'refs/tags/")
			needs := yget(job, "needs")
			for _, n := range append([]*yaml.Node{needs}, yitems(needs)...) {
				s = s || skips[ystr(n)]
			}
			if s && !skips[idNode.Value] {
				skips[idNode.Value], changed = true, true
			}
		}
	}
	var problems []string
	for idNode, job := range ypairs(jobs) {
		for _, st := range yitems(yget(job, "steps")) {
			if strings.HasPrefix(ystr(yget(st, "uses")), "cargo-oidc/") && !skips[idNode.Value] && !strings.Contains(ystr(yget(st, "if")), forkCheck) {
				problems = append(problems, fmt.Sprintf("%s: job %s runs cargo-oidc on pull_request without skipping forks (if: ... %s)", f, idNode.Value, forkCheck))
			}
		}
	}
	return problems, true
}

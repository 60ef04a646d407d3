package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/release"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// world is a repository on a bare remote (t.TempDir), a maintainer's clone
// that commits to main and pushes version tags, and the fake gh. Each
// workflow run checks github.sha out afresh, as actions/checkout does (a
// shallow fetch of that one commit).
type world struct {
	t      *testing.T
	root   string
	remote string // the bare repository: "GitHub"
	dev    string // the maintainer's clone
	gh     string // the fake gh
	env    []string
	runs   atomic.Int32
}

const mainActionYAML = "name: cargo-oidc\ndescription: test\nruns:\n  using: docker\n  image: Dockerfile\n"

func newWorld(t *testing.T) *world {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("skipping: the release tools run on Linux (the release workflow), and the fake gh is this test binary behind a link named gh, which Windows runs only as gh.exe")
	}
	testenv.Tool(t, "git", "CI installs it (.ci/run)")
	root := testenv.TempDir(t)
	w := &world{t: t, root: root, remote: filepath.Join(root, "remote.git"), dev: filepath.Join(root, "dev")}
	for _, d := range []string{"bin", "gh", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w.gh = filepath.Join(root, "bin", "gh")
	if err := os.Symlink(exe, w.gh); err != nil {
		t.Fatal(err)
	}
	gitconfig := filepath.Join(root, "gitconfig")
	if err := os.WriteFile(gitconfig, []byte("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(root, "home"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + gitconfig, "LC_ALL=C",
		"GITHUB_REPOSITORY=cargo-oidc/cargo-oidc"}
	w.git("", "init", "--quiet", "--bare", w.remote)
	w.git("", "init", "--quiet", w.dev)
	w.git(w.dev, "remote", "add", "origin", w.remote)
	w.write(w.dev, "action.yml", mainActionYAML)
	w.write(w.dev, "setup/action.yml", "name: setup\n")
	w.write(w.dev, "main.go", "package main\n")
	w.git(w.dev, "add", ".")
	w.devGit("commit", "--quiet", "-m", "first")
	w.git(w.dev, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	return w
}

// git runs git in dir (the world's root when empty) and returns its
// trimmed stdout.
func (w *world) git(dir string, args ...string) string {
	w.t.Helper()
	if dir == "" {
		dir = w.root
	}
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, w.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// devGit runs git as the maintainer.
func (w *world) devGit(args ...string) string {
	w.t.Helper()
	return w.git(w.dev, append([]string{"-c", "user.name=Maintainer", "-c", "user.email=m@example.com"}, args...)...)
}

func (w *world) write(dir, rel, content string) {
	w.t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// tag commits a change on main, tags it (annotated, as a maintainer does)
// and pushes both; it returns the commit: github.sha of the release run.
func (w *world) tag(tag string) string {
	w.t.Helper()
	w.write(w.dev, "main.go", "package main\n// "+tag+"\n")
	w.devGit("commit", "--quiet", "-am", "work for "+tag)
	w.devGit("tag", "-a", "-m", tag, tag)
	w.git(w.dev, "push", "--quiet", "origin", "HEAD:refs/heads/main", "refs/tags/"+tag)
	return w.git(w.dev, "rev-parse", "HEAD")
}

// runOpts change one workflow run.
type runOpts struct {
	binarySalt string // appended to every binary: a build that is not reproducible
}

// runResult is one workflow run.
type runResult struct {
	outputs map[string]string
	log     string
	summary string // what publish appended to $GITHUB_STEP_SUMMARY
	err     error  // of plan, or of publish
}

// release runs the workflow for tag at sha as release.yml does: checkout,
// release-publish plan, the builds it asks for, release-publish publish.
func (w *world) release(tag, sha string, o runOpts) runResult {
	w.t.Helper()
	n := w.runs.Add(1)
	dir := filepath.Join(w.root, fmt.Sprintf("run%d", n))
	w.git("", "init", "--quiet", dir)
	w.git(dir, "remote", "add", "origin", "file://"+w.remote)
	w.git(dir, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", sha)
	w.git(dir, "checkout", "--quiet", "--detach", sha)

	outFile := filepath.Join(dir+"-env", "output")
	summary := filepath.Join(dir+"-env", "summary")
	if err := os.MkdirAll(filepath.Dir(outFile), 0o755); err != nil {
		w.t.Fatal(err)
	}
	env := append(append([]string(nil), w.env...), "GITHUB_OUTPUT="+outFile, "GITHUB_STEP_SUMMARY="+summary)
	var log bytes.Buffer
	res := runResult{outputs: map[string]string{}}
	res.err = run(context.Background(), []string{"plan", "--tag", tag, "--sha", sha, "--repo", dir}, env, &log, &log)
	if b, err := os.ReadFile(outFile); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				res.outputs[k] = v
			}
		}
	}
	if res.err != nil {
		res.log = log.String()
		return res
	}

	// release-binaries --out dist --setup setup
	dist := filepath.Join(dir, "dist")
	var sums []release.Sum
	for _, tg := range release.Targets {
		data := []byte(fmt.Sprintf("binary %s %s%s", tag, tg, o.binarySalt))
		w.write(dist, tg.Asset(), string(data))
		sums = append(sums, release.SumOf(tg.Asset(), data))
	}
	sumsFile, err := release.FormatSums(sums)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(dist, "SHA256SUMS", string(sumsFile))
	if res.outputs["build"] == "true" {
		files, err := release.SetupFiles(tag, sums)
		if err != nil {
			w.t.Fatal(err)
		}
		for name, data := range files {
			w.write(dir, "setup/"+name, string(data))
		}
		// The image: a digest that differs in every run, as two builds of
		// the same source may.
		digest := fmt.Sprintf("sha256:%064x", n)
		yml, err := release.ReleaseActionYAML([]byte(mainActionYAML), "ghcr.io/cargo-oidc/cargo-oidc:"+strings.TrimPrefix(tag, "v")+"@"+digest)
		if err != nil {
			w.t.Fatal(err)
		}
		w.write(dir, "action.yml", string(yml))
	}
	res.err = run(context.Background(), []string{"publish", "--tag", tag, "--sha", sha, "--repo", dir, "--dist", dist, "--gh", w.gh}, env, &log, &log)
	res.log = log.String()
	if b, err := os.ReadFile(summary); err == nil {
		res.summary = string(b)
	}
	return res
}

// mustRelease runs the workflow and fails the test when it fails.
func (w *world) mustRelease(tag, sha string) runResult {
	w.t.Helper()
	r := w.release(tag, sha, runOpts{})
	if r.err != nil {
		w.t.Fatalf("release %s: %v\n%s", tag, r.err, r.log)
	}
	return r
}

// tags returns the remote's tags, each with the commit it peels to.
func (w *world) tags() map[string]string {
	w.t.Helper()
	out := w.git("", "ls-remote", "--tags", w.remote)
	tags := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		id, ref, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		name := strings.TrimPrefix(ref, "refs/tags/")
		if base, ok := strings.CutSuffix(name, "^{}"); ok {
			tags[base] = id
		} else if _, seen := tags[name]; !seen {
			tags[name] = id
		}
	}
	return tags
}

// tagObjects returns the remote's tag refs as they are (tag objects for
// annotated tags): a force-push of an identical-looking tag changes them.
func (w *world) tagObjects() string {
	w.t.Helper()
	return w.git(w.remote, "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags")
}

// commits lists every commit object in the remote.
func (w *world) commits() []string {
	w.t.Helper()
	out := w.git(w.remote, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname)")
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(line, "commit "); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// calls returns the fake gh's calls so far.
func (w *world) calls() [][]string {
	w.t.Helper()
	f, err := os.Open(filepath.Join(w.root, "gh", "calls.jsonl"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	var calls [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c []string
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			w.t.Fatal(err)
		}
		calls = append(calls, c)
	}
	return calls
}

// writes are the calls among cs that change a release.
func writes(cs [][]string) [][]string {
	var out [][]string
	for _, c := range cs {
		if len(c) > 1 && c[1] != "view" && c[1] != "download" {
			out = append(out, c)
		}
	}
	return out
}

func (w *world) ghState() fakeState { return fakeState{dir: filepath.Join(w.root, "gh")} }

// githubRelease returns the fake's release of tag and its assets' contents.
func (w *world) githubRelease(tag string) (*fakeRelease, map[string]string) {
	w.t.Helper()
	s := w.ghState()
	r, err := s.load(tag)
	if err != nil {
		w.t.Fatal(err)
	}
	assets := map[string]string{}
	for _, n := range s.assets(tag) {
		b, err := os.ReadFile(s.asset(tag, n))
		if err != nil {
			w.t.Fatal(err)
		}
		assets[n] = string(b)
	}
	return r, assets
}

// checkComplete asserts a finished release of tag made from sha: the tag
// points at a release commit whose parent is sha and whose setup/ names
// the release's files, and the GitHub release has exactly those files.
func (w *world) checkComplete(tag, sha string, prerelease bool) string {
	w.t.Helper()
	commit := w.tags()[tag]
	if commit == sha || commit == "" {
		w.t.Fatalf("%s points at %q, want a release commit on %s", tag, commit, sha)
	}
	if p := w.git(w.remote, "rev-parse", commit+"^"); p != sha {
		w.t.Fatalf("release commit %s has parent %s, want %s", commit, p, sha)
	}
	if v := w.git(w.remote, "show", commit+":setup/VERSION"); v != tag {
		w.t.Fatalf("release commit's setup/VERSION = %q", v)
	}
	if a := w.git(w.remote, "show", commit+":action.yml"); !strings.Contains(a, "image: docker://ghcr.io/cargo-oidc/cargo-oidc:"+strings.TrimPrefix(tag, "v")+"@sha256:") {
		w.t.Fatalf("release commit's action.yml is not pinned:\n%s", a)
	}
	sums := w.git(w.remote, "show", commit+":setup/SHA256SUMS") + "\n"
	r, assets := w.githubRelease(tag)
	if r == nil || r.Draft || r.Prerelease != prerelease {
		w.t.Fatalf("GitHub release %s = %+v, want published with prerelease=%t", tag, r, prerelease)
	}
	if assets["SHA256SUMS"] != sums {
		w.t.Fatalf("the release's SHA256SUMS differs from the release commit's:\n%s\nvs\n%s", assets["SHA256SUMS"], sums)
	}
	list, err := release.ParseSums([]byte(sums))
	if err != nil {
		w.t.Fatal(err)
	}
	if len(assets) != len(list)+1 || len(list) != len(release.Targets) {
		w.t.Fatalf("release %s has %d files, want %d", tag, len(assets), len(release.Targets)+1)
	}
	for _, s := range list {
		if release.SumOf(s.Name, []byte(assets[s.Name])).Hex != s.Hex {
			w.t.Fatalf("release asset %s does not match the release commit's checksum", s.Name)
		}
	}
	return commit
}

func hasArg(c []string, arg string) bool {
	for _, a := range c {
		if a == arg {
			return true
		}
	}
	return false
}

func TestFirstReleaseCreatesMajorTag(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	sha := w.tag("v1.0.0")
	r := w.mustRelease("v1.0.0", sha)
	want := map[string]string{"tag": "v1.0.0", "version": "1.0.0", "major": "v1", "prerelease": "false", "release-commit": "", "build": "true"}
	if !reflect.DeepEqual(r.outputs, want) {
		t.Errorf("plan outputs = %v, want %v", r.outputs, want)
	}
	commit := w.checkComplete("v1.0.0", sha, false)
	if got := w.tags()["v1"]; got != commit {
		t.Errorf("v1 = %q, want the release commit %s", got, commit)
	}
	for _, want := range []string{"- v1.0.0: pushed release commit " + commit, "- v1.0.0: published the GitHub release with 7 files", "- v1.0.0: created v1 at " + commit} {
		if !strings.Contains(r.summary, want+"\n") && !strings.Contains(r.summary, want+" ") {
			t.Errorf("step summary lacks %q:\n%s", want, r.summary)
		}
	}
	rel, _ := w.githubRelease("v1.0.0")
	if rel.Latest != "true" || rel.Title != "cargo-oidc v1.0.0" || !strings.Contains(rel.Notes, "--repo cargo-oidc/cargo-oidc") {
		t.Errorf("release = %+v", rel)
	}
	// The human's annotated tag is replaced by an annotated tag on the
	// release commit (users pin `refs/tags/v1.0.0^{}`).
	if typ := w.git(w.remote, "cat-file", "-t", "refs/tags/v1.0.0"); typ != "tag" {
		t.Errorf("v1.0.0 is a %s, want an annotated tag", typ)
	}
	for _, c := range w.calls() {
		if hasArg(c, "--clobber") || hasArg(c, "--prerelease") {
			t.Errorf("gh call %q", c)
		}
	}
}

func TestPrereleaseNeverMovesMajorTag(t *testing.T) {
	type test struct {
		first string // a stable release made before, or ""
		tag   string
	}
	testenv.Run(t, map[string]test{
		"rc after a stable release":    {"v1.0.0", "v1.1.0-rc.1"},
		"rc of the next major":         {"v1.0.0", "v2.0.0-rc.1"},
		"rc as the very first release": {"", "v1.0.0-rc.1"},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t)
		if tt.first != "" {
			w.mustRelease(tt.first, w.tag(tt.first))
		}
		before := w.tags()
		sha := w.tag(tt.tag)
		n := len(w.calls())
		r := w.mustRelease(tt.tag, sha)
		if r.outputs["prerelease"] != "true" {
			t.Errorf("plan outputs prerelease = %q", r.outputs["prerelease"])
		}
		w.checkComplete(tt.tag, sha, true)
		after := w.tags()
		for _, major := range []string{"v1", "v2"} {
			if after[major] != before[major] {
				t.Errorf("%s moved from %q to %q", major, before[major], after[major])
			}
		}
		var create []string
		for _, c := range writes(w.calls()[n:]) {
			if c[1] == "create" {
				create = c
			}
		}
		if !hasArg(create, "--prerelease") || !hasArg(create, "--latest=false") {
			t.Errorf("gh release create = %q, want --prerelease and --latest=false", create)
		}
		if !strings.Contains(r.log, "a prerelease; v") {
			t.Errorf("log does not say the major tag stays:\n%s", r.log)
		}
	})
}

func TestMajorTagOnlyMovesForward(t *testing.T) {
	type test struct {
		// forget removes the version tag v1.3.0 from the remote, so the
		// version v1 points at is read from its setup/VERSION.
		forget bool
	}
	testenv.Run(t, map[string]test{
		"version read from the tags":      {false},
		"version read from setup/VERSION": {true},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t)
		w.mustRelease("v1.3.0", w.tag("v1.3.0"))
		v13 := w.tags()["v1"]
		if tt.forget {
			w.git(w.dev, "push", "--quiet", "origin", ":refs/tags/v1.3.0")
		}

		sha := w.tag("v1.2.0") // a maintenance release, after v1.3.0
		n := len(w.calls())
		r := w.mustRelease("v1.2.0", sha)
		w.checkComplete("v1.2.0", sha, false)
		if got := w.tags()["v1"]; got != v13 {
			t.Fatalf("v1 moved backwards from v1.3.0 (%s) to %s", v13, got)
		}
		if !strings.Contains(r.log, "v1 stays at v1.3.0") {
			t.Errorf("log does not say v1 stays:\n%s", r.log)
		}
		for _, c := range writes(w.calls()[n:]) {
			if c[1] == "create" && !hasArg(c, "--latest=false") {
				t.Errorf("v1.2.0 would become the Latest release: %q", c)
			}
		}

		// A higher version moves it.
		sha = w.tag("v1.4.0")
		w.mustRelease("v1.4.0", sha)
		if got, want := w.tags()["v1"], w.checkComplete("v1.4.0", sha, false); got != want {
			t.Errorf("v1 = %s after v1.4.0, want its release commit %s", got, want)
		}
	})
}

func TestRerunAfterSuccessChangesNothing(t *testing.T) {
	t.Parallel()
	for _, tag := range []string{"v1.0.0", "v1.1.0-rc.1"} {
		t.Run(tag, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			sha := w.tag(tag)
			w.mustRelease(tag, sha)
			commits, refs := w.commits(), w.tagObjects()
			_, assets := w.githubRelease(tag)
			n := len(w.calls())

			r := w.mustRelease(tag, sha)
			if r.outputs["build"] != "false" || r.outputs["release-commit"] != w.tags()[tag] {
				t.Errorf("plan outputs = %v, want build=false and the release commit", r.outputs)
			}
			if got := w.commits(); !reflect.DeepEqual(got, commits) {
				t.Errorf("the re-run added commits to the remote: %v, before %v", got, commits)
			}
			if got := w.tagObjects(); got != refs {
				t.Errorf("the re-run changed tags:\n%s\nbefore:\n%s", got, refs)
			}
			if got := writes(w.calls()[n:]); len(got) != 0 {
				t.Errorf("the re-run changed the GitHub release: %q", got)
			}
			if _, got := w.githubRelease(tag); !reflect.DeepEqual(got, assets) {
				t.Error("the re-run changed the release's files")
			}
		})
	}
}

func TestRerunFinishesMissingSteps(t *testing.T) {
	type test struct {
		// prior is a release made before, whose commit v1 holds, or "".
		prior string
		// fail breaks the first run; nil: the run succeeds and v1 is then
		// put back where it was, as if its push had failed.
		fail func(w *world)
		// wantWrites are the gh calls of the re-run that change the release.
		wantWrites []string
	}
	testenv.Run(t, map[string]test{
		"release creation failed":                         {"", func(w *world) { w.write(w.root, "gh/fail", "create:0") }, []string{"create"}},
		"release creation left a draft with 3 of 7 files": {"", func(w *world) { w.write(w.root, "gh/fail", "create:3") }, []string{"upload", "edit"}},
		"major tag not created":                           {"", nil, nil},
		"major tag not moved from the previous release":   {"v1.0.0", nil, nil},
		"draft left, v1 on the previous release":          {"v1.0.0", func(w *world) { w.write(w.root, "gh/fail", "create:5") }, []string{"upload", "edit"}},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t)
		tag := "v1.0.0"
		if tt.prior != "" {
			w.mustRelease(tt.prior, w.tag(tt.prior))
			tag = "v1.1.0"
		}
		before := w.tags()["v1"]
		sha := w.tag(tag)
		if tt.fail != nil {
			tt.fail(w)
			if r := w.release(tag, sha, runOpts{}); r.err == nil {
				t.Fatalf("the first run did not fail:\n%s", r.log)
			}
			os.Remove(filepath.Join(w.root, "gh", "fail"))
		} else {
			w.mustRelease(tag, sha)
			if before == "" {
				w.git(w.dev, "push", "--quiet", "origin", ":refs/tags/v1")
			} else {
				w.git(w.remote, "update-ref", "refs/tags/v1", before)
			}
		}
		if got := w.tags()["v1"]; got != before {
			t.Fatalf("v1 = %q after the failed run, want %q: the major tag moved before the release was complete", got, before)
		}
		commit := w.tags()[tag]
		commits := w.commits()
		had := len(w.ghState().assets(tag))
		n := len(w.calls())

		r := w.mustRelease(tag, sha)
		if r.outputs["build"] != "false" {
			t.Errorf("the re-run builds again: %v", r.outputs)
		}
		if got := w.checkComplete(tag, sha, false); got != commit {
			t.Errorf("%s moved from %s to %s", tag, commit, got)
		}
		if got := w.commits(); !reflect.DeepEqual(got, commits) {
			t.Errorf("the re-run added commits: %v, before %v", got, commits)
		}
		if got := w.tags()["v1"]; got != commit {
			t.Errorf("v1 = %q, want %s", got, commit)
		}
		var got []string
		for _, c := range writes(w.calls()[n:]) {
			got = append(got, c[1])
			if hasArg(c, "--clobber") {
				t.Errorf("gh call with --clobber: %q", c)
			}
			if uploaded := len(c) - 3; c[1] == "upload" && uploaded != len(release.Targets)+1-had {
				t.Errorf("upload of %d files, want only the missing ones: %q", uploaded, c)
			}
		}
		if !reflect.DeepEqual(got, tt.wantWrites) {
			t.Errorf("the re-run's gh writes = %q, want %q", got, tt.wantWrites)
		}
	})
}

func TestAssetsAreNeverReplaced(t *testing.T) {
	type test struct {
		tamper  func(w *world) // after a run that left a draft with 3 files
		salt    string         // the re-run's binaries differ from the first build
		wantErr string
	}
	testenv.Run(t, map[string]test{
		"published asset differs from the release commit": {func(w *world) {
			w.write(w.root, "gh/releases/v1.0.0/assets/cargo-oidc-darwin-amd64", "someone else's binary")
		}, "", "is not replaced"},
		"published SHA256SUMS differs": {func(w *world) {
			w.write(w.root, "gh/releases/v1.0.0/assets/SHA256SUMS", "0000  x\n")
		}, "", "is not replaced"},
		"an asset the release does not make": {func(w *world) {
			w.write(w.root, "gh/releases/v1.0.0/assets/evil.sh", "curl | sh")
		}, "", "that the release does not make"},
		"rebuilt binary differs from the release commit's checksum": {nil, " rebuilt", "cannot be uploaded"},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t)
		sha := w.tag("v1.0.0")
		w.write(w.root, "gh/fail", "create:3")
		if r := w.release("v1.0.0", sha, runOpts{}); r.err == nil {
			t.Fatal("the first run did not fail")
		}
		os.Remove(filepath.Join(w.root, "gh", "fail"))
		if tt.tamper != nil {
			tt.tamper(w)
		}
		_, assets := w.githubRelease("v1.0.0")
		tags := w.tagObjects()
		n := len(w.calls())

		r := w.release("v1.0.0", sha, runOpts{binarySalt: tt.salt})
		if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
			t.Fatalf("err = %v, want %q\n%s", r.err, tt.wantErr, r.log)
		}
		if got := writes(w.calls()[n:]); len(got) != 0 {
			t.Errorf("gh changed the release: %q", got)
		}
		if _, got := w.githubRelease("v1.0.0"); !reflect.DeepEqual(got, assets) {
			t.Error("the release's files changed")
		}
		if got := w.tagObjects(); got != tags {
			t.Errorf("tags changed:\n%s\nbefore:\n%s", got, tags)
		}
	})
}

func TestRefusesBadTagsAndMovedTags(t *testing.T) {
	type test struct {
		push    string // the tag the maintainer pushes ("" for none)
		tag     string // the tag the workflow runs for
		other   bool   // run for an older commit than the tag's
		wantErr string
	}
	testenv.Run(t, map[string]test{
		"no v":                             {"1.2.3", "1.2.3", false, "is not vMAJOR.MINOR.PATCH"},
		"two numbers":                      {"v1.2", "v1.2", false, "is not vMAJOR.MINOR.PATCH"},
		"major only":                       {"v1", "v1", false, "is not vMAJOR.MINOR.PATCH"},
		"build metadata":                   {"v1.2.3+5", "v1.2.3+5", false, "is not vMAJOR.MINOR.PATCH"},
		"leading zero":                     {"v1.02.3", "v1.02.3", false, "is not vMAJOR.MINOR.PATCH"},
		"empty pre-release":                {"v1.2.3-", "v1.2.3-", false, "is not vMAJOR.MINOR.PATCH"},
		"tag not on the remote":            {"", "v1.2.3", false, "is not on origin"},
		"tag moved to another main commit": {"v1.2.3", "v1.2.3", true, "neither"},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t)
		sha := w.git(w.dev, "rev-parse", "HEAD")
		if tt.push != "" {
			tagged := w.tag(tt.push)
			if !tt.other {
				sha = tagged
			}
		}
		tags, commits := w.tagObjects(), w.commits()
		r := w.release(tt.tag, sha, runOpts{})
		if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
			t.Fatalf("err = %v, want %q\n%s", r.err, tt.wantErr, r.log)
		}
		if len(w.calls()) != 0 {
			t.Errorf("gh was called: %q", w.calls())
		}
		if got := w.tagObjects(); got != tags {
			t.Errorf("tags changed:\n%s", got)
		}
		if got := w.commits(); !reflect.DeepEqual(got, commits) {
			t.Error("commits were pushed")
		}
	})
}

func TestParseRefuses(t *testing.T) {
	sha := strings.Repeat("a", 40)
	type test struct {
		args []string
		want string
	}
	testenv.Run(t, map[string]test{
		"no command":           {nil, "plan or publish"},
		"unknown command":      {[]string{"push"}, "plan or publish"},
		"no tag":               {[]string{"plan", "--sha", sha}, "--tag is required"},
		"bad tag":              {[]string{"plan", "--tag", "v1.2", "--sha", sha}, "is not vMAJOR.MINOR.PATCH"},
		"no sha":               {[]string{"plan", "--tag", "v1.2.3"}, "not a full commit id"},
		"short sha":            {[]string{"plan", "--tag", "v1.2.3", "--sha", "abc123"}, "not a full commit id"},
		"publish without dist": {[]string{"publish", "--tag", "v1.2.3", "--sha", sha}, "--dist is required"},
		"dist on plan":         {[]string{"plan", "--tag", "v1.2.3", "--sha", sha, "--dist", "d"}, "flag provided but not defined"},
		"stray argument":       {[]string{"plan", "--tag", "v1.2.3", "--sha", sha, "x"}, "unexpected argument"},
	}, func(t *testing.T, _ string, tt test) {
		_, err := parse(tt.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	})
}

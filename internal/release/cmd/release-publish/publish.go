package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

// The bot identity of the release commit and tag, as actions/checkout
// documents for commits made by a workflow.
const (
	botName  = "github-actions[bot]"
	botEmail = "41898282+github-actions[bot]@users.noreply.github.com"
)

// publisher runs the steps of one release against a checkout and a remote.
type publisher struct {
	o       *options
	env     []string
	log     io.Writer
	summary []string
}

func newPublisher(o *options, env []string, log io.Writer) *publisher {
	return &publisher{o: o, env: env, log: log}
}

// say prints a line to the log and keeps it for the step summary.
func (p *publisher) say(format string, a ...any) {
	line := fmt.Sprintf(format, a...)
	fmt.Fprintln(p.log, line)
	p.summary = append(p.summary, line)
}

// cmdError is a git or gh command that failed, with what it printed on
// stderr (neither prints a token: git authenticates through the checkout's
// extra header, gh through GH_TOKEN).
type cmdError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *cmdError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if len(msg) > 2000 {
		msg = msg[:2000] + "..."
	}
	if msg == "" {
		return fmt.Sprintf("%s: %v", strings.Join(e.Args, " "), e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Args, " "), e.Err, msg)
}

func (e *cmdError) Unwrap() error { return e.Err }

// exec runs name with args in the checkout and returns its stdout.
func (p *publisher) exec(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = p.o.repo
	cmd.Env = p.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &cmdError{Args: append([]string{filepath.Base(name)}, args...), Stderr: stderr.String(), Err: err}
	}
	return stdout.String(), nil
}

func (p *publisher) git(ctx context.Context, args ...string) (string, error) {
	return p.exec(ctx, "git", args...)
}

func (p *publisher) gh(ctx context.Context, args ...string) (string, error) {
	return p.exec(ctx, p.o.gh, args...)
}

// remoteRef is a tag on the remote: the object the ref names (a tag object
// for an annotated tag) and the commit it peels to.
type remoteRef struct {
	Object, Commit string
}

// remoteTags lists the remote's tags.
func (p *publisher) remoteTags(ctx context.Context) (map[string]remoteRef, error) {
	out, err := p.git(ctx, "ls-remote", "--tags", p.o.remote)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", p.o.remote, err)
	}
	refs := map[string]remoteRef{}
	peeled := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		id, ref, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok || !strings.HasPrefix(ref, "refs/tags/") {
			continue
		}
		name := strings.TrimPrefix(ref, "refs/tags/")
		if base, ok := strings.CutSuffix(name, "^{}"); ok {
			peeled[base] = id
			continue
		}
		refs[name] = remoteRef{Object: id, Commit: id}
	}
	for name, c := range peeled {
		if r, ok := refs[name]; ok {
			r.Commit = c
			refs[name] = r
		}
	}
	return refs, nil
}

// fetchTag fetches a remote tag into a private ref, so its commit and tree
// can be read (the checkout has only github.sha).
func (p *publisher) fetchTag(ctx context.Context, name string) error {
	_, err := p.git(ctx, "fetch", "--quiet", "--no-tags", p.o.remote,
		"+refs/tags/"+name+":refs/release-publish/"+name)
	if err != nil {
		return fmt.Errorf("fetching tag %s from %s: %w", name, p.o.remote, err)
	}
	return nil
}

// parents returns the parents of a commit, read from the commit object
// (which names them even in a shallow clone).
func (p *publisher) parents(ctx context.Context, commit string) ([]string, error) {
	out, err := p.git(ctx, "cat-file", "commit", commit)
	if err != nil {
		return nil, err
	}
	var ps []string
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			break // end of the header
		}
		if id, ok := strings.CutPrefix(line, "parent "); ok {
			ps = append(ps, id)
		}
	}
	return ps, nil
}

// show returns a file of a commit.
func (p *publisher) show(ctx context.Context, commit, path string) ([]byte, error) {
	out, err := p.git(ctx, "show", commit+":"+path)
	return []byte(out), err
}

// checkReleaseFiles checks the files a release commit of tag carries:
// setup/VERSION names the tag and action.yml runs the tag's image by digest.
func checkReleaseFiles(v release.Version, version, actionYAML []byte) error {
	if string(version) != v.String()+"\n" {
		return fmt.Errorf("%s/%s is %q, want %q", release.SetupDir, release.SetupVersionFile, strings.TrimSpace(string(version)), v.String())
	}
	want := ":" + strings.TrimPrefix(v.String(), "v") + "@sha256:"
	for _, line := range strings.Split(string(actionYAML), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "image: docker://") && strings.Contains(l, want) {
			return nil
		}
	}
	return fmt.Errorf("action.yml does not run an image of version %s by digest (no line \"image: docker://...%s...\")", v, want)
}

// plan is what the workflow must still build.
type plan struct {
	v release.Version
	// commit is the release commit an earlier run pushed, or empty when
	// the tag still points at github.sha.
	commit string
}

// outputs are the step outputs of plan.
func (pl *plan) outputs() [][2]string {
	return [][2]string{
		{"tag", pl.v.String()},
		{"version", strings.TrimPrefix(pl.v.String(), "v")},
		{"major", pl.v.MajorTag()},
		{"prerelease", strconv.FormatBool(pl.v.Prerelease())},
		{"release-commit", pl.commit},
		{"build", strconv.FormatBool(pl.commit == "")},
	}
}

// plan reads where the version tag points on the remote.
func (p *publisher) plan(ctx context.Context) (*plan, error) {
	refs, err := p.remoteTags(ctx)
	if err != nil {
		return nil, err
	}
	commit, err := p.releaseCommit(ctx, refs)
	if err != nil {
		return nil, err
	}
	if commit == "" {
		p.say("%s points at %s: nothing published yet; build the binaries, the image and the release commit", p.o.tag, p.o.sha)
	} else {
		p.say("%s already points at release commit %s (parent %s): reusing it; no image is built or pushed, no commit made", p.o.tag, commit, p.o.sha)
	}
	return &plan{v: p.o.version, commit: commit}, nil
}

// releaseCommit returns the release commit the version tag points at, or
// "" when it still points at github.sha. Any other target is an error: the
// workflow never moves a tag it did not make.
func (p *publisher) releaseCommit(ctx context.Context, refs map[string]remoteRef) (string, error) {
	tag := p.o.tag
	ref, ok := refs[tag]
	if !ok {
		return "", fmt.Errorf("tag %s is not on %s; push the tag (git push origin %s) to release it", tag, p.o.remote, tag)
	}
	if ref.Commit == p.o.sha {
		return "", nil
	}
	moved := fmt.Errorf("tag %s points at %s, which is neither %s (the commit the tag was pushed for) "+
		"nor a release commit made from it; the workflow does not move a tag someone else moved: "+
		"check the tag's history, and release a new version instead of re-using %s", tag, ref.Commit, p.o.sha, tag)
	if err := p.fetchTag(ctx, tag); err != nil {
		return "", err
	}
	parents, err := p.parents(ctx, ref.Commit)
	if err != nil {
		return "", err
	}
	if len(parents) != 1 || parents[0] != p.o.sha {
		return "", moved
	}
	version, verr := p.show(ctx, ref.Commit, release.SetupDir+"/"+release.SetupVersionFile)
	action, aerr := p.show(ctx, ref.Commit, "action.yml")
	if err := errors.Join(verr, aerr); err != nil {
		return "", fmt.Errorf("%w (reading its files: %w)", moved, err)
	}
	if err := checkReleaseFiles(p.o.version, version, action); err != nil {
		return "", fmt.Errorf("%w (%w)", moved, err)
	}
	return ref.Commit, nil
}

// publish runs the three steps, each only when missing.
func (p *publisher) publish(ctx context.Context) error {
	refs, err := p.remoteTags(ctx)
	if err != nil {
		return err
	}
	commit, err := p.releaseCommit(ctx, refs)
	if err != nil {
		return err
	}
	var sums []byte
	if commit == "" {
		if commit, sums, err = p.commitAndTag(ctx, refs[p.o.tag]); err != nil {
			return err
		}
	} else {
		p.say("%s: release commit %s exists; no new commit, the tag stays", p.o.tag, commit)
		if sums, err = p.show(ctx, commit, release.SetupDir+"/"+release.SetupSumsFile); err != nil {
			return fmt.Errorf("reading the release commit's checksums: %w", err)
		}
	}
	want, err := expectedAssets(sums)
	if err != nil {
		return fmt.Errorf("release commit %s: %w", commit, err)
	}
	if refs, err = p.remoteTags(ctx); err != nil {
		return err
	}
	major, err := p.planMajor(ctx, refs, commit)
	if err != nil {
		return err
	}
	// A stable release that leaves its major tag on a higher version is
	// not the repository's Latest release either.
	latest := isLatest(p.o.version, refs) && (major.push || major.cur != nil && major.cur.Commit == commit)
	// The binaries are published before the major tag moves, so a job using
	// setup@v1 never sees checksums whose files are not there yet.
	if err := p.githubRelease(ctx, want, latest); err != nil {
		return err
	}
	return p.moveMajor(ctx, major, commit)
}

// commitAndTag makes the release commit from the work tree (github.sha with
// the release files written), tags it and pushes the tag, leased on its old
// value: the one move of a version tag, from github.sha to its release
// commit. It returns the commit and the SHA256SUMS it carries.
func (p *publisher) commitAndTag(ctx context.Context, old remoteRef) (string, []byte, error) {
	head, err := p.git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", nil, err
	}
	if strings.TrimSpace(head) != p.o.sha {
		return "", nil, fmt.Errorf("the checkout %s is at %s, not %s; check out github.sha", p.o.repo, strings.TrimSpace(head), p.o.sha)
	}
	files := []string{"action.yml", release.SetupDir + "/" + release.SetupSumsFile, release.SetupDir + "/" + release.SetupVersionFile}
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(p.o.repo, rel)) }
	action, aerr := read(files[0])
	sums, serr := read(files[1])
	version, verr := read(files[2])
	dist, derr := os.ReadFile(filepath.Join(p.o.dist, release.SetupSumsFile))
	if err := errors.Join(aerr, serr, verr, derr); err != nil {
		return "", nil, fmt.Errorf("the release files are missing; run release-binaries --setup and release-action first: %w", err)
	}
	if err := checkReleaseFiles(p.o.version, version, action); err != nil {
		return "", nil, fmt.Errorf("work tree: %w; run release-binaries --setup and release-action first", err)
	}
	if !bytes.Equal(sums, dist) {
		return "", nil, fmt.Errorf("%s differs from %s: the release commit must name the binaries being published; "+
			"run release-binaries with --out %s --setup %s", files[1], filepath.Join(p.o.dist, release.SetupSumsFile), p.o.dist, release.SetupDir)
	}
	id := []string{"-c", "user.name=" + botName, "-c", "user.email=" + botEmail}
	if _, err := p.git(ctx, append([]string{"add", "--"}, files...)...); err != nil {
		return "", nil, err
	}
	msg := fmt.Sprintf("Release %s: action.yml runs the image by digest; setup/ checks the binaries against SHA256SUMS", p.o.tag)
	if _, err := p.git(ctx, append(append(id, "commit", "--quiet", "--no-verify", "-m", msg, "--"), files...)...); err != nil {
		return "", nil, err
	}
	out, err := p.git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", nil, err
	}
	commit := strings.TrimSpace(out)
	if ps, err := p.parents(ctx, commit); err != nil || len(ps) != 1 || ps[0] != p.o.sha {
		return "", nil, fmt.Errorf("the release commit %s is not a child of %s (parents %v, %v)", commit, p.o.sha, ps, err)
	}
	if _, err := p.git(ctx, append(id, "tag", "--force", "--annotate", "-m", "cargo-oidc "+p.o.tag, p.o.tag, commit)...); err != nil {
		return "", nil, err
	}
	ref := "refs/tags/" + p.o.tag
	if _, err := p.git(ctx, "push", "--quiet", "--force-with-lease="+ref+":"+old.Object, p.o.remote, ref+":"+ref); err != nil {
		return "", nil, fmt.Errorf("pushing %s to release commit %s (leased on its old value %s): %w; "+
			"if the tag changed since the workflow started, do not re-run: release a new version", p.o.tag, commit, old.Object, err)
	}
	p.say("%s: pushed release commit %s (parent %s)", p.o.tag, commit, p.o.sha)
	return commit, sums, nil
}

// expectedAssets are the release's files and their SHA-256: every file
// SHA256SUMS names, and SHA256SUMS itself.
func expectedAssets(sums []byte) (map[string]string, error) {
	list, err := release.ParseSums(sums)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errors.New("SHA256SUMS names no file")
	}
	want := map[string]string{release.SetupSumsFile: release.SumOf(release.SetupSumsFile, sums).Hex}
	for _, s := range list {
		want[s.Name] = s.Hex
	}
	return want, nil
}

// isLatest reports whether v should be the repository's "Latest" release:
// a stable version at least as high as every stable version tag.
func isLatest(v release.Version, refs map[string]remoteRef) bool {
	if v.Prerelease() {
		return false
	}
	for name := range refs {
		if w, err := release.ParseVersion(name); err == nil && !w.Prerelease() && w.Compare(v) > 0 {
			return false
		}
	}
	return true
}

// ghRelease is what `gh release view --json` reports.
type ghRelease struct {
	TagName      string `json:"tagName"`
	IsDraft      bool   `json:"isDraft"`
	IsPrerelease bool   `json:"isPrerelease"`
	Assets       []struct {
		Name string `json:"name"`
	} `json:"assets"`
}

// viewRelease returns the GitHub release of the tag, or nil when there is
// none.
func (p *publisher) viewRelease(ctx context.Context) (*ghRelease, error) {
	out, err := p.gh(ctx, "release", "view", p.o.tag, "--json", "tagName,isDraft,isPrerelease,assets")
	var ce *cmdError
	if errors.As(err, &ce) && strings.Contains(ce.Stderr, "release not found") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up the GitHub release %s: %w", p.o.tag, err)
	}
	var r ghRelease
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("reading gh release view's JSON: %w", err)
	}
	if r.TagName != p.o.tag {
		return nil, fmt.Errorf("gh release view %s answered release %q", p.o.tag, r.TagName)
	}
	return &r, nil
}

// localAssets checks that the files of names in --dist have the checksums
// the release names, and returns their paths.
func (p *publisher) localAssets(names []string, want map[string]string) ([]string, error) {
	var paths []string
	for _, name := range names {
		path := filepath.Join(p.o.dist, name)
		got, err := fileSum(path)
		if err != nil {
			return nil, fmt.Errorf("release file %s: %w", name, err)
		}
		if got != want[name] {
			return nil, fmt.Errorf("%s: the file built now (sha256 %s) is not the one the release commit's %s names (%s); "+
				"it cannot be uploaded: build it with the toolchain of the first run, or release a new version", path, got, release.SetupSumsFile, want[name])
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// githubRelease creates the release or finishes it: missing assets are
// uploaded (never replaced), assets present must match, a draft is
// published.
func (p *publisher) githubRelease(ctx context.Context, want map[string]string, latest bool) error {
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	pre := p.o.version.Prerelease()
	r, err := p.viewRelease(ctx)
	if err != nil {
		return err
	}
	if r == nil {
		paths, err := p.localAssets(names, want)
		if err != nil {
			return err
		}
		args := []string{"release", "create", p.o.tag, "--verify-tag", "--title", "cargo-oidc " + p.o.tag,
			"--notes", p.notes(), "--latest=" + strconv.FormatBool(latest)}
		if pre {
			args = append(args, "--prerelease")
		}
		if _, err := p.gh(ctx, append(args, paths...)...); err != nil {
			return fmt.Errorf("creating the GitHub release %s: %w; re-run the workflow to finish it", p.o.tag, err)
		}
		kind := "release"
		if pre {
			kind = "prerelease"
		}
		p.say("%s: published the GitHub %s with %d files (latest: %t)", p.o.tag, kind, len(paths), latest)
		return nil
	}
	if r.IsPrerelease != pre {
		return fmt.Errorf("the GitHub release %s exists with prerelease=%t, want %t for this tag; "+
			"fix it by hand (gh release edit %s --prerelease=%t) and re-run", p.o.tag, r.IsPrerelease, pre, p.o.tag, pre)
	}
	have := map[string]bool{}
	for _, a := range r.Assets {
		if _, ok := want[a.Name]; !ok {
			return fmt.Errorf("the GitHub release %s has an asset %s that the release does not make; remove it by hand and re-run", p.o.tag, a.Name)
		}
		have[a.Name] = true
	}
	var missing, present []string
	for _, n := range names {
		if have[n] {
			present = append(present, n)
		} else {
			missing = append(missing, n)
		}
	}
	if err := p.checkPublished(ctx, present, want); err != nil {
		return err
	}
	if len(missing) > 0 {
		paths, err := p.localAssets(missing, want)
		if err != nil {
			return err
		}
		if _, err := p.gh(ctx, append([]string{"release", "upload", p.o.tag}, paths...)...); err != nil {
			return fmt.Errorf("uploading the missing files of %s: %w; re-run the workflow to finish it", p.o.tag, err)
		}
		p.say("%s: uploaded the missing files %s (the other %d were already there, unchanged)", p.o.tag, strings.Join(missing, ", "), len(present))
	} else {
		p.say("%s: the GitHub release has all %d files, unchanged", p.o.tag, len(present))
	}
	if r.IsDraft {
		if _, err := p.gh(ctx, "release", "edit", p.o.tag, "--draft=false", "--latest="+strconv.FormatBool(latest)); err != nil {
			return fmt.Errorf("publishing the draft release %s: %w", p.o.tag, err)
		}
		p.say("%s: published the draft release a failed run left (latest: %t)", p.o.tag, latest)
	}
	return nil
}

// checkPublished downloads the assets already on the release and compares
// them with the checksums the release commit names.
func (p *publisher) checkPublished(ctx context.Context, names []string, want map[string]string) error {
	if len(names) == 0 {
		return nil
	}
	dir, err := os.MkdirTemp("", "release-publish-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, n := range names {
		if _, err := p.gh(ctx, "release", "download", p.o.tag, "--pattern", n, "--dir", dir); err != nil {
			return fmt.Errorf("downloading %s of release %s to compare it: %w", n, p.o.tag, err)
		}
		got, err := fileSum(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("downloaded %s: %w", n, err)
		}
		if got != want[n] {
			return fmt.Errorf("the GitHub release %s already has %s with sha256 %s, but the release commit's %s names %s; "+
				"it is not replaced: find out who uploaded it, then delete that asset by hand and re-run", p.o.tag, n, got, release.SetupSumsFile, want[n])
		}
	}
	return nil
}

// notes is the body of the GitHub release.
func (p *publisher) notes() string {
	repo := getenv(p.env, "GITHUB_REPOSITORY")
	if repo == "" {
		repo = "OWNER/REPO"
	}
	return "Binaries for Linux, macOS and Windows (amd64, arm64) and SHA256SUMS. Check a download: " +
		"`sha256sum --ignore-missing -c SHA256SUMS`, then `gh attestation verify FILE --repo " + repo + "`."
}

// majorMove is what happens to the major tag (v1): nothing for a
// prerelease, nothing when it is on the release commit or on a higher
// version, else a push (a creation when it does not exist yet).
type majorMove struct {
	tag    string          // v1
	cur    *remoteRef      // where it points now, nil when absent
	at     release.Version // the version it points at now
	push   bool
	reason string // why it does not move
}

// planMajor decides the major tag's move before anything is published, so
// a major tag the workflow cannot read fails the run early.
func (p *publisher) planMajor(ctx context.Context, refs map[string]remoteRef, commit string) (*majorMove, error) {
	v := p.o.version
	m := &majorMove{tag: v.MajorTag()}
	if v.Prerelease() {
		m.reason = "a prerelease; " + m.tag + " stays where it is"
		return m, nil
	}
	cur, ok := refs[m.tag]
	if !ok {
		m.push = true
		return m, nil
	}
	m.cur = &cur
	if cur.Commit == commit {
		m.reason = fmt.Sprintf("%s already points at %s", m.tag, commit)
		return m, nil
	}
	at, err := p.versionAt(ctx, refs, m.tag, cur.Commit)
	if err != nil {
		return nil, err
	}
	m.at = at
	switch c := v.Compare(at); {
	case c < 0:
		m.reason = fmt.Sprintf("%s stays at %s (%s), a higher version; it only moves forward", m.tag, at, cur.Commit)
	case c == 0:
		return nil, fmt.Errorf("%s points at %s, another commit of %s than its release commit %s; "+
			"find out how, and move %s by hand if it is wrong", m.tag, cur.Commit, at, commit, m.tag)
	default:
		m.push = true
	}
	return m, nil
}

// moveMajor pushes the major tag to the release commit when planMajor said
// so, leased on its old value.
func (p *publisher) moveMajor(ctx context.Context, m *majorMove, commit string) error {
	if !m.push {
		p.say("%s: %s", p.o.tag, m.reason)
		return nil
	}
	ref := "refs/tags/" + m.tag
	if m.cur == nil {
		if _, err := p.git(ctx, "push", "--quiet", p.o.remote, commit+":"+ref); err != nil {
			return fmt.Errorf("creating %s at %s: %w; re-run the workflow", m.tag, commit, err)
		}
		p.say("%s: created %s at %s", p.o.tag, m.tag, commit)
		return nil
	}
	if _, err := p.git(ctx, "push", "--quiet", "--force-with-lease="+ref+":"+m.cur.Object, p.o.remote, commit+":"+ref); err != nil {
		return fmt.Errorf("moving %s from %s (%s) to %s: %w; re-run the workflow", m.tag, m.at, m.cur.Commit, commit, err)
	}
	p.say("%s: moved %s forward from %s (%s) to %s", p.o.tag, m.tag, m.at, m.cur.Commit, commit)
	return nil
}

// versionAt returns the version of the commit a major tag points at: the
// highest version tag of that major on the same commit, or else the
// commit's setup/VERSION.
func (p *publisher) versionAt(ctx context.Context, refs map[string]remoteRef, major, commit string) (release.Version, error) {
	var best *release.Version
	for name, r := range refs {
		w, err := release.ParseVersion(name)
		if err != nil || r.Commit != commit || w.MajorTag() != major {
			continue
		}
		if best == nil || w.Compare(*best) > 0 {
			best = &w
		}
	}
	if best != nil {
		return *best, nil
	}
	fail := func(err error) (release.Version, error) {
		return release.Version{}, fmt.Errorf("cannot tell which version %s points at (%s): no version tag is on that commit "+
			"and its %s/%s does not name one (%w); move %s by hand (git push --force origin COMMIT:refs/tags/%s) and re-run",
			major, commit, release.SetupDir, release.SetupVersionFile, err, major, major)
	}
	if err := p.fetchTag(ctx, major); err != nil {
		return fail(err)
	}
	data, err := p.show(ctx, commit, release.SetupDir+"/"+release.SetupVersionFile)
	if err != nil {
		return fail(err)
	}
	w, err := release.ParseVersion(strings.TrimSpace(string(data)))
	if err != nil {
		return fail(err)
	}
	if w.MajorTag() != major {
		return fail(fmt.Errorf("it names %s", w))
	}
	return w, nil
}

// writeOutputs writes step outputs to $GITHUB_OUTPUT, or prints them when
// it is not set. The values are versions, commit ids and booleans: no line
// breaks, so the name=value form is safe.
func (p *publisher) writeOutputs(kv [][2]string) error {
	var b strings.Builder
	for _, e := range kv {
		if strings.ContainsAny(e[1], "\r\n") {
			return fmt.Errorf("output %s has a line break", e[0])
		}
		fmt.Fprintf(&b, "%s=%s\n", e[0], e[1])
	}
	path := getenv(p.env, "GITHUB_OUTPUT")
	if path == "" {
		_, err := io.WriteString(p.log, b.String())
		return err
	}
	return appendFile(path, b.String())
}

// writeSummary appends what publish did to $GITHUB_STEP_SUMMARY, when set.
func (p *publisher) writeSummary() error {
	path := getenv(p.env, "GITHUB_STEP_SUMMARY")
	if path == "" || len(p.summary) == 0 {
		return nil
	}
	var b strings.Builder
	for _, l := range p.summary {
		b.WriteString("- " + l + "\n")
	}
	return appendFile(path, b.String())
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

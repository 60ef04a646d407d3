package ghaction

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cargo-oidc/cargo-oidc/internal/fspath"
)

// Paths maps between the paths the action sees and the paths later steps see.
//
// In a container the runner mounts the workspace at /github/workspace, the
// runner's temp folder at /github/runner_temp and $RUNNER_TEMP/_github_home
// at /github/home, and rewrites GITHUB_WORKSPACE, RUNNER_TEMP and HOME to
// those container paths; nothing is rewritten back. The host paths come in
// through runs.args (--host-workspace, --host-temp). Run outside a container
// both sides are the same and every mapping is the identity.
//
// Paths follow the running system's rules (internal/fspath): on Windows
// (setup/) drive letters, UNC shares, both separators and any case.
type Paths struct {
	Workspace, HostWorkspace string
	Temp, HostTemp           string
	Home, HostHome           string
	// Container is true when the action runs as a container action (the
	// runner's `docker run`), false when it runs on the runner's machine.
	Container bool
	// rules are the path rules; nil means the running system's. Tests set
	// fspath.Windows to run the Windows cases on any machine.
	rules *fspath.OS
}

// fs returns the path rules in force.
func (p Paths) fs() fspath.OS {
	if p.rules != nil {
		return *p.rules
	}
	return fspath.Native
}

// The folders GitHub's runner mounts into a container action for HOME and
// runner.temp. RUNNER_TEMP is mounted (and translated) only by runners from
// v2.331.0 on (December 2025; v2.329.0 and v2.330.0 behind a feature flag);
// on older ones it stays the host path, which does not exist in the
// container.
const (
	ContainerHome = "/github/home"
	ContainerTemp = "/github/runner_temp"
)

// NewPaths builds the mapping from the step's environment and the host paths
// given as arguments (empty: same as the container's).
func NewPaths(getenv func(string) string, hostWorkspace, hostTemp string) Paths {
	return newPaths(fspath.Native, getenv, hostWorkspace, hostTemp)
}

func newPaths(o fspath.OS, getenv func(string) string, hostWorkspace, hostTemp string) Paths {
	clean := func(p string) string {
		if p == "" {
			return ""
		}
		return o.Clean(p)
	}
	p := Paths{
		Workspace: clean(getenv("GITHUB_WORKSPACE")),
		Temp:      clean(getenv("RUNNER_TEMP")),
		Home:      clean(getenv("HOME")),
		rules:     &o,
	}
	p.HostWorkspace = orDefault(clean(hostWorkspace), p.Workspace)
	p.HostTemp = orDefault(clean(hostTemp), p.Temp)
	p.HostHome = p.Home
	if p.HostTemp != "" && (p.HostTemp != p.Temp || p.Home == ContainerHome) {
		// In the container HOME is $RUNNER_TEMP/_github_home on the host
		// (also on runners that leave RUNNER_TEMP untranslated).
		p.HostHome = o.Join(p.HostTemp, "_github_home")
	}
	return p
}

// CheckHomeShared reports an error when the action runs in a container
// whose HOME is not the folder the runner shares with later steps
// (/github/home, which GitHub's runner mounts from $RUNNER_TEMP/_github_home).
// nektos/act, for one, gives the action's container a HOME of its own, so a
// file put there is gone when the step ends.
func (p Paths) CheckHomeShared() error {
	if !p.Container || p.Home == ContainerHome {
		return nil
	}
	return fmt.Errorf("credential-mode: provider installs the provider under HOME, but HOME is %q, not %s: this runner does not share the action's HOME with later steps "+
		"(GitHub's runner mounts $RUNNER_TEMP/_github_home there; nektos/act, for one, does not), "+
		"so a credential provider installed there would not exist when cargo runs; use credential-mode: token on this runner", p.Home, ContainerHome)
}

// CheckShared reports an error when path (a container path from Resolve)
// lies under runner.temp and the action runs in a container into which the
// runner does not mount runner.temp: a file written there would stay in
// the container, out of reach of later steps.
func (p Paths) CheckShared(input, path string) error {
	if !p.Container || p.Temp == ContainerTemp {
		return nil
	}
	if _, ok := p.fs().Within(path, p.Temp); !ok {
		return nil
	}
	if _, ok := p.fs().Within(path, p.Workspace); ok {
		return nil
	}
	return fmt.Errorf("input %s: %s is under runner.temp (%s), which this runner does not mount into the action's container "+
		"(GitHub's runners mount it at %s from v2.331.0 on; older self-hosted runners and nektos/act do not), so later steps would not see the file; "+
		"use a path relative to the workspace, or update the runner", input, quote(path), p.Temp, ContainerTemp)
}

// quote puts a path in double quotes for a message, leaving backslashes as
// they are (D:\a\repo reads as Windows writes it); a path with a quote, a
// control character or invalid UTF-8 is quoted with escapes instead.
func quote(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r == '"' || !unicode.IsPrint(r) }) {
		return `"` + s + `"`
	}
	return strconv.Quote(s)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// pairs lists (container, host) prefixes, longest container prefix first.
func (p Paths) pairs() [][2]string {
	var out [][2]string
	for _, pr := range [][2]string{{p.Home, p.HostHome}, {p.Temp, p.HostTemp}, {p.Workspace, p.HostWorkspace}} {
		if pr[0] != "" && pr[1] != "" {
			out = append(out, pr)
		}
	}
	// The most specific prefix wins (home sits under temp on the host).
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j][0]) > len(out[j-1][0]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ToHost returns the host path of a container path under the workspace, the
// temp folder or home; other paths are returned unchanged.
func (p Paths) ToHost(path string) string {
	for _, pr := range p.pairs() {
		if rest, ok := p.fs().Within(path, pr[0]); ok {
			return p.fs().Join(pr[1], rest)
		}
	}
	return path
}

// Resolve turns a file input into a container path: a relative path is taken
// relative to the workspace and may not leave it; an absolute path must lie
// under the workspace or the runner's temp folder (as the host or the
// container names them). A path starting with ~ is refused: nothing expands
// it, and the action's home is not the home of later steps. On Windows a
// path relative to a drive or to the current drive's root (C:foo, \foo)
// is refused, and so is a name Windows does not keep as written (a device
// name such as NUL, a trailing dot or space, a colon).
func (p Paths) Resolve(input, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	o := p.fs()
	if strings.HasPrefix(value, "~") {
		return "", fmt.Errorf("input %s: %s starts with ~, which is not expanded (it would be a folder named ~ in the workspace), and the home folder of later steps is not visible to the action's container; use a path relative to the workspace or under ${{ runner.temp }}, for example ${{ runner.temp }}/cargo/credentials.toml", input, quote(value))
	}
	var path, rest string
	switch {
	case o.IsAbs(value):
		var ok bool
		path, rest, ok = p.inside(value)
		if !ok {
			return "", fmt.Errorf("input %s: %s is outside the workspace and the runner's temp folder, which are the only places the action's container can write for later steps; use a path relative to the workspace or under ${{ runner.temp }}", input, quote(value))
		}
	case o.IsRooted(value):
		return "", fmt.Errorf("input %s: %s is relative to a drive or to the root of the current drive, not a full path; give a path relative to the workspace, or a full path with its drive letter under ${{ runner.temp }}", input, quote(value))
	case p.Workspace == "":
		return "", fmt.Errorf("input %s: GITHUB_WORKSPACE is not set, so the relative path %s has no base; give an absolute path", input, quote(value))
	default:
		path = o.Join(p.Workspace, value)
		var ok bool
		if rest, ok = o.Within(path, p.Workspace); !ok {
			return "", fmt.Errorf("input %s: %s leaves the workspace; give a path inside it, or under ${{ runner.temp }}", input, quote(value))
		}
	}
	if err := o.CheckNames(rest); err != nil {
		return "", fmt.Errorf("input %s: %s cannot name a file here: %w", input, quote(value), err)
	}
	return path, nil
}

// inside returns the container path of the absolute path v when it lies
// under the workspace or the temp folder (by either name), and the rest of
// it below that folder.
func (p Paths) inside(v string) (path, rest string, ok bool) {
	o := p.fs()
	v = o.Clean(v)
	for _, pr := range [][2]string{{p.Workspace, p.HostWorkspace}, {p.Temp, p.HostTemp}} {
		if pr[0] == "" {
			continue
		}
		if rest, ok := o.Within(v, pr[0]); ok {
			return v, rest, true
		}
		if rest, ok := o.Within(v, pr[1]); ok {
			return o.Join(pr[0], rest), rest, true
		}
	}
	return "", "", false
}

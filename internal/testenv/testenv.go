// Package testenv decides what a test does when something it needs is
// missing from the machine: outside CI it skips with the reason printed;
// under CI=true, where .ci/run installs every tool the tests use, it fails.
//
// It also holds the few helpers that tests of several packages share
// instead of each keeping a copy: Run for a table of parallel cases, Getenv
// for a getenv read from a map, ClosedAddr for a service that cannot be
// reached, TempDir, WriteFile, and InitCost and InitAtMost for what a package's
// initialisation allocates.
//
// It is for tests only: no package built into the cargo-oidc binary may
// import it (TestReleaseBinaryDependencies in e2e checks this).
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Require stops a test that needs something this machine lacks: what names
// it and err says why it is unavailable. Outside CI the test is skipped with
// that reason printed; under CI=true it fails. Require does nothing when err
// is nil.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", what, err)
		return
	}
	t.Skipf("skipping: %s is not available: %v", what, err)
}

// Must stops the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Tool returns the path of the executable name found in PATH, or stops the
// test through Require; install says how to get it. Under wine (see
// UnderWine) a missing tool skips even under CI=true: the tools CI installs
// are Linux programs, which a Windows program under wine cannot run.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if underWine {
			t.Skipf("skipping under wine: %s is not installed for Windows in the wine prefix (CI installs the Linux one): %v", name, err)
			return ""
		}
		Require(t, name, fmt.Errorf("%w; %s", err, install))
	}
	return p
}

// PermIs reports whether mode has the Unix permission bits perm. On Windows
// it logs why it does not check them and reports true: a Windows file has
// only a read-only attribute, and the action's files there are private
// through the ACLs of the runner's folders (SECURITY.md, "Windows: the
// folders' ACLs decide who can read the tokens").
func PermIs(t testing.TB, mode, perm os.FileMode) bool {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Logf("not checking the mode %#o: Windows files have no Unix modes; the ACLs of the runner's folders keep them private (SECURITY.md)", perm)
		return true
	}
	return mode.Perm() == perm
}

// WriteFile writes content to the file name in dir, private to the user
// (0600), and returns its path; a failure stops the test.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
	return p
}

// Getenv returns a getenv that reads env: the value of a name env does not
// hold is "", as for an unset variable.
func Getenv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

package cargoconf

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// unixModes reports whether the system keeps Unix permission bits. On
// Windows it logs why the test does not check them: a file there has only
// a read-only attribute, and the action's files are private through the
// ACLs of the runner's folders (SECURITY.md, "Windows: the folders' ACLs
// decide who can read the tokens").
func unixModes(t *testing.T) bool {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Log("not checking Unix modes: Windows files have none; the runner's folders' ACLs keep them private (SECURITY.md)")
		return false
	}
	return true
}

// permIs reports whether mode has the permission bits perm, or true on
// Windows (see unixModes).
func permIs(t *testing.T, mode, perm os.FileMode) bool {
	t.Helper()
	return !unixModes(t) || mode.Perm() == perm
}

// hostPath is a host path written with "/" (a runner's path as the action
// sees it in its container) as the running system spells an absolute path:
// on Windows with a drive letter and "\", where "/host/x" would be rooted
// on the current drive, which the action refuses.
func hostPath(p string) string {
	if runtime.GOOS == "windows" {
		return "Q:" + filepath.FromSlash(p)
	}
	return p
}

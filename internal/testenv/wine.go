package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// UnderWine reports whether the test runs under wine, the Windows
// emulator that runs the Windows tests on Linux (.ci/wine-test), rather
// than on Windows: wine's ntdll exports wine_get_version, which no Windows
// ntdll does. It is false on every other system.
func UnderWine() bool { return underWine }

// SkipUnderWine skips the test under wine only, printing why: defect names
// what wine does wrong that Windows does right. On Windows and everywhere
// else it does nothing, so the test still runs where it means something.
func SkipUnderWine(t testing.TB, defect string) {
	t.Helper()
	if underWine {
		t.Skipf("skipping under wine (not Windows behaviour): %s", defect)
	}
}

// TempDir is t.TempDir, except under wine: wine 8 does not implement the
// FileDispositionInformationEx deletion os.RemoveAll uses on Windows
// ("unlinkat ...: Invalid function"), so t.TempDir's clean-up fails every
// test that wrote a file. Under wine the folder is made with os.MkdirTemp
// and removed entry by entry with os.Remove (DeleteFile and
// RemoveDirectory, which wine has); what cannot be removed is logged.
func TempDir(t testing.TB) string {
	t.Helper()
	if !underWine {
		return t.TempDir()
	}
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|' {
			return '_'
		}
		return r
	}, t.Name())
	if len(name) > 64 {
		name = name[:64]
	}
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Logf("TempDir: cannot remove %s under wine: %v", dir, err)
		}
	})
	return dir
}

// removeTree removes dir and everything in it with os.Remove, deepest
// first. Links are removed, never followed (filepath.WalkDir does not
// follow them).
func removeTree(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	slices.Reverse(paths)
	for _, p := range paths {
		rerr := os.Remove(p)
		if fi, lerr := os.Lstat(p); rerr != nil && lerr == nil && fi.Mode()&fs.ModeSymlink == 0 {
			_ = os.Chmod(p, 0o700) // a read-only file stops DeleteFile
			rerr = os.Remove(p)
		}
		if rerr != nil && !os.IsNotExist(rerr) && err == nil {
			err = rerr
		}
	}
	return err
}

// RemoveDefect is the wine defect that stops deletions through os.Root and
// os.RemoveAll: wine 8 does not implement FileDispositionInformationEx,
// which Go uses on Windows to delete a file relative to a folder handle.
// Give it to SkipUnderWine in a test of code that deletes that way.
const RemoveDefect = `wine 8 does not implement FileDispositionInformationEx, which os.Root's Remove and os.RemoveAll delete with on Windows ("Invalid function")`

// LinkDefect is the wine defect that stops every test of symbolic links:
// wine 8's CreateSymbolicLink reports success and makes nothing.
const LinkDefect = "wine 8 reports a symbolic link made but makes none (os.Readlink finds nothing)"

// RemoveAll is os.RemoveAll for a test's own clean-up, failing the test on
// an error; under wine it removes entry by entry (see TempDir).
func RemoveAll(t testing.TB, path string) {
	t.Helper()
	remove := os.RemoveAll
	if underWine {
		remove = removeTree
	}
	if err := remove(path); err != nil {
		t.Fatal(err)
	}
}

// Symlink makes a symbolic link at link to target, or stops the test: on
// Windows without the privilege to make links (developer mode or an
// administrator, which GitHub's runners are) through Require, under wine
// (LinkDefect) with a skip when the link does not read back as target.
func Symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		if underWine {
			t.Skipf("skipping under wine (not Windows behaviour): %s: %v", LinkDefect, err)
		}
		if runtime.GOOS == "windows" {
			Require(t, "the privilege to make symbolic links (Windows developer mode, or an administrator)", err)
		}
		t.Fatal(err)
	}
	if underWine {
		if got, err := os.Readlink(link); err != nil || got != filepath.FromSlash(target) {
			t.Skipf("skipping under wine (not Windows behaviour): %s: Readlink(%s) = %q, %v", LinkDefect, link, got, err)
		}
	}
}

package testenv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestUnderWine compares the detection (ntdll's wine_get_version) with an
// independent sign: wine's registry key HKLM\Software\Wine, which no
// Windows has; on other systems both are false.
func TestUnderWine(t *testing.T) {
	t.Parallel()
	if got, want := UnderWine(), wineRegistryKey(); got != want {
		t.Errorf("UnderWine() = %v, but the registry key HKLM\\Software\\Wine exists: %v", got, want)
	}
	if runtime.GOOS != "windows" && UnderWine() {
		t.Errorf("UnderWine() on %s", runtime.GOOS)
	}
}

// TestTempDirIsRemoved: the folder TempDir gives, with folders, a
// read-only file and a link in it, is gone once its test ends, and the
// test does not fail (under wine t.TempDir's clean-up fails on any file).
func TestTempDirIsRemoved(t *testing.T) {
	t.Parallel()
	var dir string
	outside := filepath.Join(TempDir(t), "outside")
	if err := os.WriteFile(outside, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("use", func(t *testing.T) {
		dir = TempDir(t)
		fillTree(t, dir, outside)
	})
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is left after its test: %v", dir, err)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep\n" {
		t.Errorf("the file a link led to is %q, %v; want it untouched", b, err)
	}
}

// TestRemoveTree runs the removal TempDir and RemoveAll use under wine on
// every system: deepest entries first, links removed and not followed.
func TestRemoveTree(t *testing.T) {
	t.Parallel()
	top := TempDir(t)
	outside := filepath.Join(top, "outside")
	if err := os.WriteFile(outside, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "tree")
	fillTree(t, dir, outside)
	if err := removeTree(dir); err != nil {
		t.Fatalf("removeTree: %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is left: %v", dir, err)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep\n" {
		t.Errorf("the file a link led to is %q, %v; want it untouched", b, err)
	}
	if err := removeTree(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removeTree of a folder that is gone: %v, want fs.ErrNotExist", err)
	}
}

// fillTree makes dir with nested folders, a read-only file and (where the
// system makes links) a link to outside.
func fillTree(t *testing.T, dir, outside string) {
	t.Helper()
	deep := filepath.Join(dir, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "f"), filepath.Join(deep, "g")} {
		if err := os.WriteFile(p, []byte("x"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "a", "to-outside")
	if err := os.Symlink(outside, link); err != nil {
		t.Logf("no link in the tree: %v", err)
	}
}

// TestSymlink: a link made through Symlink reads back as its target.
func TestSymlink(t *testing.T) {
	t.Parallel()
	dir := TempDir(t)
	Symlink(t, "target", filepath.Join(dir, "link"))
	if got, err := os.Readlink(filepath.Join(dir, "link")); err != nil || got != "target" {
		t.Errorf("Readlink = %q, %v; want target", got, err)
	}
}

// TestPermIs: the permission bits are compared where the system has them,
// and not on Windows.
func TestPermIs(t *testing.T) {
	t.Parallel()
	windows := runtime.GOOS == "windows"
	for _, tt := range []struct {
		mode, perm os.FileMode
		want       bool
	}{
		{0o600, 0o600, true},
		{fs.ModeDir | 0o700, 0o700, true},
		{0o644, 0o600, windows},
		{0o700, 0o755, windows},
	} {
		if got := PermIs(t, tt.mode, tt.perm); got != tt.want {
			t.Errorf("PermIs(%v, %#o) = %v, want %v", tt.mode, tt.perm, got, tt.want)
		}
	}
}

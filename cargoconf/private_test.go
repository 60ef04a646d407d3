package cargoconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// outsideWithSecret is a 0755 folder outside the folders under test holding
// a file, to check that nothing there is read, changed or deleted.
func outsideWithSecret(t *testing.T) (dir, file string) {
	t.Helper()
	dir = testenv.TempDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "tokens")
	write(t, file, "outside-secret\n", 0o600)
	return dir, file
}

// checkOutsideUntouched fails if the outside folder changed its mode, lost
// or changed its file, or gained an entry.
func checkOutsideUntouched(t *testing.T, dir, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || string(b) != "outside-secret\n" {
		t.Errorf("the file outside is %q, %v; want it untouched", b, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("the folder outside holds %d entries, %v; want only its file", len(entries), err)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || !testenv.PermIs(t, fi.Mode(), 0o755) {
		t.Errorf("the folder outside changed: %v, %v", fi, err)
	}
}

// openTemp opens home as the runner's temp folder, whose path in later
// steps is host ("" for home itself), until the test ends.
func openTemp(t *testing.T, home, host string) *Folders {
	fl := OpenFolders(Folder{Dir: home, HostDir: host, Name: "the runner's temp folder"})
	t.Cleanup(func() { fl.Close() })
	return fl
}

// tempFolders is openTemp of a new temporary folder, which it returns.
func tempFolders(t *testing.T, host string) (string, *Folders) {
	home := testenv.TempDir(t)
	return home, openTemp(t, home, host)
}

func TestMkdirPrivate(t *testing.T) {
	t.Parallel()
	host := hostPath("/host/_github_home")
	home, fl := tempFolders(t, host)
	dir := filepath.Join(home, ".cargo-oidc", "minted-1")
	if err := fl.MkdirPrivate(dir, Owner{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || !testenv.PermIs(t, fi.Mode(), 0o700) {
		t.Fatalf("folder %v, %v; want a 0700 folder", fi, err)
	}
	if fi, err := os.Lstat(filepath.Dir(dir)); err != nil || !testenv.PermIs(t, fi.Mode(), 0o755) {
		t.Errorf("parent %v, %v; want a new 0755 folder", fi, err)
	}
	// Nothing is reused: a second call, or a file there, is an error.
	err = fl.MkdirPrivate(dir, Owner{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(host, ".cargo-oidc", "minted-1")) || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("second MkdirPrivate: %v; want an error naming the host path", err)
	}
	if err := fl.MkdirPrivate(home, Owner{}); err == nil {
		t.Error("MkdirPrivate of the folder itself succeeded")
	}
	if err := fl.MkdirPrivate(filepath.Join(testenv.TempDir(t), "x"), Owner{}); err == nil {
		t.Error("MkdirPrivate outside the folders succeeded")
	}
}

func TestMkdirPrivateOwner(t *testing.T) {
	t.Parallel()
	needRoot(t)
	home := testenv.TempDir(t)
	fl := OpenFolders(Folder{Dir: home})
	defer fl.Close()
	dir := filepath.Join(home, ".cargo-oidc", "minted-2")
	if err := fl.MkdirPrivate(dir, Owner{UID: 1234, GID: 2345, Set: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Dir(dir)} {
		if s := stateOf(t, p); s.uid != 1234 || s.gid != 2345 {
			t.Errorf("%s owned by %d:%d, want 1234:2345", p, s.uid, s.gid)
		}
	}
}

// A planted link where the private folder goes, or on the way to it, that
// leads outside is refused, and nothing outside is created or changed.
func TestMkdirPrivateRefusesLinkOutside(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		link string // relative to home, pointing to the outside folder
		dir  string // relative to home, the folder to create
		want string
	}{
		{"the folder itself", ".cargo-oidc/minted-3", ".cargo-oidc/minted-3", "exists already"},
		{"its parent", ".cargo-oidc", ".cargo-oidc/minted-3", "outside"},
		{"its parent, relative", ".cargo-oidc", ".cargo-oidc/minted-3", "outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home := testenv.TempDir(t)
			out, file := outsideWithSecret(t)
			target := out
			if strings.HasSuffix(tc.name, "relative") {
				rel, err := filepath.Rel(filepath.Dir(filepath.Join(home, tc.link)), out)
				if err != nil {
					t.Fatal(err)
				}
				target = rel
			}
			mustLink(t, target, filepath.Join(home, tc.link))
			fl := openTemp(t, home, "")
			err := fl.MkdirPrivate(filepath.Join(home, tc.dir), Owner{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("MkdirPrivate through a link outside: %v; want an error with %q", err, tc.want)
			}
			checkOutsideUntouched(t, out, file)
			if _, err := os.Lstat(filepath.Join(out, "minted-3")); err == nil {
				t.Error("a folder was created outside")
			}
		})
	}
}

func TestReadBounded(t *testing.T) {
	t.Parallel()
	host := hostPath("/host/home")
	home, fl := tempFolders(t, host)
	file := filepath.Join(home, "minted", "tokens")
	write(t, file, "a\nb\n", 0o600)
	if b, err := fl.ReadBounded(file, 4); err != nil || string(b) != "a\nb\n" {
		t.Errorf("ReadBounded = %q, %v", b, err)
	}
	var tl *TooLargeError
	if _, err := fl.ReadBounded(file, 3); !errors.As(err, &tl) || tl.Limit != 3 || tl.Size != 4 || !strings.Contains(err.Error(), filepath.Join(host, "minted", "tokens")+" is 4 bytes, over the 3-byte limit") {
		t.Errorf("ReadBounded over the limit: %v; want a *TooLargeError", err)
	}
	if _, err := fl.ReadBounded(filepath.Join(home, "minted", "none"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadBounded of a missing file: %v; want fs.ErrNotExist", err)
	}
	if _, err := fl.ReadBounded(filepath.Join(home, "minted"), 10); err == nil {
		t.Error("ReadBounded of a folder succeeded")
	}
}

// ReadBounded follows no link: not to a file outside, not through a folder
// linked outside, and not even one that stays inside.
func TestReadBoundedRefusesLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, home, out string)
		inside bool
	}{
		{"folder linked outside", func(t *testing.T, home, out string) {
			mustLink(t, out, filepath.Join(home, "minted"))
		}, false},
		{"file linked outside", func(t *testing.T, home, out string) {
			mustLink(t, filepath.Join(out, "tokens"), filepath.Join(home, "minted", "tokens"))
		}, false},
		{"folder linked inside", func(t *testing.T, home, out string) {
			write(t, filepath.Join(home, "other", "tokens"), "inside\n", 0o600)
			mustLink(t, "other", filepath.Join(home, "minted"))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home := testenv.TempDir(t)
			out, file := outsideWithSecret(t)
			tc.setup(t, home, out)
			fl := openTemp(t, home, "")
			b, err := fl.ReadBounded(filepath.Join(home, "minted", "tokens"), 1<<20)
			var ce *ChangedError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "symbolic link") || len(b) != 0 {
				t.Errorf("ReadBounded = %q, %v; want a *ChangedError about the link and nothing read", b, err)
			}
			checkOutsideUntouched(t, out, file)
		})
	}
}

func TestRemoveAllBeneath(t *testing.T) {
	t.Parallel()
	testenv.SkipUnderWine(t, testenv.RemoveDefect)
	home, fl := tempFolders(t, "")
	out, file := outsideWithSecret(t)
	dir := filepath.Join(home, ".cargo-oidc", "minted-4")
	write(t, filepath.Join(dir, "tokens"), "t\n", 0o600)
	write(t, filepath.Join(dir, "sub", "x"), "x\n", 0o600)
	// Links inside the folder are deleted, never followed.
	mustLink(t, out, filepath.Join(dir, "to-outside"))
	mustLink(t, file, filepath.Join(dir, "sub", "file-outside"))
	if err := fl.RemoveAllBeneath(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the folder is still there: %v", err)
	}
	if _, err := os.Lstat(filepath.Dir(dir)); err != nil {
		t.Errorf("its parent went too: %v", err)
	}
	checkOutsideUntouched(t, out, file)
	if err := fl.RemoveAllBeneath(dir); err != nil {
		t.Errorf("a folder that is gone: %v; want nil", err)
	}
	if err := fl.RemoveAllBeneath(home); err == nil {
		t.Error("RemoveAllBeneath deleted the folder itself")
	}
	if err := fl.RemoveAllBeneath(out); err == nil {
		t.Error("RemoveAllBeneath outside the folders succeeded")
	}
	checkOutsideUntouched(t, out, file)
}

// A private folder replaced by a link (to outside, or inside), or reached
// through one, is left alone: nothing is deleted, not even the link.
func TestRemoveAllBeneathRefusesLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		link   string // relative to home
		parent bool   // the link replaces the private folder's parent
		inside bool   // the link leads to home/keep
	}{
		{name: "folder linked outside", link: ".cargo-oidc/minted-5"},
		{name: "parent linked outside", link: ".cargo-oidc", parent: true},
		{name: "folder linked inside", link: ".cargo-oidc/minted-5", inside: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home := testenv.TempDir(t)
			out, file := outsideWithSecret(t)
			write(t, filepath.Join(home, "keep", "tokens"), "keep\n", 0o600)
			target := out
			switch {
			case tc.inside:
				target = filepath.Join(home, "keep")
			case tc.parent:
				// Through the link, the outside folder is minted-5.
				target = testenv.TempDir(t)
				if err := os.Rename(out, filepath.Join(target, "minted-5")); err != nil {
					t.Fatal(err)
				}
				out, file = filepath.Join(target, "minted-5"), filepath.Join(target, "minted-5", "tokens")
			}
			mustLink(t, target, filepath.Join(home, tc.link))
			fl := openTemp(t, home, "")
			err := fl.RemoveAllBeneath(filepath.Join(home, ".cargo-oidc", "minted-5"))
			var ce *ChangedError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), "no longer the folder") {
				t.Errorf("RemoveAllBeneath through a link: %v; want a *ChangedError", err)
			}
			if _, err := os.Lstat(filepath.Join(home, tc.link)); err != nil {
				t.Errorf("the link was deleted: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(home, "keep", "tokens")); err != nil || string(b) != "keep\n" {
				t.Errorf("the folder inside lost its file: %q, %v", b, err)
			}
			checkOutsideUntouched(t, out, file)
		})
	}
}

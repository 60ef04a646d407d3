package cargoconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// applyConfig merges r into the config file at path through Folders rooted
// two levels up (the project of path/.cargo/config.toml).
func applyConfig(t *testing.T, path string, r Registry) *Change {
	t.Helper()
	fl := OpenFolders(Folder{Dir: filepath.Dir(filepath.Dir(path))})
	defer fl.Close()
	c, err := fl.PlanConfig(path, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Apply([]*Change{c}, Owner{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// applyCredentials sets a token in the credentials file at path.
func applyCredentials(t *testing.T, path, registry, token string) *Change {
	t.Helper()
	fl := OpenFolders(Folder{Dir: filepath.Dir(filepath.Dir(path))})
	defer fl.Close()
	c, err := fl.PlanCredentials(path, registry, token, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Apply([]*Change{c}, Owner{}); err != nil {
		t.Fatal(err)
	}
	return c
}

type fileState struct {
	uid, gid uint32
	mode     os.FileMode
	data     string
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := ownerOf(fi)
	s := fileState{uid: uid, gid: gid, mode: fi.Mode()}
	if fi.Mode().IsRegular() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s.data = string(b)
	}
	return s
}

// needRoot stops a test that changes owners unless it runs as root. On
// Windows it skips: files there have no Unix owner and mode, and the ACLs of
// the runner's folders decide who reads them (SECURITY.md).
func needRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("skipping: Windows files have no Unix owner or mode to keep; the ACLs of the runner's folders decide who reads them (SECURITY.md)")
	}
	if uid := os.Geteuid(); uid != 0 {
		// GitHub's runners run a job's commands as an unprivileged user
		// (ci.yml's setup job runs the unit tests there); .ci/run runs the
		// suite as root, where these tests always run.
		if os.Getenv("GITHUB_ACTIONS") == "true" {
			t.Skipf("skipping: chown needs root, and this GitHub runner runs the tests as uid %d; .ci/run runs them as root", uid)
		}
		testenv.Require(t, "root (to chown files)", fmt.Errorf("running as uid %d; run the tests as root", uid))
	}
}

func write(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func TestOwnership(t *testing.T) {
	t.Parallel()
	needRoot(t)
	ws := testenv.TempDir(t)
	if err := os.Chown(ws, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	owner, err := OwnerOf(ws)
	if err != nil || owner != (Owner{UID: 1234, GID: 1234, Set: true}) {
		t.Fatalf("OwnerOf = %+v, %v", owner, err)
	}
	fl := OpenFolders(Folder{Dir: ws, Name: "the workspace"})
	defer fl.Close()
	r := Registry{Name: "art", Index: testIndex, ReplaceCratesIO: true}
	cfg := filepath.Join(ws, "a", ".cargo", "config.toml")
	cred := filepath.Join(ws, "secrets", "credentials.toml")
	c1, err := fl.PlanConfig(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := fl.PlanCredentials(cred, "art", "tok", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Apply([]*Change{c1, c2}, owner); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(ws, "a"), filepath.Join(ws, "a", ".cargo"), cfg} {
		if s := stateOf(t, p); s.uid != 1234 || s.gid != 1234 {
			t.Errorf("%s owned by %d:%d, want 1234:1234", p, s.uid, s.gid)
		}
	}
	if s := stateOf(t, filepath.Join(ws, "a")); s.mode.Perm() != 0o755 {
		t.Errorf("config folder mode %v, want 0755", s.mode)
	}
	if s := stateOf(t, cfg); s.mode.Perm() != 0o644 {
		t.Errorf("config mode %v, want 0644", s.mode)
	}
	if s := stateOf(t, filepath.Dir(cred)); s.uid != 1234 || s.mode.Perm() != 0o700 {
		t.Errorf("credentials folder %d %v, want 1234 0700", s.uid, s.mode)
	}
	if s := stateOf(t, cred); s.uid != 1234 || s.gid != 1234 || s.mode.Perm() != 0o600 {
		t.Errorf("credentials file %d:%d %v, want 1234:1234 0600", s.uid, s.gid, s.mode)
	}
	if !c2.Created() || c1.Target != cfg || c2.Target != cred {
		t.Errorf("created=%v targets %q %q", c2.Created(), c1.Target, c2.Target)
	}
}

// An existing file keeps its owner and mode, rewritten or rolled back, and
// the kind of file comes from the plan: a config file that happens to be
// 0600 is not treated as a credentials file.
func TestExistingFileKeepsOwnerAndMode(t *testing.T) {
	t.Parallel()
	needRoot(t)
	for _, tc := range []struct {
		name     string
		kind     Kind
		mode     os.FileMode
		wantMode os.FileMode // after a successful write
	}{
		{"config 0644", ConfigFile, 0o644, 0o644},
		{"config 0600", ConfigFile, 0o600, 0o600},
		{"config 0664", ConfigFile, 0o664, 0o664},
		{"credentials 0600", CredentialsFile, 0o600, 0o600},
		{"credentials 0644 tightened", CredentialsFile, 0o644, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws := testenv.TempDir(t) // owned by root: the owner new files would get
			path := filepath.Join(ws, ".cargo", "file.toml")
			const orig = "# the user's\n[net]\nretry = 1\n"
			write(t, path, orig, tc.mode)
			if err := os.Chown(path, 1234, 4321); err != nil {
				t.Fatal(err)
			}
			fl := OpenFolders(Folder{Dir: ws})
			defer fl.Close()
			plan := func() *Change {
				var c *Change
				var err error
				if tc.kind == ConfigFile {
					c, err = fl.PlanConfig(path, Registry{Name: "art", Index: testIndex})
				} else {
					c, err = fl.PlanCredentials(path, "art", "tok", false)
				}
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			owner := Owner{UID: 0, GID: 0, Set: true}
			if err := fl.Apply([]*Change{plan()}, owner); err != nil {
				t.Fatal(err)
			}
			if s := stateOf(t, path); s.uid != 1234 || s.gid != 4321 || s.mode.Perm() != tc.wantMode || s.data == orig {
				t.Errorf("after Apply: %d:%d %v changed=%v, want 1234:4321 %v changed", s.uid, s.gid, s.mode, s.data != orig, tc.wantMode)
			}
			// Back to the original, then a failed Apply: the second change
			// cannot be written (a file stands where its folder would be).
			write(t, path, orig, tc.mode)
			if err := os.Chown(path, 1234, 4321); err != nil {
				t.Fatal(err)
			}
			c := plan()
			other, err := fl.PlanConfig(filepath.Join(ws, "blocked", "config.toml"), Registry{Name: "art", Index: testIndex})
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(ws, "blocked"), "a file\n", 0o644)
			if err := fl.Apply([]*Change{c, other}, owner); err == nil {
				t.Fatal("Apply succeeded")
			}
			if s := stateOf(t, path); s.uid != 1234 || s.gid != 4321 || s.mode.Perm() != tc.mode || s.data != orig {
				t.Errorf("after rollback: %d:%d %v %q, want 1234:4321 %v %q", s.uid, s.gid, s.mode, s.data, tc.mode, orig)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("left %d files in the folder", len(entries))
			}
		})
	}
}

func TestRollbackRemovesWhatItCreated(t *testing.T) {
	t.Parallel()
	testenv.SkipUnderWine(t, testenv.RemoveDefect)
	ws := testenv.TempDir(t)
	fl := OpenFolders(Folder{Dir: ws})
	defer fl.Close()
	cred, err := fl.PlanCredentials(filepath.Join(ws, "new", "deeper", "credentials.toml"), "art", "tok", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := fl.PlanConfig(filepath.Join(ws, ".cargo", "config.toml"), Registry{Name: "art", Index: testIndex})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(ws, ".cargo"), "a file\n", 0o644)
	if err := fl.Apply([]*Change{cred, cfg}, Owner{}); err == nil {
		t.Fatal("Apply succeeded")
	}
	if _, err := os.Lstat(filepath.Join(ws, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folders created for the credentials file are still there: %v", err)
	}
}

func TestPlanLeavesFileUntouchedOnError(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	cfg := filepath.Join(dir, "config.toml")
	in := "[registries.art]\nindex = \"sparse+https://other/\"\n"
	write(t, cfg, in, 0o664)
	before, _ := os.Stat(cfg)
	fl := OpenFolders(Folder{Dir: dir})
	defer fl.Close()
	_, err := fl.PlanConfig(cfg, Registry{Name: "art", Index: testIndex})
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	got, _ := os.ReadFile(cfg)
	after, _ := os.Stat(cfg)
	if string(got) != in || !after.ModTime().Equal(before.ModTime()) {
		t.Error("file changed")
	}
}

func TestUnchangedConfigNotRewritten(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	cfg := filepath.Join(dir, ".cargo", "config.toml")
	applyConfig(t, cfg, Registry{Name: "art", Index: testIndex})
	before, _ := os.Stat(cfg)
	c := applyConfig(t, cfg, Registry{Name: "art", Index: testIndex})
	after, _ := os.Stat(cfg)
	if c.Changed() || !os.SameFile(before, after) {
		t.Error("an unchanged config file was rewritten")
	}
}

// A link that stays inside the folders is followed and kept; the file it
// points to is updated in place.
func TestLinksInsideAreFollowed(t *testing.T) {
	type test struct {
		setup  func(t *testing.T, ws string) // ws is the container view
		target string                        // the file that must be written, relative to ws
	}
	testenv.Run(t, map[string]test{
		"relative file link": {func(t *testing.T, ws string) {
			write(t, filepath.Join(ws, "shared", "cargo.toml"), "[net]\nretry = 1\n", 0o640)
			mustLink(t, "../shared/cargo.toml", filepath.Join(ws, ".cargo", "config.toml"))
		}, "shared/cargo.toml"},
		"absolute link by the host path": {func(t *testing.T, ws string) {
			write(t, filepath.Join(ws, "shared", "cargo.toml"), "[net]\nretry = 1\n", 0o640)
			mustLink(t, hostPath("/host/work/repo/shared/cargo.toml"), filepath.Join(ws, ".cargo", "config.toml"))
		}, "shared/cargo.toml"},
		"linked .cargo folder": {func(t *testing.T, ws string) {
			write(t, filepath.Join(ws, "conf", "config.toml"), "[net]\nretry = 1\n", 0o640)
			mustLink(t, "conf", filepath.Join(ws, ".cargo"))
		}, "conf/config.toml"},
		"dangling link inside": {func(t *testing.T, ws string) {
			mustLink(t, "../later/config.toml", filepath.Join(ws, ".cargo", "config.toml"))
		}, "later/config.toml"},
		"link into the temp folder by its host path": {func(t *testing.T, ws string) {
			mustLink(t, hostPath("/host/temp/cargo/config.toml"), filepath.Join(ws, ".cargo", "config.toml"))
		}, "../temp/cargo/config.toml"},
	}, func(t *testing.T, _ string, tt test) {
		top := testenv.TempDir(t)
		ws, temp := filepath.Join(top, "ws"), filepath.Join(top, "temp")
		for _, d := range []string{ws, temp} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		tt.setup(t, ws)
		fl := OpenFolders(Folder{Dir: ws, HostDir: hostPath("/host/work/repo"), Name: "the workspace"},
			Folder{Dir: temp, HostDir: hostPath("/host/temp"), Name: "the runner's temp folder"})
		defer fl.Close()
		path := filepath.Join(ws, ".cargo", "config.toml")
		c, err := fl.PlanConfig(path, Registry{Name: "art", Index: testIndex})
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(ws, tt.target)
		if c.Target != want {
			t.Errorf("Target = %q, want %q", c.Target, want)
		}
		if err := fl.Apply([]*Change{c}, Owner{}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(want)
		if err != nil || !strings.Contains(string(got), "[registries.art]") {
			t.Errorf("target not updated: %q, %v", got, err)
		}
		dotCargo, _ := os.Lstat(filepath.Dir(path))
		file, _ := os.Lstat(path)
		if dotCargo.Mode()&os.ModeSymlink == 0 && file.Mode()&os.ModeSymlink == 0 {
			t.Error("the link was replaced by a file")
		}
	})
}

// mustLink makes the folder of link and a symbolic link there to target
// (testenv.Symlink: skipped under wine, which makes no links).
func mustLink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Symlink(t, target, link)
}

// A link that leaves the folders is refused, whether it is the file or a
// folder on the way, and nothing outside is read, created or changed.
func TestLinksLeavingAreRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		path  string // relative to ws
		setup func(t *testing.T, ws, outside string)
	}{
		{"config linked outside (absolute)", ".cargo/config.toml", func(t *testing.T, ws, outside string) {
			mustLink(t, filepath.Join(outside, "config.toml"), filepath.Join(ws, ".cargo", "config.toml"))
		}},
		{"config linked outside (relative)", ".cargo/config.toml", func(t *testing.T, ws, outside string) {
			mustLink(t, "../../outside/config.toml", filepath.Join(ws, ".cargo", "config.toml"))
		}},
		{"config linked to /proc/self/pagemap", ".cargo/config.toml", func(t *testing.T, ws, outside string) {
			mustLink(t, "/proc/self/pagemap", filepath.Join(ws, ".cargo", "config.toml"))
		}},
		{".cargo linked outside", ".cargo/credentials.toml", func(t *testing.T, ws, outside string) {
			mustLink(t, outside, filepath.Join(ws, ".cargo"))
		}},
		{"dangling link outside", ".cargo/credentials.toml", func(t *testing.T, ws, outside string) {
			mustLink(t, filepath.Join(outside, "new.toml"), filepath.Join(ws, ".cargo", "credentials.toml"))
		}},
		{"link inside to a link outside", "a.toml", func(t *testing.T, ws, outside string) {
			mustLink(t, "b.toml", filepath.Join(ws, "a.toml"))
			mustLink(t, filepath.Join(outside, "config.toml"), filepath.Join(ws, "b.toml"))
		}},
		{"climbing through a linked folder", "sub/config.toml", func(t *testing.T, ws, outside string) {
			if err := os.MkdirAll(filepath.Join(ws, "deep", "er"), 0o755); err != nil {
				t.Fatal(err)
			}
			mustLink(t, "deep/er", filepath.Join(ws, "up"))
			mustLink(t, "up/../../..", filepath.Join(ws, "sub"))
		}},
	}
	for _, tt := range tests {
		for _, kind := range []Kind{ConfigFile, CredentialsFile} {
			t.Run(tt.name+"/"+kind.String(), func(t *testing.T) {
				t.Parallel()
				top := testenv.TempDir(t)
				ws, outside := filepath.Join(top, "ws"), filepath.Join(top, "outside")
				write(t, filepath.Join(outside, "config.toml"), "# not yours\n", 0o644)
				if err := os.MkdirAll(ws, 0o755); err != nil {
					t.Fatal(err)
				}
				tt.setup(t, ws, outside)
				fl := OpenFolders(Folder{Dir: ws, Name: "the workspace"})
				defer fl.Close()
				path := filepath.Join(ws, tt.path)
				var err error
				if kind == ConfigFile {
					_, err = fl.PlanConfig(path, Registry{Name: "art", Index: testIndex})
				} else {
					_, err = fl.PlanCredentials(path, "art", "secret-token", false)
				}
				var le *LinkError
				if !errors.As(err, &le) && !strings.Contains(fmtnil(err), "leads above") {
					t.Fatalf("err = %v, want a refused link", err)
				}
				if msg := err.Error(); !strings.Contains(msg, "symbolic link") || !strings.Contains(msg, "the workspace") || strings.Contains(msg, "secret-token") {
					t.Errorf("error %q does not say which link leaves the workspace", msg)
				}
				if err := fl.Install(path, strings.NewReader("x"), 0o755, Owner{}); err == nil {
					t.Error("Install wrote through the link")
				}
				entries, _ := os.ReadDir(outside)
				if got, _ := os.ReadFile(filepath.Join(outside, "config.toml")); len(entries) != 1 || string(got) != "# not yours\n" {
					t.Errorf("outside changed: %d entries, %q", len(entries), got)
				}
			})
		}
	}
}

func fmtnil(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestPathOutsideTheFolders(t *testing.T) {
	t.Parallel()
	ws := testenv.TempDir(t)
	fl := OpenFolders(Folder{Dir: ws, Name: "the workspace"})
	defer fl.Close()
	_, err := fl.PlanConfig("/etc/cargo/config.toml", Registry{Name: "art", Index: testIndex})
	var oe *OutsideError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v", err)
	}
}

// A file larger than MaxFileSize is refused before it is read: a 200 GB
// sparse file costs no memory and no time.
func TestTooLargeIsRefused(t *testing.T) {
	t.Parallel()
	ws := testenv.TempDir(t)
	path := filepath.Join(ws, ".cargo", "config.toml")
	write(t, path, "", 0o644)
	makeSparse(t, path)
	if err := os.Truncate(path, 200<<30); err != nil {
		testenv.Require(t, "a file system with sparse files", err)
	}
	fl := OpenFolders(Folder{Dir: ws})
	defer fl.Close()
	start := time.Now()
	_, err := fl.PlanConfig(path, Registry{Name: "art", Index: testIndex})
	var te *TooLargeError
	if !errors.As(err, &te) || te.Size != 200<<30 || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestNotARegularFile(t *testing.T) {
	t.Parallel()
	ws := testenv.TempDir(t)
	path := filepath.Join(ws, "config.toml")
	mkfifo(t, path)
	fl := OpenFolders(Folder{Dir: ws})
	defer fl.Close()
	done := make(chan error, 1)
	go func() {
		_, err := fl.PlanConfig(path, Registry{Name: "art", Index: testIndex})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO hung")
	}
}

// The post stage removes only the file Apply created.
func TestRemoveCreated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(t *testing.T, ws, path string) // what a later step does
		removed bool
		want    string // in the error
	}{
		{"untouched", func(*testing.T, string, string) {}, true, ""},
		{"already gone", func(t *testing.T, _, path string) { _ = os.Remove(path) }, false, ""},
		{"content changed", func(t *testing.T, _, path string) {
			data, _ := os.ReadFile(path)
			data[0] ^= 1
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, "content changed"},
		{"replaced by a copy", func(t *testing.T, _, path string) {
			data, _ := os.ReadFile(path)
			write(t, path+".copy", string(data), 0o600)
			if err := os.Rename(path+".copy", path); err != nil {
				t.Fatal(err)
			}
		}, false, "taken its place"},
		{".cargo re-pointed by a link", func(t *testing.T, ws, path string) {
			write(t, filepath.Join(ws, "users", "credentials.toml"), "# theirs\n", 0o600)
			if err := os.Rename(filepath.Dir(path), filepath.Join(ws, "moved")); err != nil {
				t.Fatal(err)
			}
			mustLink(t, "users", filepath.Dir(path))
		}, false, "symbolic link"},
		{"file replaced by a link to it", func(t *testing.T, ws, path string) {
			if err := os.Rename(path, filepath.Join(ws, "moved.toml")); err != nil {
				t.Fatal(err)
			}
			mustLink(t, "../moved.toml", path)
		}, false, "symbolic link"},
	}
	for _, tt := range tests {
		if tt.name == "replaced by a copy" && runtime.GOOS == "windows" {
			// A Windows file has no device and inode here (statIdentity):
			// its identity is its size and SHA-256, so a byte-identical
			// copy is the file the action wrote, and it goes.
			tt.removed, tt.want = true, ""
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.removed {
				testenv.SkipUnderWine(t, testenv.RemoveDefect)
			}
			ws := testenv.TempDir(t)
			path := filepath.Join(ws, ".cargo", "credentials.toml")
			c := applyCredentials(t, path, "art", "tok")
			if !c.Created() || c.ID().IsZero() || c.ID().Size != int64(len(c.Data)) {
				t.Fatalf("created=%v id=%v", c.Created(), c.ID())
			}
			id, err := ParseFileID(c.ID().String())
			if err != nil || id != c.ID() {
				t.Fatalf("ParseFileID(%q) = %v, %v", c.ID(), id, err)
			}
			tt.change(t, ws, path)
			var before []fileState
			_ = filepath.Walk(ws, func(p string, _ os.FileInfo, _ error) error {
				before = append(before, stateOf(t, p))
				return nil
			})
			fl := OpenFolders(Folder{Dir: filepath.Dir(ws)})
			defer fl.Close()
			err = fl.RemoveCreated(path, id)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			_, statErr := os.Lstat(path)
			if tt.removed != (statErr != nil) && tt.name != "already gone" {
				t.Errorf("removed = %v, want %v", statErr != nil, tt.removed)
			}
			if !tt.removed {
				var after []fileState
				_ = filepath.Walk(ws, func(p string, _ os.FileInfo, _ error) error {
					after = append(after, stateOf(t, p))
					return nil
				})
				if len(after) != len(before) {
					t.Errorf("the workspace changed: %d entries, was %d", len(after), len(before))
				}
			}
		})
	}
}

func TestRemoveCredentialKeepsTheRest(t *testing.T) {
	t.Parallel()
	ws := testenv.TempDir(t)
	path := filepath.Join(ws, ".cargo", "credentials.toml")
	const orig = "[registries.other]\ntoken = \"x\"\n"
	write(t, path, orig, 0o600)
	c := applyCredentials(t, path, "art", "Bearer 1")
	if c.Created() {
		t.Error("an existing file reported as created")
	}
	fl := OpenFolders(Folder{Dir: ws})
	defer fl.Close()
	if err := fl.RemoveCredential(c.Target, "art", false); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, path); s.data != orig || !testenv.PermIs(t, s.mode, 0o600) {
		t.Errorf("after removal: %q %v", s.data, s.mode)
	}
	if err := fl.RemoveCredential(filepath.Join(ws, "missing.toml"), "art", false); err != nil {
		t.Errorf("missing file: %v", err)
	}
	// A link is never followed by the post stage.
	mustLink(t, ".cargo/credentials.toml", filepath.Join(ws, "link.toml"))
	if err := fl.RemoveCredential(filepath.Join(ws, "link.toml"), "art", false); err == nil {
		t.Error("RemoveCredential followed a link")
	}
}

func TestInstall(t *testing.T) {
	t.Parallel()
	top := testenv.TempDir(t)
	home := filepath.Join(top, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	fl := OpenFolders(Folder{Dir: home})
	defer fl.Close()
	dst := filepath.Join(home, ".cargo-oidc", "bin", "cargo-oidc")
	for i := range 2 {
		if err := fl.Install(dst, strings.NewReader("binary"+string(rune('0'+i))), 0o755, Owner{}); err != nil {
			t.Fatal(err)
		}
	}
	if s := stateOf(t, dst); s.data != "binary1" || !testenv.PermIs(t, s.mode, 0o755) {
		t.Errorf("installed %q %v", s.data, s.mode)
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Errorf("%d files left in the folder", len(entries))
	}
	testenv.RemoveAll(t, filepath.Join(home, ".cargo-oidc"))
	mustLink(t, top, filepath.Join(home, ".cargo-oidc"))
	var le *LinkError
	if err := fl.Check(dst); !errors.As(err, &le) {
		t.Errorf("Check through a link leaving home: %v", err)
	}
	if err := fl.Install(dst, strings.NewReader("x"), 0o755, Owner{}); !errors.As(err, &le) {
		t.Errorf("Install through a link leaving home: %v", err)
	}
	if _, err := os.Stat(filepath.Join(top, "bin")); err == nil {
		t.Error("Install created a folder outside")
	}
}

func TestParseFileIDRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "1:2:3", "1:2:3:zz", "a:2:3:" + strings.Repeat("0", 64), "1:2:-3:" + strings.Repeat("0", 64), "1:2:3:" + strings.Repeat("0", 62)} {
		if _, err := ParseFileID(s); err == nil {
			t.Errorf("ParseFileID(%q) accepted", s)
		}
	}
}

func TestWriteFileAtomicNoLeftovers(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	path := filepath.Join(dir, "f")
	for i := 0; i < 3; i++ {
		if err := WriteFileAtomic(path, []byte{byte(i)}, 0o640, Owner{}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries", len(entries))
	}
	if err := WriteFileAtomic(filepath.Join(path, "sub"), nil, 0o644, Owner{}); err == nil {
		t.Error("wrote under a file")
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"my-reg.x": "MY_REG_X", "artifactory": "ARTIFACTORY", "a_b": "A_B"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
	// Checked against cargo 1.95 (see doc.go).
	valid := []string{"abc", "_abc", "a-b_c", "A", "é", "αβ", "a1"}
	invalid := []string{"", "a.b", "1abc", "-abc", "ab c", "a+b", "a/b", "crates-io", "a\x00"}
	for _, n := range valid {
		if err := ValidateRegistryName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range invalid {
		err := ValidateRegistryName(n)
		if err == nil {
			t.Errorf("%q accepted", n)
		} else if n != "crates-io" && !strings.Contains(err.Error(), "letters, digits") {
			t.Errorf("%q: error %q does not say what is allowed", n, err)
		}
	}
}

func TestFoldersAreNotFiles(t *testing.T) {
	t.Parallel()
	ws := testenv.TempDir(t)
	if err := os.MkdirAll(filepath.Join(ws, "sub", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustLink(t, "..", filepath.Join(ws, "sub", "up.toml"))
	mustLink(t, "dir/..", filepath.Join(ws, "sub", "here.toml"))
	fl := OpenFolders(Folder{Dir: ws})
	defer fl.Close()
	for _, p := range []string{ws, filepath.Join(ws, "sub"), filepath.Join(ws, "sub", "up.toml"), filepath.Join(ws, "sub", "here.toml")} {
		_, err := fl.PlanCredentials(p, "art", "tok", false)
		if err == nil || !strings.Contains(err.Error(), "folder") {
			t.Errorf("%s: err = %v, want a folder refused", p, err)
		}
	}
}

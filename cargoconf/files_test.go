package cargoconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func ownerOf(t *testing.T, path string) (uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode()
}

func TestOwnership(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (chown) and CI=true forbids skipping")
		}
		t.Skip("needs root to chown; run as root")
	}
	ws := t.TempDir()
	if err := os.Chown(ws, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	owner, err := OwnerOf(ws)
	if err != nil || owner != (Owner{UID: 1234, GID: 1234, Set: true}) {
		t.Fatalf("OwnerOf = %+v, %v", owner, err)
	}
	r := Registry{Name: "art", Index: testIndex, ReplaceCratesIO: true}
	cfg := filepath.Join(ws, "a", ".cargo", "config.toml")
	if err := UpdateConfig(cfg, r, owner); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(ws, "a"), filepath.Join(ws, "a", ".cargo"), cfg} {
		if uid, gid, _ := ownerOf(t, p); uid != 1234 || gid != 1234 {
			t.Errorf("%s owned by %d:%d, want 1234:1234", p, uid, gid)
		}
	}
	if _, _, mode := ownerOf(t, cfg); mode.Perm() != 0o644 {
		t.Errorf("config mode %v, want 0644", mode)
	}
	cred := filepath.Join(ws, "secrets", "credentials.toml")
	created, err := WriteCredentials(cred, "art", "tok", false, owner)
	if err != nil || !created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if uid, gid, mode := ownerOf(t, filepath.Dir(cred)); uid != 1234 || gid != 1234 || mode.Perm() != 0o700 {
		t.Errorf("credentials folder %d:%d %v, want 1234:1234 0700", uid, gid, mode)
	}
	if uid, gid, mode := ownerOf(t, cred); uid != 1234 || gid != 1234 || mode.Perm() != 0o600 {
		t.Errorf("credentials file %d:%d %v, want 1234:1234 0600", uid, gid, mode)
	}
	// An existing file keeps its owner and mode when rewritten.
	if err := os.Chown(cfg, 4321, 4321); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg, 0o640); err != nil {
		t.Fatal(err)
	}
	r.CredentialProvider = "cargo:token"
	if err := UpdateConfig(cfg, r, owner); err != nil {
		t.Fatal(err)
	}
	if uid, _, mode := ownerOf(t, cfg); uid != 4321 || mode.Perm() != 0o640 {
		t.Errorf("rewritten config %d %v, want 4321 0640", uid, mode)
	}
}

func TestUpdateConfigUntouchedOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	in := "[registries.art]\nindex = \"sparse+https://other/\"\n"
	if err := os.WriteFile(cfg, []byte(in), 0o664); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(cfg)
	err := UpdateConfig(cfg, Registry{Name: "art", Index: testIndex}, Owner{})
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	got, _ := os.ReadFile(cfg)
	after, _ := os.Stat(cfg)
	if string(got) != in || !after.ModTime().Equal(before.ModTime()) {
		t.Error("file changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left %d files behind", len(entries))
	}
}

func TestUpdateConfigFollowsSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "shared.toml")
	if err := os.WriteFile(target, []byte("[net]\nretry = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config.toml")
	if err := os.Symlink("shared.toml", link); err != nil {
		t.Fatal(err)
	}
	if err := UpdateConfig(link, Registry{Name: "art", Index: testIndex}, Owner{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}
	got, _ := os.ReadFile(target)
	if !strings.Contains(string(got), "[registries.art]") {
		t.Errorf("target not updated: %s", got)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestWriteCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials.toml")
	if err := os.WriteFile(path, []byte("[registries.other]\ntoken = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	created, err := WriteCredentials(path, "art", "Bearer 1", false, Owner{})
	if err != nil || created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (tightened)", fi.Mode())
	}
	if err := RemoveCredential(path, "art", false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "[registries.other]\ntoken = \"x\"\n" {
		t.Errorf("after removal: %q", got)
	}
	if err := RemoveCredential(filepath.Join(dir, "missing.toml"), "art", false); err != nil {
		t.Errorf("missing file: %v", err)
	}
}

func TestWriteCredentialsRefusesSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "credentials.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := WriteCredentials(link, "art", "secret-token", false, Owner{})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") || strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "keep\n" {
		t.Error("the link's target changed")
	}
	if err := RemoveCredential(link, "art", false); err == nil {
		t.Error("RemoveCredential followed a link")
	}
	// A dangling link too.
	dangling := filepath.Join(dir, "dangling.toml")
	if err := os.Symlink(filepath.Join(dir, "nothing"), dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCredentials(dangling, "art", "tok", false, Owner{}); err == nil {
		t.Error("wrote through a dangling link")
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing")); err == nil {
		t.Error("created the link's target")
	}
}

func TestWriteFileAtomicNoLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
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

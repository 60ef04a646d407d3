//go:build unix

package credprovider

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeFIFO makes a named pipe at path.
func makeFIFO(t *testing.T, path string) bool {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return true
}

// statInfo is a FileInfo with a made-up owner and mode.
type statInfo struct {
	os.FileInfo
	mode os.FileMode
	st   *syscall.Stat_t
}

func (s statInfo) Mode() os.FileMode  { return s.mode }
func (s statInfo) Sys() any           { return s.st }
func (s statInfo) ModTime() time.Time { return time.Time{} }

// notPrivate refuses another user's file or folder and one open to the
// group or others; it accepts this user's 0600 file and 0700 folder.
func TestNotPrivate(t *testing.T) {
	t.Parallel()
	fi, err := os.Lstat(filepath.Join(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	me := uint32(os.Geteuid())
	tests := []struct {
		uid  uint32
		mode os.FileMode
		dir  bool
		want string
	}{
		{me, 0o600, false, ""},
		{me, 0o400, false, ""},
		{me, 0o700 | os.ModeDir, true, ""},
		{me + 1, 0o600, false, "belongs to another user"},
		{me + 1, 0o700 | os.ModeDir, true, "belongs to another user"},
		{me, 0o620, false, "open to other users"},
		{me, 0o604, false, "open to other users"},
		{me, 0o750 | os.ModeDir, true, "open to other users"},
		{me, 0o701 | os.ModeDir, true, "open to other users"},
	}
	for _, tt := range tests {
		got := notPrivate(statInfo{fi, tt.mode, &syscall.Stat_t{Uid: tt.uid}}, tt.dir)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("notPrivate(uid %d, %v) = %q, want %q", tt.uid, tt.mode, got, tt.want)
		}
	}
}

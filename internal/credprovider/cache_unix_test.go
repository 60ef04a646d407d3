//go:build unix

package credprovider

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
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

// TestFilesThatAreNotRegularFailAtOnce: a named pipe (or another file that
// is not a regular one) at the minted-token record or at --id-token-file
// makes the request fail within seconds (fake.serve's bound), not block the
// provider in open(2) past its timeout. A minted crates.io token that cannot be recorded is
// revoked at once and not answered, and nothing is written into the pipe.
func TestFilesThatAreNotRegularFailAtOnce(t *testing.T) {
	t.Parallel()
	const minted = "cio_tp_fifo0123456789"
	tests := []struct {
		name string
		// setup makes the odd file in dir and returns the extra argument.
		setup func(t *testing.T, dir string) string
		// reader, when set, is opened on the pipe before the request.
		reader  string
		want    string
		revokes int32
	}{
		{"record is a named pipe", func(t *testing.T, dir string) string {
			makeFIFO(t, filepath.Join(dir, "tokens"))
			return "--" + RecordArg + "=" + filepath.Join(dir, "tokens")
		}, "", "is not a regular file (a named pipe)", 1},
		{"record is a named pipe with a reader", func(t *testing.T, dir string) string {
			makeFIFO(t, filepath.Join(dir, "tokens"))
			return "--" + RecordArg + "=" + filepath.Join(dir, "tokens")
		}, "tokens", "is not a regular file (a named pipe)", 1},
		{"record is a folder", func(t *testing.T, dir string) string {
			if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
				t.Fatal(err)
			}
			return "--" + RecordArg + "=" + filepath.Join(dir, "tokens")
		}, "", "cannot record", 1},
		{"id token file is a named pipe", func(t *testing.T, dir string) string {
			makeFIFO(t, filepath.Join(dir, "id"))
			return "--id-token-file=" + filepath.Join(dir, "id")
		}, "", "is not a regular file (a named pipe)", 0},
		{"id token file is a folder", func(t *testing.T, dir string) string {
			return "--id-token-file=" + dir
		}, "", "is not a regular file (a folder)", 0},
		{"id token file is a device", func(t *testing.T, dir string) string {
			return "--id-token-file=/dev/null"
		}, "", "is not a regular file (a device)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, issued, revoked := newCratesFake(t, func(int32) string { return `{"token":"` + minted + `"}` })
			f := &fake{srv: srv, tmp: testenv.TempDir(t)}
			arg := tt.setup(t, f.tmp)
			if tt.reader != "" {
				pipe, err := os.OpenFile(filepath.Join(f.tmp, tt.reader), os.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					buf := make([]byte, 256)
					if n, _ := pipe.Read(buf); n > 0 {
						t.Errorf("the token went into the pipe: %q", buf[:n])
					}
					pipe.Close()
				}()
			}
			a := f.serve(t, nil, request("get", "https://github.com/rust-lang/crates.io-index", "--provider=crates-io", "--url="+srv.URL, arg))[0]
			if a["Ok"] != nil || !strings.Contains(string(a["Err"]), tt.want) || strings.Contains(string(a["Err"]), minted) {
				t.Errorf("answer = %s; want an error saying %q, without the token", a, tt.want)
			}
			if got := revoked.Load(); got != tt.revokes || got != issued.Load() {
				t.Errorf("%d tokens minted, %d revoked; want %d revoked, every minted one", issued.Load(), got, tt.revokes)
			}
		})
	}
}

//go:build !windows

package cargoconf

import (
	"os"
	"syscall"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// ownerOf reads fi's owner from the system's stat record, independently of
// statOwner, the code under test.
func ownerOf(fi os.FileInfo) (uid, gid uint32) {
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// mkfifo makes a named pipe at path.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		testenv.Require(t, "mkfifo", err)
	}
}

// makeSparse does nothing: extending a file with os.Truncate makes a sparse
// file on the Unix file systems the tests run on.
func makeSparse(*testing.T, string) {}

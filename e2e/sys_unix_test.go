//go:build unix

package e2e

import (
	"os"
	"syscall"
	"testing"
)

// ownerOf returns path's owner from the system's stat record.
func ownerOf(t testing.TB, path string) (uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

//go:build !windows

package cargoconf

import (
	"os"
	"syscall"
)

// ownerOfInfo returns the owner recorded in fi, if the system records one.
func ownerOfInfo(fi os.FileInfo) (Owner, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Owner{}, false
	}
	return Owner{UID: int(st.Uid), GID: int(st.Gid), Set: true}, true
}

// openNoFollow opens path for reading without following a symbolic link
// (ELOOP) and without blocking on a FIFO.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

//go:build !windows

package cargoconf

import (
	"os"
	"syscall"
)

// oNoFollow makes an open fail with ELOOP on a symbolic link; oDirectory
// makes it fail unless the path is a folder.
const (
	oNoFollow  = syscall.O_NOFOLLOW
	oDirectory = syscall.O_DIRECTORY
)

// statOwner returns the owner recorded in fi, if the system records one.
func statOwner(fi os.FileInfo) (Owner, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Owner{}, false
	}
	return Owner{UID: int(st.Uid), GID: int(st.Gid), Set: true}, true
}

// statIdentity returns fi's device and inode (zero when unknown).
func statIdentity(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

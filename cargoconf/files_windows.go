package cargoconf

import (
	"io/fs"
	"os"
	"syscall"
)

// ownerOfInfo reports no owner: Windows files have no UID and GID, and the
// action runs as the runner's user there, never in a container as root.
func ownerOfInfo(os.FileInfo) (Owner, bool) { return Owner{}, false }

// openNoFollow opens path for reading, refusing a symbolic link with ELOOP
// as O_NOFOLLOW does on Unix (Windows has no O_NOFOLLOW; the check and the
// open are two steps).
func openNoFollow(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
	}
	return os.Open(path)
}

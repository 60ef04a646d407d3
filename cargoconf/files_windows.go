package cargoconf

import "os"

// oNoFollow is 0: Windows has no O_NOFOLLOW. The os.Root the files are
// opened through still keeps every path inside its folder, and a file is
// removed only when its size and SHA-256 match what was recorded.
// oDirectory is 0 too; the callers check what they opened.
const (
	oNoFollow  = 0
	oDirectory = 0
)

// statOwner reports no owner: Windows files have no UID and GID, and the
// action runs there as the runner's user, never as root in a container.
func statOwner(os.FileInfo) (Owner, bool) { return Owner{}, false }

// statIdentity reports no device and inode on Windows; the identity of a
// file is its size and SHA-256 there.
func statIdentity(os.FileInfo) (dev, ino uint64) { return 0, 0 }

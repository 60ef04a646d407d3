package cargoconf

import (
	"os"
	"testing"
)

// ownerOf reports no owner: Windows files have no UID and GID (the tests
// that check owners need root and skip on Windows).
func ownerOf(os.FileInfo) (uid, gid uint32) { return 0, 0 }

// mkfifo skips the test: Windows has no FIFOs in the file system.
func mkfifo(t *testing.T, _ string) {
	t.Helper()
	t.Skip("skipping: Windows has no named pipes in the file system (mkfifo)")
}

package cargoconf

import (
	"os"
	"syscall"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// ownerOf reports no owner: Windows files have no UID and GID (the tests
// that check owners need root and skip on Windows).
func ownerOf(os.FileInfo) (uid, gid uint32) { return 0, 0 }

// mkfifo skips the test: Windows has no FIFOs in the file system.
func mkfifo(t *testing.T, _ string) {
	t.Helper()
	t.Skip("skipping: Windows has no named pipes in the file system (mkfifo)")
}

// fsctlSetSparse is FSCTL_SET_SPARSE (winioctl.h).
const fsctlSetSparse = 0x000900c4

// makeSparse marks the file at path sparse, so that extending it with
// os.Truncate allocates nothing: NTFS otherwise reserves the whole new
// length on the disk, and a runner's disk has no 200 GB to spare.
func makeSparse(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n uint32
	if err := syscall.DeviceIoControl(syscall.Handle(f.Fd()), fsctlSetSparse, nil, 0, nil, 0, &n, nil); err != nil {
		testenv.Require(t, "a file system with sparse files (FSCTL_SET_SPARSE)", err)
	}
}

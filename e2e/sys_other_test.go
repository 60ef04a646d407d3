//go:build !unix

package e2e

import "os"

// ownerOf reports no owner: Windows files have no UID and GID. The tests
// that check owners run the action in a Linux container.
func ownerOf(os.FileInfo) (uid, gid uint32) { return 0, 0 }

// maxRSS reports nothing: Windows has no getrusage.
func maxRSS(*os.ProcessState) (int64, bool) { return 0, false }

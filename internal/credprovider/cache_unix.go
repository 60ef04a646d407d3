//go:build unix

package credprovider

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// userSuffix keeps the default cache folders of a machine's users apart.
func userSuffix() string { return "-" + strconv.Itoa(os.Geteuid()) }

// notPrivate says why fi (the cache folder when dir, else a cache file)
// cannot be trusted: it belongs to another user, or other users may read
// or write it (a folder must be 0700, a file 0600 or stricter). "" when it
// can.
func notPrivate(fi os.FileInfo, dir bool) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "has no owner information"
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Sprintf("belongs to another user (uid %d, this is uid %d)", st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if dir {
			return fmt.Sprintf("is open to other users (mode %v, want drwx------)", fi.Mode().Perm())
		}
		return fmt.Sprintf("is open to other users (mode %v, want -rw-------)", fi.Mode().Perm())
	}
	return ""
}

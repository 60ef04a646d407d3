//go:build windows

package credprovider

import "os"

// userSuffix is empty on Windows: the temp folder (TEMP) is the user's own.
func userSuffix() string { return "" }

// notPrivate is "" on Windows, whose permissions are access lists that
// package os does not show: the cache folder is in the user's own temp
// folder or the runner's, which other users cannot write. Links and files
// that are not regular are still refused by the callers.
func notPrivate(fi os.FileInfo, dir bool) string { return "" }

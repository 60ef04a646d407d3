package cargoconf

import (
	"path/filepath"
	"runtime"
)

// hostPath is a host path written with "/" (a runner's path as the action
// sees it in its container) as the running system spells an absolute path:
// on Windows with a drive letter and "\", where "/host/x" would be rooted
// on the current drive, which the action refuses.
func hostPath(p string) string {
	if runtime.GOOS == "windows" {
		return "Q:" + filepath.FromSlash(p)
	}
	return p
}

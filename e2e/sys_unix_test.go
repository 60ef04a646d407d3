//go:build unix

package e2e

import (
	"os"
	"syscall"
)

// ownerOf returns fi's owner from the system's stat record.
func ownerOf(fi os.FileInfo) (uid, gid uint32) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		panic("no stat record for " + fi.Name())
	}
	return st.Uid, st.Gid
}

// maxRSS returns the finished process's peak resident memory as getrusage
// reports it (KiB on Linux), when the system reports it.
func maxRSS(st *os.ProcessState) (int64, bool) {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss, true
}

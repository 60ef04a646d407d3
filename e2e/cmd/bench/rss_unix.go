//go:build unix

package main

import (
	"os"
	"syscall"
)

// maxRSS returns the finished process's peak resident memory as getrusage
// reports it (KiB on Linux), when the system reports it.
func maxRSS(st *os.ProcessState) (int64, bool) {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss, true
}

//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS returns the finished process's peak resident memory in KiB, as
// getrusage reports it (in bytes on macOS), or 0.
func maxRSS(st *os.ProcessState) int64 {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	switch {
	case !ok:
		return 0
	case runtime.GOOS == "darwin":
		return ru.Maxrss / 1024
	}
	return ru.Maxrss
}

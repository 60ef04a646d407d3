package main

import "syscall"

// detachedProcess is a process creation flag of Windows' CreateProcess
// that package syscall lacks.
const detachedProcess = 0x00000008

// detached starts the server without a console and in a process group of
// its own, so that the step's Ctrl+C and Ctrl+Break do not reach it. Go
// passes the child only its standard handles, never the step's pipes, so
// the runner does not wait for it.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess}
}

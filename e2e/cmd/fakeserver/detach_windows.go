package main

import "syscall"

// detachedProcess is a process creation flag of Windows' CreateProcess
// that package syscall lacks.
const detachedProcess = 0x00000008

// detached starts the server without a console and in a process group of
// its own, so that the console's Ctrl+C and Ctrl+Break of the starting step
// do not reach it. Go passes the child only its standard handles (the log
// file and the null device), never the step's pipes, so the runner does
// not wait for it when the step's shell exits.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess}
}

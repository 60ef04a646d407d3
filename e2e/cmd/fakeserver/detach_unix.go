//go:build !windows

package main

import "syscall"

// detached puts the server in a session of its own, so that the signals
// sent to the starting step's process group do not reach it.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

//go:build unix

package credprovider

import "syscall"

// nonBlock opens a file without waiting: a named pipe (FIFO) or a device
// put where the provider expects a regular file would otherwise block the
// open until another process opened its other end, past every timeout and
// deaf to SIGTERM (Go cannot interrupt a blocked open). With it the open
// returns at once (or fails, ENXIO, for a pipe with no reader) and the
// fstat that follows refuses anything but a regular file.
const nonBlock = syscall.O_NONBLOCK

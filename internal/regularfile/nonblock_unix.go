//go:build unix

package regularfile

import "syscall"

// NonBlock is the open flag that keeps an open of a named pipe or a device
// from waiting for its other end.
const NonBlock = syscall.O_NONBLOCK

//go:build !unix

package regularfile

// NonBlock is 0 where package syscall has no O_NONBLOCK (Windows): there a
// named pipe is not a path in a folder.
const NonBlock = 0

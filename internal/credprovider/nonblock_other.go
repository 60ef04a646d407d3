//go:build !unix

package credprovider

// nonBlock is 0 where package syscall has no O_NONBLOCK (Windows): there a
// named pipe is not a path in a folder the provider opens.
const nonBlock = 0

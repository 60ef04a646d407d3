//go:build linux

package credprovider

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/cargo-oidc/cargo-oidc/internal/regularfile"
)

// appendRecord appends tok and a newline to the record file (created 0600)
// in one write, so concurrent providers never interleave. Neither the file
// nor its folder is reached through a symbolic link: the folder is opened
// without following one and the file beneath it with O_NOFOLLOW, so a step
// that replaced either with a link gets an error and the token is not used.
// Both are opened without blocking (regularfile.NonBlock) and the file is checked,
// once open, to be a regular file: a named pipe put at the record's path
// fails at once instead of hanging the provider.
func appendRecord(path, tok string) error {
	dirPath := filepath.Dir(path)
	dir, err := os.OpenFile(dirPath, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|regularfile.NonBlock, 0)
	if err != nil {
		return linkOr(dirPath, err)
	}
	defer dir.Close()
	fd, err := syscall.Openat(int(dir.Fd()), filepath.Base(path), syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|regularfile.NonBlock, 0o600)
	if err != nil {
		return regularfile.Explain(path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	return writeRecord(os.NewFile(uintptr(fd), path), path, tok)
}

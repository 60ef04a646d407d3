//go:build !linux

package credprovider

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cargo-oidc/cargo-oidc/internal/regularfile"
)

// appendRecord appends tok and a newline to the record file (created 0600)
// in one write, so concurrent providers never interleave. On macOS and
// Windows (no openat in package syscall) the folder is checked not to be a
// symbolic link and opened as an os.Root, and the file beneath it is
// checked not to be a link before it is opened through that root, which
// never leaves the folder; the Linux version opens both without following
// a link instead. The file is opened without blocking where the system has
// O_NONBLOCK (macOS) and checked, once open, to be a regular file.
func appendRecord(path, tok string) error {
	dirPath := filepath.Dir(path)
	if fi, err := os.Lstat(dirPath); err != nil {
		return err
	} else if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link, which is not followed", dirPath)
	}
	root, err := os.OpenRoot(dirPath)
	if err != nil {
		return linkOr(dirPath, err)
	}
	defer root.Close()
	name := filepath.Base(path)
	if fi, err := root.Lstat(name); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link, which is not followed", path)
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|regularfile.NonBlock, 0o600)
	if err != nil {
		return regularfile.Explain(path, err)
	}
	return writeRecord(f, path, tok)
}

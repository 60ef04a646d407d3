// Package regularfile opens files that must be regular files (an ID token
// file, the record of minted tokens) without ever blocking: a named pipe
// (FIFO) or a device put at such a path would otherwise block open(2) until
// another process opened its other end, past every timeout and deaf to
// SIGTERM (Go cannot interrupt a blocked open). With NonBlock the open
// returns at once (or fails, ENXIO, for a pipe with no reader) and an fstat
// on the open file refuses anything but a regular file.
package regularfile

import (
	"fmt"
	"os"
)

// NotRegularError is a path that is not a regular file (a named pipe, a
// device, a folder, a socket).
type NotRegularError struct {
	Path string
	Mode os.FileMode
}

// Error names the path and what it is.
func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is not a regular file (%s); give the path of a regular file", e.Path, kindOf(e.Mode))
}

// kindOf names the type of a file mode.
func kindOf(m os.FileMode) string {
	switch t := m.Type(); {
	case t&os.ModeNamedPipe != 0:
		return "a named pipe"
	case t&os.ModeSocket != 0:
		return "a socket"
	case t&os.ModeDevice != 0:
		return "a device"
	case t&os.ModeDir != 0:
		return "a folder"
	case t&os.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "mode " + m.String()
}

// Open opens path for reading without blocking and checks, on the open
// file, that it is a regular file (a *NotRegularError otherwise).
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|NonBlock, 0)
	if err != nil {
		return nil, Explain(path, err)
	}
	if err := Check(f, path); err != nil {
		return nil, err
	}
	return f, nil
}

// Check checks, on f, the file just opened at path, that it is a regular
// file (a *NotRegularError otherwise): a check of the path before the open
// could be raced. When it is not, or cannot be checked, Check closes f.
func Check(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("%s cannot be checked: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return nil
}

// Explain says that path is a symbolic link or not a regular file when it
// is one (an open that failed, such as ENXIO for a named pipe opened
// without blocking, is explained by what is there), and returns err
// otherwise.
func Explain(path string, err error) error {
	fi, lerr := os.Lstat(path)
	switch {
	case lerr != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link, which is not followed", path)
	case !fi.Mode().IsRegular():
		return &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return err
}

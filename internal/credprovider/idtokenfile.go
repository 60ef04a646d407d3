package credprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// maxIDTokenFile bounds the ID token file read (an OIDC token is a few
// kilobytes).
const maxIDTokenFile = 64 << 10

// fileIDToken is the ID token source of --id-token-file: the file at path,
// read afresh on every call, surrounding whitespace trimmed. It is opened
// with openRegular, so a named pipe or a device there fails at once
// instead of blocking the provider past its timeout.
func fileIDToken(path string) exchange.IDTokenSource {
	return exchange.IDTokenFunc(func(context.Context, string) (string, error) {
		f, err := openRegular(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("id token file %s does not exist; it must hold an OIDC ID token (check --id-token-file)", path)
			}
			return "", fmt.Errorf("reading id token file %s: %w", path, err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxIDTokenFile+1))
		if err != nil {
			return "", fmt.Errorf("reading id token file %s: %w", path, err)
		}
		if len(data) > maxIDTokenFile {
			return "", fmt.Errorf("id token file %s is larger than %d bytes; it must hold only an OIDC ID token", path, maxIDTokenFile)
		}
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return "", fmt.Errorf("id token file %s is empty; it must hold an OIDC ID token", path)
		}
		if err := exchange.CheckToken("id token in file "+path, tok); err != nil {
			return "", err
		}
		return tok, nil
	})
}

// NotRegularError is a path the provider opens that is not a regular file
// (a named pipe, a device, a folder, a socket).
type NotRegularError struct {
	Path string
	Mode os.FileMode
}

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

// openRegular opens path for reading without blocking (nonBlock) and
// checks, on the open file, that it is a regular file.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, nil
}

// notRegularOr says that path is a symbolic link or not a regular file
// when it is one (an open that failed, such as ENXIO for a named pipe
// opened without blocking, is explained by what is there), and returns
// err otherwise.
func notRegularOr(path string, err error) error {
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

//go:build !unix

package container

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// lockFile takes a lock on path where there is no flock (Windows): the
// lock is the file itself, created exclusively and removed on unlock. A
// process that dies holding it leaves the file behind, so the wait's error
// names it. The container tests run Podman on Linux; this keeps the package
// building for every released target.
func lockFile(ctx context.Context, path string) (func(), error) {
	return pollLock(ctx, path, " (if no other test holds it, a crashed run left it: remove it)", func() (func(), error) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		f.Close()
		return func() { _ = os.Remove(path) }, nil
	})
}

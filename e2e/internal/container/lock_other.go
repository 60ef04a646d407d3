//go:build !unix

package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// lockFile takes a lock on path where there is no flock (Windows): the
// lock is the file itself, created exclusively and removed on unlock. A
// process that dies holding it leaves the file behind, so the wait's error
// names it. The container tests run Podman on Linux; this keeps the package
// building for every released target.
func lockFile(ctx context.Context, path string) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if err == nil {
			f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s (if no other test holds it, a crashed run left it: remove it): %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

//go:build unix

package container

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on path, waiting until ctx is done. The
// kernel drops the lock when the process ends, however it ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	unlock, err := pollLock(ctx, path, "", func() (func(), error) {
		switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err {
		case nil:
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		case syscall.EWOULDBLOCK:
			return nil, nil
		default:
			return nil, err
		}
	})
	if err != nil {
		f.Close()
	}
	return unlock, err
}

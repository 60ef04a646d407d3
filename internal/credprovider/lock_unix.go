//go:build unix

package credprovider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/regularfile"
)

// lockFile takes an exclusive flock on the lock file at path (created
// 0600, never through a symbolic link), waiting (polling, so ctx can end
// the wait) while another provider holds it. The kernel releases the lock
// when the holder exits, so a provider that dies leaves no stale lock. The
// file itself stays: deleting a lock file that others may have opened
// would let two providers hold "the" lock at once.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|regularfile.NonBlock, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the lock file: %w", regularfile.Explain(path, err))
	}
	if err := regularfile.Check(f, path); err != nil {
		return nil, fmt.Errorf("cannot use the lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("another provider held %s until the time ran out: %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

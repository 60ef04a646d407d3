package credprovider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// lockPoll is how often a provider waiting for the cache lock tries again.
const lockPoll = 20 * time.Millisecond

// lockStaleAfter is the age of a lock file (lockExclusive) that its
// provider surely no longer holds: longer than the longest step timeout
// (15 minutes) a minting provider can take.
const lockStaleAfter = 16 * time.Minute

// lockExclusive takes the lock at path by creating it with O_EXCL, waiting
// (polling) while another provider holds it, until ctx ends. It is the
// lock of systems without flock (Windows: golang.org/x/sys, which has
// LockFileEx, is not a dependency); Unix uses flock (lockFile), which the
// kernel releases when a provider dies. Here a provider that dies leaves
// the file behind: one older than stale is deleted and the lock taken
// again. Two waiters that both find the same stale file may both take the
// lock, which costs one extra exchange, never a wrong token.
func lockExclusive(ctx context.Context, path string, stale time.Duration) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
			f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("cannot create the lock file: %w", err)
		}
		if fi, serr := os.Lstat(path); serr == nil && time.Since(fi.ModTime()) > stale {
			_ = os.Remove(path)
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("another provider held %s until the time ran out: %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

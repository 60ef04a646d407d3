//go:build windows

package credprovider

import "context"

// lockFile takes the lock at path with a lock file created exclusively
// (lockExclusive).
func lockFile(ctx context.Context, path string) (func(), error) {
	return lockExclusive(ctx, path, lockStaleAfter)
}

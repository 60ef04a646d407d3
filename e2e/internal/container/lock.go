package container

import (
	"context"
	"fmt"
	"time"
)

// pollLock calls try every 100 ms until it takes the lock (a non-nil
// unlock), fails, or ctx is done; hint ends the error of a wait that ran
// out.
func pollLock(ctx context.Context, path, hint string, try func() (unlock func(), err error)) (func(), error) {
	for {
		unlock, err := try()
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if unlock != nil {
			return unlock, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s%s: %w", path, hint, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

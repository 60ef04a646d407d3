package harness

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Margin is how long before go test's own deadline (-timeout) a bounded
// step must end, so that it fails with its name and the test's clean-up
// still runs, instead of go test panicking with a goroutine dump.
const Margin = 45 * time.Second

// deadliner is what *testing.T offers (testing.TB does not).
type deadliner interface {
	Deadline() (time.Time, bool)
}

// Budget returns max, or less when the test's deadline (go test -timeout)
// comes sooner: the time left before it minus Margin (at least half of the
// time left). t may be any testing.TB; only a *testing.T has a deadline.
func Budget(t any, max time.Duration) time.Duration {
	return budget(t, max, time.Now())
}

func budget(t any, max time.Duration, now time.Time) time.Duration {
	d, ok := t.(deadliner)
	if !ok {
		return max
	}
	end, ok := d.Deadline()
	if !ok {
		return max
	}
	left := end.Sub(now)
	b := left - Margin
	if b < left/2 {
		b = left / 2
	}
	return min(max, b)
}

// SlowError is the cause of a context made by Context when its time ran
// out: it names what was slow and how long it had.
type SlowError struct {
	What  string
	Limit time.Duration
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("%s did not finish in %s; the machine may be overloaded: run it alone or raise go test -timeout", e.What, e.Limit)
}

// Is makes errors.Is(err, context.DeadlineExceeded) hold for a SlowError.
func (e *SlowError) Is(target error) bool { return target == context.DeadlineExceeded }

// Context returns a context derived from parent that ends after
// Budget(t, max), with a *SlowError naming what as its cause. Report a
// failure through Err(ctx, err) so that the name reaches the test's log.
func Context(parent context.Context, t any, what string, max time.Duration) (context.Context, context.CancelFunc) {
	limit := Budget(t, max)
	return context.WithTimeoutCause(parent, limit, &SlowError{What: what, Limit: limit})
}

// Err returns err, or, when ctx has ended, the reason it ended (a
// *SlowError for a context from Context) wrapping err.
func Err(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		return err
	}
	if err == nil || errors.Is(err, cause) {
		return cause
	}
	return fmt.Errorf("%w (%v)", cause, err)
}

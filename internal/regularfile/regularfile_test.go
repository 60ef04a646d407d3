package regularfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// openWithin is Open, failing the test by name when it blocks for d.
func openWithin(t *testing.T, path string, d time.Duration) (*os.File, error) {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := Open(path)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-time.After(d):
		t.Fatalf("Open(%s) did not return within %v: it blocked", path, d)
		return nil, nil
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		regular bool // a *NotRegularError when false
	}{
		{"regular file", file, true},
		{"folder", dir, false},
	}
	if fifo, ok := makeFIFO(t, dir); ok {
		// Opened without O_NONBLOCK this would block until a writer came.
		tests = append(tests, struct {
			name    string
			path    string
			regular bool
		}{"named pipe", fifo, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := openWithin(t, tt.path, 10*time.Second)
			if tt.regular {
				if err != nil {
					t.Fatalf("Open(%s) = %v, want the file", tt.path, err)
				}
				f.Close()
				return
			}
			if f != nil {
				f.Close()
			}
			var nre *NotRegularError
			if !errors.As(err, &nre) || nre.Path != tt.path {
				t.Fatalf("Open(%s) = %v, want a *NotRegularError naming the path", tt.path, err)
			}
		})
	}
}

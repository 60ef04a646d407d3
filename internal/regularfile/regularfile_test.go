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
	dir := testenv.TempDir(t)
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	type test struct {
		path    string
		regular bool // a *NotRegularError when false
	}
	tests := map[string]test{
		"regular file": {file, true},
		"folder":       {dir, false},
	}
	if fifo, ok := makeFIFO(t, dir); ok {
		// Opened without O_NONBLOCK this would block until a writer came.
		tests["named pipe"] = test{fifo, false}
	}
	testenv.Run(t, tests, func(t *testing.T, _ string, tt test) {
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

// TestCheck: an open regular file passes and stays open; an open folder is
// a *NotRegularError naming the path, and Check has closed it.
func TestCheck(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	file := filepath.Join(dir, "record")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(f, file); err != nil {
		t.Fatalf("Check(%s) = %v, want nil", file, err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("the regular file was not left open: %v", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var nre *NotRegularError
	if err := Check(d, dir); !errors.As(err, &nre) || nre.Path != dir {
		t.Errorf("Check(%s) = %v, want a *NotRegularError naming the path", dir, err)
	}
	if err := d.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("the folder was left open (Close: %v)", err)
	}
}

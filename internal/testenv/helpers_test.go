package testenv

import (
	"errors"
	"flag"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRun: every case runs once, under its own name, with its own value.
func TestRun(t *testing.T) {
	cases := map[string]int{"one": 1, "two": 2, "three words": 3}
	var mu sync.Mutex
	got := map[string]int{}
	// Run's subtests are parallel: they end after this function returns,
	// before the clean-up runs.
	t.Cleanup(func() {
		if !maps.Equal(got, cases) {
			t.Errorf("the checks saw %v, want %v", got, cases)
		}
	})
	Run(t, cases, func(t *testing.T, name string, c int) {
		if want := "TestRun/" + strings.ReplaceAll(name, " ", "_"); t.Name() != want {
			t.Errorf("subtest %q, want %q", t.Name(), want)
		}
		mu.Lock()
		defer mu.Unlock()
		got[name] += c
	})
}

// TestGetenv: set names read their value, others "".
func TestGetenv(t *testing.T) {
	t.Parallel()
	getenv := Getenv(map[string]string{"A": "1", "EMPTY": ""})
	for name, want := range map[string]string{"A": "1", "EMPTY": "", "UNSET": ""} {
		if got := getenv(name); got != want {
			t.Errorf("getenv(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestWriteFile: the file holds the content, private to the user, at the
// path returned.
func TestWriteFile(t *testing.T) {
	t.Parallel()
	dir := TempDir(t)
	p := WriteFile(t, dir, "f", "body\n")
	if p != filepath.Join(dir, "f") {
		t.Errorf("path %q, want %q", p, filepath.Join(dir, "f"))
	}
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "body\n" {
		t.Fatalf("file holds %q, %v", data, err)
	}
	if fi, err := os.Stat(p); err != nil || !PermIs(t, fi.Mode(), 0o600) {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
}

// TestClosedAddr: a connection to the address is refused.
func TestClosedAddr(t *testing.T) {
	t.Parallel()
	addr := ClosedAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("ClosedAddr = %q, want 127.0.0.1:PORT", addr)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s: connected, want the connection refused", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Logf("dial %s: %v (not ECONNREFUSED, but refused all the same)", addr, err)
	}
}

// TestClosedAddrStaysReserved: no listener can take the port while the
// test runs. A port merely closed again was, under load, handed to another
// test's listener, which then accepted the "refused" connection.
func TestClosedAddrStaysReserved(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("the port is reserved on Unix; Windows gets a port listened on and closed again")
	}
	addr := ClosedAddr(t)
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("listen on %s succeeded: the port is not reserved", addr)
	}
}

// TestInitAtMost: within the limit nothing happens; over it the test fails
// with the package, its cost and the hint. unicode's init allocates its
// tables' maps, some kilobytes.
func TestInitAtMost(t *testing.T) {
	t.Parallel()
	r := &stopRecorder{TB: t}
	InitAtMost(r, "unicode", 1<<20, "make it smaller")
	if r.failed != "" || r.errored != "" {
		t.Errorf("within the limit: failed %q, errored %q", r.failed, r.errored)
	}
	r = &stopRecorder{TB: t}
	InitAtMost(r, "unicode", 100, "make it smaller")
	if !strings.HasPrefix(r.errored, "init of unicode allocated ") || !strings.HasSuffix(r.errored, "want at most 100: make it smaller") {
		t.Errorf("over the limit: errored %q", r.errored)
	}
}

// TestGolden: the same content passes; another fails naming the file; a
// missing file stops the test; with -update the file is rewritten. Not
// parallel: it sets -update.
func TestGolden(t *testing.T) {
	path := filepath.Join(TempDir(t), "out.golden")
	if err := os.WriteFile(path, []byte("want\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &stopRecorder{TB: t}
	Golden(r, path, []byte("want\n"))
	if r.failed != "" || r.errored != "" {
		t.Errorf("same content: failed %q, errored %q", r.failed, r.errored)
	}
	r = &stopRecorder{TB: t}
	Golden(r, path, []byte("got\n"))
	if !strings.HasPrefix(r.errored, path+" differs") || !strings.Contains(r.errored, "got\n") {
		t.Errorf("other content: errored %q, want the file named and the content shown", r.errored)
	}
	r = &stopRecorder{TB: t}
	Golden(r, path+".missing", []byte("got\n"))
	if !strings.Contains(r.failed, "go test -update creates it") {
		t.Errorf("missing file: failed %q", r.failed)
	}
	if err := flag.Set("update", "true"); err != nil {
		t.Fatal(err)
	}
	defer flag.Set("update", "false")
	r = &stopRecorder{TB: t}
	Golden(r, path, []byte("new\n"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "new\n" || r.failed != "" || r.errored != "" {
		t.Errorf("-update: file %q, %v; failed %q, errored %q; want it rewritten", b, err, r.failed, r.errored)
	}
}

package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// InitCost returns the bytes and allocations of pkg's initialisation, read
// from GODEBUG=inittrace=1's line "init PKG @T ms, T ms clock, B bytes, A
// allocs" of this test binary run again without tests. A package that
// allocates nothing at init has no line: 0, 0.
func InitCost(t testing.TB, pkg string) (int64, int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s -test.run=^$: %v\n%s", os.Args[0], err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "init" || f[1] != pkg || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		b, err1 := strconv.ParseInt(f[7], 10, 64)
		a, err2 := strconv.ParseInt(f[9], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("unreadable inittrace line %q", line)
		}
		return b, a
	}
	if !strings.Contains(stderr.String(), "init ") {
		t.Fatalf("no inittrace output from %s:\n%s", os.Args[0], stderr.String())
	}
	return 0, 0
}

// InitAtMost fails the test when pkg's initialisation (InitCost) allocates
// more than maxBytes; hint says what to do about it. It logs the cost either
// way.
func InitAtMost(t testing.TB, pkg string, maxBytes int64, hint string) {
	t.Helper()
	bytes, allocs := InitCost(t, pkg)
	t.Logf("init %s: %d bytes, %d allocations", pkg, bytes, allocs)
	if bytes > maxBytes {
		t.Errorf("init of %s allocated %d bytes (%d allocations), want at most %d: %s", pkg, bytes, allocs, maxBytes, hint)
	}
}

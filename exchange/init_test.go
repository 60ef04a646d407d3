package exchange

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestInitAllocatesLittle runs this test binary again with
// GODEBUG=inittrace=1 and reads what the package's initialisation
// allocated: it runs in every run of the action's binary, and the
// package's regular expressions, once compiled at init, made it 0.1 MB.
func TestInitAllocatesLittle(t *testing.T) {
	t.Parallel()
	const pkg = "github.com/cargo-oidc/cargo-oidc/exchange"
	const maxBytes = 16 << 10
	bytes, allocs := initCost(t, pkg)
	t.Logf("init %s: %d bytes, %d allocations", pkg, bytes, allocs)
	if bytes > maxBytes {
		t.Errorf("init of %s allocated %d bytes (%d allocations), want at most %d: compile regular expressions on first use (sync.OnceValue)", pkg, bytes, allocs, maxBytes)
	}
}

func initCost(t *testing.T, pkg string) (int64, int64) {
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

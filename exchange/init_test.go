package exchange

import (
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestInitAllocatesLittle runs this test binary again with
// GODEBUG=inittrace=1 and reads what the package's initialisation
// allocated: it runs in every run of the action's binary, and the
// package's regular expressions, once compiled at init, made it 0.1 MB.
func TestInitAllocatesLittle(t *testing.T) {
	t.Parallel()
	const pkg = "github.com/cargo-oidc/cargo-oidc/exchange"
	const maxBytes = 16 << 10
	bytes, allocs := testenv.InitCost(t, pkg)
	t.Logf("init %s: %d bytes, %d allocations", pkg, bytes, allocs)
	if bytes > maxBytes {
		t.Errorf("init of %s allocated %d bytes (%d allocations), want at most %d: compile regular expressions on first use (sync.OnceValue)", pkg, bytes, allocs, maxBytes)
	}
}

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
	testenv.InitAtMost(t, "github.com/cargo-oidc/cargo-oidc/exchange", 16<<10,
		"compile regular expressions on first use (sync.OnceValue)")
}

package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// topLevel is everything the repository's top level may hold: the action,
// its image, the command, its packages and tests, the composite action for
// macOS and Windows runners (setup), the usual documents, the pages README.md
// links (docs), and the .gitignore that keeps build outputs out.
var topLevel = []string{
	".ci", ".github", ".gitignore", "CHANGELOG.md", "Dockerfile", "LICENSE", "README.md", "SECURITY.md",
	"action.yml", "cargoconf", "docs", "e2e", "examples", "exchange", "go.mod", "go.sum",
	"internal", "main.go", "setup",
}

// TestTopLevelLayout keeps stray files out of the repository's top level
// (a committed build output, a scratch file): git must track nothing there
// but topLevel's entries.
func TestTopLevelLayout(t *testing.T) {
	t.Parallel()
	git, err := exec.LookPath("git")
	harness.Require(t, "git", err)
	out, err := exec.Command(git, "-C", harness.Root(t), "ls-files").Output()
	if err != nil {
		harness.Require(t, "a git checkout", err)
	}
	seen := map[string]bool{}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		top, _, _ := strings.Cut(f, "/")
		if !seen[top] && !slices.Contains(topLevel, top) {
			t.Errorf("git tracks %q at the top level; the top level holds only %v", top, topLevel)
		}
		seen[top] = true
	}
}

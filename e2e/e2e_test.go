// Package e2e drives the built cargo-oidc binary and the image built from
// the repository's Dockerfile the way the GitHub runner does, against the
// fakes of e2e/internal/fakes, then lets the real cargo use what it produced.
// Tests that need cargo or Podman skip when they are absent (fail under CI=true).
package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestMain sweeps what a killed earlier run left, starts a harness session
// (cleaned up also on SIGINT or SIGTERM), builds the action's binary once,
// and removes it and the container tests' image at the end.
func TestMain(m *testing.M) {
	if harness.ListOnly() {
		os.Exit(m.Run())
	}
	var podman harness.Podman
	if e, err := container.New(""); err == nil {
		podman = e.Command
	}
	session, err := harness.Begin("e2e", podman, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	session.CloseOnSignal(func(os.Signal) {
		scnRemoveImage()
		os.Exit(130)
	})
	if _, err := harness.Binary(); err != nil {
		session.Close()
		fmt.Fprintln(os.Stderr, "e2e: building cargo-oidc:", err)
		os.Exit(1)
	}
	start := time.Now()
	code := m.Run()
	fmt.Printf("e2e: tests took %s\n", time.Since(start).Round(10*time.Millisecond))
	scnRemoveImage()
	harness.Cleanup()
	session.Close()
	os.Exit(code)
}

// loadAction loads the repository's action.yml once.
var loadAction = sync.OnceValues(func() (*runner.Action, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	return runner.LoadAction(filepath.Join(root, "action.yml"))
})

// repoAction is the repository's action.yml as the runner reads it; tests
// must not modify it.
func repoAction(t testing.TB) *runner.Action {
	t.Helper()
	a, err := loadAction()
	testenv.Must(t, err)
	return a
}

// topLevel is everything the repository's top level may hold.
var topLevel = []string{
	".ci", ".github", ".gitignore", "CHANGELOG.md", "Dockerfile", "LICENSE", "README.md", "SECURITY.md",
	"action.yml", "cargoconf", "docs", "e2e", "examples", "exchange", "go.mod", "go.sum",
	"internal", "main.go", "setup",
}

// TestLayout keeps stray files out of the top level and build outputs out
// of git; a source file named like a build output deeper down is not ignored.
func TestLayout(t *testing.T) {
	t.Parallel()
	git, root := harness.Tool(t, "git", "install git"), harness.Root(t)
	out, err := exec.Command(git, "-C", root, "ls-files").Output()
	harness.Require(t, "a git checkout", err)
	seen := map[string]bool{}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		top, _, _ := strings.Cut(f, "/")
		if !seen[top] && !slices.Contains(topLevel, top) {
			t.Errorf("git tracks %q at the top level; the top level holds only %v", top, topLevel)
		}
		seen[top] = true
	}
	ignored := []string{"cargo-oidc", "cargo-oidc.exe", "dist/cargo-oidc-linux-amd64", "dist/SHA256SUMS", ".ci/gh-parser/node_modules/yaml/package.json"}
	sources := []string{"main.go", "e2e/cmd/cargo-oidc/main.go", "internal/cargo-oidc", "README.md", "docs/jfrog.md"}
	// --no-index: by the ignore rules alone, tracked or not; git prints the
	// ignored paths in order, and exits 1 when none is.
	cmd := exec.Command(git, "-C", root, "check-ignore", "--no-index", "--stdin")
	cmd.Stdin = strings.NewReader(strings.Join(append(ignored, sources...), "\n"))
	out, err = cmd.Output()
	if ee := (*exec.ExitError)(nil); err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("git check-ignore: %v", err)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, ignored) {
		t.Errorf(".gitignore ignores %q of %q, want exactly the build outputs %q", got, append(ignored, sources...), ignored)
	}
}

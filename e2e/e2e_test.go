// Package e2e drives the built cargo-oidc binary and the image built from
// the repository's own Dockerfile the way the GitHub runner does, against
// the local fake services of e2e/internal/fakes, and then lets the real cargo
// use what the action produced.
//
//	go test ./e2e/ -run 'Scenario|Container' -v
//
// Tests that need cargo or Podman skip with the reason when they are absent,
// and fail instead under CI=true.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// TestMain sweeps what a killed earlier run left and starts a harness
// session (every temporary folder under one, cleaned up also on SIGINT or
// SIGTERM), builds the action's binary once for every test of the package
// (harness.Binary caches it) and removes it, and the image the container
// tests built, when the tests are done.
func TestMain(m *testing.M) {
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

var (
	actionOnce sync.Once
	actionYML  *runner.Action
	actionErr  error
)

// repoAction is the repository's action.yml as the runner reads it, loaded
// once for every test of the package; tests must not modify it.
func repoAction(t testing.TB) *runner.Action {
	t.Helper()
	actionOnce.Do(func() {
		root, err := harness.RepoRoot()
		if err != nil {
			actionErr = err
			return
		}
		actionYML, actionErr = runner.LoadAction(filepath.Join(root, "action.yml"))
	})
	if actionErr != nil {
		t.Fatal(actionErr)
	}
	return actionYML
}

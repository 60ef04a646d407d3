//go:build windows

package ghaction

import (
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestResolveWindows runs the Windows cases through NewPaths, the running
// system's rules, as setup/ does on a Windows runner.
func TestResolveWindows(t *testing.T) {
	t.Parallel()
	runWindowsResolveCases(t, func(ws string) Paths {
		return NewPaths(testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": ws, "RUNNER_TEMP": windowsTemp}), "", "")
	})
}

func TestPathsWindows(t *testing.T) {
	t.Parallel()
	runWindowsMappingCases(t, NewPaths)
}

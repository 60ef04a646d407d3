// Package harness builds the action's binary once per test process, finds
// the repository's root, and (through internal/testenv) decides what a test
// does when a tool it needs is missing, for the e2e tests, the benchmark and
// the playground.
//
// It also keeps the e2e tests bounded and tidy. Context and Budget give
// everything a test starts (act, podman, go build, cargo) a deadline below
// go test's -timeout, so a slow run fails with a *SlowError naming what was
// slow instead of a goroutine dump. A Session (Begin, from TestMain) puts
// every temporary folder of the test process under one folder
// os.TempDir()/cargo-oidc-test-NAME-*, records the pids of long-lived
// processes (the Podman service, act) there, labels containers
// (cargo-oidc-test=1, cargo-oidc-test.run=<session>) and tags images with
// the session's id, which names its owner (pid and start time), so that a
// sweep judges a session by whether that process still runs, wherever the
// sweeper's TMPDIR is; Begin first sweeps what killed sessions left, and
// Close (also on SIGINT/SIGTERM) removes what this one made.
package harness

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// RepoRoot returns the repository's root: the nearest parent of the working
// directory holding action.yml and go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "action.yml")) && fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no action.yml and go.mod above the working directory")
		}
		dir = parent
	}
}

// Root is RepoRoot for a test, which fails when there is none.
func Root(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cargo-oidc as the Dockerfile does (static, stripped) into a
// temporary folder, once per process, and returns its path. The folder is
// removed by Cleanup.
func Binary() (string, error) {
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "cargo-oidc-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "cargo-oidc")
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "nethttpomithttp2", "-ldflags", "-s -w -X main.version=e2e", "-o", buildPath, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	return buildPath, buildErr
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if buildPath != "" {
		_ = os.RemoveAll(filepath.Dir(buildPath))
	}
}

// Require is testenv.Require: outside CI a test that lacks what it needs is
// skipped with the reason printed; under CI=true it fails.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	testenv.Require(t, what, err)
}

// Tool is testenv.Tool: the path of the executable name found in PATH, or
// the test stops through Require; install says how to get it.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	return testenv.Tool(t, name, install)
}

// Output runs cmd with empty standard input and its output captured, and
// returns stdout, stderr and the exit status. err is set only when cmd
// could not run (an exit status other than 0 is not an error).
func Output(cmd *exec.Cmd) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	if cmd.Stdin == nil {
		cmd.Stdin = bytes.NewReader(nil)
	}
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	return out.String(), errOut.String(), code, err
}

// Command runs the main function of an e2e command (bench, playground,
// fakeserver): run gets a context that ends on SIGINT or SIGTERM, the
// arguments and stdout; the built binary is removed afterwards. It returns
// the exit status for main's os.Exit: 0 on success and for -help
// (flag.ErrHelp), else 1 with the error printed as "name: error".
func Command(name string, run func(ctx context.Context, args []string, stdout io.Writer) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	Cleanup()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	return 1
}

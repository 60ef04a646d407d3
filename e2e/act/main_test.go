package act

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	actharness "github.com/cargo-oidc/cargo-oidc/e2e/internal/act"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// session is this test process's harness session: its folders, processes
// and labelled containers, swept by the next run if this one is killed.
var session *harness.Session

// TestMain sweeps what a killed earlier run left, starts a session, and
// removes everything the tests started when they end, also on SIGINT or
// SIGTERM.
func TestMain(m *testing.M) {
	var podman harness.Podman
	if e, err := container.New(""); err == nil {
		podman = e.Command
	}
	s, err := harness.Begin("act", podman, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/act:", err)
		os.Exit(1)
	}
	session = s
	s.CloseOnSignal(func(os.Signal) {
		closeShared()
		os.Exit(130)
	})
	start := time.Now()
	code := m.Run()
	fmt.Printf("e2e/act: tests took %s\n", time.Since(start).Round(10*time.Millisecond))
	closeShared()
	s.Close()
	os.Exit(code)
}

// shared is what every act test of the process uses: one Podman service
// and job image, and the action image built once from the Dockerfile.
type shared struct {
	engine    *container.Engine
	runner    *actharness.Runner
	toolchain string
	image     string // the action image, built once (actionImage)
}

var (
	sharedOnce sync.Once
	sharedVal  *shared
	sharedErr  error
	imageOnce  sync.Once
	imageErr   error
	closeOnce  sync.Once
)

// closeShared stops the shared Podman service and removes the action image.
func closeShared() {
	closeOnce.Do(func() {
		if sharedVal == nil {
			return
		}
		sharedVal.runner.Close()
		if sharedVal.image != "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = sharedVal.engine.RemoveImage(ctx, sharedVal.image)
		}
	})
}

// actRunner returns the shared act runner, starting it on first use within
// the test's budget. Without Podman, act or Rust it skips (fails under
// CI=true).
func actRunner(t *testing.T) *shared {
	t.Helper()
	actBin, toolchain := requireAct(t)
	sharedOnce.Do(func() {
		ctx, cancel := harness.Context(context.Background(), t, "starting the Podman service and the act job image", 3*time.Minute)
		defer cancel()
		engine, err := container.New("")
		if err != nil {
			sharedErr = err
			return
		}
		engine.Log = os.Stdout
		r, err := actharness.Start(ctx, engine, actharness.Options{Act: actBin, Toolchain: toolchain, Log: os.Stdout, Session: session})
		if err != nil {
			sharedErr = harness.Err(ctx, err)
			return
		}
		sharedVal = &shared{engine: engine, runner: r, toolchain: toolchain}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedVal
}

// actionImage builds the action's image from the repository's Dockerfile
// once per run, labelled for the sweep; every act test but one runs the
// action from it (actharness.UsePrebuiltImage).
func actionImage(t *testing.T, sh *shared) string {
	t.Helper()
	imageOnce.Do(func() {
		ctx, cancel := harness.Context(context.Background(), t, "building the action image once", 4*time.Minute)
		defer cancel()
		root, err := harness.RepoRoot()
		if err != nil {
			imageErr = err
			return
		}
		if _, err := sh.engine.EnsureBaseImage(ctx, filepath.Join(root, "Dockerfile"), root); err != nil {
			imageErr = harness.Err(ctx, err)
			return
		}
		img, err := actharness.BuildActionImage(ctx, sh.engine, root, strings.ToLower(session.ID))
		if err != nil {
			imageErr = harness.Err(ctx, err)
			return
		}
		sh.image = img
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return sh.image
}

// requireAct skips under -short and checks what every act test needs:
// Podman, act and a Rust toolchain. It returns act's path and the
// toolchain's sysroot (mounted read-only into the job container).
func requireAct(t *testing.T) (actBin, toolchain string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: -short")
	}
	harness.Require(t, "Podman", container.Available())
	actBin, err := actharness.Find()
	harness.Require(t, "act", err)
	rustc, err := exec.LookPath("rustc")
	harness.Require(t, "rustc", err)
	sysroot, err := exec.Command(rustc, "--print", "sysroot").Output()
	harness.Require(t, "a Rust toolchain", err)
	return actBin, strings.TrimSpace(string(sysroot))
}

// runAct runs run with what GitHub gives a job with permissions: id-token:
// write (the stack's request URL and token), the fake services' CA for the
// action (SSL_CERT_FILE, its folder mounted, as a proxy's CA would be
// given) and the Rust toolchain at /opt/rust, within the test's budget. A
// failed job is the caller's to judge; act not running fails the test.
func runAct(t *testing.T, sh *shared, s *fakes.Stack, run actharness.Run) *actharness.Result {
	t.Helper()
	env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": s.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.RequestToken, "SSL_CERT_FILE": s.CAFile}
	maps.Copy(env, run.Env)
	run.Env = env
	caDir := filepath.Dir(s.CAFile)
	run.Mounts = append(run.Mounts, actharness.Mount{Host: caDir, Container: caDir, ReadOnly: true},
		actharness.Mount{Host: sh.toolchain, Container: "/opt/rust", ReadOnly: true})
	run.Timeout = harness.Budget(t, 4*time.Minute)
	res, err := sh.runner.Run(t.Context(), run)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(res))
	}
	t.Logf("act %s (job %q): exit %d in %s", run.Workflow, run.Job, res.ExitCode, res.Duration.Round(10*time.Millisecond))
	for _, line := range strings.Split(res.Output, "\n") {
		if strings.Contains(line, "Success - ") || strings.Contains(line, "Failure - ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	return res
}

// noSecretIn fails when an act log holds a secret the fakes issued, or
// when they issued fewer than least (the check would prove nothing).
func noSecretIn(t *testing.T, s *fakes.Stack, logs []*actharness.Result, least int) {
	t.Helper()
	secrets := s.Store.Secrets()
	if len(secrets) < least {
		t.Fatalf("the fakes issued %d secrets, want at least %d", len(secrets), least)
	}
	for i, res := range logs {
		for _, sec := range secrets {
			if strings.Contains(res.Output, sec) {
				t.Errorf("act log %d (%v) contains a secret the fakes issued (%d chars)", i, res.Args[:3], len(sec))
			}
		}
	}
}

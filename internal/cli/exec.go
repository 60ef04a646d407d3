package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// runExec exchanges, runs the command after "--" with Cargo's variables
// set for it alone, then revokes a crates.io token, and returns the
// command's exit status. Nothing is written to disk. A signal received
// while the command runs is passed on to it; one received before cancels
// the exchange.
func runExec(ctx context.Context, e *Env, o *credprovider.Options, argv []string) (int, error) {
	cfg := o.Config()
	if cfg.ReplaceCratesIO {
		return 2, &usageError{"replace-crates-io needs a Cargo config file, and exec writes none; use cargo-oidc configure --replace-crates-io=true, or a checked-in .cargo/config.toml with [source.crates-io] replace-with"}
	}
	s, err := open(e, o)
	if err != nil {
		return 1, err
	}
	var mu sync.Mutex
	var child *os.Process
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	if e.Signals != nil {
		go func() {
			for {
				select {
				case sig := <-e.Signals:
					mu.Lock()
					if child != nil {
						_ = child.Signal(sig)
					} else {
						cancel()
					}
					mu.Unlock()
				case <-done:
					return
				}
			}
		}()
	}
	tok, err := s.exchange(ctx)
	if err != nil {
		return 1, err
	}
	defer s.revoke(e, tok)
	env := cargoEnv(cfg, tok)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv(e.Environ, env)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.Stdin, e.Stdout, e.Stderr
	mu.Lock()
	if cerr := ctx.Err(); cerr != nil { // a signal before the start
		mu.Unlock()
		return 1, fmt.Errorf("interrupted before %s started: %w", argv[0], cerr)
	}
	err = cmd.Start()
	if err == nil {
		child = cmd.Process
	}
	mu.Unlock()
	if err != nil {
		return 127, fmt.Errorf("cannot run %s: %w", argv[0], err)
	}
	err = cmd.Wait()
	mu.Lock()
	child = nil
	mu.Unlock()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 1, fmt.Errorf("running %s: %w", argv[0], err)
}

// cargoEnv is what Cargo needs to use tok: for crates.io the raw token;
// for another registry its index, the token as Cargo sends it, and
// cargo:token as its credential provider (Cargo 1.74 and later want one).
func cargoEnv(cfg *config.Config, tok *exchange.Token) [][2]string {
	if cfg.Provider == config.CratesIO {
		return [][2]string{{"CARGO_REGISTRY_TOKEN", tok.Value}, {"CARGO_REGISTRY_CREDENTIAL_PROVIDER", "cargo:token"}}
	}
	n := "CARGO_REGISTRIES_" + cargoconf.EnvName(cfg.RegistryName)
	vars := [][2]string{{n + "_INDEX", cfg.IndexURL}, {n + "_TOKEN", cfg.Authorization(tok.Value)}, {n + "_CREDENTIAL_PROVIDER", "cargo:token"}}
	if cfg.DefaultRegistry {
		vars = append(vars, [2]string{"CARGO_REGISTRY_DEFAULT", cfg.RegistryName})
	}
	return vars
}

// childEnv is environ with vars set (an inherited value of the same name
// is replaced).
func childEnv(environ func() []string, vars [][2]string) []string {
	var base []string
	if environ != nil {
		base = environ()
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for _, v := range vars {
			// Names are case-insensitive on Windows only.
			if name == v[0] || runtime.GOOS == "windows" && strings.EqualFold(name, v[0]) {
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	for _, v := range vars {
		out = append(out, v[0]+"="+v[1])
	}
	return out
}

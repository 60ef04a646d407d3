package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// runConfigure merges the registry, with this binary as its credential
// provider, into $CARGO_HOME/config.toml (comments and other settings
// kept, written atomically), so that plain cargo commands get a fresh
// token whenever they need one. It first checks that the ID token source
// gives a token with the audience the provider needs; no exchange is made
// (a GitLab job's ID token may be single-use at the registry).
func runConfigure(ctx context.Context, e *Env, o *credprovider.Options, _ []string) (int, error) {
	cfg := o.Config()
	if cfg.Provider == config.CratesIO {
		return 2, &usageError{"configure sets up a named registry; for crates.io publish with cargo-oidc exec --provider=crates-io -- cargo publish"}
	}
	home, err := cargoHome(e.Getenv)
	if err != nil {
		return 1, err
	}
	executable := e.Executable
	if executable == nil {
		executable = os.Executable
	}
	bin, err := executable()
	if err != nil {
		return 1, fmt.Errorf("finding the cargo-oidc binary: %w", err)
	}
	provider, err := credprovider.Command(cfg, bin, "")
	if err != nil {
		return 1, err
	}
	if o.IDTokenFile != "" {
		// Cargo runs the provider from each later command's folder.
		if o.IDTokenFile, err = filepath.Abs(o.IDTokenFile); err != nil {
			return 2, &usageError{fmt.Sprintf("--id-token-file: %v", err)}
		}
	}
	for _, a := range [][2]string{{"id-token-env", o.IDTokenEnv}, {"id-token-file", o.IDTokenFile}} {
		if a[1] == "" {
			continue
		}
		if r, bad := config.BadCharacter(a[1], config.SplitsArgument); bad {
			return 2, &usageError{fmt.Sprintf("--%s holds %U, which Cargo's credential-provider setting cannot carry", a[0], r)}
		}
		provider += " --" + a[0] + "=" + a[1]
	}
	if o.CacheDir != "" {
		if provider, err = credprovider.WithCacheDir(provider, o.CacheDir); err != nil {
			return 2, &usageError{err.Error()}
		}
	}
	s, err := open(e, o)
	if err != nil {
		return 1, err
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if _, err := s.src.IDToken(cctx, s.svc.IDTokenAudience()); err != nil {
		return 1, &redactedError{err: fmt.Errorf("no ID token from %s (%s was not contacted): %w", s.src.Name, cfg.Provider.Title(), withoutSource(err)), red: s.red}
	}
	path := filepath.Join(home, "config.toml")
	folders := cargoconf.OpenFolders(cargoconf.Folder{Dir: home, Name: "CARGO_HOME"})
	defer folders.Close()
	ch, err := folders.PlanConfig(path, cargoconf.Registry{Name: cfg.RegistryName, Index: cfg.IndexURL,
		CredentialProvider: provider, Default: cfg.DefaultRegistry, ReplaceCratesIO: cfg.ReplaceCratesIO})
	if err != nil {
		return 1, fmt.Errorf("cannot update the Cargo config file: %w", err)
	}
	if err := folders.Apply([]*cargoconf.Change{ch}, cargoconf.Owner{}); err != nil {
		return 1, fmt.Errorf("cannot write the Cargo config file: %w", err)
	}
	fmt.Fprintf(e.Stderr, "cargo-oidc: %s: registry %s (%s) asks cargo-oidc for a token from %s whenever Cargo needs one (ID tokens from %s)\n",
		folders.Display(path), cfg.RegistryName, cfg.IndexURL, cfg.Provider.Title(), s.src.Name)
	return 0, nil
}

// cargoHome is $CARGO_HOME, else the home folder's .cargo, as Cargo finds it.
func cargoHome(getenv func(string) string) (string, error) {
	if h := getenv("CARGO_HOME"); h != "" {
		if !filepath.IsAbs(h) {
			return "", fmt.Errorf("CARGO_HOME %q is not an absolute path; set it to one", h)
		}
		return h, nil
	}
	home := getenv("HOME")
	if runtime.GOOS == "windows" {
		home = getenv("USERPROFILE")
	}
	if home == "" || !filepath.IsAbs(home) {
		return "", errors.New("neither CARGO_HOME nor the home folder (HOME, USERPROFILE on Windows) is set to an absolute path; set CARGO_HOME")
	}
	return filepath.Join(home, ".cargo"), nil
}

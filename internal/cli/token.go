package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// runToken exchanges and prints the registry token on stdout, with a
// warning on stderr that it is now the caller's to keep secret; a
// crates.io token is not revoked (the caller uses it after cargo-oidc has
// exited).
func runToken(ctx context.Context, e *Env, o *credprovider.Options, _ []string) (int, error) {
	s, err := open(e, o)
	if err != nil {
		return 1, err
	}
	tok, err := s.exchange(ctx)
	if err != nil {
		return 1, err
	}
	expires := "an unknown time"
	if !tok.ExpiresAt.IsZero() {
		expires = tok.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(e.Stderr, "cargo-oidc: warning: the %s token printed is now in your hands until it expires at %s: "+
		"keep it out of logs, files and command lines (pass it in an environment variable)", s.cfg.Provider.Title(), expires)
	if s.cfg.Provider == config.CratesIO {
		fmt.Fprint(e.Stderr, "; cargo-oidc does not revoke it (cargo-oidc exec does)")
	}
	fmt.Fprintln(e.Stderr)
	if _, err := fmt.Fprintln(e.Stdout, tok.Value); err != nil {
		s.revoke(e, tok)
		return 1, fmt.Errorf("printing the token: %w", err)
	}
	return 0, nil
}

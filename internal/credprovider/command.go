package credprovider

import (
	"fmt"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/internal/config"
)

// Command is the credential-provider setting for Cargo that makes bin (the
// provider binary as the later steps see it) mint tokens for cfg: the path
// and the "--name=value" arguments that ParseArgs reads back
// (config.Config.ProviderArgs, derived from the provider table). Cargo runs
// "<bin> --cargo-plugin" and passes the arguments in its JSON request.
// record, when set, is the file the provider appends every crates.io token
// it mints to (Options.Record), for the action's post stage to revoke.
//
// Cargo splits the setting on every Unicode space character (Rust's
// str::split_whitespace), so a path or value holding one, or a control or
// format character, cannot be carried and is refused with the input's
// name (config.SplitsArgument): "gh<no-break space>--url=https://other"
// would otherwise reach the provider as a second --url.
func Command(cfg *config.Config, bin, record string) (string, error) {
	if r, ok := config.BadCharacter(bin, config.SplitsArgument); ok {
		return "", fmt.Errorf("the path of the provider binary %q holds %U, a space, control or format character, which Cargo's credential-provider setting cannot carry (Cargo splits the setting there); move the runner's home or temp folder to a path without it, or use credential-mode: token", bin, r)
	}
	args := []string{bin}
	var bad []string
	for _, a := range cfg.ProviderArgs() {
		if r, ok := config.BadCharacter(a.Value, config.SplitsArgument); ok {
			bad = append(bad, fmt.Sprintf("%s (%U)", a.Name, r))
		}
		args = append(args, "--"+a.Name+"="+a.Value)
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("input %s holds a space, control or format character, which Cargo's credential-provider setting cannot carry (Cargo splits the setting on every Unicode space and would read the rest as another argument); remove it or use credential-mode: token", strings.Join(bad, ", "))
	}
	if r, ok := config.BadCharacter(record, config.SplitsArgument); ok {
		return "", fmt.Errorf("the path of the minted-token record %q holds %U, a space, control or format character, which Cargo's credential-provider setting cannot carry; move the runner's temp folder to a path without it, or use credential-mode: token", record, r)
	}
	if record != "" {
		args = append(args, "--"+RecordArg+"="+record)
	}
	return strings.Join(args, " "), nil
}

package credprovider

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/config"
)

// Command is the credential-provider setting for Cargo that makes bin (the
// provider binary as the later steps see it) mint tokens for cfg: the path
// and the "--name=value" arguments that ParseArgs reads back. Cargo runs
// "<bin> --cargo-plugin" and passes the arguments in its JSON request.
// record, when set, is the file the provider appends every crates.io token
// it mints to (Options.Record), for the action's post stage to revoke.
//
// Cargo splits the setting on spaces, so a path or a value holding
// whitespace cannot be carried and is refused.
func Command(cfg *config.Config, bin, record string) (string, error) {
	if strings.ContainsAny(bin, " \t\n") {
		return "", fmt.Errorf("the runner's home folder %q contains whitespace, which Cargo's credential-provider setting cannot carry; use credential-mode: token", bin)
	}
	args := []string{bin, "--provider=" + string(cfg.Provider)}
	var bad []string
	add := func(name, v string) {
		if strings.ContainsAny(v, " \t\n") {
			bad = append(bad, name)
		}
		if v != "" {
			args = append(args, "--"+name+"="+v)
		}
	}
	add("url", cfg.URL)
	add("provider-name", cfg.ProviderName)
	add("identity-mapping-name", cfg.IdentityMappingName)
	add("project-key", cfg.ProjectKey)
	add("namespace", cfg.Namespace)
	add("service-slug", cfg.ServiceSlug)
	add("role-to-assume", cfg.RoleARN)
	add("aws-region", cfg.Region)
	add("domain", cfg.Domain)
	add("domain-owner", cfg.DomainOwner)
	if cfg.Duration > 0 {
		add("duration", strconv.FormatInt(int64(cfg.Duration/time.Second), 10))
	}
	add("role-session-name", cfg.RoleSessionName)
	add("audience", cfg.Audience)
	if cfg.Provider != config.CratesIO {
		add("index-url", cfg.IndexURL)
		scheme := cfg.TokenScheme
		if scheme == "" {
			scheme = "none"
		}
		add("token-scheme", scheme)
	}
	add("retries", strconv.Itoa(cfg.Retries))
	add("timeout", cfg.Timeout.String())
	add(RecordArg, record)
	if len(bad) > 0 {
		return "", fmt.Errorf("input %s holds whitespace, which Cargo's credential-provider setting cannot carry (Cargo splits it on spaces); remove it or use credential-mode: token", strings.Join(bad, ", "))
	}
	return strings.Join(args, " "), nil
}

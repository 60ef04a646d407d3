package action

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
)

// plan holds what a successful main stage exports.
type plan struct {
	cfg                  *config.Config
	tok                  *exchange.Token
	paths                ghaction.Paths
	providerCmd          string
	configPath, credPath string // container paths, as asked
	credTarget           string // container path of the credentials file, links resolved
	credCreated          bool
	// minted is the container path of the file the credential provider
	// records the crates.io tokens it mints in ("" when none).
	minted string
	// cache is the container path of the provider's token cache folder
	// ("" when none), which the post stage deletes.
	cache string
	// redact removes the step's secrets from outside text (nil: none).
	redact func(string) string
}

// envVars returns the GITHUB_ENV entries, in a stable order.
func (p *plan) envVars() [][2]string {
	c := p.cfg
	if !c.ExportEnv {
		return nil
	}
	if c.Provider == config.CratesIO {
		if p.providerCmd != "" {
			return [][2]string{{"CARGO_REGISTRY_CREDENTIAL_PROVIDER", p.providerCmd}}
		}
		return [][2]string{{"CARGO_REGISTRY_TOKEN", p.tok.Value}}
	}
	n := "CARGO_REGISTRIES_" + cargoconf.EnvName(c.RegistryName)
	vars := [][2]string{{n + "_INDEX", c.IndexURL}}
	if p.providerCmd != "" {
		vars = append(vars, [2]string{n + "_CREDENTIAL_PROVIDER", p.providerCmd})
	} else {
		vars = append(vars, [2]string{n + "_TOKEN", c.Authorization(p.tok.Value)},
			[2]string{n + "_CREDENTIAL_PROVIDER", "cargo:token"})
	}
	if c.DefaultRegistry {
		vars = append(vars, [2]string{"CARGO_REGISTRY_DEFAULT", c.RegistryName})
	}
	return vars
}

func (p *plan) redactText(s string) string {
	if p.redact == nil {
		return s
	}
	return p.redact(s)
}

// expiresAt is the exported token's expiry, RFC 3339; "" when unknown, and
// in provider mode, which exports no token (Cargo gets a fresh one, with
// its own expiry, whenever it asks).
func (p *plan) expiresAt() string {
	if p.providerCmd != "" || p.tok.ExpiresAt.IsZero() {
		return ""
	}
	return p.tok.ExpiresAt.UTC().Format(time.RFC3339)
}

func (p *plan) hostPath(container string) string {
	if container == "" {
		return ""
	}
	return p.paths.ToHost(container)
}

// fileCommands adds the env entries, outputs, state and summary to fc.
func (p *plan) fileCommands(fc *ghaction.FileCommands) error {
	c := p.cfg
	var errs []error
	set := func(f ghaction.File, k, v string) { errs = append(errs, fc.Set(f, k, v)) }
	for _, kv := range p.envVars() {
		set(ghaction.EnvFile, kv[0], kv[1])
	}
	if p.providerCmd == "" {
		set(ghaction.OutputFile, "token", p.tok.Value)
	}
	set(ghaction.OutputFile, "registry-name", c.RegistryName)
	set(ghaction.OutputFile, "index-url", c.IndexURL)
	set(ghaction.OutputFile, "expires-at", p.expiresAt())
	set(ghaction.OutputFile, "username", p.tok.Username)
	set(ghaction.OutputFile, "config-file", p.hostPath(p.configPath))
	set(ghaction.OutputFile, "credentials-file", p.hostPath(p.credPath))
	set(ghaction.OutputFile, "credential-provider", p.providerCmd)

	set(ghaction.StateFile, stateProvider, string(c.Provider))
	set(ghaction.StateFile, stateURL, c.URL)
	set(ghaction.StateFile, stateRetries, strconv.Itoa(c.Retries))
	set(ghaction.StateFile, stateTimeout, c.Timeout.String())
	set(ghaction.StateFile, stateRegistryName, c.RegistryName)
	if p.cache != "" {
		set(ghaction.StateFile, stateCache, p.cache)
	}
	if c.Provider == config.CratesIO && c.Revoke {
		set(ghaction.StateFile, stateRevoke, "true")
		// In provider mode too: the step's token seeds the cache.
		set(ghaction.StateFile, stateToken, p.tok.Value)
		if p.minted != "" {
			set(ghaction.StateFile, stateMinted, p.minted)
		}
	}
	if p.credPath != "" {
		set(ghaction.StateFile, stateCredentialsFile, p.credTarget)
		set(ghaction.StateFile, stateCredentialsCreated, strconv.FormatBool(p.credCreated))
		set(ghaction.StateFile, stateCleanup, strconv.FormatBool(c.Cleanup))
	}
	fc.AddSummary(p.summary())
	return errors.Join(errs...)
}

// exported describes what went where, without values that are secret.
func (p *plan) exported() []string {
	var what []string
	for _, kv := range p.envVars() {
		what = append(what, mdCode(kv[0]))
	}
	if p.configPath != "" {
		what = append(what, "config file "+mdCode(p.hostPath(p.configPath)))
	}
	if p.credPath != "" {
		what = append(what, "credentials file "+mdCode(p.hostPath(p.credPath)))
	}
	if len(what) == 0 {
		what = append(what, "step outputs only")
	}
	return what
}

func (p *plan) exportedLines() []string {
	var lines []string
	for _, kv := range p.envVars() {
		v := kv[1]
		if strings.HasSuffix(kv[0], "_TOKEN") {
			// What the log shows once the runner masks the token.
			v = "***"
			if sch := p.cfg.TokenScheme; sch != "" {
				v = sch + " ***"
			}
		}
		lines = append(lines, "Exported "+kv[0]+"="+v)
	}
	return lines
}

func (p *plan) notice() string {
	c := p.cfg
	s := "registry " + c.RegistryName
	if c.Provider == config.CratesIO {
		s = "crates.io trusted publishing"
	} else {
		s += " (" + c.IndexURL + ")"
	}
	switch {
	case p.providerCmd != "" && !p.configured():
		s += "; credential provider installed, but Cargo is not set up to use it (export-env: false): " +
			"give Cargo the credential-provider output as the registry's credential-provider"
	case p.providerCmd != "":
		s += "; Cargo mints a fresh token through cargo-oidc whenever it needs one"
	case p.expiresAt() != "":
		s += "; token expires at " + p.expiresAt()
	}
	return s
}

// configured is true when the step set Cargo up itself: through GITHUB_ENV
// or a config file that names the registry and its credential provider.
func (p *plan) configured() bool {
	return len(p.envVars()) > 0 || p.configPath != ""
}

// summary is the step summary of a successful step: a two-column Markdown
// table. Every value that comes from an input, a path or the service (the
// registry name, index, file paths, username) is shown through mdCode, so
// none can break the table or add HTML; the rest is the action's own text.
func (p *plan) summary() string {
	c := p.cfg
	var b strings.Builder
	b.WriteString("### cargo-oidc: Cargo registry ready\n\n| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
	}
	row("Provider", c.Provider.Title())
	row("Registry", mdCode(c.RegistryName))
	if c.IndexURL != "" {
		row("Index", mdCode(c.IndexURL))
	}
	switch {
	case p.providerCmd != "" && !p.configured():
		row("Tokens", "minted by cargo-oidc whenever Cargo needs one, once a later step gives Cargo the credential-provider output; none exported")
	case p.providerCmd != "":
		row("Tokens", "minted by cargo-oidc whenever Cargo needs one (credential provider); none exported")
	default:
		row("Expires", orText(p.expiresAt(), "not said by the service"))
	}
	row("Username", mdCode(p.redactText(p.tok.Username)))
	row("Credential mode", c.CredentialMode)
	row("Exported", strings.Join(p.exported(), ", "))
	return b.String()
}

// orText is v, or d when v is empty.
func orText(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

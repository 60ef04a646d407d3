package action

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
)

// Main runs the main stage.
func Main(ctx context.Context, e Env) (err error) {
	r := ghaction.New(e.Getenv, e.Stdout)
	fc := ghaction.NewFileCommands(e.Getenv, e.Random)
	cfg, err := config.Load(r.Input)
	if err != nil {
		return failure(r, fc, "cargo-oidc: invalid input", err)
	}
	paths := ghaction.NewPaths(e.Getenv, e.HostWorkspace, e.HostTemp)
	paths.Container = e.Container
	owner := workspaceOwner(paths.Workspace)
	folders := openFolders(paths)
	defer folders.Close()

	// Everything that can be checked without the network is checked first,
	// so a misconfiguration fails fast and before any token exists.
	reg := cargoconf.Registry{Name: cfg.RegistryName, Index: cfg.IndexURL, CredentialProvider: "cargo:token",
		Default: cfg.DefaultRegistry, ReplaceCratesIO: cfg.ReplaceCratesIO}
	var configPath, credPath string
	if cfg.ReplaceCratesIO {
		if configPath, err = paths.Resolve("config-file", cfg.ConfigFile); err != nil {
			return failure(r, fc, "cargo-oidc: invalid input", err)
		}
	}
	if credPath, err = paths.Resolve("credentials-file", cfg.CredentialsFile); err != nil {
		return failure(r, fc, "cargo-oidc: invalid input", err)
	}
	if err := errors.Join(paths.CheckShared("config-file", configPath), paths.CheckShared("credentials-file", credPath)); err != nil {
		return failure(r, fc, "cargo-oidc: this runner cannot deliver the file", err)
	}
	var providerBin string // container path of the copied binary, provider mode
	var minted string      // container path of the record of minted crates.io tokens
	if cfg.CredentialMode == config.ModeProvider {
		if err := paths.CheckHomeShared(); err != nil {
			return failure(r, fc, "cargo-oidc: cannot use credential-mode: provider on this runner", err)
		}
		providerBin = filepath.Join(paths.Home, ".cargo-oidc", "bin", "cargo-oidc"+exeSuffix)
		if cfg.Provider == config.CratesIO && cfg.Revoke {
			// Every token the provider mints is recorded here, beside the
			// provider under the action's HOME ($RUNNER_TEMP/_github_home on
			// the host, mounted on every runner), for the post stage to
			// revoke.
			name, err := randomName(e.Random)
			if err != nil {
				return failure(r, fc, "cargo-oidc: cannot use credential-mode: provider", err)
			}
			minted = filepath.Join(filepath.Dir(filepath.Dir(providerBin)), "minted-"+name, "tokens")
		}
		cmd, err := credprovider.Command(cfg, paths.ToHost(providerBin), hostOrEmpty(paths, minted))
		if err == nil {
			err = folders.Check(providerBin)
		}
		if err != nil {
			return failure(r, fc, "cargo-oidc: cannot use credential-mode: provider", err)
		}
		reg.CredentialProvider = cmd
	}
	var configChange *cargoconf.Change
	if configPath != "" {
		if configChange, err = planConfig(folders, configPath, reg); err != nil {
			return failure(r, fc, "cargo-oidc: cannot update the Cargo config file", err)
		}
	}
	if credPath != "" {
		// A dry run with a placeholder: the real token is merged after the
		// exchange, but a bad file should fail before it.
		if _, err := planCredentials(folders, credPath, cfg, "placeholder"); err != nil {
			return failure(r, fc, "cargo-oidc: cannot write the credentials file", err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	// The runner's redactor learns every secret masked from here on (and the
	// request token), and the client cleans outside text with it.
	r.Redactor().Add(e.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
	client := exchange.NewClient(exchange.HTTPConfig{Base: e.HTTP, Retries: cfg.Retries, Debug: r.Debug, Redactor: r.Redactor()})
	ids := exchange.Masked(exchange.GitHubIDTokens(e.Getenv, client), r.Mask)
	svc := cfg.Service(client, r.Mask, e.now, e.Getenv)
	title := cfg.Provider.Title()

	r.Group("Exchanging the GitHub ID token with " + title)
	start := e.now()
	where := cfg.URL
	if ep, ok := svc.(interface{ Endpoint() string }); ok {
		where = ep.Endpoint()
	}
	r.Info(fmt.Sprintf("Token service: %s (audience %s)", where, orText(svc.IDTokenAudience(), "GitHub's default")))
	tok, err := svc.Exchange(ctx, ids)
	r.EndGroup()
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (timed out after %s: %w)", err, cfg.Timeout, context.DeadlineExceeded)
		}
		return failure(r, fc, exchangeTitle(title, err), err)
	}
	r.Mask(tok.Value)
	r.Mask(tok.ReferenceToken)
	r.Debug(fmt.Sprintf("exchange took %s", e.now().Sub(start).Round(time.Millisecond)))
	if cr, ok := svc.(*exchange.CratesIO); ok && cfg.Revoke {
		// A step that fails from here on exports nothing, so the post stage
		// would not know the token: revoke it now instead, within the
		// step's timeout (a hard bound on the step, revocation included).
		defer func() {
			if err == nil {
				return
			}
			if rerr := cr.Revoke(ctx, tok.Value); rerr != nil {
				r.Warning("cargo-oidc: crates.io token not revoked", rerr.Error())
			} else {
				r.Info("Revoked the crates.io token, since the step failed.")
			}
		}()
	}

	// Everything the step will write, computed before anything is written.
	out := plan{cfg: cfg, tok: tok, paths: paths, minted: minted, redact: r.Redact}
	if cfg.CredentialMode == config.ModeProvider {
		out.providerCmd = reg.CredentialProvider
	}
	// The config file goes first: a credentials file that cannot be
	// written then rolls the config file back.
	var changes []*cargoconf.Change
	if configChange != nil {
		changes = append(changes, configChange)
		out.configPath = configPath
	}
	var credChange *cargoconf.Change
	if credPath != "" {
		credChange, err = planCredentials(folders, credPath, cfg, cfg.Authorization(tok.Value))
		if err != nil {
			return failure(r, fc, "cargo-oidc: cannot write the credentials file", err)
		}
		changes = append(changes, credChange)
		out.credPath, out.credTarget, out.credCreated = credPath, credChange.Target, !credChange.Existed
	}
	if err := out.fileCommands(fc); err != nil {
		return failure(r, fc, "cargo-oidc: cannot export the token", err)
	}
	if err := fc.Open(); err != nil {
		return failure(r, fc, "cargo-oidc: cannot export the token", err)
	}

	r.Group("Setting Cargo up")
	if providerBin != "" {
		if err := installBinary(folders, e.Executable, providerBin, owner); err != nil {
			fc.Close()
			r.EndGroup()
			return failure(r, fc, "cargo-oidc: cannot install the credential provider", err)
		}
		r.Info("Credential provider: " + paths.ToHost(providerBin))
	}
	if minted != "" {
		// The record's folder is private to the user later steps run as
		// (who runs the provider), and goes again if the step fails.
		if err := folders.MkdirPrivate(filepath.Dir(minted), owner); err != nil {
			fc.Close()
			r.EndGroup()
			return failure(r, fc, "cargo-oidc: cannot install the credential provider", err)
		}
		defer func() {
			if err != nil {
				_ = folders.RemoveAllBeneath(filepath.Dir(minted))
			}
		}()
	}
	if err := apply(folders, changes, owner); err != nil {
		fc.Close()
		r.EndGroup()
		return failure(r, fc, "cargo-oidc: cannot write Cargo's files", err)
	}
	if credChange != nil && credChange.Created() {
		// The post stage deletes this file only if it is still this one.
		if err := fc.Set(ghaction.StateFile, stateCredentialsID, credChange.ID().String()); err != nil {
			rollback(folders, changes)
			fc.Close()
			r.EndGroup()
			return failure(r, fc, "cargo-oidc: cannot export the token", err)
		}
	}
	for _, ch := range changes {
		r.Info(wroteLine(folders, ch))
	}
	r.EndGroup()
	if err := r.Err(); err != nil {
		// The log is broken: fail before anything is exported.
		rollback(folders, changes)
		return failure(r, fc, "cargo-oidc: cannot write the step's log", err)
	}
	if err := fc.Flush(); err != nil {
		rollback(folders, changes)
		return failure(r, fc, "cargo-oidc: cannot export the token", err)
	}
	// Everything is exported: a log line lost from here on must not fail
	// the step, which would revoke a token later steps already hold.
	for _, line := range out.exportedLines() {
		r.Info(line)
	}
	r.Notice("Cargo registry ready", out.notice())
	return nil
}

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

	set(ghaction.StateFile, stateProvider, string(c.Provider))
	set(ghaction.StateFile, stateURL, c.URL)
	set(ghaction.StateFile, stateRetries, strconv.Itoa(c.Retries))
	set(ghaction.StateFile, stateTimeout, c.Timeout.String())
	set(ghaction.StateFile, stateRegistryName, c.RegistryName)
	if c.Provider == config.CratesIO && c.Revoke {
		set(ghaction.StateFile, stateRevoke, "true")
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
	if p.providerCmd != "" {
		s += "; Cargo mints a fresh token through cargo-oidc whenever it needs one"
	} else if e := p.expiresAt(); e != "" {
		s += "; token expires at " + e
	}
	return s
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
	if p.providerCmd != "" {
		row("Tokens", "minted by cargo-oidc whenever Cargo needs one (credential provider); none exported")
	} else {
		row("Expires", orText(p.expiresAt(), "not said by the service"))
	}
	row("Username", mdCode(p.redactText(p.tok.Username)))
	row("Credential mode", c.CredentialMode)
	row("Exported", strings.Join(p.exported(), ", "))
	return b.String()
}

func orText(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// openFolders opens the folders the action may touch: the workspace, the
// runner's temp folder and the action's home (under the temp folder on the
// host). Every Cargo file and the provider binary go through them.
func openFolders(p ghaction.Paths) *cargoconf.Folders {
	const temp = "the runner's temp folder"
	return cargoconf.OpenFolders(
		cargoconf.Folder{Dir: p.Workspace, HostDir: p.HostWorkspace, Name: "the workspace"},
		cargoconf.Folder{Dir: p.Temp, HostDir: p.HostTemp, Name: temp},
		cargoconf.Folder{Dir: p.Home, HostDir: p.HostHome, Name: temp},
	)
}

// planConfig reads the config file and merges the registry into it.
func planConfig(folders *cargoconf.Folders, path string, reg cargoconf.Registry) (*cargoconf.Change, error) {
	return folders.PlanConfig(path, reg)
}

// planCredentials merges the token into the credentials file's content.
func planCredentials(folders *cargoconf.Folders, path string, cfg *config.Config, value string) (*cargoconf.Change, error) {
	return folders.PlanCredentials(path, cfg.RegistryName, value, cfg.Provider == config.CratesIO)
}

// apply writes every change atomically; on a failure it puts back what it
// already wrote, so the user's files end as they began.
func apply(folders *cargoconf.Folders, changes []*cargoconf.Change, owner cargoconf.Owner) error {
	return folders.Apply(changes, owner)
}

// rollback restores files to their content, mode and owner before the stage.
func rollback(folders *cargoconf.Folders, changes []*cargoconf.Change) {
	_ = folders.Rollback(changes)
}

// wroteLine tells the log which file was written (through which link).
func wroteLine(folders *cargoconf.Folders, ch *cargoconf.Change) string {
	s := "Wrote " + folders.Display(ch.Path)
	if ch.Target != ch.Path {
		s += " (a link to " + folders.Display(ch.Target) + ")"
	}
	if !ch.Changed() {
		s = folders.Display(ch.Path) + " already holds these settings"
	}
	return s
}

// workspaceOwner is the owner files created in the workspace get: the
// container runs as root, but later steps run as the runner's user.
func workspaceOwner(workspace string) cargoconf.Owner {
	if os.Geteuid() != 0 || workspace == "" {
		return cargoconf.Owner{}
	}
	o, err := cargoconf.OwnerOf(workspace)
	if err != nil {
		return cargoconf.Owner{}
	}
	return o
}

// hostOrEmpty is the host path of a container path, "" for "".
func hostOrEmpty(p ghaction.Paths, container string) string {
	if container == "" {
		return ""
	}
	return p.ToHost(container)
}

// randomName is 16 random hex digits from random (crypto/rand when nil).
func randomName(random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	var b [8]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("making a random folder name: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// exeSuffix is the file name extension of an executable: Windows runs a
// credential provider by its full name only.
var exeSuffix = map[bool]string{true: ".exe"}[runtime.GOOS == "windows"]

// installBinary copies the running binary to dst (provider mode) through
// the same atomic writer as Cargo's files, so that Cargo on the host can
// run it as a credential provider.
func installBinary(folders *cargoconf.Folders, executable func() (string, error), dst string, owner cargoconf.Owner) error {
	if executable == nil {
		executable = os.Executable
	}
	src, err := executable()
	if err != nil {
		return fmt.Errorf("finding the cargo-oidc binary: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("reading the cargo-oidc binary: %w", err)
	}
	defer in.Close()
	if err := folders.Install(dst, in, 0o755, owner); err != nil {
		return fmt.Errorf("installing the credential provider: %w", err)
	}
	return nil
}

package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
)

// fileChange is a user file the main stage is about to write, and how to
// put it back if a later part of the stage fails.
type fileChange struct {
	path    string // container path
	data    []byte
	perm    os.FileMode
	before  []byte // nil when the file did not exist
	existed bool
}

// Main runs the main stage.
func Main(ctx context.Context, e Env) (err error) {
	r := ghaction.New(e.Getenv, e.Stdout)
	fc := ghaction.NewFileCommands(e.Getenv, e.Random)
	cfg, err := config.Load(r.Input)
	if err != nil {
		return failure(r, fc, "cargo-oidc: invalid input", err)
	}
	paths := ghaction.NewPaths(e.Getenv, e.HostWorkspace, e.HostTemp)
	owner := workspaceOwner(paths.Workspace)

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
	var providerBin string // container path of the copied binary, provider mode
	if cfg.CredentialMode == config.ModeProvider {
		providerBin = filepath.Join(paths.Home, ".cargo-oidc", "bin", "cargo-oidc")
		cmd, err := providerCommand(cfg, paths.ToHost(providerBin))
		if err != nil {
			return failure(r, fc, "cargo-oidc: cannot use credential-mode: provider", err)
		}
		reg.CredentialProvider = cmd
	}
	var configChange *fileChange
	if configPath != "" {
		if configChange, err = planConfig(configPath, reg); err != nil {
			return failure(r, fc, "cargo-oidc: cannot update the Cargo config file", err)
		}
	}
	if credPath != "" {
		// A dry run with a placeholder: the real token is merged after the
		// exchange, but a bad file should fail before it.
		if _, err := planCredentials(credPath, cfg, "placeholder"); err != nil {
			return failure(r, fc, "cargo-oidc: cannot write the credentials file", err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	client := exchange.NewClient(exchange.HTTPConfig{Base: e.HTTP, Retries: cfg.Retries, Debug: r.Debug})
	ids := exchange.Masked(exchange.GitHubIDTokens(e.Getenv, client), r.Mask)
	svc := cfg.Service(client, r.Mask, e.now, e.Getenv)
	title := serviceTitle(cfg.Provider)

	r.Group("Exchanging the GitHub ID token with " + title)
	start := e.now()
	r.Info(fmt.Sprintf("Token service: %s (audience %s)", cfg.URL, orText(svc.IDTokenAudience(), "GitHub's default")))
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
		// would not know the token: revoke it now instead.
		defer func() {
			if err == nil {
				return
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), postTimeout)
			defer cancel()
			if rerr := cr.Revoke(rctx, tok.Value); rerr != nil {
				r.Warning("cargo-oidc: crates.io token not revoked", rerr.Error())
			} else {
				r.Info("Revoked the crates.io token, since the step failed.")
			}
		}()
	}

	// Everything the step will write, computed before anything is written.
	out := plan{cfg: cfg, tok: tok, paths: paths}
	if cfg.CredentialMode == config.ModeProvider {
		out.providerCmd = reg.CredentialProvider
	}
	var changes []*fileChange
	if credPath != "" {
		ch, err := planCredentials(credPath, cfg, cfg.Authorization(tok.Value))
		if err != nil {
			return failure(r, fc, "cargo-oidc: cannot write the credentials file", err)
		}
		changes = append(changes, ch)
		out.credPath, out.credCreated = credPath, !ch.existed
	}
	if configChange != nil {
		changes = append(changes, configChange)
		out.configPath = configPath
	}
	if err := out.fileCommands(fc); err != nil {
		return failure(r, fc, "cargo-oidc: cannot export the token", err)
	}
	if err := fc.Open(); err != nil {
		return failure(r, fc, "cargo-oidc: cannot export the token", err)
	}

	r.Group("Setting Cargo up")
	if providerBin != "" {
		if err := installBinary(e.Executable, providerBin, owner); err != nil {
			fc.Close()
			r.EndGroup()
			return failure(r, fc, "cargo-oidc: cannot install the credential provider", err)
		}
		r.Info("Credential provider: " + paths.ToHost(providerBin))
	}
	if err := apply(changes, owner); err != nil {
		fc.Close()
		r.EndGroup()
		return failure(r, fc, "cargo-oidc: cannot write Cargo's files", err)
	}
	for _, ch := range changes {
		r.Info("Wrote " + paths.ToHost(ch.path))
	}
	for _, line := range out.exportedLines() {
		r.Info(line)
	}
	r.EndGroup()
	if err := fc.Flush(); err != nil {
		rollback(changes)
		return failure(r, fc, "cargo-oidc: cannot export the token", err)
	}
	r.Notice("Cargo registry ready", out.notice())
	return r.Err()
}

// plan holds what a successful main stage exports.
type plan struct {
	cfg                  *config.Config
	tok                  *exchange.Token
	paths                ghaction.Paths
	providerCmd          string
	configPath, credPath string // container paths
	credCreated          bool
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
	set(ghaction.StateFile, stateRegistryName, c.RegistryName)
	if c.Provider == config.CratesIO && c.Revoke {
		set(ghaction.StateFile, stateRevoke, "true")
		set(ghaction.StateFile, stateToken, p.tok.Value)
	}
	if p.credPath != "" {
		set(ghaction.StateFile, stateCredentialsFile, p.credPath)
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
		what = append(what, "`"+kv[0]+"`")
	}
	if p.configPath != "" {
		what = append(what, "config file `"+p.hostPath(p.configPath)+"`")
	}
	if p.credPath != "" {
		what = append(what, "credentials file `"+p.hostPath(p.credPath)+"`")
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

func (p *plan) summary() string {
	c := p.cfg
	var b strings.Builder
	b.WriteString("### cargo-oidc: Cargo registry ready\n\n| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
	}
	row("Provider", serviceTitle(c.Provider))
	row("Registry", "`"+c.RegistryName+"`")
	if c.IndexURL != "" {
		row("Index", "`"+c.IndexURL+"`")
	}
	if p.providerCmd != "" {
		row("Tokens", "minted by cargo-oidc whenever Cargo needs one (credential provider); none exported")
	} else {
		row("Expires", orText(p.expiresAt(), "not said by the service"))
	}
	row("Username", mdEscape(p.tok.Username))
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

// planConfig reads the config file and merges the registry into it.
func planConfig(path string, reg cargoconf.Registry) (*fileChange, error) {
	before, existed, perm, err := readExisting(path)
	if err != nil {
		return nil, err
	}
	data, err := cargoconf.Merge(before, path, reg)
	if err != nil {
		return nil, err
	}
	return &fileChange{path: path, data: data, perm: perm, before: before, existed: existed}, nil
}

// planCredentials merges the token into the credentials file's content.
func planCredentials(path string, cfg *config.Config, value string) (*fileChange, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("credentials file %s is a symbolic link; the action does not follow links for credentials: give the path of a regular file", path)
	}
	before, existed, _, err := readExisting(path)
	if err != nil {
		return nil, err
	}
	data, err := cargoconf.MergeCredential(before, path, cfg.RegistryName, value, cfg.Provider == config.CratesIO)
	if err != nil {
		return nil, err
	}
	return &fileChange{path: path, data: data, perm: 0o600, before: before, existed: existed}, nil
}

func readExisting(path string) (data []byte, existed bool, perm os.FileMode, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, 0o644, nil
	}
	if err != nil {
		return nil, false, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, 0, fmt.Errorf("%s is not a regular file", path)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, false, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, true, fi.Mode().Perm(), nil
}

// apply writes every change atomically; on a failure it puts back what it
// already wrote, so the user's files end as they began.
func apply(changes []*fileChange, owner cargoconf.Owner) error {
	for i, ch := range changes {
		if err := writeChange(ch, owner); err != nil {
			rollback(changes[:i])
			return err
		}
	}
	return nil
}

func writeChange(ch *fileChange, owner cargoconf.Owner) error {
	if ch.perm == 0o600 {
		_, err := writeCredentialsData(ch, owner)
		return err
	}
	// Folders the action creates go to the workspace's owner like the file,
	// so later steps (run as that user) can use them; existing ones are left alone.
	if err := cargoconf.MkdirAll(filepath.Dir(ch.path), 0o755, owner); err != nil {
		return fmt.Errorf("creating the folder of %s: %w", ch.path, err)
	}
	return cargoconf.WriteFileAtomic(ch.path, ch.data, ch.perm, owner)
}

func writeCredentialsData(ch *fileChange, owner cargoconf.Owner) (bool, error) {
	// A folder created for the file is private (0700) but must belong to the
	// user of the later steps, not to the container's root, or they cannot
	// reach the file.
	if err := cargoconf.MkdirAll(filepath.Dir(ch.path), 0o700, owner); err != nil {
		return false, fmt.Errorf("creating the folder of %s: %w", ch.path, err)
	}
	if fi, err := os.Lstat(ch.path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return false, fmt.Errorf("credentials file %s is a symbolic link; the action does not follow links for credentials", ch.path)
	}
	return !ch.existed, cargoconf.WriteFileAtomic(ch.path, ch.data, 0o600, owner)
}

// rollback restores files to their content before the stage.
func rollback(changes []*fileChange) {
	for _, ch := range changes {
		if !ch.existed {
			_ = os.Remove(ch.path)
			continue
		}
		_ = cargoconf.WriteFileAtomic(ch.path, ch.before, ch.perm, cargoconf.Owner{})
	}
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

func chownNew(dir string, owner cargoconf.Owner) {
	if owner.Set {
		_ = os.Chown(dir, owner.UID, owner.GID)
	}
}

// installBinary copies the running binary to dst (provider mode), so that
// Cargo on the host can run it as a credential provider.
func installBinary(executable func() (string, error), dst string, owner cargoconf.Owner) error {
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
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
	}
	for d := filepath.Dir(dst); d != filepath.Dir(filepath.Dir(filepath.Dir(dst))); d = filepath.Dir(d) {
		chownNew(d, owner)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".cargo-oidc-*")
	if err != nil {
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	chownNew(tmp.Name(), owner)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	return nil
}

// providerCommand is the credential-provider setting for Cargo: the host
// path of the binary and the arguments that configure it. Cargo runs
// "<path> --cargo-plugin" and passes the arguments in its JSON request.
//
// Cargo splits the setting on spaces, so a value holding whitespace cannot
// be carried and is refused.
func providerCommand(cfg *config.Config, hostBin string) (string, error) {
	if strings.ContainsAny(hostBin, " \t\n") {
		return "", fmt.Errorf("the runner's home folder %q contains whitespace, which Cargo's credential-provider setting cannot carry; use credential-mode: token", hostBin)
	}
	args := []string{hostBin, "--provider=" + string(cfg.Provider), "--url=" + cfg.URL}
	var bad []string
	add := func(name, v string) {
		if strings.ContainsAny(v, " \t\n") {
			bad = append(bad, name)
		}
		if v != "" {
			args = append(args, "--"+name+"="+v)
		}
	}
	add("provider-name", cfg.ProviderName)
	add("identity-mapping-name", cfg.IdentityMappingName)
	add("project-key", cfg.ProjectKey)
	add("namespace", cfg.Namespace)
	add("service-slug", cfg.ServiceSlug)
	add("audience", cfg.Audience)
	if cfg.Provider != config.CratesIO {
		add("index-url", cfg.IndexURL)
		add("token-scheme", orText(cfg.TokenScheme, "none"))
	}
	add("retries", strconv.Itoa(cfg.Retries))
	if len(bad) > 0 {
		return "", fmt.Errorf("input %s holds whitespace, which Cargo's credential-provider setting cannot carry (Cargo splits it on spaces); remove it or use credential-mode: token", strings.Join(bad, ", "))
	}
	return strings.Join(args, " "), nil
}

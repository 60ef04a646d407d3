package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
)

// The titles of the main stage's failures (besides the exchange's own,
// exchangeTitle).
const (
	titleInput     = "cargo-oidc: invalid input"
	titleDelivery  = "cargo-oidc: this runner cannot deliver the file"
	titleProvider  = "cargo-oidc: cannot use credential-mode: provider"
	titleConfig    = "cargo-oidc: cannot update the Cargo config file"
	titleCreds     = "cargo-oidc: cannot write the credentials file"
	titleExport    = "cargo-oidc: cannot export the token"
	titleInstall   = "cargo-oidc: cannot install the credential provider"
	titleCargo     = "cargo-oidc: cannot write Cargo's files"
	titleLog       = "cargo-oidc: cannot write the step's log"
	titleUnplanned = "cargo-oidc: the main stage failed"
)

// phaseError is the failure of one phase of the main stage: the error and
// the title of the annotation that reports it.
type phaseError struct {
	title string
	err   error
}

func (e *phaseError) Error() string { return e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// failed is err titled title, for Main to report.
func failed(title string, err error) error { return &phaseError{title: title, err: err} }

// Main runs the main stage in four phases: preflight checks the inputs,
// paths and files without the network; exchange gets the registry token;
// plan computes every file and file command; commit writes them. A phase
// that fails returns its error with its title; Main then reports it (in
// one place) and runs, once and newest first, what undoes the phases'
// work: the files' rollback, the removal of the record folder, the
// crates.io token's revocation.
func Main(ctx context.Context, e Env) error {
	m := &mainStage{e: e, r: ghaction.New(e.Getenv, e.Stdout), fc: ghaction.NewFileCommands(e.Getenv, e.Random)}
	defer m.close()
	out, err := m.run(ctx)
	if err != nil {
		return m.fail(err)
	}
	// Everything is exported: a log line lost from here on must not fail
	// the step, which would revoke a token later steps already hold.
	for _, line := range out.exportedLines() {
		m.r.Info(line)
	}
	m.r.Notice("Cargo registry ready", out.notice())
	return nil
}

// mainStage is the state the phases of the main stage share.
type mainStage struct {
	e       Env
	r       *ghaction.Runner
	fc      *ghaction.FileCommands
	paths   ghaction.Paths
	folders *cargoconf.Folders
	owner   cargoconf.Owner
	group   bool               // a log group is open
	cancel  context.CancelFunc // ends the step's timeout
	undo    []func()           // run once, newest first, if the stage fails
}

// prepared is what the preflight found, and the plan adds to.
type prepared struct {
	cfg                  *config.Config
	reg                  cargoconf.Registry
	configPath, credPath string // container paths; "" when not written
	// providerBin is the container path of the copied binary (provider
	// mode), minted that of the record of minted crates.io tokens, cache
	// that of the provider's token cache folder.
	providerBin, minted, cache string
	// tok is the step's own token: in provider mode it seeds the cache.
	tok *exchange.Token
	// issued is when tok was issued (the exchange's start).
	issued       time.Time
	configChange *cargoconf.Change
	credChange   *cargoconf.Change
	changes      []*cargoconf.Change // in the order they are written
}

// run runs the phases in order and returns what the step exported.
func (m *mainStage) run(ctx context.Context) (*plan, error) {
	pre, err := m.preflight()
	if err != nil {
		return nil, err
	}
	ctx, m.cancel = context.WithTimeout(ctx, pre.cfg.Timeout)
	pre.issued = m.e.now()
	tok, err := m.exchange(ctx, pre.cfg)
	if err != nil {
		return nil, err
	}
	pre.tok = tok
	out, err := m.plan(pre, tok)
	if err != nil {
		return nil, err
	}
	return out, m.commit(pre)
}

// fail reports err (one ::error:: annotation and the failure summary, with
// nothing exported), then undoes what the phases did.
func (m *mainStage) fail(err error) error {
	title := titleUnplanned
	var pe *phaseError
	if errors.As(err, &pe) {
		title, err = pe.title, pe.err
	}
	m.fc.Close()
	m.endGroup()
	reported := failure(m.r, m.fc, title, err)
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
	m.undo = nil
	return reported
}

// onFailure adds f to what a failed stage undoes.
func (m *mainStage) onFailure(f func()) { m.undo = append(m.undo, f) }

func (m *mainStage) close() {
	if m.cancel != nil {
		m.cancel()
	}
	if m.folders != nil {
		m.folders.Close()
	}
}

func (m *mainStage) beginGroup(name string) {
	m.r.Group(name)
	m.group = true
}

func (m *mainStage) endGroup() {
	if m.group {
		m.r.EndGroup()
		m.group = false
	}
}

// preflight checks everything that can be checked without the network, so
// that a misconfiguration fails fast and before any token exists: the
// inputs, the paths, the provider's setting, the files (merged in a dry
// run) and the runner's file commands.
func (m *mainStage) preflight() (*prepared, error) {
	cfg, err := config.Load(m.r.Input)
	if err != nil {
		return nil, failed(titleInput, err)
	}
	m.paths = ghaction.NewPaths(m.e.Getenv, m.e.HostWorkspace, m.e.HostTemp)
	m.paths.Container = m.e.Container
	m.owner = workspaceOwner(m.paths.Workspace)
	m.folders = openFolders(m.paths)
	pre := &prepared{cfg: cfg, reg: cargoconf.Registry{Name: cfg.RegistryName, Index: cfg.IndexURL,
		CredentialProvider: "cargo:token", Default: cfg.DefaultRegistry, ReplaceCratesIO: cfg.ReplaceCratesIO}}
	if err := m.resolvePaths(pre); err != nil {
		return nil, err
	}
	if cfg.CredentialMode == config.ModeProvider {
		if err := m.prepareProvider(pre); err != nil {
			return nil, err
		}
	}
	if pre.configPath != "" {
		if pre.configChange, err = m.folders.PlanConfig(pre.configPath, pre.reg); err != nil {
			return nil, failed(titleConfig, err)
		}
	}
	if pre.credPath != "" {
		// A dry run with a placeholder: the real token is merged after the
		// exchange, but a bad file should fail before it.
		if _, err := planCredentials(m.folders, pre.credPath, cfg, "placeholder"); err != nil {
			return nil, failed(titleCreds, err)
		}
	}
	files := []ghaction.File{ghaction.OutputFile, ghaction.StateFile, ghaction.SummaryFile}
	if cfg.ExportEnv {
		files = append([]ghaction.File{ghaction.EnvFile}, files...)
	}
	if err := checkFileCommands(m.e.Getenv, files...); err != nil {
		return nil, failed("cargo-oidc: cannot write the runner's files ("+cfg.Provider.Title()+" was not contacted)", err)
	}
	return pre, nil
}

// resolvePaths turns the file inputs into container paths and checks that
// later steps can reach them.
func (m *mainStage) resolvePaths(pre *prepared) error {
	var err error
	if pre.cfg.ReplaceCratesIO {
		if pre.configPath, err = m.paths.Resolve("config-file", pre.cfg.ConfigFile); err != nil {
			return failed(titleInput, err)
		}
	}
	if pre.credPath, err = m.paths.Resolve("credentials-file", pre.cfg.CredentialsFile); err != nil {
		return failed(titleInput, err)
	}
	if err := errors.Join(m.paths.CheckShared("config-file", pre.configPath), m.paths.CheckShared("credentials-file", pre.credPath)); err != nil {
		return failed(titleDelivery, err)
	}
	return nil
}

// prepareProvider chooses where the credential provider goes (and, for
// crates.io, the record of the tokens it mints) and writes its setting for
// Cargo.
func (m *mainStage) prepareProvider(pre *prepared) error {
	if err := m.paths.CheckHomeShared(); err != nil {
		return failed("cargo-oidc: cannot use credential-mode: provider on this runner", err)
	}
	pre.providerBin = filepath.Join(m.paths.Home, ".cargo-oidc", "bin", "cargo-oidc"+exeSuffix())
	if pre.cfg.Provider == config.CratesIO && pre.cfg.Revoke {
		// Every token the provider mints is recorded here, beside the
		// provider under the action's HOME ($RUNNER_TEMP/_github_home on
		// the host, mounted on every runner), for the post stage to
		// revoke.
		name, err := randomName(m.e.Random)
		if err != nil {
			return failed(titleProvider, err)
		}
		pre.minted = filepath.Join(filepath.Dir(filepath.Dir(pre.providerBin)), "minted-"+name, "tokens")
	}
	// The token cache every Cargo process of the job shares, beside the
	// provider; the step's own token seeds it (seedCache).
	name, err := randomName(m.e.Random)
	if err != nil {
		return failed(titleProvider, err)
	}
	pre.cache = filepath.Join(filepath.Dir(filepath.Dir(pre.providerBin)), "cache-"+name)
	cmd, err := credprovider.Command(pre.cfg, m.paths.ToHost(pre.providerBin), hostOrEmpty(m.paths, pre.minted))
	if err == nil {
		cmd, err = credprovider.WithCacheDir(cmd, m.paths.ToHost(pre.cache))
	}
	if err == nil {
		err = m.folders.Check(pre.providerBin)
	}
	if err != nil {
		return failed(titleProvider, err)
	}
	pre.reg.CredentialProvider = cmd
	return nil
}

// exchange gets the registry token for the job's ID token. A crates.io
// token is revoked if the stage fails later (it would be exported nowhere,
// so the post stage would not know it); otherwise the post stage revokes
// it, in credential-mode provider too, where it seeds the provider's token
// cache.
func (m *mainStage) exchange(ctx context.Context, cfg *config.Config) (*exchange.Token, error) {
	r := m.r
	// The runner's redactor learns every secret masked from here on (and the
	// request token), and the client cleans outside text with it.
	r.Redactor().Add(m.e.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
	client := exchange.NewClient(exchange.HTTPConfig{Base: m.e.HTTP, Retries: cfg.Retries, Debug: r.Debug, Redactor: r.Redactor()})
	src := exchange.ActionsSource(m.e.Getenv, client)
	ids := exchange.Masked(src, r.Mask)
	svc := cfg.Service(client, r.Mask, m.e.now, m.e.Getenv)
	title := cfg.Provider.Title()

	m.beginGroup("Exchanging the " + idTokenOf(src.Name) + " with " + title)
	start := m.e.now()
	where := cfg.URL
	if ep, ok := svc.(exchange.Endpointer); ok {
		where = ep.Endpoint()
	}
	r.Info(fmt.Sprintf("Token service: %s (audience %s)", where, orText(svc.IDTokenAudience(), "GitHub's default")))
	tok, err := svc.Exchange(ctx, ids)
	m.endGroup()
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (timed out after %s: %w)", err, cfg.Timeout, context.DeadlineExceeded)
		}
		return nil, failed(exchangeTitle(title, src.Name, err), err)
	}
	r.Mask(tok.Value)
	r.Mask(tok.ReferenceToken)
	r.Debug(fmt.Sprintf("exchange took %s", m.e.now().Sub(start).Round(time.Millisecond)))
	if cr, ok := svc.(exchange.Revoker); ok && cfg.Revoke {
		m.scheduleRevocation(ctx, cr, tok)
	}
	return tok, nil
}

// scheduleRevocation revokes the crates.io token tok if the stage fails: a
// failed step exports nothing, so the post stage would not know the token.
// A stage that succeeds leaves it to the post stage (the state holds it),
// in credential-mode provider too, where it seeds the provider's cache and
// Cargo uses it.
func (m *mainStage) scheduleRevocation(ctx context.Context, cr exchange.Revoker, tok *exchange.Token) {
	r := m.r
	m.onFailure(func() {
		if rerr := cr.Revoke(ctx, tok.Value); rerr != nil {
			r.Warning("cargo-oidc: crates.io token not revoked", rerr.Error())
		} else {
			r.Info("Revoked the crates.io token, since the step failed.")
		}
	})
}

// plan computes everything the step will write, before anything is
// written, and opens the runner's file commands.
func (m *mainStage) plan(pre *prepared, tok *exchange.Token) (*plan, error) {
	cfg := pre.cfg
	out := &plan{cfg: cfg, tok: tok, paths: m.paths, minted: pre.minted, cache: pre.cache, redact: m.r.Redact}
	if cfg.CredentialMode == config.ModeProvider {
		out.providerCmd = pre.reg.CredentialProvider
	}
	// The config file goes first: a credentials file that cannot be
	// written then rolls the config file back.
	if pre.configChange != nil {
		pre.changes = append(pre.changes, pre.configChange)
		out.configPath = pre.configPath
	}
	if pre.credPath != "" {
		ch, err := planCredentials(m.folders, pre.credPath, cfg, cfg.Authorization(tok.Value))
		if err != nil {
			return nil, failed(titleCreds, err)
		}
		pre.credChange = ch
		pre.changes = append(pre.changes, ch)
		out.credPath, out.credTarget, out.credCreated = pre.credPath, ch.Target, !ch.Existed
	}
	if err := out.fileCommands(m.fc); err != nil {
		return nil, failed(titleExport, err)
	}
	if err := m.fc.Open(); err != nil {
		return nil, failed(titleExport, err)
	}
	return out, nil
}

// commit installs the credential provider, writes Cargo's files and then
// the runner's file commands.
func (m *mainStage) commit(pre *prepared) error {
	m.beginGroup("Setting Cargo up")
	if err := m.installProvider(pre); err != nil {
		return err
	}
	if err := m.folders.Apply(pre.changes, m.owner); err != nil {
		// Apply has put back what it wrote.
		return failed(titleCargo, err)
	}
	m.onFailure(func() {
		if err := m.folders.Rollback(pre.changes); err != nil {
			m.r.Warning("cargo-oidc: a Cargo file was not restored", err.Error()+"\nCheck the file: it may hold the step's settings although the step failed.")
		}
	})
	if ch := pre.credChange; ch != nil && ch.Created() {
		// The post stage deletes this file only if it is still this one.
		if err := m.fc.Set(ghaction.StateFile, stateCredentialsID, ch.ID().String()); err != nil {
			return failed(titleExport, err)
		}
	}
	for _, ch := range pre.changes {
		m.r.Info(wroteLine(m.folders, ch))
	}
	m.endGroup()
	if err := m.r.Err(); err != nil {
		// The log is broken: fail before anything is exported.
		return failed(titleLog, err)
	}
	if err := m.fc.Flush(); err != nil {
		return failed(titleExport, err)
	}
	return nil
}

// installProvider copies the binary for Cargo (provider mode) and makes
// the record's folder, private to the user later steps run as (who runs
// the provider); the folder goes again if the step fails.
func (m *mainStage) installProvider(pre *prepared) error {
	if pre.providerBin != "" {
		if err := installBinary(m.folders, m.e.Executable, pre.providerBin, m.owner); err != nil {
			return failed(titleInstall, err)
		}
		m.r.Info("Credential provider: " + m.paths.ToHost(pre.providerBin))
	}
	if pre.minted != "" {
		dir := filepath.Dir(pre.minted)
		if err := m.folders.MkdirPrivate(dir, m.owner); err != nil {
			return failed(titleInstall, err)
		}
		m.onFailure(func() { _ = m.folders.RemoveAllBeneath(dir) })
	}
	if pre.cache != "" {
		return m.seedCache(pre)
	}
	return nil
}

// seedCache makes the provider's token cache folder (0700, given to the
// user later steps run as, who runs the provider) and puts the step's own
// token in it (0600), so that the job's first Cargo command makes no
// exchange: one exchange per token lifetime. The folder goes again if the
// step fails.
func (m *mainStage) seedCache(pre *prepared) error {
	if err := m.folders.MkdirPrivate(pre.cache, m.owner); err != nil {
		return failed(titleInstall, err)
	}
	m.onFailure(func() { _ = m.folders.RemoveAllBeneath(pre.cache) })
	name, data, ok, err := credprovider.SeedCache(pre.reg.CredentialProvider, pre.tok, pre.issued, m.e.Getenv)
	if err != nil {
		return failed(titleInstall, fmt.Errorf("seeding the token cache: %w", err))
	}
	if !ok {
		m.r.Info("Token cache: the token's expiry is unknown, so Cargo's first request exchanges again.")
		return nil
	}
	if err := m.folders.Install(filepath.Join(pre.cache, name), bytes.NewReader(data), 0o600, m.owner); err != nil {
		return failed(titleInstall, fmt.Errorf("seeding the token cache: %w", err))
	}
	m.r.Info("Token cache: " + m.paths.ToHost(pre.cache) + " (the step's token, reused by every Cargo process of the job until it is renewed)")
	return nil
}

// checkFileCommands opens, for appending, each file command the step will
// write, and closes it again: a file that is not set or cannot be written
// fails the step before any network call, not after the exchange.
func checkFileCommands(getenv func(string) string, files ...ghaction.File) error {
	var errs []error
	for _, f := range files {
		path := getenv(string(f))
		if path == "" {
			errs = append(errs, fmt.Errorf("%s is not set: run the action as a GitHub Actions step, or set %s to a file", f, f))
			continue
		}
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot write %s: %w; the runner creates this file for every step: check that nothing earlier in the job removed or replaced it", f, err))
			continue
		}
		if err := fh.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot write %s: %w", f, err))
		}
	}
	return errors.Join(errs...)
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

// planCredentials merges the token into the credentials file's content.
func planCredentials(folders *cargoconf.Folders, path string, cfg *config.Config, value string) (*cargoconf.Change, error) {
	return folders.PlanCredentials(path, cfg.RegistryName, value, cfg.Provider == config.CratesIO)
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
	name, err := ghaction.RandomHex(random, 8)
	if err != nil {
		return "", fmt.Errorf("making a random folder name: %w", err)
	}
	return name, nil
}

// exeSuffix is the file name extension of an executable: Windows runs a
// credential provider by its full name only.
func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

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

// idTokenOf is "GitHub ID token" for GitHub Actions, else "ID token from
// <source>" (Forgejo and Gitea run the action too).
func idTokenOf(source string) string {
	if source == exchange.CIGitHub.Title() {
		return "GitHub ID token"
	}
	return "ID token from " + source
}

package credprovider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/regularfile"
)

// One exchange per token lifetime: every Cargo process runs its own
// provider, so the token a provider mints is kept in a cache file that the
// job's other providers read. The cache is a folder, mode 0700, owned by
// the user Cargo runs as; each registry token is one file in it, mode
// 0600, named by a hash of the registry, the provider's arguments and the
// job (see cacheKey), written atomically (cargoconf.WriteFileAtomic) and
// read without following a link, bounded in size. A lock file beside it
// makes concurrent providers mint once: the first one exchanges, the
// others wait and read what it wrote. The file holds the registry token,
// its issue and expiry times and nothing else: never the ID token.

// CacheArg is the argument (--cache-dir=PATH) naming the folder the
// provider caches the tokens it mints in. Without it the provider uses
// DefaultCacheDir.
const CacheArg = "cache-dir"

// maxCacheEntry bounds a cache file: one token and two times.
const maxCacheEntry = 64 << 10

// cacheEntryVersion is the version of the cache file's format.
const cacheEntryVersion = 1

// cacheEntry is the content of a cache file.
type cacheEntry struct {
	V        int    `json:"v"`
	Token    string `json:"token"`
	Issued   int64  `json:"issued"`  // unix seconds
	Expires  int64  `json:"expires"` // unix seconds
	Username string `json:"username,omitempty"`
}

// renewMargin is how long before its expiry a token of lifetime life is
// renewed: a fifth of its life, at most 5 minutes (so a 30-minute
// crates.io token or a 1-hour JFrog token is renewed 5 minutes before it
// expires, a 10-second test token 2 seconds before), at least 1 second.
func renewMargin(life time.Duration) time.Duration {
	return min(max(life/5, time.Second), 5*time.Minute)
}

// renewAt is when a token issued at issued and expiring at expires should
// be replaced by a fresh one.
func renewAt(issued, expires time.Time) time.Time {
	return expires.Add(-renewMargin(expires.Sub(issued)))
}

// DefaultCacheDir is the cache folder of a provider given no --cache-dir:
// "cargo-oidc-cache-<uid>" in the job's temp folder (RUNNER_TEMP on GitHub
// and Forgejo, AGENT_TEMPDIRECTORY on Azure Pipelines; both are emptied
// after every job), else in TMPDIR, else in tempDir() (os.TempDir). The
// user id keeps users of one machine apart; a folder there that another
// user made is not used (checkCacheDir).
func DefaultCacheDir(getenv func(string) string, tempDir func() string) string {
	base := ""
	for _, v := range []string{"RUNNER_TEMP", "AGENT_TEMPDIRECTORY", "TMPDIR"} {
		if base = getenv(v); base != "" {
			break
		}
	}
	if base == "" {
		if tempDir == nil {
			tempDir = os.TempDir
		}
		base = tempDir()
	}
	return filepath.Join(base, "cargo-oidc-cache"+userSuffix())
}

// cacheKey names the cache file of one registry token: a SHA-256 of the
// registry, the provider's arguments (sorted; the cache folder left out,
// it is where the file goes; keyArgs adds the endpoint variables) and the
// job's scope, so a different registry,
// different inputs or another job never reuse a token. The scope is a
// secret of the job that later steps see too (Options.scope): the ID token
// itself when it comes from a variable or a file (a GitLab or CircleCI
// token is fixed for the job), else a per-job secret of the CI system, like
// GitHub's ID-token request token. Only the hash is written anywhere.
func cacheKey(registry string, args []string, scope string) string {
	kept := slices.Clone(args)
	kept = slices.DeleteFunc(kept, func(a string) bool { return strings.HasPrefix(a, "--"+CacheArg+"=") })
	slices.Sort(kept)
	h := sha256.New()
	fmt.Fprintf(h, "cargo-oidc cache v%d\x00%s\x00", cacheEntryVersion, registry)
	for _, a := range kept {
		fmt.Fprintf(h, "%s\x00", a)
	}
	s := sha256.Sum256([]byte(scope))
	h.Write(s[:])
	return hex.EncodeToString(h.Sum(nil))[:40]
}

// endpointVariables name the environment variables that choose a token
// service's endpoint instead of an argument (config.Service reads them):
// a provider that would exchange elsewhere must not reuse the token.
var endpointVariables = []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_CODEARTIFACT", "AZURE_AUTHORITY_HOST"}

// keyArgs are the arguments that go into the cache key: the provider's and
// the endpoint variables that are set, as "env:NAME=value".
func keyArgs(args []string, getenv func(string) string) []string {
	out := slices.Clone(args)
	for _, n := range endpointVariables {
		if v := getenv(n); v != "" {
			out = append(out, "env:"+n+"="+v)
		}
	}
	return out
}

// registryKey is the registry part of the cache key: crates.io by name
// (Cargo names it by two index URLs), else the index URL without the
// sparse+ prefix and trailing slashes.
func registryKey(provider config.Provider, indexURL string) string {
	if provider == config.CratesIO {
		return "crates.io"
	}
	return strings.TrimRight(strings.TrimPrefix(indexURL, "sparse+"), "/")
}

// SeedCache returns the name and content of the cache file that makes the
// credential provider of setting (a string Command returned) answer tok
// without an exchange, for the action's own exchange to seed the cache
// folder the setting names with. getenv is the job's environment (the
// scope of the key, cacheKey). ok is false when tok has no known expiry:
// such a token is never cached.
func SeedCache(setting string, tok *exchange.Token, issued time.Time, getenv func(string) string) (name string, data []byte, ok bool, err error) {
	fields := strings.Fields(setting)
	if len(fields) < 2 {
		return "", nil, false, fmt.Errorf("the credential-provider setting %q has no arguments", setting)
	}
	o, err := ParseArgs(fields[1:])
	if err != nil {
		return "", nil, false, err
	}
	if tok.ExpiresAt.IsZero() {
		return "", nil, false, nil
	}
	scope, err := o.scope(getenv)
	if err != nil {
		return "", nil, false, err
	}
	key := cacheKey(registryKey(o.cfg.Provider, o.cfg.IndexURL), keyArgs(fields[1:], getenv), scope)
	data, err = json.Marshal(cacheEntry{V: cacheEntryVersion, Token: tok.Value, Issued: issued.Unix(), Expires: tok.ExpiresAt.Unix(), Username: tok.Username})
	if err != nil {
		return "", nil, false, err
	}
	return key + ".json", data, true, nil
}

// CacheDir is the cache folder the setting names (--cache-dir), "" when
// none.
func CacheDir(setting string) string {
	for _, f := range strings.Fields(setting) {
		if v, ok := strings.CutPrefix(f, "--"+CacheArg+"="); ok {
			return v
		}
	}
	return ""
}

// jobSecrets are the variables whose value is a secret of one job that
// every step of it sees, per CI system, in the order scope tries them: the
// first one set scopes the cache key. Several names in one entry are
// joined (Buildkite's agent token is the agent's, the job id the job's).
var jobSecrets = [][]string{
	{"ACTIONS_ID_TOKEN_REQUEST_TOKEN"},                   // GitHub, Forgejo and Gitea Actions
	{"CI_JOB_TOKEN"},                                     // GitLab CI
	{"CIRCLE_OIDC_TOKEN_V2"},                             // CircleCI
	{"SYSTEM_ACCESSTOKEN"},                               // Azure Pipelines
	{"BITBUCKET_STEP_OIDC_TOKEN"},                        // Bitbucket Pipelines
	{"BUILDKITE_AGENT_ACCESS_TOKEN", "BUILDKITE_JOB_ID"}, // Buildkite
}

// scope is the job's secret that goes into the cache key (cacheKey): the ID
// token of --id-token-env or --id-token-file (fixed for the job), else the
// first of jobSecrets that is set. "" when there is none: then nothing is
// cached.
func (o *Options) scope(getenv func(string) string) (string, error) {
	switch {
	case o.IDTokenEnv != "":
		return strings.TrimSpace(getenv(o.IDTokenEnv)), nil
	case o.IDTokenFile != "":
		f, err := regularfile.Open(o.IDTokenFile)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 64<<10))
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	for _, names := range jobSecrets {
		var vals []string
		for _, n := range names {
			if v := getenv(n); v != "" {
				vals = append(vals, n+"="+v)
			}
		}
		if len(vals) > 0 {
			return strings.Join(vals, "\x00"), nil
		}
	}
	return "", nil
}

// tokenCache is one cache folder, checked.
type tokenCache struct {
	dir  string
	warn func(string)
	now  func() time.Time
	// lock takes the lock file at path, waiting until ctx ends.
	lock func(ctx context.Context, path string) (unlock func(), err error)
}

// openCache checks (creating it when missing) the cache folder dir: a real
// folder, not a link, owned by this user and private to them (mode 0700 on
// Unix). A folder that fails the checks is not used: warn says why and the
// provider mints without a cache.
func openCache(dir string, warn func(string), now func() time.Time) *tokenCache {
	if err := checkCacheDir(dir); err != nil {
		warn(fmt.Sprintf("tokens are not cached, every Cargo process exchanges again: %v", err))
		return nil
	}
	return &tokenCache{dir: dir, warn: warn, now: now, lock: lockFile}
}

// checkCacheDir makes dir (mode 0700) if it is missing, and checks it.
func checkCacheDir(dir string) error {
	if dir == "" || !filepath.IsAbs(dir) {
		return fmt.Errorf("the cache folder %q is not an absolute path; give --%s=ABSOLUTE-PATH", dir, CacheArg)
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cannot create the cache folder: %w", err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("cannot check the cache folder: %w", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("the cache folder %s is a symbolic link, which is not followed; delete it", dir)
	case !fi.IsDir():
		return fmt.Errorf("the cache folder %s is not a folder; delete it", dir)
	}
	if why := notPrivate(fi, true); why != "" {
		return fmt.Errorf("the cache folder %s %s; delete it, or give --%s a folder of your own", dir, why, CacheArg)
	}
	return nil
}

// path is the cache file of key.
func (c *tokenCache) path(key string) string { return filepath.Join(c.dir, key+".json") }

// load returns the entry of key when it can be trusted and is still fresh
// (before renewAt), nil otherwise. A file that cannot be trusted (a link,
// not a regular file, another user's, readable or writable by others,
// too large, not a cache entry) is ignored with a warning, and replaced
// by the next store.
func (c *tokenCache) load(key string) *cacheEntry {
	p := c.path(key)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	ignore := func(why string) *cacheEntry {
		c.warn(fmt.Sprintf("the cache file %s %s; it is ignored and replaced", p, why))
		return nil
	}
	switch {
	case err != nil:
		return ignore("cannot be checked (" + err.Error() + ")")
	case fi.Mode()&os.ModeSymlink != 0:
		return ignore("is a symbolic link")
	case !fi.Mode().IsRegular():
		return ignore("is not a regular file")
	case fi.Size() > maxCacheEntry:
		return ignore(fmt.Sprintf("is larger than %d bytes", maxCacheEntry))
	}
	if why := notPrivate(fi, false); why != "" {
		return ignore(why)
	}
	f, err := regularfile.Open(p)
	if err != nil {
		return ignore("cannot be opened (" + err.Error() + ")")
	}
	defer f.Close()
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		return ignore("was replaced while it was read")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCacheEntry+1))
	if err != nil || len(data) > maxCacheEntry {
		return ignore("cannot be read")
	}
	e, err := parseEntry(data)
	if err != nil {
		return ignore("is not a cargo-oidc cache entry (" + err.Error() + ")")
	}
	if !c.now().Before(renewAt(time.Unix(e.Issued, 0), time.Unix(e.Expires, 0))) {
		return nil
	}
	return e
}

// parseEntry reads a cache file's content: a JSON object of this format's
// version, with a token that could be sent as a header (no space or
// control character) and an expiry after its issue. The error never holds
// the content.
func parseEntry(data []byte) (*cacheEntry, error) {
	var e cacheEntry
	switch err := json.Unmarshal(data, &e); {
	case err != nil:
		return nil, errors.New("not JSON of the expected shape")
	case e.V != cacheEntryVersion:
		return nil, fmt.Errorf("version %d, not %d", e.V, cacheEntryVersion)
	case exchange.CheckToken("the cached token", e.Token) != nil:
		return nil, errors.New("no usable token")
	case e.Expires <= e.Issued || e.Issued <= 0:
		return nil, errors.New("no usable issue and expiry times")
	}
	return &e, nil
}

// store writes the entry of key (mode 0600, atomically). A token of
// unknown expiry is not stored.
func (c *tokenCache) store(key string, tok *exchange.Token, issued time.Time) error {
	if tok.ExpiresAt.IsZero() {
		return nil
	}
	data, err := json.Marshal(cacheEntry{V: cacheEntryVersion, Token: tok.Value, Issued: issued.Unix(), Expires: tok.ExpiresAt.Unix(), Username: tok.Username})
	if err != nil {
		return err
	}
	return cargoconf.WriteFileAtomic(c.path(key), data, 0o600, cargoconf.Owner{})
}

// cachedMint returns the fresh token of key from the cache, or mints one
// with mint under the key's lock and stores it. issued is when the token
// returned was issued. A lock that cannot be taken in time (a provider
// that hangs while it holds it) is a warning: the provider then mints
// without it.
func (c *tokenCache) cachedMint(ctx context.Context, key string, mint func() (*exchange.Token, error)) (tok *exchange.Token, issued time.Time, err error) {
	if e := c.load(key); e != nil {
		return e.token(), time.Unix(e.Issued, 0), nil
	}
	unlock, lerr := c.lock(ctx, filepath.Join(c.dir, key+".lock"))
	if lerr != nil {
		c.warn(fmt.Sprintf("the cache lock was not taken (%v); exchanging without it", lerr))
	} else {
		defer unlock()
		// Another provider may have minted while this one waited.
		if e := c.load(key); e != nil {
			return e.token(), time.Unix(e.Issued, 0), nil
		}
	}
	issued = c.now()
	tok, err = mint()
	if err != nil {
		return nil, time.Time{}, err
	}
	if serr := c.store(key, tok, issued); serr != nil {
		c.warn(fmt.Sprintf("the token was not cached, the next Cargo process exchanges again: %v", serr))
	}
	return tok, issued, nil
}

// token is the entry as a token.
func (e *cacheEntry) token() *exchange.Token {
	return &exchange.Token{Value: e.Token, ExpiresAt: time.Unix(e.Expires, 0), Username: e.Username}
}

// WithCacheDir adds --cache-dir=dir to the credential-provider setting (a
// string Command returned), for the step that writes the setting to name
// the job's cache folder. A dir Cargo's setting cannot carry (a space,
// control or format character) is refused like Command's values.
func WithCacheDir(setting, dir string) (string, error) {
	if r, ok := config.BadCharacter(dir, config.SplitsArgument); ok {
		return "", fmt.Errorf("the path of the token cache folder %q holds %U, a space, control or format character, which Cargo's credential-provider setting cannot carry; move the runner's temp folder to a path without it, or use credential-mode: token", dir, r)
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("the token cache folder %q is not an absolute path", dir)
	}
	return setting + " --" + CacheArg + "=" + dir, nil
}

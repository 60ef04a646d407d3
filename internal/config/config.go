// Package config turns the action's inputs into one validated Config.
//
// Inputs come through a lookup function (the runner's INPUT_<NAME> variables
// via go-githubactions, or the arguments Cargo passes to the credential
// provider), so the package reads no environment of its own. Every problem is
// reported, not just the first, and each error names the input and what is
// allowed.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
)

// Provider names a token service.
type Provider string

// The token services.
const (
	JFrog      Provider = "jfrog"
	Cloudsmith Provider = "cloudsmith"
	CratesIO   Provider = "crates-io"
	// CodeArtifact is AWS CodeArtifact (STS, then GetAuthorizationToken).
	CodeArtifact Provider = "codeartifact"
	// Azure is Azure Artifacts (Microsoft Entra workload identity
	// federation, then the feed's sparse index).
	Azure Provider = "azure"
)

// Credential modes.
const (
	ModeToken    = "token"
	ModeProvider = "provider"
)

// Defaults applied when the input is empty. The services' own defaults (the
// Cloudsmith and crates.io URLs, crates.io's audience) are exchange's.
const (
	DefaultTokenScheme     = "Bearer"
	DefaultConfigFile      = ".cargo/config.toml"
	DefaultRetries         = 3
	DefaultTimeout         = 60 * time.Second
	MaxRetries             = 10
	MinTimeout, MaxTimeout = time.Second, 15 * time.Minute
)

// Config is the validated configuration of one run.
type Config struct {
	Provider Provider
	// URL is the service's base URL: https, no path, no query, no trailing slash.
	URL                 string
	ProviderName        string // jfrog
	IdentityMappingName string // jfrog
	ProjectKey          string // jfrog
	Namespace           string // cloudsmith
	ServiceSlug         string // cloudsmith
	RoleARN             string // codeartifact: role-to-assume
	Region              string // codeartifact: aws-region
	Domain              string // codeartifact
	DomainOwner         string // codeartifact
	// Duration is the CodeArtifact token's lifetime (0 = AWS's default).
	Duration time.Duration
	// RoleSessionName is the STS session name ("" = from the run).
	RoleSessionName string
	ClientID        string // azure: the Entra application (client) ID
	TenantID        string // azure: the Entra tenant, a GUID or a verified domain
	Organization    string // azure: the Azure DevOps organisation
	Project         string // azure: "" for an organisation-scoped feed
	Feed            string // azure
	// Audience is the audience asked of GitHub ("" = GitHub's default).
	Audience   string
	Repository string
	// IndexURL is the registry's index ("sparse+https://.../", ending in /);
	// empty for crates.io.
	IndexURL     string
	RegistryName string
	// TokenScheme is put before the token for Cargo ("" = the raw token).
	TokenScheme     string
	DefaultRegistry bool
	ExportEnv       bool
	Retries         int
	Timeout         time.Duration
	Revoke          bool
	ReplaceCratesIO bool
	ConfigFile      string // as given (relative to the workspace or absolute)
	CredentialsFile string // as given; "" = none
	Cleanup         bool
	CredentialMode  string
}

// Inputs lists every input the action reads, in action.yml's order.
var Inputs = []string{
	"provider", "url", "provider-name", "audience", "identity-mapping-name", "project-key",
	"namespace", "service-slug", "role-to-assume", "aws-region", "domain", "domain-owner", "duration",
	"role-session-name", "client-id", "tenant-id", "organization", "project", "feed", "repository", "index-url", "registry-name", "default-registry",
	"token-scheme", "export-env", "credential-mode", "replace-crates-io", "config-file",
	"credentials-file", "cleanup", "revoke", "retries", "timeout",
}

// RunnerInputs are action.yml's inputs that only carry the runner's host
// paths (defaults ${{ github.workspace }} and ${{ runner.temp }}) into
// runs.args, since GitHub lets a container action's args use the inputs
// context only. The action reads them as --host-workspace and --host-temp,
// not as inputs; users leave them alone.
var RunnerInputs = []string{"host-workspace", "host-temp"}

// defaults are the values action.yml gives; an input holding its default is
// not counted as "given" when checking inputs against the provider.
var defaults = map[string]string{
	"default-registry": "false", "export-env": "true", "credential-mode": ModeToken,
	"replace-crates-io": "false", "config-file": DefaultConfigFile, "cleanup": "true",
	"revoke": "true", "retries": strconv.Itoa(DefaultRetries), "timeout": "60s",
}

// Default returns action.yml's default for an input ("" when it has none).
func Default(name string) string { return defaults[name] }

var common = []string{"provider", "export-env", "credential-mode", "credentials-file", "cleanup", "retries", "timeout"}

// InputError is a problem with one input, or with two that conflict.
type InputError struct {
	Input string
	// With is the other input of a conflict ("" for a problem of Input
	// alone); Msg then completes "inputs <Input> and <With> ...".
	With string
	Msg  string
}

func (e *InputError) Error() string {
	if e.With != "" {
		return "inputs " + e.Input + " and " + e.With + " " + e.Msg
	}
	return "input " + e.Input + ": " + e.Msg
}

// Load reads and validates every input through input (name -> trimmed value).
// The error joins one *InputError per problem.
func Load(input func(name string) string) (*Config, error) {
	l := loader{input: input}
	c := &Config{}
	p, ok := ParseProvider(l.get("provider"))
	switch {
	case ok:
		c.Provider = p
	case p == "":
		l.fail("provider", "is required; use "+providerChoices())
		return nil, l.err()
	default:
		l.fail("provider", fmt.Sprintf("%q is not a known provider; use %s", p, providerChoices()))
		return nil, l.err()
	}
	l.checkForeign(c.Provider)

	l.common(c)
	l.providerInputs(c)
	if c.CredentialMode == ModeProvider && c.CredentialsFile != "" {
		l.fail("credentials-file", "cannot be used with credential-mode: provider, which keeps no token anywhere; remove one of them")
	}
	l.checkCharacters(c.CredentialMode == ModeProvider)
	if err := l.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// common reads the inputs every provider takes.
func (l *loader) common(c *Config) {
	c.ExportEnv = l.boolean("export-env")
	c.DefaultRegistry = l.boolean("default-registry")
	c.ReplaceCratesIO = l.boolean("replace-crates-io")
	c.Cleanup = l.boolean("cleanup")
	c.Revoke = l.boolean("revoke")
	c.Retries = l.retries()
	c.Timeout = l.timeout()
	c.CredentialsFile = l.get("credentials-file")
	c.ConfigFile = l.get("config-file")
	if c.ConfigFile == "" {
		c.ConfigFile = DefaultConfigFile
	}
	switch m := l.get("credential-mode"); m {
	case "", ModeToken:
		c.CredentialMode = ModeToken
	case ModeProvider:
		c.CredentialMode = ModeProvider
	default:
		l.fail("credential-mode", fmt.Sprintf("%q is not allowed; use token (a token in the environment) or provider (cargo-oidc as Cargo's credential provider)", m))
	}
	c.Audience = l.get("audience")
}

// providerInputs reads the inputs of c.Provider (its table entry's load),
// its registry name and the token scheme it sends to Cargo.
func (l *loader) providerInputs(c *Config) {
	s, _ := lookup(c.Provider) // Load checked the name
	s.load(l, c)
	c.RegistryName = c.Provider.DefaultRegistryName()
	if s.registry != "" {
		c.RegistryName = l.registryName(s.registry)
	}
	for _, in := range s.inputs {
		if in == "token-scheme" {
			c.TokenScheme = l.schemeOr(s.scheme)
		}
	}
}

type loader struct {
	input func(string) string
	errs  []error
	// failed holds the inputs already reported, so that no input gets a
	// second error.
	failed map[string]bool
}

func (l *loader) get(name string) string { return strings.TrimSpace(l.input(name)) }

func (l *loader) fail(input, msg string) { l.report(&InputError{Input: input, Msg: msg}) }

// conflict reports that input and with may not both be set; msg completes
// "inputs <input> and <with> ...". Only input counts as reported.
func (l *loader) conflict(input, with, msg string) {
	l.report(&InputError{Input: input, With: with, Msg: msg})
}

func (l *loader) report(e *InputError) {
	if l.failed == nil {
		l.failed = map[string]bool{}
	}
	l.failed[e.Input] = true
	l.errs = append(l.errs, e)
}

// Hidden reports whether r is a control or format character (Unicode Cc,
// Cf, or the line and paragraph separators Zl, Zp), or a byte that is not
// UTF-8: characters that end a line, hide text or reorder it, which no
// input may hold.
func Hidden(r rune) bool {
	return r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// SplitsArgument reports whether r cannot stand inside one argument of
// Cargo's credential-provider setting. Cargo reads the setting as a
// StringList, split with Rust's str::split_whitespace, that is on every
// Unicode White_Space character (no-break space, U+2028, vertical tab,
// form feed, ... as well as space, tab and line breaks), which is Go's
// unicode.IsSpace. Every separator (Z*) and every Hidden character is
// refused too, so that no argument looks like another.
func SplitsArgument(r rune) bool {
	return unicode.IsSpace(r) || unicode.In(r, unicode.Z) || Hidden(r)
}

// BadCharacter returns the first character of v for which bad is true.
func BadCharacter(v string, bad func(rune) bool) (rune, bool) {
	for _, r := range v {
		if bad(r) {
			return r, true
		}
	}
	return 0, false
}

// checkCharacters refuses an input holding a Hidden character and, in
// provider mode, one of ProviderInputs holding a character that
// SplitsArgument: Cargo would cut the value there and read the rest as
// more arguments (another --url). An input already refused is not blamed
// twice. The character is named by its code point, never printed.
func (l *loader) checkCharacters(provider bool) {
	carried := map[string]bool{}
	if provider {
		for _, in := range ProviderInputs {
			carried[in] = true
		}
	}
	for _, in := range Inputs {
		if l.failed[in] {
			continue
		}
		v := l.get(in)
		if r, ok := BadCharacter(v, Hidden); ok {
			l.fail(in, fmt.Sprintf("holds %U, a control character or invisible format character (such as a line break); give the value on one line, without invisible characters", r))
		} else if r, ok := BadCharacter(v, SplitsArgument); ok && carried[in] {
			l.fail(in, fmt.Sprintf("holds the space character %U, where Cargo would split its credential-provider setting into another argument; remove it, or use credential-mode: token", r))
		}
	}
}

func (l *loader) err() error { return errors.Join(l.errs...) }

// checkForeign reports inputs given a non-default value that p does not read.
func (l *loader) checkForeign(p Provider) {
	mine := map[string]bool{}
	for _, in := range append(append([]string{}, common...), p.Inputs()...) {
		mine[in] = true
	}
	for _, in := range Inputs {
		v := l.get(in)
		if mine[in] || v == "" || v == defaults[in] {
			continue
		}
		var names []string
		for _, q := range UsedBy(in) {
			names = append(names, string(q))
		}
		l.fail(in, fmt.Sprintf("is not used with provider %s (it belongs to %s); remove it", p, strings.Join(names, ", ")))
	}
}

func (l *loader) required(name, what string) string {
	v := l.get(name)
	if v == "" {
		l.fail(name, "is required: "+what)
	}
	return v
}

func (l *loader) boolean(name string) bool {
	v := l.get(name)
	if v == "" {
		v = defaults[name]
	}
	switch v {
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE", "":
		return false
	}
	l.fail(name, fmt.Sprintf("%q is not a boolean; use true or false", v))
	return false
}

func (l *loader) retries() int {
	v := l.get("retries")
	if v == "" {
		return DefaultRetries
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > MaxRetries {
		l.fail("retries", fmt.Sprintf("%q is not allowed; use a whole number from 0 to %d", v, MaxRetries))
		return DefaultRetries
	}
	return int(n)
}

func (l *loader) timeout() time.Duration {
	v := l.get("timeout")
	if v == "" {
		return DefaultTimeout
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinTimeout || d > MaxTimeout {
		l.fail("timeout", fmt.Sprintf("%q is not allowed; use a Go duration from %s to %s, like 60s or 2m", v, MinTimeout, MaxTimeout))
		return DefaultTimeout
	}
	return d
}

// baseURL validates an https URL with no path, query or credentials.
func (l *loader) baseURL(name, def string) string {
	v := l.get(name)
	if v == "" {
		if def == "" {
			l.fail(name, "is required: the service's base URL, like https://example.jfrog.io")
		}
		return def
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "":
		l.fail(name, fmt.Sprintf("%q is not a URL; give the base URL, like https://example.jfrog.io", v))
	case u.Scheme != "https":
		l.fail(name, fmt.Sprintf("%q must use https: the ID token and the access token would travel in clear text", v))
	case u.User != nil:
		l.fail(name, "must not hold credentials (user:password@); the action authenticates with OIDC")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "?"):
		l.fail(name, fmt.Sprintf("%q must not have a query or fragment; give the base URL only, like https://%s", v, u.Host))
	case strings.Trim(u.Path, "/") != "":
		l.fail(name, fmt.Sprintf("%q must not have a path (%s); give the base URL only, like https://%s", v, u.Path, u.Host))
	default:
		return "https://" + u.Host
	}
	return ""
}

func (l *loader) registryName(def string) string {
	v := l.get("registry-name")
	if v == "" {
		return def
	}
	if v == "crates-io" {
		l.fail("registry-name", `"crates-io" is Cargo's own name for crates.io; choose another name`)
		return v
	}
	if err := cargoconf.ValidateRegistryName(v); err != nil {
		l.fail("registry-name", err.Error())
	}
	return v
}

// index returns index-url when given (validated), else the index computed
// from repository. Giving both is refused rather than letting one win: the
// other would be silently ignored, and which one was meant cannot be told.
func (l *loader) index(computed func() string, repoWhat string) string {
	v := l.get("index-url")
	repo := l.get("repository")
	if v == "" {
		if repo == "" {
			l.fail("repository", "is required (or give index-url): "+repoWhat)
			return ""
		}
		// "" when an input the index is computed from was refused; that
		// input's error says so, and repository is not blamed for it.
		return computed()
	}
	if repo != "" {
		l.conflict("index-url", "repository", "are both set; give one of them: repository computes the index, index-url names it directly (a mirror, another host)")
	}
	return l.indexURL(v)
}

// indexURL validates the index-url input v (not empty): sparse+https, no
// query, fragment or credentials; a missing final / is added.
func (l *loader) indexURL(v string) string {
	rest, ok := strings.CutPrefix(v, "sparse+")
	u, err := url.Parse(rest)
	switch {
	case !ok:
		l.fail("index-url", fmt.Sprintf("%q is not a sparse index; it must start with sparse+https://", v))
	case err != nil || u.Scheme != "https" || u.Host == "":
		l.fail("index-url", fmt.Sprintf("%q must be sparse+https://host/path/", v))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		l.fail("index-url", fmt.Sprintf("%q must not have a query, fragment or credentials", v))
	case strings.ContainsAny(v, " \t"):
		l.fail("index-url", "must not contain spaces")
	default:
		if !strings.HasSuffix(v, "/") {
			v += "/" // Cargo requires a sparse index URL to end in '/'.
		}
		return v
	}
	return ""
}

// schemeOr validates token-scheme; def is the scheme when it is empty.
func (l *loader) schemeOr(def string) string {
	v := l.get("token-scheme")
	switch {
	case v == "":
		return def
	case strings.EqualFold(v, "none"):
		return ""
	}
	for i, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')) {
			l.fail("token-scheme", fmt.Sprintf("%q is not an HTTP auth scheme; use Bearer (the default), Token, or none for the raw token", v))
			return def
		}
	}
	return v
}

// Authorization returns the value Cargo sends: scheme and token.
func (c *Config) Authorization(token string) string {
	if c.TokenScheme == "" {
		return token
	}
	return c.TokenScheme + " " + token
}

package config

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// spec is everything the code knows about one provider. Every list and
// choice that depends on the provider (its title, aliases, the inputs it
// reads, how they are validated, the registry name, the token scheme, the
// exchange it builds, the credential-provider arguments) is derived from
// the ordered table providers, so a new provider is one entry there; a
// missing field fails TestProviderTable instead of falling back to another
// provider.
type spec struct {
	name    Provider
	aliases []string
	title   string
	// inputs are the inputs it reads besides the common ones, in
	// action.yml's order.
	inputs []string
	// registry is the default registry name; "" for crates.io, which is
	// Cargo's own registry and has no index of the action's.
	registry string
	// scheme is the token scheme Cargo gets when token-scheme is empty,
	// for providers that read token-scheme.
	scheme string
	// load reads the provider's own inputs into c.
	load func(l *loader, c *Config)
	// service builds the exchange.
	service func(c *Config, s serviceDeps) exchange.Service
}

// serviceDeps are what building an exchange.Service takes besides the
// Config.
type serviceDeps struct {
	client *exchange.Client
	mask   func(string)
	now    func() time.Time
	getenv func(string) string
}

// registryInputs are the inputs of every provider that configures a
// registry of its own (all but crates.io).
var registryInputs = []string{"index-url", "registry-name", "default-registry", "token-scheme", "replace-crates-io", "config-file"}

func withRegistry(in ...string) []string { return append(in, registryInputs...) }

// providers is the ordered table of providers: the order of the lists and
// messages that name them.
var providers = []spec{
	{
		name: JFrog, aliases: []string{"artifactory"}, title: "JFrog", registry: "artifactory", scheme: DefaultTokenScheme,
		inputs: withRegistry("url", "provider-name", "audience", "identity-mapping-name", "project-key", "repository"),
		load:   loadJFrog,
		service: func(c *Config, s serviceDeps) exchange.Service {
			return &exchange.JFrog{Client: s.client, BaseURL: c.URL, ProviderName: c.ProviderName,
				IdentityMappingName: c.IdentityMappingName, ProjectKey: c.ProjectKey, Audience: c.Audience,
				Context: exchange.JFrogContextFromEnv(s.getenv), Mask: s.mask, Now: s.now}
		},
	},
	{
		name: Cloudsmith, title: "Cloudsmith", registry: "cloudsmith", scheme: DefaultTokenScheme,
		inputs: withRegistry("url", "namespace", "service-slug", "audience", "repository"),
		load:   loadCloudsmith,
		service: func(c *Config, s serviceDeps) exchange.Service {
			return &exchange.Cloudsmith{Client: s.client, BaseURL: c.URL, Namespace: c.Namespace, ServiceSlug: c.ServiceSlug,
				Audience: c.Audience, Mask: s.mask, Now: s.now}
		},
	},
	{
		name: CratesIO, aliases: []string{"crates.io", "cratesio"}, title: "crates.io",
		inputs: []string{"url", "audience", "revoke"},
		load:   loadCratesIO,
		service: func(c *Config, s serviceDeps) exchange.Service {
			return &exchange.CratesIO{Client: s.client, BaseURL: c.URL, Audience: c.Audience, Mask: s.mask, Now: s.now}
		},
	},
	{
		// AWS documents the raw token for Cargo (cargo login,
		// token-from-stdout), hence no scheme.
		name: CodeArtifact, aliases: []string{"aws-codeartifact"}, title: "AWS CodeArtifact", registry: "codeartifact",
		inputs: withRegistry("role-to-assume", "aws-region", "domain", "domain-owner", "duration", "role-session-name", "audience", "repository"),
		load:   (*loader).codeArtifact,
		service: func(c *Config, s serviceDeps) exchange.Service {
			return c.codeArtifactService(s.client, s.mask, s.now, s.getenv)
		},
	},
	{
		name: Azure, aliases: []string{"azure-artifacts", "azure-devops"}, title: "Azure Artifacts", registry: "azure", scheme: DefaultTokenScheme,
		inputs:  withRegistry("client-id", "tenant-id", "organization", "project", "feed", "audience"),
		load:    (*loader).azure,
		service: func(c *Config, s serviceDeps) exchange.Service { return c.azureService(s) },
	},
}

// lookup returns p's entry of the table.
func lookup(p Provider) (*spec, bool) {
	for i := range providers {
		if providers[i].name == p {
			return &providers[i], true
		}
	}
	return nil, false
}

// Providers returns every provider, in the table's order.
func Providers() []Provider {
	out := make([]Provider, len(providers))
	for i, s := range providers {
		out[i] = s.name
	}
	return out
}

// Aliases returns the other names ParseProvider accepts for p.
func (p Provider) Aliases() []string {
	if s, ok := lookup(p); ok {
		return append([]string(nil), s.aliases...)
	}
	return nil
}

// Title is the service's name as users know it: JFrog, Cloudsmith,
// crates.io, AWS CodeArtifact, Azure Artifacts. An unknown provider's title
// is its name.
func (p Provider) Title() string {
	if s, ok := lookup(p); ok {
		return s.title
	}
	return string(p)
}

// OwnRegistry reports whether p configures a registry of its own (an index,
// a registry name, a token scheme): every provider but crates.io, whose
// token goes to Cargo's built-in crates-io registry.
func (p Provider) OwnRegistry() bool {
	s, ok := lookup(p)
	return ok && s.registry != ""
}

// DefaultRegistryName is the registry name p uses when registry-name is
// empty ("crates-io" for crates.io, "" for an unknown provider).
func (p Provider) DefaultRegistryName() string {
	s, ok := lookup(p)
	switch {
	case !ok:
		return ""
	case s.registry == "":
		return "crates-io"
	}
	return s.registry
}

// Inputs returns the inputs p reads besides the common ones.
func (p Provider) Inputs() []string {
	if s, ok := lookup(p); ok {
		return append([]string(nil), s.inputs...)
	}
	return nil
}

// ParseProvider reads the provider input: a provider's name or an alias
// (see Aliases), in any case. When ok is false, p is the name lower-cased,
// "" for none.
func ParseProvider(name string) (p Provider, ok bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, s := range providers {
		if n == string(s.name) {
			return s.name, true
		}
		for _, a := range s.aliases {
			if n == a {
				return s.name, true
			}
		}
	}
	return Provider(n), false
}

// providerChoices is "jfrog (or artifactory), cloudsmith, ... or azure",
// for the provider input's errors.
func providerChoices() string {
	var names []string
	for _, s := range providers {
		n := string(s.name)
		if s.name == JFrog {
			n += " (or artifactory)"
		}
		names = append(names, n)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// UsedBy returns the providers that read an input (nil for common inputs).
func UsedBy(input string) []Provider {
	var out []Provider
	for _, s := range providers {
		for _, in := range s.inputs {
			if in == input {
				out = append(out, s.name)
			}
		}
	}
	return out
}

// Service returns the token exchange c describes. mask receives every
// secret the exchange obtains (nil: none is masked, as in the credential
// provider, which prints no log); getenv supplies the job context JFrog's
// exchange carries and the endpoint variables (AWS_ENDPOINT_URL*,
// AZURE_AUTHORITY_HOST). An unknown provider gives a Service whose
// Exchange fails.
func (c *Config) Service(client *exchange.Client, mask func(string), now func() time.Time, getenv func(string) string) exchange.Service {
	s, ok := lookup(c.Provider)
	if !ok {
		return &failedService{err: fmt.Errorf("config: provider %q is not known; use %s", c.Provider, providerChoices())}
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return s.service(c, serviceDeps{client: client, mask: mask, now: now, getenv: getenv})
}

// ProviderArg is one "--name=value" argument of Cargo's credential-provider
// setting.
type ProviderArg struct{ Name, Value string }

// carried are the inputs credential-mode: provider writes into Cargo's
// credential-provider setting, in order, with the value each carries:
// the normalised value (a computed index, the default audience), so that
// the provider needs no input the index or audience were computed from.
// The ones a provider does not read (see spec.inputs) are left out.
var carried = []struct {
	name  string
	value func(*Config) string
}{
	{"provider", func(c *Config) string { return string(c.Provider) }},
	{"url", func(c *Config) string { return c.URL }},
	{"provider-name", func(c *Config) string { return c.ProviderName }},
	{"identity-mapping-name", func(c *Config) string { return c.IdentityMappingName }},
	{"project-key", func(c *Config) string { return c.ProjectKey }},
	{"namespace", func(c *Config) string { return c.Namespace }},
	{"service-slug", func(c *Config) string { return c.ServiceSlug }},
	{"role-to-assume", func(c *Config) string { return c.RoleARN }},
	{"aws-region", func(c *Config) string { return c.Region }},
	{"domain", func(c *Config) string { return c.Domain }},
	{"domain-owner", func(c *Config) string { return c.DomainOwner }},
	{"duration", func(c *Config) string {
		if c.Duration <= 0 {
			return ""
		}
		return fmt.Sprint(int64(c.Duration / time.Second))
	}},
	{"role-session-name", func(c *Config) string { return c.RoleSessionName }},
	{"client-id", func(c *Config) string { return c.ClientID }},
	{"tenant-id", func(c *Config) string { return c.TenantID }},
	{"audience", func(c *Config) string { return c.Audience }},
	{"index-url", func(c *Config) string { return c.IndexURL }},
	{"token-scheme", func(c *Config) string { return cmp.Or(c.TokenScheme, "none") }},
	{"retries", func(c *Config) string { return fmt.Sprint(c.Retries) }},
	{"timeout", func(c *Config) string { return c.Timeout.String() }},
}

// ProviderInputs are the inputs that credential-mode: provider writes into
// Cargo's credential-provider setting (credprovider.Command, through
// ProviderArgs), as "--name=value" arguments.
var ProviderInputs = func() []string {
	out := make([]string, len(carried))
	for i, a := range carried {
		out[i] = a.name
	}
	return out
}()

// ProviderArgs are the arguments of Cargo's credential-provider setting
// that make the provider mint tokens for c: every carried input that
// c.Provider reads (or every provider reads) and that has a value, in
// ProviderInputs' order. Values are not checked here (see
// credprovider.Command).
func (c *Config) ProviderArgs() []ProviderArg {
	mine := map[string]bool{}
	for _, in := range append(append([]string{}, common...), c.Provider.Inputs()...) {
		mine[in] = true
	}
	var out []ProviderArg
	for _, a := range carried {
		if !mine[a.name] {
			continue
		}
		if v := a.value(c); v != "" {
			out = append(out, ProviderArg{a.name, v})
		}
	}
	return out
}

// loadJFrog reads the JFrog inputs.
func loadJFrog(l *loader, c *Config) {
	c.URL = l.baseURL("url", "")
	c.ProviderName = l.required("provider-name", "the name of the OIDC integration in JFrog (Administration > General > Manage Integrations)")
	c.IdentityMappingName = l.get("identity-mapping-name")
	c.ProjectKey = l.get("project-key")
	c.Repository = l.get("repository")
	c.IndexURL = l.index(func() string {
		if c.URL == "" || c.Repository == "" {
			return ""
		}
		return "sparse+" + c.URL + "/artifactory/api/cargo/" + url.PathEscape(c.Repository) + "/index/"
	}, "the Cargo repository key in Artifactory")
}

// loadCloudsmith reads the Cloudsmith inputs.
func loadCloudsmith(l *loader, c *Config) {
	c.URL = l.baseURL("url", exchange.DefaultCloudsmithURL)
	c.Namespace = l.required("namespace", "the Cloudsmith workspace (organisation) slug")
	c.ServiceSlug = l.required("service-slug", "the slug of the Cloudsmith service account to authenticate as")
	c.Repository = l.get("repository")
	c.IndexURL = l.index(func() string {
		if c.Namespace == "" || c.Repository == "" {
			return ""
		}
		return "sparse+https://cargo.cloudsmith.io/" + url.PathEscape(c.Namespace) + "/" + url.PathEscape(c.Repository) + "/"
	}, "the Cloudsmith repository slug")
}

// loadCratesIO reads the crates.io inputs.
func loadCratesIO(l *loader, c *Config) {
	c.URL = l.baseURL("url", exchange.DefaultCratesIOURL)
	if c.Audience == "" {
		c.Audience = exchange.CratesIOAudience
	}
}

package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// validInputs are, per provider, inputs Load accepts. TestProviderTable
// fails for a provider without an entry.
var validInputs = map[Provider]map[string]string{
	JFrog:      jfrogOK,
	Cloudsmith: {"provider": "cloudsmith", "namespace": "acme", "service-slug": "ci", "repository": "crates"},
	CratesIO:   {"provider": "crates-io"},
	CodeArtifact: {"provider": "codeartifact", "role-to-assume": "arn:aws:iam::111122223333:role/ci", "aws-region": "eu-west-1",
		"domain": "acme", "domain-owner": "111122223333", "repository": "crates"},
	Azure: azureOK,
}

// TestProviderTable walks the provider table: every provider has a unique
// name, title and aliases, ParseProvider reads each of them, its inputs are
// known inputs, it loads from valid inputs into an exchange of its own (not
// another provider's, not the failing one), its credential-provider
// arguments name only inputs it reads, and README.md and action.yml name
// it. A provider added to the table but missed in one of these places
// fails here instead of becoming JFrog.
func TestProviderTable(t *testing.T) {
	t.Parallel()
	readme := readRepoFile(t, "README.md")
	actionYML := readRepoFile(t, "action.yml")
	setupYML := readRepoFile(t, "setup/action.yml")
	names := map[string]Provider{}
	titles := map[string]Provider{}
	services := map[string]Provider{}
	for _, p := range Providers() {
		t.Run(string(p), func(t *testing.T) {
			s, ok := lookup(p)
			if !ok || s.title == "" || p.Title() != s.title || s.load == nil || s.service == nil || len(s.inputs) == 0 {
				t.Fatalf("incomplete table entry %+v", s)
			}
			for _, n := range append([]string{string(p)}, p.Aliases()...) {
				if q, dup := names[n]; dup {
					t.Errorf("name %q is %s's and %s's", n, q, p)
				}
				names[n] = p
				if got, ok := ParseProvider(strings.ToUpper(n)); !ok || got != p {
					t.Errorf("ParseProvider(%q) = %q, %v", strings.ToUpper(n), got, ok)
				}
			}
			if q, dup := titles[p.Title()]; dup {
				t.Errorf("title %q is %s's and %s's", p.Title(), q, p)
			}
			titles[p.Title()] = p
			for _, in := range p.Inputs() {
				if !slices.Contains(Inputs, in) || slices.Contains(common, in) {
					t.Errorf("input %s is not an input of action.yml, or is common", in)
				}
			}
			in, ok := validInputs[p]
			if !ok {
				t.Fatalf("no valid inputs for %s in validInputs", p)
			}
			cfg, err := Load(withDefaults(in))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Provider != p || cfg.RegistryName != p.DefaultRegistryName() || cfg.RegistryName == "" {
				t.Errorf("loaded provider %q registry %q", cfg.Provider, cfg.RegistryName)
			}
			if p.OwnRegistry() != (cfg.IndexURL != "") {
				t.Errorf("OwnRegistry %v but index %q", p.OwnRegistry(), cfg.IndexURL)
			}
			svc := cfg.Service(exchange.NewClient(exchange.HTTPConfig{}), nil, time.Now, func(string) string { return "" })
			if _, failed := svc.(*failedService); failed || svc == nil {
				t.Fatalf("Service = %T", svc)
			}
			typ := strings.TrimPrefix(strings.TrimPrefix(typeName(svc), "*"), "exchange.")
			if q, dup := services[typ]; dup {
				t.Errorf("%s builds %s's exchange %s", p, q, typ)
			}
			services[typ] = p
			for _, a := range cfg.ProviderArgs() {
				if !slices.Contains(p.Inputs(), a.Name) && !slices.Contains(common, a.Name) {
					t.Errorf("credential-provider argument --%s is not an input of %s", a.Name, p)
				}
			}
			for _, doc := range []struct{ name, text string }{{"README.md", readme}, {"action.yml", actionYML}, {"setup/action.yml", setupYML}} {
				if !strings.Contains(doc.text, string(p)) {
					t.Errorf("%s does not name provider %s", doc.name, p)
				}
			}
			if !strings.Contains(readme, p.Title()) {
				t.Errorf("README.md does not name %s", p.Title())
			}
		})
	}
}

// TestUnknownProviderIsNoneOfThem: a provider that is not in the table
// gets no title of another, no registry, and a Service that fails before
// any request, rather than JFrog's exchange.
func TestUnknownProviderIsNoneOfThem(t *testing.T) {
	t.Parallel()
	p := Provider("nexus")
	if p.Title() != "nexus" || p.OwnRegistry() || p.DefaultRegistryName() != "" || p.Inputs() != nil {
		t.Errorf("unknown provider: title %q, own registry %v, registry %q, inputs %q", p.Title(), p.OwnRegistry(), p.DefaultRegistryName(), p.Inputs())
	}
	c := &Config{Provider: p, URL: "https://example.jfrog.io", ProviderName: "gh"}
	svc := c.Service(exchange.NewClient(exchange.HTTPConfig{}), nil, time.Now, nil)
	_, err := svc.Exchange(context.Background(), exchange.IDTokenFunc(func(context.Context, string) (string, error) {
		t.Error("the ID token was asked for")
		return "", nil
	}))
	if err == nil || !strings.Contains(err.Error(), `provider "nexus" is not known`) || !strings.Contains(err.Error(), "azure") {
		t.Errorf("Exchange error = %v", err)
	}
	if args := c.ProviderArgs(); len(args) != 3 || args[0].Name != "provider" {
		t.Errorf("ProviderArgs = %q, want only provider, retries and timeout", args)
	}
}

// TestProviderChoices: the provider input's errors list every provider.
func TestProviderChoices(t *testing.T) {
	t.Parallel()
	_, err := Load(withDefaults(map[string]string{"provider": "nexus"}))
	for _, p := range Providers() {
		if err == nil || !strings.Contains(err.Error(), string(p)) {
			t.Errorf("error %v does not name %s", err, p)
		}
	}
}

func typeName(v any) string { return strings.TrimPrefix(fmt.Sprintf("%T", v), "exchange.") }

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

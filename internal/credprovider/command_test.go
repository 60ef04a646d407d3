package credprovider

import (
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/config"
)

// carried is the part of a configuration the credential-provider setting
// carries to the provider.
type carried struct {
	Provider                                                config.Provider
	URL, ProviderName, IdentityMappingName, ProjectKey      string
	Namespace, ServiceSlug, Audience, IndexURL, TokenScheme string
	Retries                                                 int
	Timeout                                                 time.Duration
}

func carriedOf(c *config.Config) carried {
	return carried{c.Provider, c.URL, c.ProviderName, c.IdentityMappingName, c.ProjectKey,
		c.Namespace, c.ServiceSlug, c.Audience, c.IndexURL, c.TokenScheme, c.Retries, c.Timeout}
}

// TestCommandRoundTrip: what Command writes, ParseArgs reads back as the same
// configuration, for every provider and option the setting carries.
func TestCommandRoundTrip(t *testing.T) {
	t.Parallel()
	const bin = "/home/runner/work/_temp/_github_home/.cargo-oidc/bin/cargo-oidc"
	tests := []struct {
		name   string
		inputs map[string]string
		record string
		want   string // the setting, with bin replaced by BIN
	}{
		{"jfrog", map[string]string{"provider": "jfrog", "url": "https://x.jfrog.io", "provider-name": "gh", "repository": "cargo-local"}, "",
			"BIN --provider=jfrog --url=https://x.jfrog.io --provider-name=gh --index-url=sparse+https://x.jfrog.io/artifactory/api/cargo/cargo-local/index/ --token-scheme=Bearer --retries=3 --timeout=1m0s"},
		{"jfrog every option", map[string]string{"provider": "artifactory", "url": "https://x.jfrog.io", "provider-name": "gh", "identity-mapping-name": "map",
			"project-key": "proj", "audience": "jfrog-aud", "index-url": "sparse+https://mirror.example/index/", "token-scheme": "none", "retries": "0"}, "",
			"BIN --provider=jfrog --url=https://x.jfrog.io --provider-name=gh --identity-mapping-name=map --project-key=proj --audience=jfrog-aud --index-url=sparse+https://mirror.example/index/ --token-scheme=none --retries=0 --timeout=1m0s"},
		{"cloudsmith", map[string]string{"provider": "cloudsmith", "namespace": "octo", "service-slug": "ci-bot", "repository": "crates", "token-scheme": "Token"}, "",
			"BIN --provider=cloudsmith --url=https://api.cloudsmith.io --namespace=octo --service-slug=ci-bot --index-url=sparse+https://cargo.cloudsmith.io/octo/crates/ --token-scheme=Token --retries=3 --timeout=1m0s"},
		{"crates-io", map[string]string{"provider": "crates-io", "retries": "10", "timeout": "5m"}, "/tmp/home/.cargo-oidc/minted-x/tokens",
			"BIN --provider=crates-io --url=https://crates.io --audience=crates.io --retries=10 --timeout=5m0s --minted-record=/tmp/home/.cargo-oidc/minted-x/tokens"},
		{"crates-io with audience", map[string]string{"provider": "crates-io", "url": "https://staging.crates.io", "audience": "staging.crates.io"}, "",
			"BIN --provider=crates-io --url=https://staging.crates.io --audience=staging.crates.io --retries=3 --timeout=1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.inputs["credential-mode"] = "provider"
			cfg, err := config.Load(func(name string) string { return tt.inputs[name] })
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := Command(cfg, bin, tt.record)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Replace(cmd, bin, "BIN", 1); got != tt.want {
				t.Errorf("setting\n got %s\nwant %s", got, tt.want)
			}
			fields := strings.Fields(cmd) // as Cargo splits it
			if fields[0] != bin {
				t.Fatalf("the setting starts with %q, want the binary", fields[0])
			}
			o, err := ParseArgs(fields[1:])
			if err != nil {
				t.Fatalf("ParseArgs of the written setting: %v", err)
			}
			if got, want := carriedOf(o.Config()), carriedOf(cfg); got != want {
				t.Errorf("read back\n got %+v\nwant %+v", got, want)
			}
			if o.Record != tt.record {
				t.Errorf("record read back %q, want %q", o.Record, tt.record)
			}
		})
	}
}

// TestCommandRefusesWhitespace: Cargo splits the setting on spaces, so a
// path or value holding whitespace is refused with the input's name.
func TestCommandRefusesWhitespace(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Provider: config.JFrog, URL: "https://x.jfrog.io", ProviderName: "git hub", ProjectKey: "a\tb", Retries: 3}
	if _, err := Command(cfg, "/bin/cargo-oidc", ""); err == nil || !strings.Contains(err.Error(), "input provider-name, project-key holds whitespace") {
		t.Errorf("err = %v, want one naming provider-name and project-key", err)
	}
	cfg.ProviderName, cfg.ProjectKey = "gh", ""
	if _, err := Command(cfg, "/home/my runner/cargo-oidc", ""); err == nil || !strings.Contains(err.Error(), "contains whitespace") {
		t.Errorf("err = %v, want one about the home folder", err)
	}
}

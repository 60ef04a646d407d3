package config

import (
	"context"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const (
	testClientID = "11111111-2222-3333-4444-555555555555"
	testTenantID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

var azureOK = map[string]string{
	"provider": "azure", "client-id": testClientID, "tenant-id": testTenantID, "organization": "contoso", "project": "Fabrikam Web", "feed": "crates",
}

func TestLoadAzure(t *testing.T) {
	type test struct {
		in    map[string]string
		check func(c *Config) bool
	}
	testenv.Run(t, map[string]test{
		"project-scoped feed": {azureOK, func(c *Config) bool {
			return c.Provider == Azure && c.ClientID == testClientID && c.TenantID == testTenantID && c.RegistryName == "azure" &&
				c.IndexURL == "sparse+https://pkgs.dev.azure.com/contoso/Fabrikam%20Web/_packaging/crates/Cargo/index/" &&
				c.Authorization("t") == "Bearer t" && c.Audience == ""
		}},
		"organisation-scoped feed": {merge(azureOK, "project", ""), func(c *Config) bool {
			return c.IndexURL == "sparse+https://pkgs.dev.azure.com/contoso/_packaging/crates/Cargo/index/"
		}},
		"tenant as a verified domain": {merge(azureOK, "tenant-id", "contoso.onmicrosoft.com"), func(c *Config) bool { return c.TenantID == "contoso.onmicrosoft.com" }},
		"upper-case GUIDs":            {merge(azureOK, "client-id", strings.ToUpper(testClientID)), func(c *Config) bool { return c.ClientID == strings.ToUpper(testClientID) }},
		"index-url alone (Azure DevOps Server)": {merge(azureOK, "organization", "", "project", "", "feed", "", "index-url", "sparse+https://tfs.example/DefaultCollection/_packaging/crates/Cargo/index"),
			func(c *Config) bool {
				return c.IndexURL == "sparse+https://tfs.example/DefaultCollection/_packaging/crates/Cargo/index/"
			}},
		"every registry option": {merge(azureOK, "registry-name", "ado", "default-registry", "true", "replace-crates-io", "true", "token-scheme", "none", "audience", "custom-aud"),
			func(c *Config) bool {
				return c.RegistryName == "ado" && c.DefaultRegistry && c.ReplaceCratesIO && c.TokenScheme == "" && c.Audience == "custom-aud"
			}},
		"provider mode":             {merge(azureOK, "credential-mode", "provider"), func(c *Config) bool { return c.CredentialMode == ModeProvider }},
		"feed with dots and dashes": {merge(azureOK, "feed", "my-feed.v2_x"), func(c *Config) bool { return strings.Contains(c.IndexURL, "/_packaging/my-feed.v2_x/") }},
	}, func(t *testing.T, _ string, tt test) {
		c, err := Load(withDefaults(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if !tt.check(c) {
			t.Errorf("config %+v", *c)
		}
	})
}

// TestAzureService: the exchange gets the tenant, client and audience, and
// its authority from AZURE_AUTHORITY_HOST (exchange.AzureAuthorityFromEnv,
// whose table has every rule); a refused authority fails the exchange
// before any request, with the variable named.
func TestAzureService(t *testing.T) {
	t.Parallel()
	c, err := Load(withDefaults(merge(azureOK, "audience", "aud-x")))
	if err != nil {
		t.Fatal(err)
	}
	client := exchange.NewClient(exchange.HTTPConfig{})
	tests := []struct {
		host      string
		authority string
		wantErr   string
	}{
		{"", exchange.DefaultAzureAuthority, ""},
		{"https://login.microsoftonline.us/", "https://login.microsoftonline.us", ""},
		{"http://127.0.0.1:8080", "", "AZURE_AUTHORITY_HOST must be an https URL"},
	}
	for _, tt := range tests {
		svc := c.Service(client, nil, nil, testenv.Getenv(map[string]string{exchange.EnvAzureAuthorityHost: tt.host}))
		if tt.wantErr == "" {
			z, ok := svc.(*exchange.Azure)
			if !ok || z.Authority != tt.authority || z.TenantID != testTenantID || z.ClientID != testClientID || z.IDTokenAudience() != "aud-x" {
				t.Errorf("host %q: service %#v", tt.host, svc)
			}
			continue
		}
		_, err := svc.Exchange(context.Background(), exchange.IDTokenFunc(func(context.Context, string) (string, error) {
			t.Error("the ID token was asked for")
			return "", nil
		}))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "microsoft entra: ") {
			t.Errorf("host %q: error %v, want %q", tt.host, err, tt.wantErr)
		}
		if svc.IDTokenAudience() != "aud-x" {
			t.Errorf("audience %q", svc.IDTokenAudience())
		}
	}
}

// TestAzureIndex pins the feed URLs Microsoft documents.
func TestAzureIndex(t *testing.T) {
	t.Parallel()
	for _, tt := range [][4]string{
		{"ORG", "PROJ", "FEED", "sparse+https://pkgs.dev.azure.com/ORG/PROJ/_packaging/FEED/Cargo/index/"},
		{"ORG", "", "FEED", "sparse+https://pkgs.dev.azure.com/ORG/_packaging/FEED/Cargo/index/"},
		{"o", "a b", "f", "sparse+https://pkgs.dev.azure.com/o/a%20b/_packaging/f/Cargo/index/"},
	} {
		if got := AzureIndex(tt[0], tt[1], tt[2]); got != tt[3] {
			t.Errorf("AzureIndex(%q, %q, %q) = %q, want %q", tt[0], tt[1], tt[2], got, tt[3])
		}
	}
}

// FuzzLoadAzure: whatever Azure inputs Load accepts give GUID client
// IDs, a tenant that names one tenant, an https sparse index ending in /,
// on pkgs.dev.azure.com unless index-url named it, and no hidden
// character anywhere.
func FuzzLoadAzure(f *testing.F) {
	f.Add(testClientID, testTenantID, "contoso", "Fabrikam Web", "crates", "")
	f.Add(testClientID, "contoso.onmicrosoft.com", "", "", "", "sparse+https://tfs.example/c/_packaging/f/Cargo/index")
	f.Add(testClientID, "common", "o", "p/../q", "f?x", "")
	f.Add("{"+testClientID+"}", "a..b", "-o-", "_p", ".f", "sparse+http://x/")
	f.Fuzz(func(t *testing.T, client, tenant, org, project, feed, index string) {
		in := map[string]string{"provider": "azure", "client-id": client, "tenant-id": tenant, "organization": org,
			"project": project, "feed": feed, "index-url": index}
		c, err := Load(withDefaults(in))
		if err != nil {
			return
		}
		if !isGUID(c.ClientID) || c.TenantID == "" || strings.EqualFold(c.TenantID, "common") || strings.ContainsAny(c.TenantID, "/?#% ") {
			t.Errorf("accepted client %q tenant %q", c.ClientID, c.TenantID)
		}
		if !strings.HasPrefix(c.IndexURL, "sparse+https://") || !strings.HasSuffix(c.IndexURL, "/") || strings.ContainsAny(c.IndexURL, " \t\n") {
			t.Errorf("accepted index %q", c.IndexURL)
		}
		if strings.TrimSpace(index) == "" && (!strings.HasPrefix(c.IndexURL, "sparse+https://pkgs.dev.azure.com/") || !strings.HasSuffix(c.IndexURL, "/Cargo/index/") ||
			strings.Count(c.IndexURL, "/") != map[bool]int{true: 8, false: 9}[c.Project == ""]) {
			t.Errorf("index %q from organization %q project %q feed %q", c.IndexURL, org, project, feed)
		}
		for k, v := range in {
			if r, bad := BadCharacter(strings.TrimSpace(v), Hidden); bad {
				t.Errorf("accepted input %s holding %U", k, r)
			}
		}
	})
}

package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// Azure Artifacts input rules, from Microsoft's naming rules for Azure
// DevOps organisations, projects and feeds, and Entra's for tenants and
// application IDs. Hand-written like the CodeArtifact rules (no regexp
// compiled at init).

// isGUID reports whether s is a GUID in its usual form,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits, any case).
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Entra's token endpoint takes the tenant "in GUID or domain-name format"
// (Microsoft identity platform, OAuth 2.0 client credentials flow:
// learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow);
// common, organizations and consumers name no tenant and cannot hold a
// federated credential.

// isDomainName reports whether s is a DNS name of two or more labels
// (letters, digits, hyphens; no label starting or ending with a hyphen;
// the last label not all digits), at most 253 characters: a tenant's
// verified domain such as contoso.onmicrosoft.com.
func isDomainName(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !isOf(l, 1, 63, func(b byte) bool { return isAlnum(b) || b == '-' }) || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	return !isDigits(labels[len(labels)-1], 1, 63)
}

// isOrganization is an Azure DevOps organisation name: 1 to 50 letters,
// digits and hyphens, starting and ending with a letter or digit.
func isOrganization(s string) bool {
	return isOf(s, 1, 50, func(b byte) bool { return isAlnum(b) || b == '-' }) && s[0] != '-' && s[len(s)-1] != '-'
}

// azureNameSpecials are the characters Azure DevOps refuses in project and
// feed names.
const azureNameSpecials = `\/:*?"<>;#$*{},+=[]|@~&%'` + "`"

// isProject is an Azure DevOps project name (or ID): 1 to 64 characters,
// printable, none of azureNameSpecials, not starting with _ or ., not
// ending with .; spaces are allowed (they are escaped in the index URL).
func isProject(s string) bool {
	if len(s) == 0 || len([]rune(s)) > 64 || s[0] == '_' || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || Hidden(r) || strings.ContainsRune(azureNameSpecials, r) {
			return false
		}
	}
	return true
}

// isFeed is an Azure Artifacts feed name (or ID): 1 to 64 letters, digits,
// -, _ and ., not starting with _ or ., not ending with .
func isFeed(s string) bool {
	return isOf(s, 1, 64, func(b byte) bool { return isAlnum(b) || b == '-' || b == '_' || b == '.' }) &&
		s[0] != '_' && s[0] != '.' && s[len(s)-1] != '.'
}

// AzureIndex is the sparse index of an Azure Artifacts Cargo feed:
// sparse+https://pkgs.dev.azure.com/<organization>[/<project>]/_packaging/<feed>/Cargo/index/
// (project "" for an organisation-scoped feed).
func AzureIndex(organization, project, feed string) string {
	p := ""
	if project != "" {
		p = "/" + url.PathEscape(project)
	}
	return "sparse+https://pkgs.dev.azure.com/" + url.PathEscape(organization) + p + "/_packaging/" + url.PathEscape(feed) + "/Cargo/index/"
}

// azure reads the Azure Artifacts inputs into c.
func (l *loader) azure(c *Config) {
	c.ClientID = l.required("client-id", "the Application (client) ID of the Entra app registration (or user-assigned managed identity) that holds the federated credential, a GUID")
	if c.ClientID != "" && !isGUID(c.ClientID) {
		l.fail("client-id", fmt.Sprintf("%q is not a GUID; give the Application (client) ID from the app registration's Overview, like 00000000-0000-0000-0000-000000000000", c.ClientID))
	}
	c.TenantID = l.required("tenant-id", "the Directory (tenant) ID of the Entra tenant, a GUID, or one of its verified domains (contoso.onmicrosoft.com)")
	if t := strings.ToLower(c.TenantID); t == "common" || t == "organizations" || t == "consumers" {
		l.fail("tenant-id", fmt.Sprintf("%q names no tenant, and a federated credential belongs to one; give the Directory (tenant) ID (a GUID) or a verified domain of the tenant", c.TenantID))
	} else if c.TenantID != "" && !isGUID(c.TenantID) && !isDomainName(c.TenantID) {
		l.fail("tenant-id", fmt.Sprintf("%q is neither a GUID nor a domain name; give the Directory (tenant) ID from the app registration's Overview, or a verified domain of the tenant like contoso.onmicrosoft.com", c.TenantID))
	}
	c.Organization = l.get("organization")
	c.Project = l.get("project")
	c.Feed = l.get("feed")
	if c.Organization != "" && !isOrganization(c.Organization) {
		l.fail("organization", fmt.Sprintf("%q is not an Azure DevOps organisation name (1 to 50 of A-Z a-z 0-9 -, the ORG of https://dev.azure.com/ORG)", c.Organization))
	}
	if c.Project != "" && !isProject(c.Project) {
		l.fail("project", fmt.Sprintf("%q is not an Azure DevOps project name (at most 64 characters, none of %s, not starting with _ or .); leave it empty for an organisation-scoped feed", c.Project, azureNameSpecials))
	}
	if c.Feed != "" && !isFeed(c.Feed) {
		l.fail("feed", fmt.Sprintf("%q is not an Azure Artifacts feed name (1 to 64 of A-Z a-z 0-9 - _ ., not starting with _ or .)", c.Feed))
	}
	if v := l.get("index-url"); v != "" {
		for _, in := range [][2]string{{"organization", c.Organization}, {"project", c.Project}, {"feed", c.Feed}} {
			if in[1] != "" {
				l.conflict("index-url", in[0], "are both set; give organization, project (for a project-scoped feed) and feed, or index-url alone for a feed URL they cannot express (Azure DevOps Server)")
				return
			}
		}
		c.IndexURL = l.indexURL(v)
		return
	}
	switch {
	case c.Organization == "" && c.Feed == "":
		l.fail("feed", "is required, with organization (or give index-url): the Azure Artifacts feed's name, as in https://dev.azure.com/ORG/[PROJECT/]_artifacts/feed/FEED")
	case c.Organization == "":
		l.fail("organization", "is required with feed: the Azure DevOps organisation, the ORG of https://dev.azure.com/ORG")
	case c.Feed == "":
		l.fail("feed", "is required with organization: the Azure Artifacts feed's name, as in https://dev.azure.com/ORG/[PROJECT/]_artifacts/feed/FEED")
	case !l.failed["organization"] && !l.failed["project"] && !l.failed["feed"]:
		c.IndexURL = AzureIndex(c.Organization, c.Project, c.Feed)
	}
}

// azureService builds the Azure Artifacts exchange; AZURE_AUTHORITY_HOST
// comes from s.getenv.
func (c *Config) azureService(s serviceDeps) exchange.Service {
	z := &exchange.Azure{Client: s.client, TenantID: c.TenantID, ClientID: c.ClientID, Audience: c.Audience, Mask: s.mask, Now: s.now}
	authority, err := exchange.AzureAuthorityFromEnv(s.getenv)
	if err != nil {
		return &failedService{svc: z, err: fmt.Errorf("%s: %w", exchange.ServiceAzure, err)}
	}
	z.Authority = authority
	return z
}

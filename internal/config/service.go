package config

import (
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// Service returns the token exchange c describes. mask receives every
// secret the exchange obtains (nil: none is masked, as in the credential
// provider, which prints no log); getenv supplies the job context JFrog's
// exchange carries.
func (c *Config) Service(client *exchange.Client, mask func(string), now func() time.Time, getenv func(string) string) exchange.Service {
	switch c.Provider {
	case Cloudsmith:
		return &exchange.Cloudsmith{Client: client, BaseURL: c.URL, Namespace: c.Namespace, ServiceSlug: c.ServiceSlug,
			Audience: c.Audience, Mask: mask, Now: now}
	case CodeArtifact:
		return c.codeArtifactService(client, mask, now, getenv)
	case CratesIO:
		return &exchange.CratesIO{Client: client, BaseURL: c.URL, Audience: c.Audience, Mask: mask, Now: now}
	default:
		return &exchange.JFrog{Client: client, BaseURL: c.URL, ProviderName: c.ProviderName,
			IdentityMappingName: c.IdentityMappingName, ProjectKey: c.ProjectKey, Audience: c.Audience,
			Context: exchange.JFrogContextFromEnv(getenv), Mask: mask, Now: now}
	}
}

package fakes

// Azure DevOps defaults of a Stack: tenant, application, organisation,
// project and feed.
const (
	DefaultAzureTenant, DefaultAzureClientID = "72f988bf-0000-4e2e-8e2e-000000000e2e", "0c1d2e3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5"
	DefaultAzureOrg, DefaultAzureProject     = "octo-org", "octo-project"
	DefaultAzureFeed                         = "cargo-feed"
)

// AzureIndexPrefix is the path of an Azure Artifacts Cargo index:
// /ORG[/PROJECT]/_packaging/FEED/Cargo/index/ (no project: an
// organisation-scoped feed).
func AzureIndexPrefix(org, project, feed string) string {
	p := "/" + org
	if project != "" {
		p += "/" + project
	}
	return p + "/_packaging/" + feed + "/Cargo/index/"
}

// AzureRegistry plays the Azure Artifacts Cargo feed: a Registry whose one
// root has "auth-required": true, takes only an Entra access token as
// "Bearer <token>" and answers 401 with Azure DevOps' challenges.
type AzureRegistry struct{ *Registry }

// AzureOptions configures a Stack's Azure fakes. The zero value is an
// application DefaultAzureClientID in tenant DefaultAzureTenant with one
// federated credential for the issuer's job (its sub, audience
// EntraAudience), and the feed DefaultAzureFeed of project
// DefaultAzureProject in organisation DefaultAzureOrg.
type AzureOptions struct {
	Tenant, ClientID     string
	Org, Project, Feed   string
	OrgScoped            bool // no project: an organisation-scoped feed
	FederatedCredentials []FederatedCredential
}

// Azure is a Stack's Azure side: Entra and an Azure Artifacts feed, each on
// its own host.
type Azure struct {
	Entra    *Entra
	Registry *AzureRegistry
	// AuthorityHost is Entra's base URL: the value of AZURE_AUTHORITY_HOST.
	AuthorityHost string
	// RegistryURL is the feed host's base URL (pkgs.dev.azure.com).
	RegistryURL string
	// Index is sparse+<RegistryURL>/ORG/PROJECT/_packaging/FEED/Cargo/index/;
	// pass it to the action as index-url.
	Index string
	// Org, Project ("" when organisation-scoped) and Feed name the feed.
	Org, Project, Feed string
}

// AzureAuthorityEnv is the variable that points the Azure SDKs (and the
// action) at another Entra authority host.
const AzureAuthorityEnv = "AZURE_AUTHORITY_HOST"

// startAzure starts Entra and the feed; Start calls it once the issuer,
// store and registry crates are known.
func (s *Stack) startAzure(opts Options) error {
	o := opts.Azure
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.Tenant, DefaultAzureTenant)
	def(&o.ClientID, DefaultAzureClientID)
	def(&o.Org, DefaultAzureOrg)
	def(&o.Feed, DefaultAzureFeed)
	if !o.OrgScoped {
		def(&o.Project, DefaultAzureProject)
	} else {
		o.Project = ""
	}
	if o.FederatedCredentials == nil {
		sub, _ := s.Issuer.Claims("", nil)["sub"].(string)
		o.FederatedCredentials = []FederatedCredential{{Issuer: s.IssuerURL, Subject: sub, Audience: EntraAudience}}
	}
	now := s.Clock.Now
	v := &Verifier{Issuer: s.IssuerURL, Client: s.CA.Client(), Now: now}
	a := &Azure{Org: o.Org, Project: o.Project, Feed: o.Feed}
	a.Entra = NewEntra(ServiceConfig{Verifier: v, Store: s.Store, TTL: opts.TokenTTL, Now: now}, o.Tenant, o.ClientID, o.FederatedCredentials...)
	prefix := AzureIndexPrefix(o.Org, o.Project, o.Feed)
	a.Registry = &AzureRegistry{NewRegistry(s.Store)}
	a.Registry.AddRoot(Root{Prefix: prefix, Scheme: SchemeBearer, AuthRequired: true, Service: "azure", Challenge: []string{
		"Bearer authorization_uri=https://login.microsoftonline.com/" + o.Tenant, "TFS-Federated"}})
	for _, c := range opts.Crates {
		if err := a.Registry.AddCrate(c.Name, c.Req); err != nil {
			return err
		}
	}
	entraSrv, regSrv := s.newServer(), s.newServer()
	a.AuthorityHost = serverURL(entraSrv, "127.0.0.1")
	a.RegistryURL = serverURL(regSrv, "127.0.0.1")
	a.Index = "sparse+" + a.RegistryURL + prefix
	a.Entra.Faults.RedirectTo = s.RedirectURL
	s.faults = append(s.faults, a.Entra.Faults)
	s.Azure = a
	s.run(entraSrv, a.Entra.Handler())
	s.run(regSrv, a.Registry.Handler())
	return nil
}

// AzureInputs are the action inputs of a step exchanging with the stack's
// Entra for its Azure feed: index-url in place of organization, project
// and feed (which the action turns into a pkgs.dev.azure.com URL). The step
// also needs AzureEnv in its environment.
func (s *Stack) AzureInputs() map[string]string {
	a := s.Azure
	return map[string]string{"provider": "azure", "client-id": a.Entra.ClientID, "tenant-id": a.Entra.Tenant, "index-url": a.Index}
}

// AzureEnv returns the variables that point the action at the stack's Entra.
func (s *Stack) AzureEnv() map[string]string {
	return map[string]string{AzureAuthorityEnv: s.Azure.AuthorityHost}
}

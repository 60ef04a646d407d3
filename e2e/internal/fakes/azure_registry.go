package fakes

import (
	"net/http"
	"strings"
	"sync"
)

// Azure DevOps defaults of a Stack.
const (
	DefaultAzureTenant   = "72f988bf-0000-4e2e-8e2e-000000000e2e"
	DefaultAzureClientID = "0c1d2e3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5"
	DefaultAzureOrg      = "octo-org"
	DefaultAzureProject  = "octo-project"
	DefaultAzureFeed     = "cargo-feed"
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

// AzureRegistry plays an Azure Artifacts Cargo feed
// (https://pkgs.dev.azure.com/ORG/PROJECT/_packaging/FEED/Cargo/index/): a
// sparse registry with "auth-required": true that takes only an access
// token the Entra fake issued, as "Bearer <token>" (a token of another
// service, a raw token or Basic is refused with 401 and Azure DevOps'
// WWW-Authenticate challenges). The service principal can be taken out of
// the organisation (SetMember) or left with Feed Reader only (SetPublisher),
// as the two Azure DevOps set-up mistakes.
type AzureRegistry struct {
	// Registry holds the crates and records the requests.
	*Registry
	// Prefix is the index path.
	Prefix string
	// Tenant names the authority in the Bearer challenge.
	Tenant string

	mu                sync.Mutex
	member, publisher bool
}

// NewAzureRegistry returns a feed at prefix whose tokens come from store.
func NewAzureRegistry(store *TokenStore, prefix, tenant string) *AzureRegistry {
	a := &AzureRegistry{Registry: NewRegistry(store), Prefix: prefix, Tenant: tenant, member: true, publisher: true}
	a.AddRoot(Root{Prefix: prefix, Scheme: SchemeBearer, AuthRequired: true})
	return a
}

// SetMember says whether the service principal was added to the Azure
// DevOps organisation (when not, every request gets 401 TF400813).
func (a *AzureRegistry) SetMember(ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.member = ok
}

// SetPublisher says whether the service principal has the Feed Publisher
// role (when not, only Feed Reader: publish gets 403).
func (a *AzureRegistry) SetPublisher(ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.publisher = ok
}

// challenge adds Azure DevOps' WWW-Authenticate headers to a 401.
type challenge struct {
	http.ResponseWriter
	tenant string
}

// WriteHeader adds the challenges before a 401.
func (c *challenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		h := c.Header()
		h.Add("WWW-Authenticate", "Bearer authorization_uri=https://login.microsoftonline.com/"+c.tenant)
		h.Add("WWW-Authenticate", `Basic realm="https://pkgsprodsu3weu.app.pkgs.visualstudio.com/"`)
		h.Add("WWW-Authenticate", "TFS-Federated")
		h.Set("X-TFS-ProcessId", guid())
	}
	c.ResponseWriter.WriteHeader(code)
}

// Write sends an implicit 200.
func (c *challenge) Write(b []byte) (int, error) { return c.ResponseWriter.Write(b) }

// Handler serves the feed.
func (a *AzureRegistry) Handler() http.Handler {
	next := a.Registry.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &challenge{ResponseWriter: w, tenant: a.Tenant}
		if !strings.HasPrefix(r.URL.Path, a.Prefix) {
			next.ServeHTTP(cw, r)
			return
		}
		a.mu.Lock()
		member, publisher := a.member, a.publisher
		a.mu.Unlock()
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			it, known := a.store.Lookup(tok)
			if known && (it.Service != "azure" || it.Kind != KindAccessToken) {
				a.refuse(cw, r, http.StatusUnauthorized, "TF400813: The user '' is not authorized to access this resource.")
				return
			}
			if known && a.store.Valid(tok) && !member {
				a.refuse(cw, r, http.StatusUnauthorized, "TF400813: The user 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' is not authorized to access this resource.")
				return
			}
			if known && a.store.Valid(tok) && !publisher && r.Method == http.MethodPut {
				a.refuse(cw, r, http.StatusForbidden, "User 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' lacks permission to complete this action. You need to have 'AddPackage'.")
				return
			}
		}
		next.ServeHTTP(cw, r)
	})
}

// refuse answers like Azure DevOps and records the request.
func (a *AzureRegistry) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if a.store != nil {
		a.store.CountRequest(r.URL.Path)
	}
	writeJSON(w, status, map[string]any{"$id": "1", "innerException": nil, "message": msg,
		"typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
		"typeKey":  "UnauthorizedRequestException", "errorCode": 0, "eventId": 3000})
	a.Registry.mu.Lock()
	a.Registry.requests = append(a.Registry.requests, RegistryRequest{Method: r.Method, Path: r.URL.Path, Status: status, Token: tok})
	a.Registry.mu.Unlock()
}

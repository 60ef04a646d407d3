package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Microsoft Entra ID (workload identity federation) and Azure DevOps constants.
const (
	EntraAudience      = "api://AzureADTokenExchange" // the default aud of a federated credential
	EntraGrantType     = "client_credentials"
	EntraAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	AzureDevOpsScope   = azureDevOpsResource + "/.default" // gets an Azure DevOps token
	AzureAuthorityEnv  = "AZURE_AUTHORITY_HOST"            // points the Azure SDKs and the action at Entra
	// DefaultAzureTenant and DefaultAzureClientID are a Stack's directory and application.
	DefaultAzureTenant, DefaultAzureClientID = "72f988bf-0000-4e2e-8e2e-000000000e2e", "0c1d2e3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5"

	azureDevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798"
	entraTokenPath      = "/oauth2/v2.0/token" // after /{tenant}
	azureIndexPrefix    = "/octo-org/octo-project/_packaging/cargo-feed/Cargo/index/"
)

// Azure is a Stack's Azure side, each on its own host: Entra and an Azure
// Artifacts feed (only an Entra token as Bearer, 401 with Azure's challenges).
type Azure struct {
	Entra         *Entra
	Registry      *AzureRegistry
	AuthorityHost string // Entra's base URL: AZURE_AUTHORITY_HOST
	Index         string // the feed's sparse+https:// index URL (index-url)
}

// AzureRegistry is the Azure Artifacts feed.
type AzureRegistry struct{ *Registry }

// FederatedCredential is one federated credential of the application: the
// assertion's iss, sub and aud must equal these (case-sensitive since 2025).
type FederatedCredential struct {
	Issuer, Subject, Audience string
}

// EntraRequest is the non-secret part of one token request received.
type EntraRequest struct {
	Tenant, ClientID, GrantType, ClientAssertionType, Scope string
	Assertion                                               bool // a client_assertion was sent (its value is a secret)
}

// Entra plays POST /{tenant}/oauth2/v2.0/token for a client-credentials grant
// with a federated assertion, checking in Entra's order, refusing in its shape.
type Entra struct {
	service
	Tenant   string // the one directory (a GUID)
	ClientID string // the one application in it

	mu       sync.Mutex
	creds    []FederatedCredential
	requests []EntraRequest
	echo     bool
}

// SetCredentials replaces the application's federated credentials.
func (e *Entra) SetCredentials(creds ...FederatedCredential) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.creds = slices.Clone(creds)
}

// Received returns the non-secret fields of every POST received.
func (e *Entra) Received() []EntraRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// newEntraError builds Entra's refusal; the description's layout is the real
// one (e.g. Azure/azure-workload-identity#616).
func newEntraError(kind string, code int, msg string) entraError {
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	trace, corr := guid(), guid()
	return entraError{Error: kind, ErrorCodes: []int{code}, Timestamp: ts, TraceID: trace, CorrelationID: corr,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", code, msg, trace, corr, ts),
		ErrorURI:         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code)}
}

func entraFault(status int, kind string, code int, msg string) Fault {
	b, _ := json.Marshal(newEntraError(kind, code, msg))
	return Fault{Kind: FaultStatus, Status: status, Body: string(b), ContentType: "application/json; charset=utf-8"}
}

// EntraThrottled is Entra's throttling answer: 429 with Retry-After and
// AADSTS50196 ("client request loop").
func EntraThrottled(retryAfter string) Fault {
	f := entraFault(http.StatusTooManyRequests, "temporarily_unavailable", 50196, "The server terminated an operation because it encountered a client request loop. Please contact your app vendor.")
	f.RetryAfter = retryAfter
	return f
}

// EntraLeakyFault returns a refusal whose description carries a secret, and
// the secret, recorded in the TokenStore for the leak scan.
func (e *Entra) EntraLeakyFault() (Fault, string) {
	secret := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + randomAlnum(60) + "." + randomAlnum(43)
	e.store.Add(KindFaultToken, "azure", secret, time.Hour)
	return entraFault(http.StatusBadRequest, "invalid_client", 700027, "Client assertion failed signature validation. Presented assertion: '"+secret+"'."), secret
}

// SetEchoAssertion makes every refusal quote the client assertion (the ID
// token), as a verbose error page might.
func (e *Entra) SetEchoAssertion(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.echo = on
}

func (e *Entra) serve(w http.ResponseWriter, r *http.Request) {
	// A GET or a non-form body leaves PostForm empty: grant_type is missing.
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	_ = r.ParseForm()
	f := r.PostForm
	req := EntraRequest{Tenant: r.PathValue("tenant"), ClientID: f.Get("client_id"), GrantType: f.Get("grant_type"),
		ClientAssertionType: f.Get("client_assertion_type"), Scope: f.Get("scope"), Assertion: f.Get("client_assertion") != ""}
	e.mu.Lock()
	e.requests = append(e.requests, req)
	creds, echo := e.creds, e.echo
	e.mu.Unlock()
	refuse := func(status int, kind string, code int, msg string) {
		if echo && req.Assertion {
			msg += " Presented assertion: '" + f.Get("client_assertion") + "'."
		}
		w.Header().Set("Cache-Control", "no-store, no-cache")
		w.Header().Set("X-Ms-Request-Id", guid())
		writeJSON(w, status, newEntraError(kind, code, msg))
	}
	// One refusal stands for Entra's several parameter errors.
	missing := ""
	for _, p := range [][2]string{{"grant_type", EntraGrantType}, {"client_assertion_type", EntraAssertionType}, {"scope", AzureDevOpsScope}} {
		if missing == "" && (f.Get(p[0]) != p[1] || !req.Assertion) {
			missing = p[0]
		}
	}
	assertion := f.Get("client_assertion")
	_, claims, parseErr := parseJWT(assertion)
	iss, sub, auds := claimString(claims["iss"]), claimString(claims["sub"]), claimStrings(claims["aud"])
	var accepted []string
	for _, c := range creds {
		if c.Issuer == iss && c.Subject == sub && slices.Contains(auds, c.Audience) {
			accepted = append(accepted, c.Audience)
		}
	}
	switch {
	case req.Tenant != e.Tenant:
		refuse(http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", req.Tenant))
	case missing != "":
		refuse(http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("The request body must contain the following parameter: '%s'.", missing))
	case req.ClientID != e.ClientID:
		refuse(http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", req.ClientID, e.Tenant))
	case parseErr != nil:
		refuse(http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed.")
	case accepted == nil:
		refuse(http.StatusBadRequest, "invalid_request", 70021, fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation", iss, sub, strings.Join(auds, ",")))
	default:
		if _, err := e.v.verify(r.Context(), assertion, accepted); err != nil {
			refuse(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation.")
			return
		}
		tok := e.issueJWT(map[string]any{"aud": azureDevOpsResource, "iss": "https://sts.windows.net/" + e.Tenant + "/",
			"appid": e.ClientID, "appidacr": "2", "idtyp": "app", "oid": guid(), "sub": guid(), "tid": e.Tenant, "ver": "1.0"})
		w.Header().Set("Cache-Control", "no-store, no-cache")
		writeJSON(w, http.StatusOK, e.answer(tok))
	}
}

func (e *Entra) answer(tok string) map[string]any {
	secs := int(e.ttl / time.Second)
	return map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok}
}

// AzureInputs are the action inputs of an Azure step (with AzureEnv).
func (s *Stack) AzureInputs() map[string]string {
	a := s.Azure
	return map[string]string{"provider": "azure", "client-id": a.Entra.ClientID, "tenant-id": a.Entra.Tenant, "index-url": a.Index}
}

// AzureEnv returns the variables that point the action at the stack's Entra.
func (s *Stack) AzureEnv() map[string]string {
	return map[string]string{AzureAuthorityEnv: s.Azure.AuthorityHost}
}

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

// Microsoft Entra ID (workload identity federation) constants.
const (
	// EntraAudience is the aud Entra requires of a federated assertion
	// unless the federated credential says otherwise.
	EntraAudience = "api://AzureADTokenExchange"
	// EntraGrantType is the grant of the client-credentials flow.
	EntraGrantType = "client_credentials"
	// EntraAssertionType is the client_assertion_type of a JWT assertion.
	EntraAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// AzureDevOpsResource is the application id of Azure DevOps.
	AzureDevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798"
	// AzureDevOpsScope is the scope that gets an Azure DevOps token.
	AzureDevOpsScope = AzureDevOpsResource + "/.default"
	// EntraTokenPathSuffix ends the token endpoint's path, /{tenant}/oauth2/v2.0/token.
	EntraTokenPathSuffix = "/oauth2/v2.0/token"
)

// FederatedCredential is one federated identity credential of the Entra
// application: the assertion's iss, sub and aud must equal these exactly
// (Entra matches case-sensitively since 2025).
type FederatedCredential struct {
	Issuer, Subject, Audience string
}

// EntraRequest is the non-secret part of one token request received.
type EntraRequest struct {
	Tenant, ClientID, GrantType, ClientAssertionType, Scope string
	// Assertion says whether a client_assertion was sent (its value is a secret).
	Assertion bool
}

// Entra plays the Microsoft identity platform's token endpoint,
// POST /{tenant}/oauth2/v2.0/token, for a client-credentials grant with a
// federated client assertion (a GitHub ID token). It checks what Entra
// checks, in Entra's order: the tenant, the parameters, the application
// (client_id), the scope, then the assertion's iss/sub/aud against the
// application's federated credentials, then its signature (against the
// issuer's JWKS) and lifetime. It refuses in Entra's JSON error shape
// (error, error_description "AADSTSnnnn: ...", error_codes, timestamp,
// trace_id, correlation_id, error_uri) and issues a JWT-shaped access token
// the Azure registry accepts as "Bearer <token>".
type Entra struct {
	service
	// Tenant is the one directory that exists (a GUID).
	Tenant string
	// ClientID is the one application registered in it.
	ClientID string
	secret   []byte

	mu       sync.Mutex
	creds    []FederatedCredential
	requests []EntraRequest
	echo     bool
}

// NewEntra returns an Entra with one tenant and one application holding the
// given federated credentials. cfg.Verifier's Issuer must be the GitHub
// issuer; its audiences are set from creds.
func NewEntra(cfg ServiceConfig, tenant, clientID string, creds ...FederatedCredential) *Entra {
	e := &Entra{service: newService("azure", cfg), Tenant: tenant, ClientID: clientID, secret: []byte(randomString(32))}
	e.SetCredentials(creds...)
	return e
}

// SetCredentials replaces the application's federated credentials.
func (e *Entra) SetCredentials(creds ...FederatedCredential) {
	e.mu.Lock()
	e.creds = slices.Clone(creds)
	e.mu.Unlock()
	var auds []string
	for _, c := range creds {
		auds = append(auds, c.Audience)
	}
	if e.verifier != nil {
		e.verifier.SetAudiences(auds...)
	}
}

// Credentials returns the application's federated credentials.
func (e *Entra) Credentials() []FederatedCredential {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.creds)
}

// Received returns the non-secret fields of every POST received.
func (e *Entra) Received() []EntraRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// Handler serves /{tenant}/oauth2/v2.0/token (other paths: 404).
func (e *Entra) Handler() http.Handler {
	return e.handler("/{tenant}"+EntraTokenPathSuffix, func(tok string) any {
		return map[string]any{"token_type": "Bearer", "expires_in": int(e.ttl / time.Second), "ext_expires_in": int(e.ttl / time.Second), "access_token": tok}
	}, e.serve)
}

// EntraError is the JSON body of a refusal, as Entra sends it.
type EntraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// NewEntraError builds a refusal like Entra's: the description is
// "AADSTS<code>: <msg>" followed by "\r\nTrace ID: ...\r\nCorrelation ID:
// ...\r\nTimestamp: ..." (the real service's layout, e.g.
// Azure/azure-workload-identity#616, MicrosoftDocs/azure-docs#40210).
func NewEntraError(kind string, code int, msg string, now time.Time) EntraError {
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	trace, corr := guid(), guid()
	return EntraError{
		Error:            kind,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", code, msg, trace, corr, ts),
		ErrorCodes:       []int{code},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code),
	}
}

// EntraFault is a Fault answering status with an Entra error body.
func EntraFault(status int, kind string, code int, msg string) Fault {
	b, _ := json.Marshal(NewEntraError(kind, code, msg, time.Now()))
	return Fault{Kind: FaultStatus, Status: status, Body: string(b), ContentType: "application/json; charset=utf-8"}
}

// EntraThrottled is Entra's throttling answer: 429 with Retry-After and an
// AADSTS body (AADSTS50196, "client request loop", is what a client asking
// too often gets).
func EntraThrottled(retryAfter string) Fault {
	f := EntraFault(http.StatusTooManyRequests, "temporarily_unavailable", 50196, "The server terminated an operation because it encountered a client request loop. Please contact your app vendor.")
	f.RetryAfter = retryAfter
	return f
}

// EntraLeakyFault is a refusal whose description carries a secret (as a
// misbehaving proxy or a future Entra message might echo the assertion):
// the secret is recorded in the TokenStore, so a leak scan fails if the
// action prints the body. It returns the fault and the secret.
func (e *Entra) EntraLeakyFault() (Fault, string) {
	secret := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + randomAlnum(60) + "." + randomAlnum(43)
	e.store.Add(KindFaultToken, "azure", secret, time.Hour)
	return EntraFault(http.StatusBadRequest, "invalid_client", 700027, "Client assertion failed signature validation. Presented assertion: '"+secret+"'."), secret
}

// SetEchoAssertion makes every refusal quote the client assertion it got
// (the GitHub ID token), the way a proxy or a verbose error page might: a
// test then proves the action redacts it.
func (e *Entra) SetEchoAssertion(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.echo = on
}

func (e *Entra) refuse(w http.ResponseWriter, r *http.Request, status int, kind string, code int, msg string) {
	e.mu.Lock()
	echo := e.echo
	e.mu.Unlock()
	if a := r.PostForm.Get("client_assertion"); echo && a != "" {
		msg += " Presented assertion: '" + a + "'."
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("X-Ms-Request-Id", guid())
	writeJSON(w, status, NewEntraError(kind, code, msg, e.now()))
}

func (e *Entra) serve(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if tenant != e.Tenant {
		e.refuse(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant))
		return
	}
	// A GET or a body that is not form-encoded leaves PostForm empty:
	// Entra then says grant_type is missing, as it does for a JSON body.
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	_ = r.ParseForm()
	f := r.PostForm
	req := EntraRequest{Tenant: tenant, ClientID: f.Get("client_id"), GrantType: f.Get("grant_type"),
		ClientAssertionType: f.Get("client_assertion_type"), Scope: f.Get("scope"), Assertion: f.Get("client_assertion") != ""}
	e.mu.Lock()
	e.requests = append(e.requests, req)
	e.mu.Unlock()
	// The product test checks every field of Received; one refusal stands
	// for Entra's several parameter errors.
	for _, p := range [][2]string{{"grant_type", EntraGrantType}, {"client_assertion_type", EntraAssertionType}, {"scope", AzureDevOpsScope}} {
		if f.Get(p[0]) != p[1] || !req.Assertion {
			e.refuse(w, r, http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("The request body must contain the following parameter: '%s'.", p[0]))
			return
		}
	}
	if req.ClientID != e.ClientID {
		e.refuse(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", req.ClientID, e.Tenant))
		return
	}
	assertion := f.Get("client_assertion")
	p, err := parseJWT(assertion)
	if err != nil {
		e.refuse(w, r, http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed.")
		return
	}
	iss, sub, auds := claimString(p.claims["iss"]), claimString(p.claims["sub"]), claimStrings(p.claims["aud"])
	if !e.matches(iss, sub, auds) {
		e.refuse(w, r, http.StatusBadRequest, "invalid_request", 70021, fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation", iss, sub, strings.Join(auds, ",")))
		return
	}
	if _, err := e.verifier.VerifyToken(r.Context(), assertion); err != nil {
		e.refuse(w, r, http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation.")
		return
	}
	ttl := e.ttl
	now := e.now()
	tok, err := signHS256(e.secret, map[string]any{
		"aud": AzureDevOpsResource, "iss": "https://sts.windows.net/" + e.Tenant + "/",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		"appid": e.ClientID, "appidacr": "2", "idtyp": "app", "oid": guid(), "sub": guid(), "tid": e.Tenant,
		"ver": "1.0", "uti": randomAlnum(22),
	})
	if err != nil {
		e.refuse(w, r, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
		return
	}
	e.store.Add(KindAccessToken, "azure", tok, ttl)
	e.store.countExchange("azure")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	secs := int(ttl / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// matches reports whether a federated credential matches the assertion.
func (e *Entra) matches(iss, sub string, auds []string) bool {
	for _, c := range e.Credentials() {
		if c.Issuer == iss && c.Subject == sub && slices.Contains(auds, c.Audience) {
			return true
		}
	}
	return false
}

// guid returns a random GUID-shaped string.
func guid() string {
	r := randomString(16)
	return r[:8] + "-" + r[8:12] + "-" + r[12:16] + "-" + r[16:20] + "-" + r[20:]
}

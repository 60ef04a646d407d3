package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Azure Artifacts through Microsoft Entra workload identity federation: the
// GitHub ID token is the client assertion of an OAuth 2.0 client-credentials
// request to Entra's token endpoint, whose access token for Azure DevOps is
// what an Azure Artifacts Cargo feed accepts.
//
// The header: Cargo sends the token as "Bearer <access token>". Microsoft's
// own Cargo task for Azure Pipelines (microsoft/azure-pipelines-tasks,
// Tasks/CargoAuthenticateV0/cargoauthenticatemain.ts) sets
// CARGO_REGISTRIES_<NAME>_TOKEN to `Bearer ${System.AccessToken}` for the
// feeds of its organisation, and its workload identity service connection
// passes an Entra token the same way; the "Project setup" page for Cargo
// (learn.microsoft.com/azure/devops/artifacts/cargo/project-setup-cargo)
// logs in with `az account get-access-token` joined after "Bearer". A PAT
// instead goes as "Basic" (base64 of "AzureDevOps:<PAT>"), which is not
// this flow.

// ServiceAzure names Microsoft Entra's token endpoint in errors.
const ServiceAzure = "microsoft entra"

// Azure defaults and fixed values.
const (
	// DefaultAzureAuthority is Entra's global authority host.
	DefaultAzureAuthority = "https://login.microsoftonline.com"
	// AzureAudience is the audience Entra requires of a federated
	// credential's assertion (the ID token's aud).
	AzureAudience = "api://AzureADTokenExchange"
	// AzureDevOpsScope is the scope of an access token for Azure DevOps
	// (its fixed resource ID), which Azure Artifacts feeds accept.
	AzureDevOpsScope = "499b84ac-1321-427f-aa17-267ca6975798/.default"
	// EnvAzureAuthorityHost is the variable the Azure SDKs read for the
	// authority (sovereign clouds, tests).
	EnvAzureAuthorityHost = "AZURE_AUTHORITY_HOST"
	// ClientAssertionType is the OAuth type of a JWT client assertion.
	ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Azure exchanges an ID token for a Microsoft Entra access token for Azure
// DevOps (POST {Authority}/{TenantID}/oauth2/v2.0/token, form-encoded
// client-credentials grant with the ID token as client_assertion).
type Azure struct {
	Client *Client
	// Authority is the authority host, an absolute URL without path; "" =
	// DefaultAzureAuthority. AzureAuthorityFromEnv reads the override.
	Authority string
	// TenantID is the tenant: a GUID or a verified domain name (required).
	TenantID string
	// ClientID is the application (client) ID of the app registration or
	// user-assigned managed identity holding the federated credential
	// (required).
	ClientID string
	// Audience is the ID token's audience; "" = AzureAudience.
	Audience string
	// Scope is the scope asked for; "" = AzureDevOpsScope.
	Scope string
	Mask  func(string)
	Now   func() time.Time
}

// AzureAuthorityFromEnv returns the authority host: AZURE_AUTHORITY_HOST
// read through getenv when set, else DefaultAzureAuthority. The override
// must be an https URL without query, fragment, user info or path: the ID
// token travels to it.
func AzureAuthorityFromEnv(getenv func(string) string) (string, error) {
	v := ""
	if getenv != nil {
		v = strings.TrimSpace(getenv(EnvAzureAuthorityHost))
	}
	if v == "" {
		return DefaultAzureAuthority, nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "" || u.Scheme == "":
		return "", fmt.Errorf("%s %q is not a URL; give the authority host, like %s (or unset it)", EnvAzureAuthorityHost, displayEndpoint(v), DefaultAzureAuthority)
	case u.Scheme != "https":
		return "", fmt.Errorf("%s must be an https URL (got scheme %q): the ID token would travel in clear text; give the authority host, like %s", EnvAzureAuthorityHost, u.Scheme, DefaultAzureAuthority)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "?"):
		return "", fmt.Errorf("%s %s must not have user info, a query or a fragment; give the authority host only, like %s", EnvAzureAuthorityHost, displayURL(u), DefaultAzureAuthority)
	case strings.Trim(u.Path, "/") != "":
		return "", fmt.Errorf("%s %s must not have a path; give the authority host only, like https://%s (the tenant and /oauth2/v2.0/token are added)", EnvAzureAuthorityHost, displayURL(u), u.Host)
	}
	return "https://" + u.Host, nil
}

// IDTokenAudience implements Service: z.Audience, or AzureAudience.
func (z *Azure) IDTokenAudience() string {
	if z.Audience == "" {
		return AzureAudience
	}
	return z.Audience
}

// Endpoint describes where the exchange goes, for the log.
func (z *Azure) Endpoint() string {
	u, err := z.endpoint()
	if err != nil {
		return z.authority()
	}
	return displayRawURL(u)
}

func (z *Azure) authority() string {
	if z.Authority == "" {
		return DefaultAzureAuthority
	}
	return z.Authority
}

func (z *Azure) endpoint() (string, error) {
	u, err := serviceURL(z.authority(), "/"+url.PathEscape(z.TenantID)+"/oauth2/v2.0/token")
	if err != nil {
		return "", fmt.Errorf("%s: %w", ServiceAzure, err)
	}
	return u, nil
}

// azureAnswer is Entra's token answer.
type azureAnswer struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   seconds `json:"expires_in"`
}

// Exchange implements Service. ExpiresAt comes from expires_in, else from
// the access token's exp claim.
func (z *Azure) Exchange(ctx context.Context, ids IDTokenSource) (*Token, error) {
	if z.Client == nil {
		return nil, errors.New("microsoft entra: no HTTP client configured")
	}
	if strings.TrimSpace(z.TenantID) == "" || strings.TrimSpace(z.ClientID) == "" {
		return nil, errors.New("microsoft entra: the tenant ID and the client ID are required")
	}
	endpoint, err := z.endpoint()
	if err != nil {
		return nil, err
	}
	sc := &svcCall{red: z.Client.red, service: ServiceAzure, method: http.MethodPost, url: displayRawURL(endpoint), parse: azureMessage, mask: z.Mask}
	idt, err := sc.idToken(ctx, ids, z.IDTokenAudience())
	if err != nil {
		return nil, err
	}
	// Entra may echo parts of the assertion in an error: the redactor
	// removes the token and each of its parts from every message.
	sc.red.Add(idt)
	scope := z.Scope
	if scope == "" {
		scope = AzureDevOpsScope
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {z.ClientID},
		"client_assertion_type": {ClientAssertionType},
		"client_assertion":      {idt},
		"scope":                 {scope},
	}
	h := http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"},
		"Accept":       {"application/json"},
		"User-Agent":   {UserAgent},
	}
	a, err := sc.do(ctx, z.Client, &call{method: sc.method, url: endpoint, header: h, body: []byte(form.Encode())})
	if err != nil {
		return nil, z.explain(err, sc.claims)
	}
	ans, err := guarded(sc, a, "access token", func(v *azureAnswer) string { return v.AccessToken })
	if err != nil {
		return nil, err
	}
	tok := &Token{Value: ans.AccessToken}
	if ans.ExpiresIn > 0 {
		tok.ExpiresAt = nowFunc(z.Now).Add(time.Duration(ans.ExpiresIn) * time.Second)
	} else if cl, err := DecodeClaims(ans.AccessToken); err == nil {
		tok.ExpiresAt = cl.ExpiresAt
	}
	return tok, nil
}

// AzureError is Entra's error answer: error, error_description,
// error_codes (the AADSTS numbers), trace_id, correlation_id. Nothing in it
// is secret once cleaned, but error_description may echo claims of the
// assertion; it is passed through the Redactor before it is shown.
type AzureError struct {
	Error         string
	Description   string
	Codes         []int
	TraceID       string
	CorrelationID string
}

// maxAzureCodes bounds the AADSTS codes read from one answer.
const maxAzureCodes = 8

// ParseAzureError reads Entra's error shape from body; ok is false when
// body is not a JSON object with an error or error_codes field. Codes
// come from error_codes, else from "AADSTS<n>" in the description. Strings
// are sanitized (control characters removed, bounded to a few thousand
// characters), not redacted: see Redactor.Clean.
func ParseAzureError(body []byte) (e AzureError, ok bool) {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	var raw struct {
		Error         json.RawMessage `json:"error"`
		Description   json.RawMessage `json:"error_description"`
		Codes         json.RawMessage `json:"error_codes"`
		TraceID       json.RawMessage `json:"trace_id"`
		CorrelationID json.RawMessage `json:"correlation_id"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return AzureError{}, false
	}
	// Strings are sanitized but not cut here: the message is redacted
	// (Redactor.Clean) before it is cut, so that no part of a secret
	// survives the cut.
	str := func(r json.RawMessage) string {
		s, _ := jsonString(r)
		return sanitize(s)
	}
	e.Error, e.Description = str(raw.Error), str(raw.Description)
	e.TraceID, e.CorrelationID = azureID(str(raw.TraceID)), azureID(str(raw.CorrelationID))
	var nums []json.Number
	dec := json.NewDecoder(strings.NewReader(string(raw.Codes)))
	dec.UseNumber()
	if len(raw.Codes) > 0 && dec.Decode(&nums) == nil {
		for _, n := range nums {
			if v, err := strconv.ParseInt(n.String(), 10, 32); err == nil && v > 0 && len(e.Codes) < maxAzureCodes {
				e.Codes = append(e.Codes, int(v))
			}
		}
	}
	if len(e.Codes) == 0 {
		e.Codes = aadstsCodes(e.Description)
	}
	if e.Error == "" && len(e.Codes) == 0 {
		return AzureError{}, false
	}
	return e, true
}

// azureID keeps a trace or correlation ID only when it looks like one (a
// GUID's characters), so that no other text rides on it.
func azureID(s string) string {
	if len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-') {
			return ""
		}
	}
	return s
}

// aadstsCodes finds "AADSTS<digits>" in s.
func aadstsCodes(s string) []int {
	var out []int
	for rest := s; len(out) < maxAzureCodes; {
		i := strings.Index(rest, "AADSTS")
		if i < 0 {
			break
		}
		rest = rest[i+len("AADSTS"):]
		j := 0
		for j < len(rest) && j < 9 && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j > 0 {
			if v, err := strconv.Atoi(rest[:j]); err == nil && v > 0 {
				out = append(out, v)
			}
		}
	}
	return out
}

// azureProblem is what one AADSTS code means and what to do about it.
type azureProblem struct {
	code  int
	title string
	hint  func(z *Azure, c *Claims) string
}

// azureProblems are the AADSTS codes explained; others are shown as Entra
// words them. An array, not a map: a map literal at package level is built
// at every start-up, this is laid out by the compiler.
var azureProblems = [...]azureProblem{
	{70021, "no federated credential matches the ID token", func(z *Azure, c *Claims) string {
		return "the app registration (client-id " + quoteOr(z.ClientID) + ") has no federated credential whose issuer, subject and audience equal the ID token's: " +
			claimsTriple(c, z.IDTokenAudience()) + ". In Entra (App registrations > Certificates & secrets > Federated credentials) add or fix one with exactly these values " +
			"(the subject is case-sensitive: repo:OWNER/REPO:ref:refs/heads/BRANCH, repo:OWNER/REPO:environment:NAME or repo:OWNER/REPO:pull_request), " +
			"or set the audience input to the credential's audience"
	}},
	{700211, "no federated credential for the ID token's issuer", func(z *Azure, c *Claims) string {
		return "no federated credential of the app registration (client-id " + quoteOr(z.ClientID) + ") has the ID token's issuer " + quoteOr(claimIssuer(c)) +
			"; the credential's issuer must be exactly that (https://token.actions.githubusercontent.com on github.com, without a trailing slash; " +
			"with an enterprise-specific issuer, https://token.actions.githubusercontent.com/<enterprise>)"
	}},
	{700213, "no federated credential matches the ID token's subject", func(z *Azure, c *Claims) string {
		return "the federated credential's subject must equal the ID token's sub " + quoteOr(claimSubject(c)) + " (case-sensitive)"
	}},
	{700212, "no federated credential matches the ID token's audience", func(z *Azure, c *Claims) string {
		return fmt.Sprintf("the federated credential's audience must equal the ID token's aud %q (the audience input; Entra's default is %s)", z.IDTokenAudience(), AzureAudience)
	}},
	{700016, "application not found in the tenant", func(z *Azure, _ *Claims) string {
		return "check client-id " + quoteOr(z.ClientID) + " (the Application (client) ID on the app registration's Overview, not its Object ID or a secret's ID) " +
			"and tenant-id " + quoteOr(z.TenantID) + " (the Directory (tenant) ID of the tenant that holds the app registration)"
	}},
	{90002, "tenant not found", tenantHint},
	{900023, "tenant ID is not valid", tenantHint},
	{50020, "identity not in the tenant", func(z *Azure, _ *Claims) string {
		return "the application or its service principal is not in tenant " + quoteOr(z.TenantID) + ": use the tenant that holds the app registration (tenant-id), " +
			"or create the service principal there (an enterprise application) for a multi-tenant app"
	}},
	{7000215, "client secret not valid", func(z *Azure, _ *Claims) string {
		return "Entra treated the request as a client-secret sign-in; this flow sends no secret, only the ID token: check that client-id " + quoteOr(z.ClientID) +
			" is the app registration that holds the federated credential"
	}},
	{700024, "ID token expired or not yet valid", func(*Azure, *Claims) string {
		return "the ID token (client assertion) is outside its validity time: the runner's clock may be off, or the exchange was delayed; re-run the job"
	}},
	{50013, "assertion not valid", func(z *Azure, c *Claims) string {
		return "Entra could not validate the ID token as an assertion (signature, issuer or audience): the federated credential's issuer must be the token's " +
			quoteOr(claimIssuer(c)) + " and its audience " + quoteOr(z.IDTokenAudience()) + "; re-run the job if the token expired"
	}},
	{700027, "client assertion signature not valid", func(z *Azure, c *Claims) string {
		return "the federated credential's issuer must be the ID token's issuer " + quoteOr(claimIssuer(c)) + ", whose keys sign the token"
	}},
	{50059, "no tenant in the request", tenantHint},
	{500011, "Azure DevOps not found in the tenant", func(z *Azure, _ *Claims) string {
		return "the resource 499b84ac-1321-427f-aa17-267ca6975798 (Azure DevOps) is not known in tenant " + quoteOr(z.TenantID) +
			": use the tenant your Azure DevOps organisation is connected to"
	}},
	{50196, "request loop detected", func(*Azure, *Claims) string {
		return "Entra saw too many identical requests; re-run the job later, or lower the retries input"
	}},
	{90055, "throttled", func(*Azure, *Claims) string {
		return "Entra throttled the tenant's requests; re-run the job later or raise the retries input"
	}},
}

// azureProblemOf is what code means, if it is one of azureProblems.
func azureProblemOf(code int) (azureProblem, bool) {
	for _, p := range azureProblems {
		if p.code == code {
			return p, true
		}
	}
	return azureProblem{}, false
}

func tenantHint(z *Azure, _ *Claims) string {
	return "check tenant-id " + quoteOr(z.TenantID) + ": the Directory (tenant) ID (a GUID) on the app registration's Overview, or a verified domain of that tenant " +
		"(like contoso.onmicrosoft.com); for a sovereign cloud set " + EnvAzureAuthorityHost + " (now " + z.authority() + ")"
}

func quoteOr(s string) string {
	if s == "" {
		return "(empty)"
	}
	return strconv.Quote(s)
}

func claimIssuer(c *Claims) string {
	if c == nil {
		return ""
	}
	return c.Issuer
}

func claimSubject(c *Claims) string {
	if c == nil {
		return ""
	}
	return c.Subject
}

// claimsTriple is `issuer "..", subject "..", audience ".."` of the ID token.
func claimsTriple(c *Claims, audience string) string {
	aud := audience
	if c != nil && len(c.Audience) > 0 {
		aud = strings.Join(c.Audience, " ")
	}
	return "issuer " + quoteOr(claimIssuer(c)) + ", subject " + quoteOr(claimSubject(c)) + ", audience " + quoteOr(aud)
}

// Title is what the first known AADSTS code of e means ("" when none is
// known).
func (e AzureError) Title() string {
	for _, c := range e.Codes {
		if p, ok := azureProblemOf(c); ok {
			return p.title
		}
	}
	return ""
}

// code is the first known AADSTS code of e, else its first.
func (e AzureError) code() int {
	for _, c := range e.Codes {
		if _, ok := azureProblemOf(c); ok {
			return c
		}
	}
	if len(e.Codes) > 0 {
		return e.Codes[0]
	}
	return 0
}

// String is the message shown: the title and code, then Entra's
// description up to its trace details (see Support).
func (e AzureError) String() string {
	var b strings.Builder
	code := e.code()
	title := e.Title()
	switch {
	case title != "" && code != 0:
		fmt.Fprintf(&b, "%s (AADSTS%d)", title, code)
	case code != 0:
		fmt.Fprintf(&b, "AADSTS%d", code)
	case e.Error != "":
		b.WriteString(e.Error)
	}
	desc := e.Description
	if i := strings.Index(desc, " Trace ID:"); i >= 0 {
		desc = desc[:i]
	}
	if code != 0 {
		desc = strings.TrimPrefix(strings.TrimPrefix(desc, fmt.Sprintf("AADSTS%d", code)), ":")
	}
	if desc = strings.TrimSpace(desc); desc != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(desc)
	}
	return b.String()
}

// Support is "Entra's trace ID .., correlation ID .." for Microsoft
// support, "" when the answer had neither.
func (e AzureError) Support() string {
	if e.TraceID == "" && e.CorrelationID == "" {
		return ""
	}
	return fmt.Sprintf("Entra's trace ID %s, correlation ID %s (for Microsoft support)", orDash(e.TraceID), orDash(e.CorrelationID))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// azureMessage is svcCall.parse for Entra: its error shape, else the
// generic shapes.
func azureMessage(body []byte) string {
	if e, ok := ParseAzureError(body); ok {
		return e.String()
	}
	return serviceMessage(body)
}

// explain sets the hint of a refused or failed exchange from the AADSTS
// code of Entra's answer, else from the status, and adds Entra's trace and
// correlation IDs.
func (z *Azure) explain(err error, claims *Claims) error {
	he, ok := asHTTPError(err)
	if !ok {
		return err
	}
	e, parsed := ParseAzureError(he.body)
	parsed = parsed && !he.withheld
	he.Hint = z.statusHint(he.StatusCode, claims)
	if p, ok := azureProblemOf(e.code()); ok && parsed {
		he.Hint = p.hint(z, claims)
		if he.StatusCode == http.StatusTooManyRequests || he.StatusCode >= 500 {
			he.Hint += "; Entra kept failing or throttling after the retries"
		}
	}
	if s := e.Support(); s != "" && parsed {
		he.Hint += ". " + s
	}
	return err
}

// statusHint says what to check when Entra's answer names no known code.
func (z *Azure) statusHint(status int, c *Claims) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "Entra kept throttling the exchange; retry later or raise the retries input"
	case status >= 500:
		return "Entra kept failing; this is usually transient: re-run the job, or raise the retries input"
	case status == http.StatusNotFound:
		return "a 404 usually means a wrong tenant-id or " + EnvAzureAuthorityHost + " (now " + z.authority() + ")"
	case status >= 400:
		return "check client-id " + quoteOr(z.ClientID) + ", tenant-id " + quoteOr(z.TenantID) + ", and the app registration's federated credential: its issuer, subject and audience must equal the ID token's (" +
			claimsTriple(c, z.IDTokenAudience()) + ")"
	}
	return ""
}

package fakes

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// entraForm is a good token request for s with the assertion jwt.
func entraForm(s *Stack, jwt string) url.Values {
	return url.Values{
		"grant_type": {EntraGrantType}, "client_id": {s.Azure.Entra.ClientID},
		"client_assertion_type": {EntraAssertionType}, "client_assertion": {jwt},
		"scope": {AzureDevOpsScope},
	}
}

// entraPost posts form to the token endpoint of tenant (as the action does).
func entraPost(t *testing.T, s *Stack, method, tenant, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.Azure.AuthorityHost+"/"+tenant+EntraTokenPathSuffix, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.CA.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

const formType = "application/x-www-form-urlencoded"

// azureToken performs the whole flow and returns the access token.
func azureToken(t *testing.T, s *Stack) string {
	t.Helper()
	st, b := entraPost(t, s, http.MethodPost, s.Azure.Entra.Tenant, formType, entraForm(s, idToken(t, s, EntraAudience)).Encode())
	if st != http.StatusOK {
		t.Fatalf("entra: %d %s", st, b)
	}
	var v struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.AccessToken == "" || v.TokenType != "Bearer" || v.ExpiresIn != int(DefaultTokenTTL/time.Second) {
		t.Fatalf("entra answer %s: %v", b, err)
	}
	return v.AccessToken
}

var entraDescRE = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

// checkEntraError checks body has Entra's error shape with code and kind.
func checkEntraError(t *testing.T, body []byte, kind string, code int) EntraError {
	t.Helper()
	var e EntraError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	m := entraDescRE.FindStringSubmatch(e.ErrorDescription)
	switch {
	case e.Error != kind:
		t.Errorf("error %q, want %q", e.Error, kind)
	case m == nil || m[1] != strconv.Itoa(code):
		t.Errorf("error_description %q is not AADSTS%d in Entra's layout", e.ErrorDescription, code)
	case len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != code:
		t.Errorf("error_codes %v, want [%d]", e.ErrorCodes, code)
	case e.TraceID == "" || e.CorrelationID == "" || e.Timestamp == "" || !strings.Contains(e.ErrorDescription, e.TraceID):
		t.Errorf("trace_id, correlation_id or timestamp missing: %s", body)
	case e.ErrorURI != "https://login.microsoftonline.com/error?code="+strconv.Itoa(code):
		t.Errorf("error_uri %q", e.ErrorURI)
	}
	return e
}

// TestEntraRefuses: each rule a product test relies on, refused with the
// AADSTS code the real service uses.
func TestEntraRefuses(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	good := func(t *testing.T) string { return idToken(t, s, EntraAudience) }
	mint := func(aud string, extra map[string]any) func(t *testing.T) string {
		return func(t *testing.T) string {
			tok, err := s.Issuer.Mint(aud, extra)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
	}
	past := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name        string
		method      string
		tenant      string
		contentType string
		jwt         func(t *testing.T) string
		edit        func(f url.Values)
		status      int
		kind        string
		code        int
		desc        string // in error_description
	}{
		{name: "wrong aud", jwt: mint("https://github.com/octo-org", nil), status: 400, kind: "invalid_request", code: 70021,
			desc: "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: 'repo:octo-org/octo-repo:ref:refs/heads/main'. Assertion Audience: 'https://github.com/octo-org'."},
		{name: "wrong sub", jwt: mint(EntraAudience, map[string]any{"sub": "repo:octo-org/octo-repo:environment:release"}), status: 400, kind: "invalid_request", code: 70021,
			desc: "Assertion Subject: 'repo:octo-org/octo-repo:environment:release'."},
		{name: "sub in another case", jwt: mint(EntraAudience, map[string]any{"sub": "repo:Octo-Org/octo-repo:ref:refs/heads/main"}), status: 400, kind: "invalid_request", code: 70021},
		{name: "wrong iss", jwt: mint(EntraAudience, map[string]any{"iss": GitHubIssuer}), status: 400, kind: "invalid_request", code: 70021,
			desc: "Assertion Issuer: 'https://token.actions.githubusercontent.com'."},
		{name: "unknown tenant", tenant: "00000000-1111-2222-3333-444444444444", jwt: good, status: 400, kind: "invalid_tenant", code: 90002,
			desc: "Tenant '00000000-1111-2222-3333-444444444444' not found."},
		{name: "unknown client", jwt: good, edit: func(f url.Values) { f.Set("client_id", "11111111-2222-3333-4444-555555555555") }, status: 400, kind: "unauthorized_client", code: 700016,
			desc: "Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory"},
		{name: "no client_id", jwt: good, edit: func(f url.Values) { f.Del("client_id") }, status: 400, kind: "invalid_request", code: 900144, desc: "'client_id'"},
		{name: "wrong grant_type", jwt: good, edit: func(f url.Values) { f.Set("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange") }, status: 400, kind: "unsupported_grant_type", code: 70003},
		{name: "wrong client_assertion_type", jwt: good, edit: func(f url.Values) { f.Set("client_assertion_type", "jwt") }, status: 401, kind: "invalid_client", code: 7000216},
		{name: "no assertion", jwt: good, edit: func(f url.Values) { f.Del("client_assertion") }, status: 401, kind: "invalid_client", code: 7000216},
		{name: "scope without .default", jwt: good, edit: func(f url.Values) { f.Set("scope", AzureDevOpsResource) }, status: 400, kind: "invalid_scope", code: 1002012},
		{name: "other resource", jwt: good, edit: func(f url.Values) { f.Set("scope", "https://management.azure.com/.default") }, status: 400, kind: "invalid_resource", code: 500011,
			desc: "The resource principal named https://management.azure.com was not found"},
		{name: "no scope", jwt: good, edit: func(f url.Values) { f.Del("scope") }, status: 400, kind: "invalid_request", code: 900144},
		{name: "bad signature", jwt: func(t *testing.T) string {
			tok, err := s.Issuer.MintWithForeignKey(EntraAudience, nil)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, status: 401, kind: "invalid_client", code: 700027},
		{name: "expired", jwt: mint(EntraAudience, map[string]any{"exp": past, "iat": past - 300, "nbf": past - 300}), status: 400, kind: "invalid_client", code: 700024},
		{name: "malformed", jwt: func(*testing.T) string { return "not.a.jwt" }, status: 400, kind: "invalid_request", code: 50027},
		{name: "json body", contentType: "application/json", jwt: good, status: 400, kind: "invalid_request", code: 900144, desc: "'grant_type'"},
		{name: "GET", method: http.MethodGet, jwt: good, status: 400, kind: "invalid_request", code: 900561},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jwt := tt.jwt(t)
			f := entraForm(s, jwt)
			if tt.edit != nil {
				tt.edit(f)
			}
			method, tenant, ct := tt.method, tt.tenant, tt.contentType
			if method == "" {
				method = http.MethodPost
			}
			if tenant == "" {
				tenant = s.Azure.Entra.Tenant
			}
			if ct == "" {
				ct = formType
			}
			st, body := entraPost(t, s, method, tenant, ct, f.Encode())
			if st != tt.status {
				t.Fatalf("status %d, want %d: %s", st, tt.status, body)
			}
			e := checkEntraError(t, body, tt.kind, tt.code)
			if want := strings.ReplaceAll(tt.desc, "{iss}", s.IssuerURL); !strings.Contains(e.ErrorDescription, want) {
				t.Errorf("error_description %q lacks %q", e.ErrorDescription, want)
			}
			if parts := strings.Split(jwt, "."); len(parts) == 3 && bytes.Contains(body, []byte(parts[2])) {
				t.Errorf("the refusal echoes the assertion")
			}
		})
	}
}

// TestEntraAcceptsFederatedCredentials: the GitHub ID token of the
// configured job gets a token, and so does one matching a second federated
// credential (an environment), while the token endpoint records the
// non-secret parameters.
func TestEntraAcceptsFederatedCredentials(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{Issuer: IssuerConfig{Environment: "release"}})
	if st, b := entraPost(t, s, http.MethodPost, s.Azure.Entra.Tenant, formType, entraForm(s, idToken(t, s, EntraAudience)).Encode()); st != http.StatusOK {
		t.Fatalf("default credential (the job's environment subject): %d %s", st, b)
	}
	s.Azure.Entra.SetCredentials(FederatedCredential{Issuer: s.IssuerURL, Subject: "repo:octo-org/octo-repo:ref:refs/heads/main", Audience: EntraAudience})
	if st, b := entraPost(t, s, http.MethodPost, s.Azure.Entra.Tenant, formType, entraForm(s, idToken(t, s, EntraAudience)).Encode()); st != http.StatusBadRequest {
		t.Fatalf("branch credential, environment token: %d %s", st, b)
	}
	s.Azure.Entra.SetCredentials(
		FederatedCredential{Issuer: s.IssuerURL, Subject: "repo:octo-org/octo-repo:ref:refs/heads/main", Audience: EntraAudience},
		FederatedCredential{Issuer: s.IssuerURL, Subject: "repo:octo-org/octo-repo:environment:release", Audience: "api://custom"},
	)
	tok := idToken(t, s, "api://custom")
	st, b := entraPost(t, s, http.MethodPost, s.Azure.Entra.Tenant, formType, entraForm(s, tok).Encode())
	if st != http.StatusOK {
		t.Fatalf("second credential with its own audience: %d %s", st, b)
	}
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	access, _ := v["access_token"].(string)
	if it, ok := s.Store.Lookup(access); !ok || it.Service != "azure" || it.Kind != KindAccessToken || len(strings.Split(access, ".")) != 3 {
		t.Fatalf("access token not recorded as an azure access token, or not JWT-shaped")
	}
	if s.Store.Exchanges("azure") != 2 {
		t.Errorf("exchanges %d, want 2", s.Store.Exchanges("azure"))
	}
	got := s.Azure.Entra.Received()
	want := EntraRequest{Tenant: s.Azure.Entra.Tenant, ClientID: DefaultAzureClientID, GrantType: EntraGrantType, ClientAssertionType: EntraAssertionType, Scope: AzureDevOpsScope, Assertion: true}
	if len(got) != 3 || got[2] != want {
		t.Errorf("received %+v, want 3 ending with %+v", got, want)
	}
}

// TestAzureRegistryTakesOnlyEntraBearer: the feed serves the index to the
// Entra token as Bearer and refuses everything else with 401 and Azure
// DevOps' challenges.
func TestAzureRegistryTakesOnlyEntraBearer(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	at := azureToken(t, s)
	jt := serviceToken(t, s, "jfrog")
	idx := strings.TrimPrefix(s.Azure.Index, "sparse+")
	if !strings.HasSuffix(idx, "/octo-org/octo-project/_packaging/cargo-feed/Cargo/index/") {
		t.Fatalf("index %s is not Azure-shaped", idx)
	}
	tests := []struct {
		name, url, auth string
		status          int
	}{
		{"config with bearer", idx + "config.json", "Bearer " + at, 200},
		{"index with bearer", idx + "e2/e-/e2e-dep", "Bearer " + at, 200},
		{"download with bearer", idx + "dl/e2e-dep/1.0.0/download", "Bearer " + at, 200},
		{"raw token", idx + "e2/e-/e2e-dep", at, 401},
		{"basic", idx + "e2/e-/e2e-dep", "Basic " + at, 401},
		{"no token", idx + "config.json", "", 401},
		{"a jfrog token", idx + "e2/e-/e2e-dep", "Bearer " + jt, 401},
		{"an ID token", idx + "config.json", "Bearer " + idToken(t, s, EntraAudience), 401},
		{"the JFrog path", s.Azure.RegistryURL + "/artifactory/api/cargo/cargo-local/index/config.json", "Bearer " + at, 404},
	}
	t.Run("rules", func(t *testing.T) { // the parallel rows end before the clock moves
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				resp, err := s.CA.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
				if tt.status == 401 && !strings.HasPrefix(strings.Join(resp.Header.Values("WWW-Authenticate"), "|"), "Bearer authorization_uri=https://login.microsoftonline.com/"+s.Azure.Entra.Tenant) {
					t.Errorf("401 without Azure DevOps' Bearer challenge: %q", resp.Header.Values("WWW-Authenticate"))
				}
				if strings.HasSuffix(tt.url, "config.json") && tt.status == 200 && !strings.Contains(string(b), `"auth-required":true`) {
					t.Errorf("config.json does not say auth-required: %s", b)
				}
			})
		}
	})
}

// TestAzureRegistryPublishAndRoles: publish needs Feed Publisher; a
// service principal outside the organisation gets nothing.
func TestAzureRegistryPublishAndRoles(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	at := azureToken(t, s)
	idx := strings.TrimPrefix(s.Azure.Index, "sparse+")
	crate, _ := BuildCrate("newcrate", "0.3.0", nil, nil)
	body := publishBody(`{"name":"newcrate","vers":"0.3.0","deps":[],"features":{}}`, crate)
	put := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPut, idx+"api/v1/crates/new", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := s.CA.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	s.Azure.Registry.SetPublisher(false)
	if st, b := put(); st != 403 || !strings.Contains(b, "AddPackage") {
		t.Fatalf("publish as Feed Reader: %d %s", st, b)
	}
	if st, b := call(t, s, http.MethodGet, idx+"config.json", "Bearer "+at, nil); st != 200 {
		t.Fatalf("read as Feed Reader: %d %s", st, b)
	}
	s.Azure.Registry.SetPublisher(true)
	if st, b := put(); st != 200 {
		t.Fatalf("publish as Feed Publisher: %d %s", st, b)
	}
	if got := s.Azure.Registry.Published(); len(got) != 1 || got[0] != "newcrate@0.3.0" {
		t.Errorf("published %v", got)
	}
	s.Azure.Registry.SetMember(false)
	if st, b := call(t, s, http.MethodGet, idx+"config.json", "Bearer "+at, nil); st != 401 || !strings.Contains(string(b), "TF400813") {
		t.Fatalf("not in the organisation: %d %s", st, b)
	}
	if n := s.Registry.Count(0); n != 0 {
		t.Errorf("the shared registry got %d requests meant for the Azure feed", n)
	}
}

// TestEntraFaults: the fault rows of the matrix (throttled then ok,
// malformed 200, a token in an error body) through the Stack's fault table.
func TestEntraFaults(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	f, err := s.Faults("azure")
	if err != nil || f != s.Azure.Entra.Faults || f.RedirectTo != s.RedirectURL {
		t.Fatalf("Faults(azure) = %v, %v", f, err)
	}
	leaky, secret := s.Azure.Entra.EntraLeakyFault()
	f.Push(EntraThrottled("1"), Of(FaultMalformedJSON), leaky, Of(FaultMissingToken))
	form := entraForm(s, idToken(t, s, EntraAudience)).Encode()
	post := func() (int, []byte) {
		return entraPost(t, s, http.MethodPost, s.Azure.Entra.Tenant, formType, form)
	}
	st, b := post()
	if st != 429 {
		t.Fatalf("throttled: %d %s", st, b)
	}
	checkEntraError(t, b, "temporarily_unavailable", 50196)
	if st, b = post(); st != 200 || json.Valid(b) {
		t.Fatalf("malformed 200: %d %s", st, b)
	}
	st, b = post()
	checkEntraError(t, b, "invalid_client", 700027)
	if it, ok := s.Store.Lookup(secret); st != 400 || !bytes.Contains(b, []byte(secret)) || !ok || it.Kind != KindFaultToken {
		t.Fatalf("leaky error: %d %s (secret recorded: %v)", st, b, ok)
	}
	if st, b = post(); st != 200 || bytes.Contains(b, []byte("access_token")) || !bytes.Contains(b, []byte(`"expires_in"`)) {
		t.Fatalf("missing token: %d %s", st, b)
	}
	if st, b = post(); st != 200 {
		t.Fatalf("after the faults: %d %s", st, b)
	}
	if f.Requests() != 5 || f.Served() != 4 || s.Store.Requests(s.Azure.Entra.TokenPath()) != 5 {
		t.Errorf("requests %d, served %d, counted %d", f.Requests(), f.Served(), s.Store.Requests(s.Azure.Entra.TokenPath()))
	}

	s.Azure.Entra.SetEchoAssertion(true)
	jwt := idToken(t, s, "https://elsewhere.example")
	st, b = entraPost(t, s, http.MethodPost, s.Azure.Entra.Tenant, formType, entraForm(s, jwt).Encode())
	if e := checkEntraError(t, b, "invalid_request", 70021); st != 400 || !strings.Contains(e.ErrorDescription, "Presented assertion: '"+jwt+"'.") {
		t.Errorf("echoing refusal: %d %s", st, b)
	}
}

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
)

// entraPost posts a token request for tenant with the assertion jwt (as
// the action does), edit changing the form first.
func entraPost(t *testing.T, s *Stack, tenant, jwt string, edit func(url.Values)) (int, []byte) {
	t.Helper()
	f := url.Values{"grant_type": {EntraGrantType}, "client_id": {s.Azure.Entra.ClientID},
		"client_assertion_type": {EntraAssertionType}, "client_assertion": {jwt}, "scope": {AzureDevOpsScope}}
	if edit != nil {
		edit(f)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.Azure.AuthorityHost+"/"+tenant+EntraTokenPathSuffix, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.CA.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

var entraDescRE = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

// checkEntraError checks body has Entra's error shape with code and kind.
func checkEntraError(t *testing.T, body []byte, kind string, code int) EntraError {
	t.Helper()
	var e EntraError
	_ = json.Unmarshal(body, &e)
	if m := entraDescRE.FindStringSubmatch(e.ErrorDescription); e.Error != kind || m == nil || m[1] != strconv.Itoa(code) || len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != code {
		t.Errorf("not Entra's %s AADSTS%d refusal: %s", kind, code, body)
	}
	return e
}

// TestEntraRefuses: each refusal a product test relies on, with the AADSTS
// code the real service uses, and the two ways to be accepted (the job's
// credential; a second credential with its own audience).
func TestEntraRefuses(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	s.Azure.Entra.SetCredentials(FederatedCredential{Issuer: s.IssuerURL, Subject: "repo:octo-org/octo-repo:ref:refs/heads/main", Audience: EntraAudience},
		FederatedCredential{Issuer: s.IssuerURL, Subject: "repo:octo-org/octo-repo:ref:refs/heads/main", Audience: "api://custom"})
	mint := func(aud string, extra map[string]any) string {
		tok, err := s.Issuer.Mint(aud, extra)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint(EntraAudience, nil)
	forged := good[:strings.LastIndex(good, ".")+1] + strings.Repeat("A", 342)
	tests := []struct {
		name, tenant, jwt string
		edit              func(f url.Values)
		status            int
		kind              string
		code              int
		desc              string // in error_description
	}{
		{name: "accepted", jwt: good, status: 200},
		{name: "second credential", jwt: mint("api://custom", nil), status: 200},
		{name: "wrong aud", jwt: mint("https://github.com/octo-org", nil), status: 400, kind: "invalid_request", code: 70021,
			desc: "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: 'repo:octo-org/octo-repo:ref:refs/heads/main'. Assertion Audience: 'https://github.com/octo-org'."},
		{name: "sub in another case", jwt: mint(EntraAudience, map[string]any{"sub": "repo:Octo-Org/octo-repo:ref:refs/heads/main"}), status: 400, kind: "invalid_request", code: 70021},
		{name: "unknown tenant", tenant: "00000000-1111-2222-3333-444444444444", jwt: good, status: 400, kind: "invalid_tenant", code: 90002,
			desc: "Tenant '00000000-1111-2222-3333-444444444444' not found."},
		{name: "unknown client", jwt: good, edit: func(f url.Values) { f.Set("client_id", "11111111-2222-3333-4444-555555555555") }, status: 400, kind: "unauthorized_client", code: 700016,
			desc: "Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory"},
		{name: "other scope", jwt: good, edit: func(f url.Values) { f.Set("scope", "https://management.azure.com/.default") }, status: 400, kind: "invalid_request", code: 900144, desc: "'scope'"},
		{name: "bad signature", jwt: forged, status: 401, kind: "invalid_client", code: 700027},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tenant := tt.tenant
			if tenant == "" {
				tenant = s.Azure.Entra.Tenant
			}
			st, body := entraPost(t, s, tenant, tt.jwt, tt.edit)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %s", st, tt.status, body)
			}
			if st == 200 {
				var v map[string]any
				_ = json.Unmarshal(body, &v)
				access, _ := v["access_token"].(string)
				if it, ok := s.Store.Lookup(access); !ok || it.Service != "azure" || it.Kind != KindAccessToken || v["token_type"] != "Bearer" {
					t.Fatalf("access token not recorded as an azure access token: %s", body)
				}
				return
			}
			e := checkEntraError(t, body, tt.kind, tt.code)
			if want := strings.ReplaceAll(tt.desc, "{iss}", s.IssuerURL); !strings.Contains(e.ErrorDescription, want) {
				t.Errorf("error_description %q lacks %q", e.ErrorDescription, want)
			}
			if bytes.Contains(body, []byte(tt.jwt[strings.LastIndex(tt.jwt, ".")+1:])) {
				t.Errorf("the refusal echoes the assertion")
			}
		})
	}
}

// TestAzureRegistryTakesOnlyEntraBearer: the feed serves the index to the
// Entra token as Bearer and refuses everything else with 401 and Azure
// DevOps' challenge.
func TestAzureRegistryTakesOnlyEntraBearer(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	_, b := entraPost(t, s, s.Azure.Entra.Tenant, idToken(t, s, EntraAudience), nil)
	var v struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &v)
	at := v.AccessToken
	idx := strings.TrimPrefix(s.Azure.Index, "sparse+")
	if !strings.HasSuffix(idx, "/octo-org/octo-project/_packaging/cargo-feed/Cargo/index/") {
		t.Fatalf("index %s is not Azure-shaped", idx)
	}
	tests := []struct {
		name, url, auth string
		status          int
	}{
		{"config with bearer", idx + "config.json", "Bearer " + at, 200},
		{"download with bearer", idx + "dl/e2e-dep/1.0.0/download", "Bearer " + at, 200},
		{"raw token", idx + "e2/e-/e2e-dep", at, 401},
		{"a jfrog token", idx + "e2/e-/e2e-dep", "Bearer " + serviceToken(t, s, "jfrog"), 401},
		{"an ID token", idx + "config.json", "Bearer " + idToken(t, s, EntraAudience), 401},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
		req.Header.Set("Authorization", tt.auth)
		resp, err := s.CA.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s", tt.name, resp.StatusCode, b)
		}
		if tt.status == 401 && !strings.HasPrefix(strings.Join(resp.Header.Values("WWW-Authenticate"), "|"), "Bearer authorization_uri=https://login.microsoftonline.com/"+s.Azure.Entra.Tenant) {
			t.Errorf("%s: 401 without Azure DevOps' Bearer challenge: %q", tt.name, resp.Header.Values("WWW-Authenticate"))
		}
		if strings.HasSuffix(tt.url, "config.json") && tt.status == 200 && !strings.Contains(string(b), `"auth-required":true`) {
			t.Errorf("config.json does not say auth-required: %s", b)
		}
	}
}

// TestEntraFaults: the fault rows of the matrix (throttled then ok,
// malformed 200, a token in an error body, the echoed assertion) through
// the Stack's fault table.
func TestEntraFaults(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	f, err := s.Faults("azure")
	if err != nil || f != s.Azure.Entra.Faults || f.RedirectTo != s.RedirectURL {
		t.Fatalf("Faults(azure) = %v, %v", f, err)
	}
	leaky, secret := s.Azure.Entra.EntraLeakyFault()
	f.Push(EntraThrottled("1"), Of(FaultMalformedJSON), leaky)
	jwt := idToken(t, s, EntraAudience)
	st, b := entraPost(t, s, s.Azure.Entra.Tenant, jwt, nil)
	if st != 429 {
		t.Fatalf("throttled: %d %s", st, b)
	}
	checkEntraError(t, b, "temporarily_unavailable", 50196)
	if st, b = entraPost(t, s, s.Azure.Entra.Tenant, jwt, nil); st != 200 || json.Valid(b) {
		t.Fatalf("malformed 200: %d %s", st, b)
	}
	st, b = entraPost(t, s, s.Azure.Entra.Tenant, jwt, nil)
	checkEntraError(t, b, "invalid_client", 700027)
	if it, ok := s.Store.Lookup(secret); st != 400 || !bytes.Contains(b, []byte(secret)) || !ok || it.Kind != KindFaultToken {
		t.Fatalf("leaky error: %d %s (secret recorded: %v)", st, b, ok)
	}
	if st, b = entraPost(t, s, s.Azure.Entra.Tenant, jwt, nil); st != 200 || f.Served() != 3 {
		t.Fatalf("after the faults: %d %s", st, b)
	}

	s.Azure.Entra.SetEchoAssertion(true)
	jwt = idToken(t, s, "https://elsewhere.example")
	st, b = entraPost(t, s, s.Azure.Entra.Tenant, jwt, nil)
	if e := checkEntraError(t, b, "invalid_request", 70021); st != 400 || !strings.Contains(e.ErrorDescription, "Presented assertion: '"+jwt+"'.") {
		t.Errorf("echoing refusal: %d %s", st, b)
	}
}

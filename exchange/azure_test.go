package exchange

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const (
	azTenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	azClient = "11111111-2222-3333-4444-555555555555"
)

// entraError is an Entra error body in its real shape.
func entraError(code int, desc string) string {
	return `{"error":"invalid_client","error_description":"AADSTS` + itoa(code) + `: ` + desc +
		` Trace ID: 0b9f1f5e-6c3a-4f7e-9f57-2a1d6b0c0d00 Correlation ID: 5d2e0f55-7f43-4b7e-8a5e-5b5f0b4b4b4b Timestamp: 2026-12-02 10:00:00Z",` +
		`"error_codes":[` + itoa(code) + `],"timestamp":"2026-12-02 10:00:00Z","trace_id":"0b9f1f5e-6c3a-4f7e-9f57-2a1d6b0c0d00",` +
		`"correlation_id":"5d2e0f55-7f43-4b7e-8a5e-5b5f0b4b4b4b","error_uri":"https://login.microsoftonline.com/error?code=` + itoa(code) + `"}`
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestAzure: the request is Entra's client-credentials grant with the ID
// token as client assertion, form-encoded, to {authority}/{tenant}/oauth2/v2.0/token;
// the answer's access token is masked and expires_in sets the expiry.
func TestAzure(t *testing.T) {
	t.Parallel()
	accessToken := fakeJWT(map[string]any{"aud": "499b84ac-1321-427f-aa17-267ca6975798", "exp": fixedNow.Add(80 * time.Minute).Unix()})
	tests := []struct {
		name     string
		audience string
		body     string
		wantExp  time.Time
		wantAud  string
	}{
		{"expires_in", "", `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"` + accessToken + `"}`, fixedNow.Add(3599 * time.Second), AzureAudience},
		{"expires_in as a string", "", `{"token_type":"Bearer","expires_in":"3600","access_token":"` + accessToken + `"}`, fixedNow.Add(time.Hour), AzureAudience},
		{"no expires_in: the token's exp", "custom-aud", `{"token_type":"Bearer","access_token":"` + accessToken + `"}`, fixedNow.Add(80 * time.Minute), "custom-aud"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, tc.body) })
			m := &recMask{}
			ids := &mintingIDs{}
			z := &Azure{Client: testClient(2), Authority: f.URL, TenantID: azTenant, ClientID: azClient, Audience: tc.audience, Mask: m.mask, Now: nowFixed}
			tok, err := z.Exchange(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value != accessToken || !tok.ExpiresAt.Equal(tc.wantExp) {
				t.Errorf("token %q expires %v, want %v", tok.Value, tok.ExpiresAt, tc.wantExp)
			}
			if got := m.list(); len(got) != 1 || got[0] != accessToken {
				t.Errorf("masked %q", got)
			}
			if len(ids.auds) != 1 || ids.auds[0] != tc.wantAud {
				t.Errorf("ID token audiences %q, want %q", ids.auds, tc.wantAud)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != "POST" || r.Path != "/"+azTenant+"/oauth2/v2.0/token" || r.Query != "" ||
				r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Accept") != "application/json" ||
				r.Header.Get("User-Agent") != "cargo-oidc" || r.Header.Get("Authorization") != "" {
				t.Fatalf("request %s %s?%s %v", r.Method, r.Path, r.Query, r.Header)
			}
			form, err := url.ParseQuery(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			want := url.Values{
				"grant_type":            {"client_credentials"},
				"client_id":             {azClient},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {fakeJWT(githubClaims(1))},
				"scope":                 {"499b84ac-1321-427f-aa17-267ca6975798/.default"},
			}
			if form.Encode() != want.Encode() {
				t.Errorf("form\n got %s\nwant %s", form.Encode(), want.Encode())
			}
		})
	}
}

// shortIDT is an ID token whose parts are too short for the redactor's
// patterns: only its knowing the token removes them from a message.
var shortIDT = fakeJWT(map[string]any{"iss": "x"})

// TestAzureErrors: each AADSTS code Entra answers with becomes a title in
// the message and a hint that says what to fix; the ID token never shows.
func TestAzureErrors(t *testing.T) {
	t.Parallel()
	idt := fakeJWT(githubClaims(7))
	tests := []struct {
		name      string
		status    int
		body      string
		wantMsg   []string
		wantHint  []string
		wantKind  Kind
		wantCalls int
	}{
		{"70021 no federated credential", 400, entraError(70021, "No matching federated identity record found for presented assertion. Assertion Issuer: 'https://token.actions.githubusercontent.com'. Assertion Subject: 'repo:octo/app:ref:refs/heads/main'. Assertion Audience: 'api://AzureADTokenExchange'."),
			[]string{"microsoft entra token exchange failed: POST ", "/" + azTenant + "/oauth2/v2.0/token: 400 Bad Request: no federated credential matches the ID token (AADSTS70021): No matching federated identity record",
				"Assertion Subject: 'repo:octo/app:ref:refs/heads/main'"},
			[]string{"trace ID 0b9f1f5e-6c3a-4f7e-9f57-2a1d6b0c0d00, correlation ID 5d2e0f55-7f43-4b7e-8a5e-5b5f0b4b4b4b (for Microsoft support)", `issuer "https://token.actions.githubusercontent.com", subject "repo:octo/app:ref:refs/heads/main", audience "https://github.com/octo"`, "Federated credentials", "repo:OWNER/REPO:environment:NAME", `client-id "` + azClient + `"`},
			KindRefused, 1},
		{"700016 unknown application", 400, entraError(700016, "Application with identifier '"+azClient+"' was not found in the directory 'Contoso'."),
			[]string{"application not found in the tenant (AADSTS700016)"}, []string{`check client-id "` + azClient + `"`, `tenant-id "` + azTenant + `"`, "not its Object ID"}, KindRefused, 1},
		{"90002 tenant not found", 400, entraError(90002, "Tenant '"+azTenant+"' not found."),
			[]string{"tenant not found (AADSTS90002)"}, []string{`check tenant-id "` + azTenant + `"`, "verified domain", "AZURE_AUTHORITY_HOST"}, KindRefused, 1},
		{"900023 tenant not valid", 400, entraError(900023, "Specified tenant identifier 'x' is neither a valid DNS name, nor a valid external domain."),
			[]string{"tenant ID is not valid (AADSTS900023)"}, []string{"check tenant-id"}, KindRefused, 1},
		{"50020 not in tenant", 400, entraError(50020, "User account from identity provider does not exist in tenant."),
			[]string{"identity not in the tenant (AADSTS50020)"}, []string{"service principal", "tenant"}, KindRefused, 1},
		{"7000215 invalid secret", 401, entraError(7000215, "Invalid client secret provided."),
			[]string{"client secret not valid (AADSTS7000215)"}, []string{"this flow sends no secret", "client-id"}, KindRefused, 1},
		{"700024 expired", 400, entraError(700024, "Client assertion is not within its valid time range."),
			[]string{"ID token expired or not yet valid (AADSTS700024)"}, []string{"clock"}, KindRefused, 1},
		{"50013 invalid assertion", 401, entraError(50013, "Assertion failed signature validation."),
			[]string{"assertion not valid (AADSTS50013)"}, []string{`issuer must be the token's "https://token.actions.githubusercontent.com"`, `audience "api://AzureADTokenExchange"`}, KindRefused, 1},
		{"700211 issuer", 400, entraError(700211, "No matching federated identity record found for presented assertion issuer 'https://token.actions.githubusercontent.com'."),
			[]string{"no federated credential for the ID token's issuer (AADSTS700211)"}, []string{"without a trailing slash"}, KindRefused, 1},
		{"unknown code shown as is", 400, entraError(123456, "Something new."),
			[]string{"400 Bad Request: AADSTS123456: Something new."}, []string{"federated credential: its issuer, subject and audience must equal the ID token's"}, KindRefused, 1},
		{"429 throttled with an AADSTS code, retried", 429, entraError(90055, "Too many requests."),
			[]string{"429 Too Many Requests (after 3 attempts): throttled (AADSTS90055)"}, []string{"throttled", "after the retries"}, KindServiceFailed, 3},
		{"503 retried", 503, `{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred."}`,
			[]string{"503 Service Unavailable (after 3 attempts): AADSTS90033: A transient error has occurred."}, []string{"usually transient"}, KindServiceFailed, 3},
		{"404 html", 404, `<html><title>Not found</title></html>`, []string{"404 Not Found"}, []string{"wrong tenant-id or AZURE_AUTHORITY_HOST"}, KindRefused, 1},
		{"assertion echoed", 400, entraError(50027, "JWT token is invalid: "+idt+" or "+strings.Split(idt, ".")[1]+"."),
			[]string{"AADSTS50027: JWT token is invalid:"}, nil, KindRefused, 1},
		{"parts of a short assertion echoed", 400, entraError(50027, "Invalid JWT payload "+strings.Split(shortIDT, ".")[1]+" signature "+strings.Split(shortIDT, ".")[2]+"."),
			[]string{"AADSTS50027: Invalid JWT payload *** signature ***."}, nil, KindRefused, 1},
		{"short assertion part at the cut", 400, `{"error":"invalid_client","error_description":"AADSTS50027: ` + strings.Repeat("a ", 140) + strings.Split(shortIDT, ".")[1] + `","error_codes":[50027]}`,
			[]string{"AADSTS50027: a a a"}, nil, KindRefused, 1},
		{"token in an error body", 400, `{"error":"invalid_request","access_token":"sekrit-access-token-value"}`,
			[]string{"has the shape of a success answer"}, nil, KindRefused, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if strings.HasPrefix(tc.body, "<") {
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(tc.status)
					w.Write([]byte(tc.body))
					return
				}
				writeJSON(w, tc.status, tc.body)
			})
			m := &recMask{}
			z := &Azure{Client: testClient(2), Authority: f.URL, TenantID: azTenant, ClientID: azClient, Mask: m.mask, Now: nowFixed}
			ids := staticIDs(idt)
			if strings.Contains(tc.name, "short") {
				ids = staticIDs(shortIDT)
			}
			_, err := z.Exchange(context.Background(), ids)
			assertErr(t, err, tc.wantMsg)
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("error %T", err)
			}
			assertHint(t, he, tc.wantHint)
			if k := Classify(err); k != tc.wantKind {
				t.Errorf("kind %v, want %v", k, tc.wantKind)
			}
			if f.count() != tc.wantCalls {
				t.Errorf("%d requests, want %d", f.count(), tc.wantCalls)
			}
			all := err.Error() + "\n" + strings.Join(he.Details(), "\n")
			assertNoSecret(t, all, idt, strings.Split(idt, ".")[1][:24], strings.Split(idt, ".")[2], "sekrit-access-token-value",
				strings.Split(shortIDT, ".")[1][:7], strings.Split(shortIDT, ".")[2])
			checkMessage(t, he.Message)
		})
	}
}

// TestAzureBadAnswers: a success answer without a usable token is refused
// without quoting it; a redirect is not followed.
func TestAzureBadAnswers(t *testing.T) {
	type test struct {
		status int
		body   string
		header map[string]string
		want   string
	}
	testenv.Run(t, map[string]test{
		"malformed 200":        {200, `{"access_token":"abcdefghijklmnop"`, nil, "not valid JSON"},
		"no token":             {200, `{"token_type":"Bearer","expires_in":3600}`, nil, "no token"},
		"token with a newline": {200, `{"access_token":"abcdefgh\nijklmnop"}`, nil, "refused"},
		"redirect":             {307, ``, map[string]string{"Location": "https://evil.example/x"}, "redirects are refused"},
	}, func(t *testing.T, _ string, tc test) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			for k, v := range tc.header {
				w.Header().Set(k, v)
			}
			writeJSON(w, tc.status, tc.body)
		})
		m := &recMask{}
		z := &Azure{Client: testClient(0), Authority: f.URL, TenantID: azTenant, ClientID: azClient, Mask: m.mask}
		_, err := z.Exchange(context.Background(), staticIDs(testIDToken))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("error %v, want %q", err, tc.want)
		}
		if Classify(err) != KindBadAnswer {
			t.Errorf("kind %v", Classify(err))
		}
		assertNoSecret(t, err.Error(), testIDToken, "abcdefghijklmnop", "abcdefgh", "ijklmnop")
		var re *RequestError
		if !errors.As(err, &re) || !strings.Contains(strings.Join(re.Details(), " "), "tenant-id, and AZURE_AUTHORITY_HOST if set") {
			t.Errorf("details %q do not name what sets Entra's address", re.Details())
		}
	})
}

// TestAzureRequired: no request without a tenant or client, and the
// default authority and audience.
func TestAzureRequired(t *testing.T) {
	t.Parallel()
	for _, z := range []*Azure{{Client: testClient(0), ClientID: azClient}, {Client: testClient(0), TenantID: azTenant}} {
		if _, err := z.Exchange(context.Background(), staticIDs(testIDToken)); err == nil || !strings.Contains(err.Error(), "tenant ID and the client ID are required") {
			t.Errorf("err = %v", err)
		}
	}
	z := &Azure{TenantID: "contoso.onmicrosoft.com"}
	if z.IDTokenAudience() != AzureAudience || z.Endpoint() != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
		t.Errorf("audience %q endpoint %q", z.IDTokenAudience(), z.Endpoint())
	}
}

// TestAzureAuthorityFromEnv: AZURE_AUTHORITY_HOST is https only, a host
// without path; unset means Entra's global authority.
func TestAzureAuthorityFromEnv(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ v, want, err string }{
		{"", DefaultAzureAuthority, ""},
		{" https://login.microsoftonline.us/ ", "https://login.microsoftonline.us", ""},
		{"https://login.chinacloudapi.cn", "https://login.chinacloudapi.cn", ""},
		{"https://127.0.0.1:8443", "https://127.0.0.1:8443", ""},
		{"http://127.0.0.1:8080", "", "must be an https URL"},
		{"https://login.example/tenant/", "", "must not have a path"},
		{"https://login.example?x=1", "", "must not have user info, a query or a fragment"},
		{"https://u:p@login.example", "", "must not have user info"},
		{"login.example", "", "is not a URL"},
	} {
		got, err := AzureAuthorityFromEnv(testenv.Getenv(map[string]string{EnvAzureAuthorityHost: tt.v}))
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), EnvAzureAuthorityHost))) {
			t.Errorf("AzureAuthorityFromEnv(%q) = %q, %v; want %q, %q", tt.v, got, err, tt.want, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), "u:p@") {
			t.Errorf("error shows the user info: %v", err)
		}
	}
}

// TestParseAzureError reads Entra's error shapes.
func TestParseAzureError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		ok    bool
		codes []int
		title string
		str   string
	}{
		{"full", entraError(70021, "No matching federated identity record found for presented assertion."), true, []int{70021}, "no federated credential matches the ID token",
			"no federated credential matches the ID token (AADSTS70021): No matching federated identity record found for presented assertion."},
		{"codes from the description", `{"error":"invalid_request","error_description":"AADSTS900023: Specified tenant identifier is neither a valid DNS name."}`, true, []int{900023}, "tenant ID is not valid",
			"tenant ID is not valid (AADSTS900023): Specified tenant identifier is neither a valid DNS name."},
		{"known code after an unknown one", `{"error":"x","error_codes":[1,700016]}`, true, []int{1, 700016}, "application not found in the tenant", "application not found in the tenant (AADSTS700016)"},
		{"error only", `{"error":"invalid_scope"}`, true, nil, "", "invalid_scope"},
		{"trace ID that is not an ID", `{"error":"x","trace_id":"see https://evil.example"}`, true, nil, "", "x"},
		{"codes as strings, negative, huge", `{"error_codes":["70021",-5,1e99]}`, true, []int{70021}, "no federated credential matches the ID token", "no federated credential matches the ID token (AADSTS70021)"},
		{"codes not numbers", `{"error_codes":[true,"x"]}`, false, nil, "", ""},
		{"other shape", `{"errors":[{"message":"no"}]}`, false, nil, "", ""},
		{"not json", `AADSTS70021`, false, nil, "", ""},
	}
	for _, tt := range tests {
		e, ok := ParseAzureError([]byte(tt.body))
		if ok != tt.ok || fmtInts(e.Codes) != fmtInts(tt.codes) || e.Title() != tt.title || e.String() != tt.str {
			t.Errorf("%s: ParseAzureError = %+v, %v (title %q, string %q); want codes %v title %q string %q", tt.name, e, ok, e.Title(), e.String(), tt.codes, tt.title, tt.str)
		}
	}
}

func fmtInts(v []int) string {
	var s []string
	for _, n := range v {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ",")
}

// FuzzParseAzureError: the parser never panics, keeps at most
// maxAzureCodes positive codes, and what it shows is clean, bounded text
// that carries no JWT of the body.
func FuzzParseAzureError(f *testing.F) {
	f.Add([]byte(entraError(70021, "No matching federated identity record found.")))
	f.Add([]byte(`{"error":"x","error_description":"AADSTS1AADSTS2AADSTS99999999999","error_codes":[]}`))
	f.Add([]byte(`{"error_codes":[1,2,3,4,5,6,7,8,9,10],"trace_id":"\u0000"}`))
	f.Add([]byte(`{"error":"` + testIDToken + `"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, ok := ParseAzureError(body)
		if !ok {
			return
		}
		if len(e.Codes) > maxAzureCodes {
			t.Fatalf("%d codes", len(e.Codes))
		}
		for _, c := range e.Codes {
			if c <= 0 {
				t.Fatalf("code %d", c)
			}
		}
		if azureID(e.TraceID) != e.TraceID || azureID(e.CorrelationID) != e.CorrelationID {
			t.Fatalf("ids %q %q", e.TraceID, e.CorrelationID)
		}
		msg := NewRedactor().Clean(e.String())
		checkMessage(t, msg)
		if jwtRe().MatchString(msg) {
			t.Fatalf("a JWT in %q", msg)
		}
	})
}

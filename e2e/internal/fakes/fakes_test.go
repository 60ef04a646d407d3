package fakes

// What the e2e tests cannot show through the binary: that each fake
// refuses what the real service refuses, in the real service's shape, so
// that a product test's pass means something; and the parsers' fuzz tests.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// call performs one request and returns status, body and WWW-Authenticate;
// url.Values are sent as a form, []byte as is, anything else as JSON.
func call(t *testing.T, s *Stack, method, u, auth string, body any) (int, []byte, []string) {
	t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	testenv.Must(t, err)
	req.Header.Set("Content-Type", ct)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.CA.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, resp.Header.Values("WWW-Authenticate")
}

// exchangeCall posts an ID token to a service in its own request shape.
func exchangeCall(t *testing.T, s *Stack, svc, jwt string) (int, []byte) {
	t.Helper()
	u, body := s.CratesIOURL+CratesIOTokenPath, any(map[string]string{"jwt": jwt})
	switch svc {
	case "jfrog":
		u, body = s.JFrogURL+JFrogTokenPath, map[string]any{"grant_type": JFrogGrantType,
			"subject_token_type": JFrogSubjectTokenType, "subject_token": jwt, "provider_name": s.JFrog.ProviderName}
	case "cloudsmith":
		u, body = s.CloudsmithURL+"/openid/"+s.Cloudsmith.Namespace+"/", map[string]string{"oidc_token": jwt, "service_slug": s.Cloudsmith.ServiceSlug}
	case "azure":
		u, body = s.Azure.AuthorityHost+"/"+s.Azure.Entra.Tenant+entraTokenPath, entraForm(s, jwt)
	}
	st, b, _ := call(t, s, http.MethodPost, u, "", body)
	return st, b
}

func entraForm(s *Stack, jwt string) url.Values {
	return url.Values{"grant_type": {EntraGrantType}, "client_id": {s.Azure.Entra.ClientID}, "client_assertion_type": {EntraAssertionType},
		"client_assertion": {jwt}, "scope": {AzureDevOpsScope}}
}

var entraDescRE = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

// errorMessage extracts a service's error message, failing on another shape.
func errorMessage(t *testing.T, svc string, body []byte) string {
	t.Helper()
	var v struct {
		Errors []struct{ Code, Message, Detail string } `json:"errors"`
		Detail string                                   `json:"detail"`
		entraError
	}
	err := json.Unmarshal(body, &v)
	switch {
	case err == nil && svc == "jfrog" && len(v.Errors) == 1 && v.Errors[0].Code != "" && v.Errors[0].Message != "":
		return v.Errors[0].Message
	case err == nil && svc == "cloudsmith" && v.Detail != "":
		return v.Detail
	case err == nil && svc == "crates-io" && len(v.Errors) == 1 && v.Errors[0].Detail != "":
		return v.Errors[0].Detail
	case err == nil && svc == "azure" && entraDescRE.MatchString(v.ErrorDescription) && len(v.ErrorCodes) == 1 &&
		strings.HasPrefix(v.ErrorDescription, "AADSTS"+strconv.Itoa(v.ErrorCodes[0])+": "):
		return v.Error + " " + v.ErrorDescription
	}
	t.Fatalf("not %s's error shape: %s", svc, body)
	return ""
}

// TestExchangeRefusals: each token service refuses a forged, expired,
// mis-addressed or unmapped ID token in its own way, without echoing it.
func TestExchangeRefusals(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	// env: the job runs in environment release, the services require production.
	env := StartT(t, Options{Issuer: IssuerConfig{Environment: "release"},
		Mapping: map[string]string{"repository": "octo-org/octo-repo", "environment": "production"}})
	gl, err := s.StartGitLab()
	testenv.Must(t, err)
	s.TrustGitLab(gl, &GitLabPublisher{Namespace: "Grp", Project: "APP", WorkflowFilepath: ".gitlab-ci.yml", Environment: "release"})
	s.Azure.Entra.SetCredentials(s.Azure.Entra.creds[0], FederatedCredential{Issuer: s.IssuerURL, Subject: s.Azure.Entra.creds[0].Subject, Audience: "api://custom"})
	past := time.Now().Add(-time.Hour).Unix()
	forge := func(tok string) string { return tok[:strings.LastIndex(tok, ".")+1] + strings.Repeat("A", 342) }
	aud := map[string]string{"jfrog": s.Issuer.DefaultAudience(), "cloudsmith": s.Issuer.DefaultAudience(), "crates-io": "crates.io", "azure": EntraAudience}
	type row struct {
		name, svc string
		stack     *Stack
		iss       *Issuer
		aud       string         // "" = the service's
		extra     map[string]any // claims on top
		edit      func(string) string
		status    int
		msg       string // in the service's message
	}
	var rows []row
	generic := map[string]string{"cloudsmith": "Incorrect authentication credentials.", "crates-io": "Failed to decode JWT"}
	status := map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400}
	for _, r := range []row{
		{name: "bad signature", edit: forge, msg: "signature"},
		{name: "wrong aud", aud: "https://elsewhere.example", msg: "audience 'https://elsewhere.example'"},
		{name: "expired", extra: map[string]any{"exp": past, "iat": past - 300, "nbf": past - 300}, msg: "expired"},
	} {
		for _, svc := range []string{"jfrog", "cloudsmith", "crates-io"} {
			r.svc, r.status, r.msg = svc, status[svc], cmp.Or(generic[svc], r.msg) // r.msg is JFrog's
			rows = append(rows, r)
		}
	}
	rows = append(rows,
		row{name: "mismatched environment", svc: "jfrog", stack: env, status: 401, msg: "claim 'environment' is 'release', the identity mapping requires 'production'"},
		row{name: "mismatched environment", svc: "crates-io", stack: env, status: 400,
			msg: "No matching Trusted Publishing config found for repository `octo-org/octo-repo`: the token's `environment` is `release`, the config requires `production`."},
		row{name: "gitlab other pipeline file", svc: "crates-io", iss: gl.Issuer, extra: map[string]any{"ci_config_ref_uri": "gitlab.com/grp/app//ci/x.yml@refs/heads/main"}, status: 400, msg: "workflow filepath `ci/x.yml`"},
		row{name: "gitlab other environment", svc: "crates-io", iss: gl.Issuer, extra: map[string]any{"environment": "dev"}, status: 400, msg: "environment `dev`"},
		row{name: "gitlab no environment", svc: "crates-io", iss: gl.Issuer, extra: map[string]any{"environment": nil}, status: 400, msg: "environment ``"},
		row{name: "gitlab other audience", svc: "crates-io", iss: gl.Issuer, aud: "jfrog", status: 400, msg: "Failed to decode JWT"},
		row{name: "second credential", svc: "azure", aud: "api://custom", status: 200},
		row{name: "sub in another case", svc: "azure", extra: map[string]any{"sub": "repo:Octo-Org/octo-repo:ref:refs/heads/main"}, status: 400,
			msg: "invalid_request AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '" + s.IssuerURL + "'. Assertion Subject: 'repo:Octo-Org/octo-repo:ref:refs/heads/main'. Assertion Audience: '" + EntraAudience + "'."},
		row{name: "bad signature", svc: "azure", edit: forge, status: 401, msg: "invalid_client AADSTS700027: "},
	)
	for _, tt := range rows {
		t.Run(tt.svc+"/"+tt.name, func(t *testing.T) {
			st := cmp.Or(tt.stack, s)
			jwt, _ := cmp.Or(tt.iss, st.Issuer).Mint(cmp.Or(tt.aud, aud[tt.svc]), tt.extra)
			if tt.edit != nil {
				jwt = tt.edit(jwt)
			}
			code, body := exchangeCall(t, st, tt.svc, jwt)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
			if code == 200 {
				return
			}
			if msg := errorMessage(t, tt.svc, body); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not contain %q", msg, tt.msg)
			}
			if bytes.Contains(body, []byte(jwt[strings.LastIndex(jwt, ".")+1:])) {
				t.Errorf("the refusal echoes the JWT")
			}
		})
	}

	// crates.io takes a JWT once, GitHub's or GitLab's, and consumes it even
	// when no config matched.
	for _, iss := range []*Issuer{s.Issuer, gl.Issuer, env.Issuer} {
		st := cmp.Or(map[*Issuer]*Stack{env.Issuer: env}[iss], s)
		jwt, _ := iss.Mint("crates.io", nil)
		first, b := exchangeCall(t, st, "crates-io", jwt)
		if iss != env.Issuer && first != 200 {
			t.Fatalf("%s: first use: %d %s", iss.service, first, b)
		}
		if code, b := exchangeCall(t, st, "crates-io", jwt); code != 400 || errorMessage(t, "crates-io", b) != "JWT has already been used" {
			t.Errorf("%s: replay: %d %s", iss.service, code, b)
		}
	}
	if n := env.Store.Exchanges("crates-io"); n != 0 {
		t.Errorf("%d crates.io tokens issued for a mismatched environment", n)
	}
}

// TestEntraRefusesRequests: Entra refuses the wrong tenant, application or
// scope with its AADSTS codes and quotes the assertion when told to echo;
// the secrets faults serve are recorded for the leak scan.
func TestEntraRefusesRequests(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	jwt, _ := s.Issuer.Mint(EntraAudience, nil)
	e := s.Azure.Entra
	post := func(tenant string, edit func(url.Values)) (int, string) {
		f := entraForm(s, jwt)
		if edit != nil {
			edit(f)
		}
		st, b, _ := call(t, s, http.MethodPost, s.Azure.AuthorityHost+"/"+tenant+entraTokenPath, "", f)
		return st, errorMessage(t, "azure", b)
	}
	tests := []struct {
		name, tenant string
		edit         func(url.Values)
		want         string
	}{
		{"unknown tenant", "00000000-1111-2222-3333-444444444444", nil, "invalid_tenant AADSTS90002: Tenant '00000000-1111-2222-3333-444444444444' not found."},
		{"unknown client", e.Tenant, func(f url.Values) { f.Set("client_id", "11111111-2222-3333-4444-555555555555") },
			"unauthorized_client AADSTS700016: Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory"},
		{"other scope", e.Tenant, func(f url.Values) { f.Set("scope", "https://management.azure.com/.default") }, "invalid_request AADSTS900144: The request body must contain the following parameter: 'scope'."},
	}
	for _, tt := range tests {
		if st, msg := post(tt.tenant, tt.edit); st != 400 || !strings.HasPrefix(msg, tt.want) {
			t.Errorf("%s: %d %q, want 400 %q", tt.name, st, msg, tt.want)
		}
	}
	e.SetEchoAssertion(true)
	if st, msg := post(e.Tenant, func(f url.Values) { f.Set("scope", "x") }); st != 400 || !strings.Contains(msg, "Presented assertion: '"+jwt+"'.") {
		t.Errorf("echoing refusal: %d %q", st, msg)
	}
	f, secret := e.EntraLeakyFault()
	e.Faults.Push(f)
	if st, msg := post(e.Tenant, nil); st != 400 || !strings.Contains(msg, "AADSTS700027: ") || !strings.Contains(msg, secret) {
		t.Errorf("leaky fault: %d %q", st, msg)
	}
	if it, ok := s.Store.Lookup(secret); !ok || it.Kind != KindFaultToken {
		t.Errorf("the leaky fault's secret is not recorded for the leak scan")
	}
	e.Faults.Push(Of(FaultNewlineToken))
	_, b, _ := call(t, s, http.MethodPost, s.Azure.AuthorityHost+"/"+e.Tenant+entraTokenPath, "", url.Values{})
	var v struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &v)
	if it, ok := s.Store.Lookup(v.AccessToken); !strings.Contains(v.AccessToken, "\n") || !ok || it.Kind != KindFaultToken || s.Store.Valid(v.AccessToken) {
		t.Errorf("the newline token %q is not recorded as an invalid secret for the leak scan", v.AccessToken)
	}
}

// publishBody is cargo publish's body: each part after its u32 LE length.
func publishBody(meta string, crate []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(meta)))
	b = binary.LittleEndian.AppendUint32(append(b, meta...), uint32(len(crate)))
	return append(b, crate...)
}

// TestRegistryRefuses: each index serves only a valid token of its issuer in
// its scheme; publish needs a raw token and a well-formed upload, once.
func TestRegistryRefuses(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	token := func(svc, aud string) string {
		jwt, _ := s.Issuer.Mint(aud, nil)
		_, b := exchangeCall(t, s, svc, jwt)
		var v struct {
			AccessToken string `json:"access_token"`
			Token       string `json:"token"`
		}
		_ = json.Unmarshal(b, &v)
		return v.AccessToken + v.Token
	}
	jt, ct, at := token("jfrog", s.Issuer.DefaultAudience()), token("crates-io", "crates.io"), token("azure", EntraAudience)
	idt, _ := s.Issuer.Mint("", nil)
	jidx, pidx := strings.TrimPrefix(s.JFrogIndex, "sparse+"), strings.TrimPrefix(s.CratesIOIndex, "sparse+")
	aidx := strings.TrimPrefix(s.Azure.Index, "sparse+")
	azChallenge := "Bearer authorization_uri=https://login.microsoftonline.com/" + s.Azure.Entra.Tenant
	tests := []struct {
		name, url, auth string
		status          int
		challenge       string // the first WWW-Authenticate
		config          string // config.json holds this
	}{
		{"jfrog raw token", jidx + "e2/e-/e2e-dep", jt, 401, "", ""},
		{"jfrog no token", jidx + "e2/e-/e2e-dep", "", 401, "", ""},
		{"jfrog an ID token", jidx + "config.json", "Bearer " + idt, 401, "", ""},
		{"cloudsmith index with a jfrog token", strings.TrimPrefix(s.CloudsmithIndex, "sparse+") + "e2/e-/e2e-dep", "Bearer " + jt, 200, "", ""},
		{"jfrog unknown crate", jidx + "no/ne/nonexistent", "Bearer " + jt, 404, "", ""},
		{"jfrog wrong index path", jidx + "xx/yy/e2e-dep", "Bearer " + jt, 404, "", ""},
		{"crates.io public index", pidx + "e2/e-/e2e-dep", "", 200, "", ""},
		{"crates.io config", pidx + "config.json", "", 200, "", `"api":"https://`},
		{"azure raw token", aidx + "e2/e-/e2e-dep", at, 401, azChallenge, ""},
		{"azure a jfrog token", aidx + "e2/e-/e2e-dep", "Bearer " + jt, 401, azChallenge, ""},
	}
	for _, tt := range tests {
		st, b, challenge := call(t, s, http.MethodGet, tt.url, tt.auth, nil)
		if st != tt.status || !strings.Contains(string(b), tt.config) || tt.challenge != "" && (len(challenge) == 0 || challenge[0] != tt.challenge) {
			t.Errorf("%s: %d %s %q", tt.name, st, b, challenge)
		}
		if tt.name == "crates.io config" && strings.Contains(string(b), "auth-required") {
			t.Errorf("crates.io config says auth-required: %s", b)
		}
	}

	crate, _ := buildCrate("newcrate", "0.3.0", nil)
	meta := `{"name":"newcrate","vers":"0.3.0","deps":[{"name":"e2e-dep","version_req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","explicit_name_in_toml":"dep"}],"features":{}}`
	for _, p := range []struct {
		name, auth string
		body       []byte
		status     int
		want       string
	}{
		{"Bearer on a raw root", "Bearer " + ct, publishBody(meta, crate), 403, "raw token"},
		{"truncated upload", ct, publishBody(meta, crate)[:10], 400, "invalid upload"},
		{"publish", ct, publishBody(meta, crate), 200, `"warnings"`},
		{"republish", ct, publishBody(meta, crate), 400, "already uploaded"},
	} {
		if st, b, _ := call(t, s, http.MethodPut, pidx+"api/v1/crates/new", p.auth, p.body); st != p.status || !strings.Contains(string(b), p.want) {
			t.Fatalf("%s: %d %s", p.name, st, b)
		}
	}
	if _, b, _ := call(t, s, http.MethodGet, pidx+"ne/wc/newcrate", "", nil); !strings.Contains(string(b), `{"name":"dep","req":"^1",`) ||
		!strings.Contains(string(b), `"package":"e2e-dep"`) || !regexp.MustCompile(`"cksum":"[0-9a-f]{64}"`).Match(b) {
		t.Fatalf("index entry %s", b)
	}
	if st, b, _ := call(t, s, http.MethodGet, pidx+"dl/newcrate/0.3.0/download", "", nil); st != 200 || !bytes.Equal(b, crate) {
		t.Fatalf("download of the published crate: %d", st)
	}
}

// TestAWSRefuses: STS checks the audience; CodeArtifact recomputes the SigV4
// signature and checks the signing region and the session token.
func TestAWSRefuses(t *testing.T) {
	type refusal struct {
		setup  func(ca *exchange.CodeArtifact)
		tamper func(r *http.Request)
		svc    string
		status int
		msg    string
	}
	testenv.Run(t, map[string]refusal{
		"audience": {setup: func(ca *exchange.CodeArtifact) { ca.Audience = "https://github.com/octo-org" },
			svc: exchange.ServiceSTS, status: 400, msg: "InvalidIdentityToken: Incorrect token audience"},
		"signing region": {setup: func(ca *exchange.CodeArtifact) { ca.Region = "us-east-1" },
			svc: exchange.ServiceCodeArtifact, status: 403, msg: "InvalidSignatureException: Credential should be scoped to a valid region"},
		"query changed after signing": {tamper: func(r *http.Request) { r.URL.RawQuery += "&duration=7200" },
			svc: exchange.ServiceCodeArtifact, status: 403, msg: "InvalidSignatureException: The request signature we calculated does not match"},
		"forged session token": {tamper: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "forged") },
			svc: exchange.ServiceCodeArtifact, status: 403, msg: "UnrecognizedClientException"},
		"access key STS never issued": {tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Credential=ASIA", "Credential=ASIX", 1))
		}, svc: exchange.ServiceCodeArtifact, status: 403, msg: "UnrecognizedClientException"},
	}, func(t *testing.T, _ string, tc refusal) {
		s := StartT(t, Options{})
		base := s.CA.Client()
		base.Transport = rtFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == caTokenPath && tc.tamper != nil {
				tc.tamper(r)
			}
			return s.CA.Client().Transport.RoundTrip(r)
		})
		ca := &exchange.CodeArtifact{
			Client: exchange.NewClient(exchange.HTTPConfig{Base: base, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond}),
			Region: DefaultAWSRegion, RoleARN: DefaultAWSRole, RoleSessionName: "fakes-test", Domain: DefaultCADomain, DomainOwner: DefaultAWSAccount,
			Endpoints: exchange.AWSEndpoints{STS: s.STSURL, CodeArtifact: s.CodeArtifactURL},
		}
		if tc.setup != nil {
			tc.setup(ca)
		}
		_, err := ca.Exchange(t.Context(), exchange.IDTokenFunc(func(_ context.Context, aud string) (string, error) { return s.Issuer.Mint(aud, nil) }))
		var he *exchange.HTTPError
		if !errors.As(err, &he) || he.Service != tc.svc || he.StatusCode != tc.status || !strings.Contains(he.Message, tc.msg) {
			t.Fatalf("err %v, want %s %d %q", err, tc.svc, tc.status, tc.msg)
		}
		if n := s.Store.Exchanges("codeartifact"); n != 0 {
			t.Fatalf("%d CodeArtifact tokens issued", n)
		}
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func FuzzParsePublish(f *testing.F) {
	f.Add(publishBody(`{"name":"a","vers":"1.0.0"}`, []byte("crate")))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(publishBody("", nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		meta, crate, err := parsePublish(body)
		if err == nil && !bytes.Equal(publishBody(string(meta), crate), body) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzParseJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		if jt, claims, err := parseJWT(tok); err == nil && (claims == nil || len(jt.Headers) != 1) {
			t.Fatal("nil claims or not one header without error")
		}
	})
}

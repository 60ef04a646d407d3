package fakes

// One test per rule the product tests rely on: a fake refuses what the
// real service refuses (so that a product test's pass means something),
// a fault is served once and then the real answer, the registry checks
// the token and the publish format, and the AWS fake checks SigV4.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// call performs one request with the stack's CA and returns status and body.
func call(t *testing.T, s *Stack, method, url, auth string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.CA.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// idToken fetches an ID token from the runner endpoint like the action does.
func idToken(t *testing.T, s *Stack, audience string) string {
	t.Helper()
	u := s.RequestURL
	if audience != "" {
		u += "&audience=" + audience
	}
	st, b := call(t, s, http.MethodGet, u, "Bearer "+s.RequestToken, nil)
	if st != http.StatusOK {
		t.Fatalf("id token: %d %s", st, b)
	}
	var v struct {
		Value string `json:"value"`
		Count int    `json:"count"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Value == "" {
		t.Fatalf("id token answer %s: %v", b, err)
	}
	return v.Value
}

func jfrogBody(s *Stack, jwt string) map[string]any {
	return map[string]any{
		"grant_type": JFrogGrantType, "subject_token_type": JFrogSubjectTokenType,
		"subject_token": jwt, "provider_name": s.JFrog.ProviderName,
	}
}

// serviceToken performs a whole exchange with service ("jfrog" or
// "crates-io") and returns the token it issued.
func serviceToken(t *testing.T, s *Stack, service string) string {
	t.Helper()
	st, b := exchangeCall(t, s, service, idToken(t, s, audienceFor(s, service)))
	var v struct {
		AccessToken string `json:"access_token"`
		Token       string `json:"token"`
	}
	if err := json.Unmarshal(b, &v); st != http.StatusOK || err != nil || v.AccessToken+v.Token == "" {
		t.Fatalf("%s exchange: %d %s (%v)", service, st, b, err)
	}
	return v.AccessToken + v.Token
}

// exchangeCall posts jwt to one service in its own request shape.
func exchangeCall(t *testing.T, s *Stack, service, jwt string) (int, []byte) {
	t.Helper()
	switch service {
	case "jfrog":
		return call(t, s, http.MethodPost, s.JFrogURL+JFrogTokenPath, "", jfrogBody(s, jwt))
	case "cloudsmith":
		return call(t, s, http.MethodPost, s.CloudsmithURL+"/openid/"+s.Cloudsmith.Namespace+"/", "",
			map[string]string{"oidc_token": jwt, "service_slug": s.Cloudsmith.ServiceSlug})
	default:
		return call(t, s, http.MethodPost, s.CratesIOURL+CratesIOTokenPath, "", map[string]string{"jwt": jwt})
	}
}

func audienceFor(s *Stack, service string) string {
	if service == "crates-io" {
		return "crates.io"
	}
	return s.Issuer.DefaultAudience()
}

// errorMessage extracts the message from a service's error shape, failing
// when the shape is not the service's own.
func errorMessage(t *testing.T, service string, body []byte) string {
	t.Helper()
	switch service {
	case "jfrog":
		var v struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}
		if err := json.Unmarshal(body, &v); err != nil || len(v.Errors) != 1 || v.Errors[0].Code == "" || v.Errors[0].Message == "" {
			t.Fatalf("not JFrog's error shape: %s", body)
		}
		return v.Errors[0].Message
	case "cloudsmith":
		var v struct {
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Detail == "" {
			t.Fatalf("not Cloudsmith's error shape: %s", body)
		}
		return v.Detail
	default:
		var v struct {
			Errors []struct{ Detail string } `json:"errors"`
		}
		if err := json.Unmarshal(body, &v); err != nil || len(v.Errors) != 1 || v.Errors[0].Detail == "" {
			t.Fatalf("not crates.io's error shape: %s", body)
		}
		return v.Errors[0].Detail
	}
}

func TestExchangeVerification(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	type mint func(s *Stack, aud string) (string, error)
	past := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name   string
		mint   mint
		status map[string]int
		msg    map[string]string // substring of the service's message
	}{
		{
			name:   "good token",
			mint:   func(s *Stack, aud string) (string, error) { return s.Issuer.Mint(aud, nil) },
			status: map[string]int{"jfrog": 200, "cloudsmith": 200, "crates-io": 200},
		},
		{
			name: "bad signature",
			mint: func(s *Stack, aud string) (string, error) {
				tok, err := s.Issuer.Mint(aud, nil)
				return tok[:strings.LastIndex(tok, ".")+1] + strings.Repeat("A", 342), err
			},
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg:    map[string]string{"jfrog": "signature", "cloudsmith": "Incorrect authentication credentials", "crates-io": "Failed to decode JWT"},
		},

		{
			name:   "wrong aud",
			mint:   func(s *Stack, aud string) (string, error) { return s.Issuer.Mint("https://elsewhere.example", nil) },
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg:    map[string]string{"jfrog": "audience 'https://elsewhere.example'", "cloudsmith": "Incorrect", "crates-io": "Failed to decode JWT"},
		},
		{
			name: "expired",
			mint: func(s *Stack, aud string) (string, error) {
				return s.Issuer.Mint(aud, map[string]any{"exp": past, "iat": past - 300, "nbf": past - 300})
			},
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg:    map[string]string{"jfrog": "expired", "cloudsmith": "Incorrect", "crates-io": "Failed to decode JWT"},
		},

		{
			name: "mismatched repository",
			mint: func(s *Stack, aud string) (string, error) {
				return s.Issuer.Mint(aud, map[string]any{"repository": "evil-org/octo-repo"})
			},
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg: map[string]string{
				"jfrog":      "Failed to find a matching identity mapping for the provided token claims: claim 'repository' is 'evil-org/octo-repo'",
				"cloudsmith": "Incorrect",
				"crates-io":  "No Trusted Publishing config found for repository `evil-org/octo-repo`.",
			},
		},
	}
	for _, tt := range tests {
		for _, svc := range []string{"jfrog", "cloudsmith", "crates-io"} {
			t.Run(tt.name+"/"+svc, func(t *testing.T) {
				t.Parallel()
				jwt, err := tt.mint(s, audienceFor(s, svc))
				if err != nil {
					t.Fatal(err)
				}
				st, body := exchangeCall(t, s, svc, jwt)
				if st != tt.status[svc] {
					t.Fatalf("status %d, want %d: %s", st, tt.status[svc], body)
				}
				if st == http.StatusOK {
					var v map[string]any
					if err := json.Unmarshal(body, &v); err != nil {
						t.Fatal(err)
					}
					field := "token"
					if svc == "jfrog" {
						field = "access_token"
					}
					tok, _ := v[field].(string)
					if !s.Store.Valid(tok) {
						t.Fatalf("issued token is not valid in the store: %s", body)
					}
					return
				}
				if msg := errorMessage(t, svc, body); !strings.Contains(msg, tt.msg[svc]) {
					t.Errorf("message %q does not contain %q", msg, tt.msg[svc])
				}
				if strings.Contains(string(body), jwt) {
					t.Errorf("error answer echoes the JWT")
				}
			})
		}
	}
}

func TestCratesIOEnvironmentMismatchAndReplay(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{Issuer: IssuerConfig{Environment: "release"}})
	jwt, err := s.Issuer.Mint("crates.io", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, b := exchangeCall(t, s, "crates-io", jwt); st != 200 {
		t.Fatalf("first use: %d %s", st, b)
	}
	st, b := exchangeCall(t, s, "crates-io", jwt)
	if st != 400 || errorMessage(t, "crates-io", b) != "JWT has already been used" {
		t.Fatalf("replay: %d %s", st, b)
	}
	s.SetMapping(map[string]string{"repository": "octo-org/octo-repo", "environment": "production"})
	jwt, _ = s.Issuer.Mint("crates.io", nil)
	st, b = exchangeCall(t, s, "crates-io", jwt)
	want := "No matching Trusted Publishing config found for repository `octo-org/octo-repo`: the token's `environment` is `release`, the config requires `production`."
	if st != 400 || errorMessage(t, "crates-io", b) != want {
		t.Fatalf("environment mismatch: %d %s", st, b)
	}
	// The JWT was consumed even though no config matched, like the real service.
	if st, b = exchangeCall(t, s, "crates-io", jwt); errorMessage(t, "crates-io", b) != "JWT has already been used" {
		t.Fatalf("replay after mismatch: %d %s", st, b)
	}
	if got := s.Store.Exchanges("crates-io"); got != 1 {
		t.Errorf("exchanges = %d, want 1", got)
	}
}

// TestFaults: each fault a product test pushes is served once, then the
// queue lets requests through to the real handler.
func TestFaults(t *testing.T) {
	t.Parallel()
	type answer func(s *Stack, r *http.Response, b []byte, err error) bool
	tests := []struct {
		name  string
		fault Fault
		ok    answer
	}{
		{"503 with Retry-After", StatusRetryAfter(503, "3600"), func(s *Stack, r *http.Response, b []byte, err error) bool {
			return err == nil && r.StatusCode == 503 && r.Header.Get("Retry-After") == "3600"
		}},
		{"status with body", Fault{Kind: FaultStatus, Status: 403, Body: `{"errors":[{"code":"FORBIDDEN","message":"nope"}]}`, ContentType: "application/json"}, func(s *Stack, r *http.Response, b []byte, err error) bool {
			return err == nil && r.StatusCode == 403 && strings.Contains(string(b), "nope")
		}},
		{"malformed json", Of(FaultMalformedJSON), func(s *Stack, r *http.Response, b []byte, err error) bool {
			return err == nil && r.StatusCode == 200 && !json.Valid(b)
		}},
		{"newline token, recorded as an invalid secret", Of(FaultNewlineToken), func(s *Stack, r *http.Response, b []byte, err error) bool {
			var v struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.Unmarshal(b, &v)
			it, ok := s.Store.Lookup(v.AccessToken)
			return strings.Contains(v.AccessToken, "\n") && ok && it.Kind == KindFaultToken && !s.Store.Valid(v.AccessToken)
		}},
		{"huge body", Of(FaultHugeBody), func(s *Stack, r *http.Response, b []byte, err error) bool {
			return err == nil && r.ContentLength == HugeBodySize && len(b) == 1<<20
		}},
		{"redirect 307 to the other host", Of(FaultRedirect307), func(s *Stack, r *http.Response, b []byte, err error) bool {
			loc, _ := url.Parse(r.Header.Get("Location"))
			return err == nil && r.StatusCode == 307 && loc != nil && loc.Hostname() == "localhost" && loc.Path == JFrogTokenPath
		}},
		{"hang until the client gives up", Of(FaultHang), func(s *Stack, r *http.Response, b []byte, err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // one fault queue per endpoint: a stack per case
			s := StartT(t, Options{})
			s.JFrog.Faults.Push(tt.fault)
			c := s.CA.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			b, _ := json.Marshal(jfrogBody(s, "x.y.z"))
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.JFrogURL+JFrogTokenPath, bytes.NewReader(b))
			resp, err := c.Do(req)
			var body []byte
			if err == nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
			}
			if !tt.ok(s, resp, body, err) {
				t.Fatalf("answer %v %.200s, error %v", resp, body, err)
			}
			if s.JFrog.Faults.Served() != 1 || s.Store.Requests(JFrogTokenPath) != 1 {
				t.Errorf("served %d requests %d", s.JFrog.Faults.Served(), s.Store.Requests(JFrogTokenPath))
			}
			if st, _ := call(t, s, http.MethodPost, s.JFrogURL+JFrogTokenPath, "", jfrogBody(s, idToken(t, s, ""))); st != 200 {
				t.Errorf("after the fault: %d", st)
			}
		})
	}
}

func publishBody(meta string, crate []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(meta)))
	b.WriteString(meta)
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(crate)))
	b.Write(crate)
	return b.Bytes()
}

func TestRegistryAuthAndPublish(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	jt := serviceToken(t, s, "jfrog")
	ct := serviceToken(t, s, "crates-io")
	jidx := strings.TrimPrefix(s.JFrogIndex, "sparse+")
	cidx := strings.TrimPrefix(s.CloudsmithIndex, "sparse+")
	pidx := strings.TrimPrefix(s.CratesIOIndex, "sparse+")
	tests := []struct {
		name   string
		url    string
		auth   string
		status int
	}{
		{"jfrog index with bearer", jidx + "e2/e-/e2e-dep", "Bearer " + jt, 200},
		{"jfrog download with bearer", jidx + "dl/e2e-dep/1.0.0/download", "Bearer " + jt, 200},
		{"cloudsmith index with a jfrog token", cidx + "e2/e-/e2e-dep", "Bearer " + jt, 200},
		{"jfrog index with raw token", jidx + "e2/e-/e2e-dep", jt, 401},
		{"jfrog index without token", jidx + "e2/e-/e2e-dep", "", 401},
		{"jfrog index with an ID token", jidx + "config.json", "Bearer " + s.Store.Tokens()[0].Value, 401},
		{"unknown crate", jidx + "no/ne/nonexistent", "Bearer " + jt, 404},
		{"wrong index path", jidx + "xx/yy/e2e-dep", "Bearer " + jt, 404},
		{"crates.io index is public", pidx + "e2/e-/e2e-dep", "", 200},
		{"crates.io config has no auth-required", pidx + "config.json", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, b := call(t, s, http.MethodGet, tt.url, tt.auth, nil)
			if st != tt.status {
				t.Fatalf("%d %s", st, b)
			}
			if strings.HasSuffix(tt.url, "config.json") && st == 200 && strings.Contains(string(b), "auth-required") {
				t.Errorf("crates.io config says auth-required: %s", b)
			}
		})
	}

	crate, _ := BuildCrate("newcrate", "0.3.0", nil, nil)
	meta := `{"name":"newcrate","vers":"0.3.0","deps":[{"name":"e2e-dep","version_req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","explicit_name_in_toml":"dep"}],"features":{}}`
	put := func(auth string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, pidx+"api/v1/crates/new", bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := s.CA.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := put("Bearer "+ct, publishBody(meta, crate)); st != 403 {
		t.Fatalf("publish with Bearer on a raw root: %d %s", st, b)
	}
	if st, b := put(ct, publishBody(meta, crate)[:10]); st != 400 {
		t.Fatalf("truncated upload: %d %s", st, b)
	}
	if st, b := put(ct, publishBody(meta, crate)); st != 200 || !strings.Contains(b, `"warnings"`) {
		t.Fatalf("publish: %d %s", st, b)
	}
	if st, b := put(ct, publishBody(meta, crate)); st != 400 || !strings.Contains(b, "already uploaded") {
		t.Fatalf("republish: %d %s", st, b)
	}
	e := s.Registry.Entries("newcrate")
	if len(e) != 1 || e[0].Deps[0].Name != "dep" || *e[0].Deps[0].Package != "e2e-dep" || e[0].Deps[0].Req != "^1" || len(e[0].Cksum) != 64 {
		t.Fatalf("index entry %+v", e)
	}
	if st, b := call(t, s, http.MethodGet, pidx+"dl/newcrate/0.3.0/download", "", nil); st != 200 || !bytes.Equal(b, crate) {
		t.Fatalf("download of the published crate: %d", st)
	}
}

func FuzzParsePublish(f *testing.F) {
	f.Add(publishBody(`{"name":"a","vers":"1.0.0"}`, []byte("crate")))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(publishBody("", nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		meta, crate, err := ParsePublish(body)
		if err != nil {
			return
		}
		if !bytes.Equal(publishBody(string(meta), crate), body) {
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
		p, err := parseJWT(tok)
		if err == nil && p.claims == nil {
			t.Fatal("nil claims without error")
		}
	})
}

// caClient is the action's CodeArtifact exchange pointed at the stack.
func caClient(s *Stack) *exchange.CodeArtifact {
	return &exchange.CodeArtifact{
		Client: exchange.NewClient(exchange.HTTPConfig{Base: s.CA.Client(), WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond}),
		Region: DefaultAWSRegion, RoleARN: DefaultAWSRole, RoleSessionName: "fakes-test",
		Domain: DefaultCADomain, DomainOwner: DefaultAWSAccount,
		Endpoints: exchange.AWSEndpoints{STS: s.STSURL, CodeArtifact: s.CodeArtifactURL},
		Now:       s.Clock.Now,
	}
}

func issuerIDs(s *Stack, extra map[string]any) exchange.IDTokenSource {
	return exchange.IDTokenFunc(func(_ context.Context, aud string) (string, error) { return s.Issuer.Mint(aud, extra) })
}

func TestAWSFakesRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   Options
		setup  func(s *Stack, ca *exchange.CodeArtifact)
		svc    string
		status int
		msg    string
	}{
		{name: "trust policy", opts: Options{Mapping: map[string]string{"repository": "other/repo"}},
			svc: exchange.ServiceSTS, status: 403, msg: "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{name: "audience", setup: func(s *Stack, ca *exchange.CodeArtifact) { ca.Audience = "https://github.com/octo-org" },
			svc: exchange.ServiceSTS, status: 400, msg: "InvalidIdentityToken: Incorrect token audience"},
		{name: "signing region", setup: func(s *Stack, ca *exchange.CodeArtifact) { ca.Region = "us-east-1" },
			svc: exchange.ServiceCodeArtifact, status: 403, msg: "InvalidSignatureException: Credential should be scoped to a valid region"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := StartT(t, tc.opts)
			ca := caClient(s)
			if tc.setup != nil {
				tc.setup(s, ca)
			}
			_, err := ca.Exchange(context.Background(), issuerIDs(s, nil))
			var he *exchange.HTTPError
			if !errors.As(err, &he) || he.Service != tc.svc || he.StatusCode != tc.status || !strings.Contains(he.Message, tc.msg) {
				t.Fatalf("err %v, want %s %d %q", err, tc.svc, tc.status, tc.msg)
			}
			if n := s.Store.Exchanges("codeartifact"); n != 0 {
				t.Fatalf("%d CodeArtifact tokens issued", n)
			}
		})
	}
}

// TestAWSFakeChecksTheSignature: a request signed with another secret, or
// whose signed query was changed, is refused, as AWS refuses it.
func TestAWSFakeChecksTheSignature(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	ca := caClient(s)
	// Tamper with the signed request on its way: the query changes after
	// signing.
	base := s.CA.Client()
	base.Transport = rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == CodeArtifactTokenPath {
			q := r.URL.Query()
			q.Set("duration", "7200")
			r.URL.RawQuery = q.Encode()
		}
		return s.CA.Client().Transport.RoundTrip(r)
	})
	ca.Client = exchange.NewClient(exchange.HTTPConfig{Base: base})
	_, err := ca.Exchange(context.Background(), issuerIDs(s, nil))
	var he *exchange.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 403 || !strings.Contains(he.Message, "InvalidSignatureException: The request signature we calculated does not match") {
		t.Fatalf("err %v", err)
	}
	// A forged session token is not recognised.
	base.Transport = rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == CodeArtifactTokenPath {
			r.Header.Set("X-Amz-Security-Token", "forged")
		}
		return s.CA.Client().Transport.RoundTrip(r)
	})
	ca.Client = exchange.NewClient(exchange.HTTPConfig{Base: base})
	_, err = ca.Exchange(context.Background(), issuerIDs(s, nil))
	if !errors.As(err, &he) || !strings.Contains(he.Message, "UnrecognizedClientException") {
		t.Fatalf("err %v", err)
	}
	// An access key STS never issued is not recognised.
	st, b := call(t, s, http.MethodPost, s.CodeArtifactURL+CodeArtifactTokenPath+"?"+url.Values{"domain": {DefaultCADomain}}.Encode(), "AWS4-HMAC-SHA256 Credential=ASIANOPE/20260101/eu-west-2/codeartifact/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", nil)
	if st != 403 || !strings.Contains(string(b), "security token included in the request is invalid") {
		t.Fatalf("unknown key: %d %s", st, b)
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

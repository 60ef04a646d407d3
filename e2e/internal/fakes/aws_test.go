package fakes

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

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

func TestAWSFakesAcceptTheRealFlow(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	ca := caClient(s)
	ca.Duration = time.Hour
	tok, err := ca.Exchange(context.Background(), issuerIDs(s, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Store.Valid(tok.Value) || time.Until(tok.ExpiresAt) < 50*time.Minute || time.Until(tok.ExpiresAt) > 61*time.Minute {
		t.Fatalf("token valid %v, expires %v", s.Store.Valid(tok.Value), tok.ExpiresAt)
	}
	if got := s.CodeArtifact.Durations(); len(got) != 1 || got[0] != time.Hour {
		t.Fatalf("durations %v", got)
	}
	if got := s.STS.SessionNames(); len(got) != 1 || got[0] != "fakes-test" {
		t.Fatalf("session names %v", got)
	}
	kinds := map[string]bool{}
	for _, it := range s.Store.Tokens() {
		kinds[it.Kind] = true
	}
	for _, k := range []string{KindIDToken, KindAWSAccessKeyID, KindAWSSecretAccessKey, KindAWSSessionToken, KindAccessToken} {
		if !kinds[k] {
			t.Errorf("the store has no %s for the leak scan", k)
		}
	}
	// The registry takes the token raw, as AWS documents for Cargo.
	index := strings.TrimPrefix(s.CodeArtifactIndex, "sparse+")
	if st, b := call(t, s, http.MethodGet, index+"config.json", tok.Value, nil); st != http.StatusOK {
		t.Fatalf("config.json with the raw token: %d %s", st, b)
	}
	if st, _ := call(t, s, http.MethodGet, index+"config.json", "Bearer "+tok.Value, nil); st != http.StatusUnauthorized {
		t.Fatalf("config.json with Bearer: %d", st)
	}
	if st, _ := call(t, s, http.MethodGet, index+"config.json", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("config.json without a token: %d", st)
	}
}

func TestAWSFakesRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   Options
		setup  func(s *Stack, ca *exchange.CodeArtifact)
		extra  map[string]any
		svc    string
		status int
		msg    string
	}{
		{name: "trust policy", opts: Options{Mapping: map[string]string{"repository": "other/repo"}},
			svc: exchange.ServiceSTS, status: 403, msg: "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{name: "unknown role", setup: func(s *Stack, ca *exchange.CodeArtifact) { ca.RoleARN = "arn:aws:iam::111122223333:role/other" },
			svc: exchange.ServiceSTS, status: 403, msg: "AccessDenied"},
		{name: "audience", setup: func(s *Stack, ca *exchange.CodeArtifact) { ca.Audience = "https://github.com/octo-org" },
			svc: exchange.ServiceSTS, status: 400, msg: "InvalidIdentityToken: Incorrect token audience"},
		{name: "expired id token", extra: map[string]any{"exp": time.Now().Add(-time.Minute).Unix()},
			svc: exchange.ServiceSTS, status: 400, msg: "ExpiredTokenException"},
		{name: "session name", setup: func(s *Stack, ca *exchange.CodeArtifact) { ca.RoleSessionName = "no spaces allowed" },
			svc: exchange.ServiceSTS, status: 400, msg: "ValidationError"},
		{name: "domain owner", setup: func(s *Stack, ca *exchange.CodeArtifact) { ca.DomainOwner = "444455556666" },
			svc: exchange.ServiceCodeArtifact, status: 403, msg: "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/cargo-oidc-e2e/fakes-test is not authorized to perform: codeartifact:GetAuthorizationToken on resource: arn:aws:codeartifact:eu-west-2:444455556666:domain/e2e-domain"},
		{name: "domain", setup: func(s *Stack, ca *exchange.CodeArtifact) { ca.Domain = "other-domain" },
			svc: exchange.ServiceCodeArtifact, status: 404, msg: "ResourceNotFoundException: Domain not found"},
		{name: "permissions", setup: func(s *Stack, ca *exchange.CodeArtifact) { s.CodeArtifact.SetPermitted(false) },
			svc: exchange.ServiceCodeArtifact, status: 403, msg: "no identity-based policy allows"},
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
			_, err := ca.Exchange(context.Background(), issuerIDs(s, tc.extra))
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

package fakes

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestIssuerEndpoint(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{Issuer: IssuerConfig{Lifetime: time.Minute}})
	if !strings.HasSuffix(s.RequestURL, "/_apis/token?api-version=2.0") {
		t.Fatalf("RequestURL %q", s.RequestURL)
	}
	tests := []struct {
		name   string
		url    string
		auth   string
		status int
	}{
		{"no authorization", s.RequestURL, "", 401},
		{"wrong request token", s.RequestURL, "Bearer nope", 401},
		{"no api-version", s.IssuerURL + "/_apis/token", "Bearer " + s.RequestToken, 400},
		{"default audience", s.RequestURL, "Bearer " + s.RequestToken, 200},
		{"explicit audience", s.RequestURL + "&audience=" + url.QueryEscape("crates.io"), "Bearer " + s.RequestToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if st, b := call(t, s, http.MethodGet, tt.url, tt.auth, nil); st != tt.status {
				t.Fatalf("%d %s", st, b)
			}
		})
	}
}

func TestIssuerClaims(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{Issuer: IssuerConfig{Environment: "release", Lifetime: time.Minute}})
	v := &Verifier{Issuer: s.IssuerURL, Client: s.CA.Client()}
	v.SetAudiences("https://github.com/octo-org", "crates.io")
	a, b := idToken(t, s, ""), idToken(t, s, "crates.io")
	ca, err := v.Verify(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := v.Verify(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"iss": s.IssuerURL, "aud": "https://github.com/octo-org", "sub": "repo:octo-org/octo-repo:environment:release",
		"repository": "octo-org/octo-repo", "repository_owner": "octo-org", "ref": "refs/heads/main",
		"environment": "release", "event_name": "push", "run_id": "4242424242",
		"job_workflow_ref": "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
	}
	for k, w := range want {
		if got := claimString(ca[k]); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	if cb["aud"] != "crates.io" || ca["jti"] == cb["jti"] {
		t.Errorf("aud %v, jti %v %v", cb["aud"], ca["jti"], cb["jti"])
	}
	exp, _ := claimTime(ca["exp"])
	iat, _ := claimTime(ca["iat"])
	if exp.Sub(iat) != time.Minute {
		t.Errorf("lifetime %v", exp.Sub(iat))
	}
	if got := s.Issuer.Audiences(); len(got) != 2 || got[0] != "" || got[1] != "crates.io" {
		t.Errorf("audiences %q", got)
	}
	s.Issuer.Override(map[string]any{"repository": "evil/repo", "environment": nil})
	c, _ := v.Verify(t.Context(), idToken(t, s, ""))
	if c["repository"] != "evil/repo" || c["environment"] != nil {
		t.Errorf("override not applied: %v %v", c["repository"], c["environment"])
	}
	// The ref form of sub without an environment.
	s2 := StartT(t, Options{})
	if sub := s2.Issuer.Claims("", nil)["sub"]; sub != "repo:octo-org/octo-repo:ref:refs/heads/main" {
		t.Errorf("sub %v", sub)
	}
}

func TestVerifierKeyRotation(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	v := &Verifier{Issuer: s.IssuerURL, Client: s.CA.Client()}
	v.SetAudiences("crates.io")
	tok, _ := s.Issuer.Mint("crates.io", nil)
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if v.KeyFetches() != 1 {
		t.Fatalf("fetches %d", v.KeyFetches())
	}
	// An unknown kid refetches once and then fails as a signature error.
	p, _ := parseJWT(tok)
	forged, _ := SignRS256(s.Issuer.key, "other-kid", p.claims)
	_, err := v.Verify(t.Context(), forged)
	ve, ok := err.(*VerifyError)
	if !ok || ve.Reason != ReasonSignature || v.KeyFetches() != 2 {
		t.Fatalf("err %v fetches %d", err, v.KeyFetches())
	}
}

// TestVerifierRejectsOtherAlgorithms: a token the library parses but that is
// not signed RS256 (here HS256 with the issuer's kid) is a signature
// failure, and text that is no JWT is malformed.
func TestVerifierRejectsOtherAlgorithms(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	v := &Verifier{Issuer: s.IssuerURL, Client: s.CA.Client()}
	v.SetAudiences("crates.io")
	hs, err := signHS256([]byte("a secret of at least 32 bytes, as HS256 wants"), s.Issuer.Claims("crates.io", nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, token, reason string }{
		{"HS256", hs, ReasonSignature},
		{"not a JWT", "a.b.c", ReasonMalformed},
	} {
		_, err := v.Verify(t.Context(), tt.token)
		if ve, ok := err.(*VerifyError); !ok || ve.Reason != tt.reason {
			t.Errorf("%s: err %v, want reason %s", tt.name, err, tt.reason)
		}
	}
}

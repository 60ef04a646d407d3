package fakes

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

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
			name:   "bad signature",
			mint:   func(s *Stack, aud string) (string, error) { return s.Issuer.MintWithForeignKey(aud, nil) },
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg:    map[string]string{"jfrog": "signature", "cloudsmith": "Incorrect authentication credentials", "crates-io": "Failed to decode JWT"},
		},
		{
			name: "wrong iss",
			mint: func(s *Stack, aud string) (string, error) {
				return s.Issuer.Mint(aud, map[string]any{"iss": GitHubIssuer})
			},
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg:    map[string]string{"jfrog": "Token issuer 'https://token.actions.githubusercontent.com'", "cloudsmith": "Incorrect", "crates-io": "Unsupported JWT issuer"},
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
			name: "not yet valid",
			mint: func(s *Stack, aud string) (string, error) {
				return s.Issuer.Mint(aud, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()})
			},
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg:    map[string]string{"jfrog": "not valid yet", "cloudsmith": "Incorrect", "crates-io": "Failed to decode JWT"},
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
		{
			name:   "malformed",
			mint:   func(s *Stack, aud string) (string, error) { return "not.a.jwt", nil },
			status: map[string]int{"jfrog": 401, "cloudsmith": 401, "crates-io": 400},
			msg:    map[string]string{"jfrog": "Failed to parse", "cloudsmith": "Incorrect", "crates-io": "Failed to decode JWT"},
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

func TestTokensExpireAndRevoke(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{TokenTTL: 5 * time.Second})
	jt := jfrogToken(t, s)
	ct := cratesToken(t, s)
	for _, tok := range []string{jt, ct} {
		if !s.Store.Valid(tok) {
			t.Fatalf("fresh token not valid")
		}
	}
	idx := strings.TrimPrefix(s.JFrogIndex, "sparse+")
	if st, b := call(t, s, http.MethodGet, idx+"config.json", "Bearer "+jt, nil); st != 200 || !strings.Contains(string(b), `"auth-required":true`) {
		t.Fatalf("config.json with valid token: %d %s", st, b)
	}
	// Revocation: 204 once, then 401; unknown and missing tokens 401.
	if st, _ := call(t, s, http.MethodDelete, s.CratesIOURL+CratesIOTokenPath, "Bearer "+ct, nil); st != 204 {
		t.Fatalf("revoke status %d", st)
	}
	for _, auth := range []string{"Bearer " + ct, "Bearer cio_tp_unknown", ""} {
		st, b := call(t, s, http.MethodDelete, s.CratesIOURL+CratesIOTokenPath, auth, nil)
		if st != 401 {
			t.Fatalf("revoke with %q: %d", strings.Fields(auth + " x")[0], st)
		}
		errorMessage(t, "crates-io", b)
	}
	if s.Store.Valid(ct) || s.Store.Revocations() != 1 {
		t.Fatalf("revoked token still valid or revocations=%d", s.Store.Revocations())
	}
	s.Clock.Advance(6 * time.Second)
	if s.Store.Valid(jt) {
		t.Fatal("token valid after its TTL")
	}
	st, b := call(t, s, http.MethodGet, idx+"config.json", "Bearer "+jt, nil)
	if st != 401 || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired token: %d %s", st, b)
	}
}

func TestJFrogRequests(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{TokenTTL: 90 * time.Second})
	good := func() map[string]any { return jfrogBody(s, idToken(t, s, "")) }
	tests := []struct {
		name   string
		body   func() map[string]any
		status int
		code   string
	}{
		{"bad grant_type", func() map[string]any { b := good(); b["grant_type"] = "password"; return b }, 400, "BAD_REQUEST"},
		{"bad subject_token_type", func() map[string]any { b := good(); b["subject_token_type"] = "jwt"; return b }, 400, "BAD_REQUEST"},
		{"no provider", func() map[string]any { b := good(); delete(b, "provider_name"); return b }, 400, "BAD_REQUEST"},
		{"unknown provider", func() map[string]any { b := good(); b["provider_name"] = "other"; return b }, 404, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, b := call(t, s, http.MethodPost, s.JFrogURL+JFrogTokenPath, "", tt.body())
			if st != tt.status || !strings.Contains(string(b), `"code":"`+tt.code+`"`) {
				t.Fatalf("%d %s", st, b)
			}
		})
	}
	t.Run("not json", func(t *testing.T) {
		t.Parallel()
		st, b := call(t, s, http.MethodPost, s.JFrogURL+JFrogTokenPath, "", "just a string")
		if st != 400 {
			t.Fatalf("%d %s", st, b)
		}
		errorMessage(t, "jfrog", b)
	})
	t.Run("success shape with reference token", func(t *testing.T) {
		t.Parallel()
		body := good()
		body["include_reference_token"] = true
		body["provider_type"] = "GitHub"
		body["repo"] = "octo-org/octo-repo"
		st, b := call(t, s, http.MethodPost, s.JFrogURL+JFrogTokenPath, "", body)
		if st != 200 {
			t.Fatalf("%d %s", st, b)
		}
		var v struct {
			AccessToken    string `json:"access_token"`
			TokenType      string `json:"token_type"`
			ExpiresIn      int    `json:"expires_in"`
			Scope          string `json:"scope"`
			Username       string `json:"username"`
			ReferenceToken string `json:"reference_token"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if v.TokenType != "Bearer" || v.ExpiresIn != 90 || v.Scope == "" || v.Username != "oidc/octo-org/octo-repo" || v.ReferenceToken == "" {
			t.Fatalf("answer %s", b)
		}
		if !s.Store.Valid(v.AccessToken) || !s.Store.Valid(v.ReferenceToken) {
			t.Fatal("tokens not valid")
		}
	})
}

func TestCloudsmithRequests(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	jwt := func() string { return idToken(t, s, "") }
	url := s.CloudsmithURL + "/openid/" + s.Cloudsmith.Namespace + "/"
	if st, b := call(t, s, http.MethodPost, url, "", map[string]string{"oidc_token": jwt(), "service_slug": "someone-else"}); st != 401 || errorMessage(t, "cloudsmith", b) != "Incorrect authentication credentials." {
		t.Fatalf("wrong slug: %d %s", st, b)
	}
	if st, b := call(t, s, http.MethodPost, s.CloudsmithURL+"/openid/other-ns/", "", map[string]string{"oidc_token": jwt(), "service_slug": "ci-bot"}); st != 404 {
		t.Fatalf("unknown namespace: %d %s", st, b)
	}
	if st, b := call(t, s, http.MethodPost, url, "", map[string]string{}); st != 400 || !strings.Contains(string(b), `"oidc_token":["This field is required."]`) {
		t.Fatalf("missing fields: %d %s", st, b)
	}
	s.Cloudsmith.SetSuccessStatus(http.StatusCreated)
	st, b := call(t, s, http.MethodPost, url, "", map[string]string{"oidc_token": jwt(), "service_slug": "ci-bot"})
	if st != 201 {
		t.Fatalf("201 success: %d %s", st, b)
	}
	var v struct{ Token string }
	_ = json.Unmarshal(b, &v)
	p, err := parseJWT(v.Token)
	if err != nil || p.alg != "HS256" {
		t.Fatalf("cloudsmith token is not a JWT: %v", err)
	}
	if exp, ok := claimTime(p.claims["exp"]); !ok || exp.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("exp %v", p.claims["exp"])
	}
}

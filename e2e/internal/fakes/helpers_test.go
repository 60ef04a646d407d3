package fakes

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
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

// jfrogToken performs the whole JFrog flow and returns the access token.
func jfrogToken(t *testing.T, s *Stack) string {
	t.Helper()
	st, b := call(t, s, http.MethodPost, s.JFrogURL+JFrogTokenPath, "", jfrogBody(s, idToken(t, s, "")))
	if st != http.StatusOK {
		t.Fatalf("jfrog exchange: %d %s", st, b)
	}
	var v struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.AccessToken == "" {
		t.Fatalf("jfrog answer %s: %v", b, err)
	}
	return v.AccessToken
}

// cratesToken performs the crates.io trusted-publishing exchange.
func cratesToken(t *testing.T, s *Stack) string {
	t.Helper()
	st, b := call(t, s, http.MethodPost, s.CratesIOURL+CratesIOTokenPath, "", map[string]string{"jwt": idToken(t, s, "crates.io")})
	if st != http.StatusOK {
		t.Fatalf("crates.io exchange: %d %s", st, b)
	}
	var v struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Token == "" {
		t.Fatalf("crates.io answer %s: %v", b, err)
	}
	return v.Token
}

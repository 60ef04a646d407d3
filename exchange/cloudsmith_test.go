package exchange

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCloudsmith(t *testing.T) {
	t.Parallel()
	csToken := fakeJWT(map[string]any{"exp": fixedNow.Add(90 * time.Minute).Unix(), "sub": "svc"})
	tests := []struct {
		name     string
		status   int
		body     string
		wantErr  []string
		wantExp  time.Time
		wantHTTP bool
		wantHint []string
	}{
		{name: "200 with JWT", status: 200, body: `{"token":"` + csToken + `"}`, wantExp: fixedNow.Add(90 * time.Minute)},
		{name: "201 with JWT", status: 201, body: `{"token":"` + csToken + `"}`, wantExp: fixedNow.Add(90 * time.Minute)},
		{name: "opaque token", status: 200, body: `{"token":"opaque-key"}`},
		{name: "401 generic", status: 401, body: `{"detail":"Authentication credentials were not provided."}`, wantHTTP: true,
			wantErr:  []string{"cloudsmith token exchange failed: POST ", "/openid/my-org/: 401 Unauthorized: Authentication credentials were not provided."},
			wantHint: []string{"generic on purpose", `service slug "svc-slug"`, `namespace "my-org"`, "required claims", "audience"}},
		{name: "400", status: 400, body: `{"detail":"Invalid request."}`, wantHTTP: true, wantErr: []string{"400 Bad Request: Invalid request."}, wantHint: []string{"service slug", "audience"}},
		{name: "404", status: 404, body: `{"detail":"Not found."}`, wantHTTP: true, wantErr: []string{"404 Not Found: Not found."}, wantHint: []string{"namespace"}},
		{name: "empty token", status: 200, body: `{"token":""}`, wantErr: []string{"no token"}},
		{name: "token with newline", status: 200, body: `{"token":"abcdefgh\nijklmnop"}`, wantErr: []string{"refused"}},
		{name: "malformed", status: 200, body: `{"token":`, wantErr: []string{"not valid JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, tc.status, tc.body) })
			m := &recMask{}
			c := &Cloudsmith{Client: testClient(2), BaseURL: f.URL, Namespace: "my-org", ServiceSlug: "svc-slug", Mask: m.mask, Now: nowFixed}
			tok, err := c.Exchange(context.Background(), staticIDs(testIDToken))
			r := f.requests()[0]
			if r.Method != "POST" || r.Path != "/openid/my-org/" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "cargo-oidc" {
				t.Fatalf("request %+v", r)
			}
			if want := `{"oidc_token":"` + testIDToken + `","service_slug":"svc-slug"}`; r.Body != want {
				t.Fatalf("body %s, want %s", r.Body, want)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := m.list(); len(got) != 1 || got[0] != tok.Value {
					t.Fatalf("masked %q", got)
				}
				if !tok.ExpiresAt.Equal(tc.wantExp) {
					t.Fatalf("expires %v, want %v", tok.ExpiresAt, tc.wantExp)
				}
				return
			}
			assertErr(t, err, tc.wantErr, testIDToken, "abcdefgh", "ijklmnop")
			var he *HTTPError
			if errors.As(err, &he) != tc.wantHTTP {
				t.Fatalf("err %T", err)
			}
			if he != nil {
				assertHint(t, he, tc.wantHint)
				if f.count() != 1 {
					t.Fatalf("requests %d", f.count())
				}
			}
		})
	}
}

func TestCloudsmithDefaults(t *testing.T) {
	t.Parallel()
	c := &Cloudsmith{Audience: "aud"}
	if c.IDTokenAudience() != "aud" {
		t.Fatal("audience")
	}
	if _, err := (&Cloudsmith{Client: testClient(0)}).Exchange(context.Background(), staticIDs(testIDToken)); err == nil || !strings.Contains(err.Error(), "namespace and service slug") {
		t.Fatalf("err = %v", err)
	}
}

package exchange

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestDecodeClaims(t *testing.T) {
	t.Parallel()
	enc := func(payload string) string {
		return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	tests := []struct {
		name    string
		jwt     string
		check   func(t *testing.T, c *Claims)
		wantErr string
	}{
		{name: "github", jwt: testIDToken, check: func(t *testing.T, c *Claims) {
			want := []string{
				"iss: https://token.actions.githubusercontent.com",
				"aud: https://github.com/octo",
				"sub: repo:octo/app:ref:refs/heads/main",
				"repository: octo/app",
				"ref: refs/heads/main",
				"job_workflow_ref: octo/app/.github/workflows/release.yml@refs/heads/main",
			}
			if got := strings.Join(c.Lines(), "\n"); got != strings.Join(want, "\n") {
				t.Fatalf("lines\n%s", got)
			}
			if !c.ExpiresAt.Equal(time.Unix(1700000000, 0)) || !c.IssuedAt.Equal(time.Unix(1699999000, 0)) || c.RepositoryOwner != "octo" {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "aud array and environment", jwt: enc(`{"aud":["a","b"],"environment":"prod","run_id":"7"}`), check: func(t *testing.T, c *Claims) {
			if got := strings.Join(c.Lines(), "|"); got != "aud: a, b|environment: prod" || c.RunID != "7" {
				t.Fatalf("lines %q", got)
			}
		}},
		{name: "numeric run_id and fractional exp", jwt: enc(`{"run_id":7,"exp":1700000000.5}`), check: func(t *testing.T, c *Claims) {
			if c.RunID != "7" || c.ExpiresAt.UnixMilli() != 1700000000500 {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "control chars stripped", jwt: enc(`{"sub":"a\nb\u001b[0m"}`), check: func(t *testing.T, c *Claims) {
			if c.Subject != "a b[0m" {
				t.Fatalf("%q", c.Subject)
			}
		}},
		{name: "wrong types ignored", jwt: enc(`{"sub":{"x":1},"aud":5,"exp":"soon"}`), check: func(t *testing.T, c *Claims) {
			if c.Subject != "" || c.Audience[0] != "5" || !c.ExpiresAt.IsZero() {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "padded payload", jwt: "a." + base64.URLEncoding.EncodeToString([]byte(`{"sub":"x1"}`)) + ".c", check: func(t *testing.T, c *Claims) {
			if c.Subject != "x1" {
				t.Fatal(c.Subject)
			}
		}},
		{name: "empty", jwt: "", wantErr: "empty"},
		{name: "two parts", jwt: "secretpart1.secretpart2", wantErr: "2 dot-separated parts"},
		{name: "not base64", jwt: "a.secret!!!.c", wantErr: "not base64url"},
		{name: "not json", jwt: "a." + base64.RawURLEncoding.EncodeToString([]byte("secretnotjson")) + ".c", wantErr: "not a JSON object"},
		{name: "json array", jwt: enc(`["secret"]`), wantErr: "not a JSON object"},
		{name: "too large", jwt: strings.Repeat("s", MaxJWT+1), wantErr: "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := DecodeClaims(tc.jwt)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				assertNoSecret(t, err.Error(), "secret", "sss")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
	if (*Claims)(nil).Lines() != nil {
		t.Fatal("nil claims")
	}
}

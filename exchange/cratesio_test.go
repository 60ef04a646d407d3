package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

func TestCratesIO(t *testing.T) {
	type test struct {
		handle    func(w http.ResponseWriter, n int) // n: the distinct JWTs seen
		wantErr   []string
		wantCount int
		wantExp   time.Time
		wantHint  []string
	}
	testenv.Run(t, map[string]test{
		"ok": {wantCount: 1, wantExp: fixedNow.Add(30 * time.Minute)},
		"503 once then fresh JWT accepted": {wantCount: 2, wantExp: fixedNow.Add(30 * time.Minute),
			handle: func(w http.ResponseWriter, n int) {
				if n == 1 {
					writeJSON(w, 503, `{"errors":[{"detail":"unavailable"}]}`)
					return
				}
				writeJSON(w, 200, `{"token":"cio_tp_token"}`)
			}},
		"429 twice then ok": {wantCount: 3, wantExp: fixedNow.Add(30 * time.Minute),
			handle: func(w http.ResponseWriter, n int) {
				if n <= 2 {
					writeJSON(w, 429, `{}`)
					return
				}
				writeJSON(w, 200, `{"token":"cio_tp_token"}`)
			}},
		"service states expiry": {wantCount: 1, wantExp: time.Date(2026, 1, 2, 3, 20, 0, 0, time.UTC),
			handle: func(w http.ResponseWriter, n int) {
				writeJSON(w, 200, `{"token":"cio_tp_token","expires_at":"2026-01-02T03:20:00Z"}`)
			}},
		"400 detail shown": {wantCount: 1,
			wantErr:  []string{"crates.io token exchange failed: POST ", "/api/v1/trusted_publishing/tokens: 400 Bad Request: No Trusted Publishing config found for repository `octo/app`."},
			wantHint: []string{"trusted publisher", "workflow", "environment"},
			handle: func(w http.ResponseWriter, n int) {
				writeJSON(w, 400, `{"errors":[{"detail":"No Trusted Publishing config found for repository `+"`octo/app`"+`."}]}`)
			}},
		"always 503": {wantCount: 3, wantErr: []string{"503 Service Unavailable (after 3 attempts): down"},
			handle: func(w http.ResponseWriter, n int) {
				writeJSON(w, 503, `{"errors":[{"detail":"down"}]}`)
			}},
		"empty token": {wantCount: 1, wantErr: []string{"no token"},
			handle: func(w http.ResponseWriter, n int) {
				writeJSON(w, 200, `{"token":""}`)
			}},
	}, func(t *testing.T, _ string, tc test) {
		var mu sync.Mutex
		seen := map[string]bool{}
		srv := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			var req struct {
				JWT string `json:"jwt"`
			}
			dec := json.NewDecoder(r.Body)
			dec.DisallowUnknownFields()
			if r.Method != "POST" || r.URL.Path != "/api/v1/trusted_publishing/tokens" || r.Header.Get("Content-Type") != "application/json" ||
				r.Header.Get("User-Agent") != "cargo-oidc" || dec.Decode(&req) != nil || req.JWT == "" {
				writeJSON(w, 418, `{"errors":[{"detail":"unexpected request"}]}`)
				return
			}
			mu.Lock()
			dup := seen[req.JWT]
			seen[req.JWT] = true
			n := len(seen)
			mu.Unlock()
			switch {
			case dup:
				writeJSON(w, 400, `{"errors":[{"detail":"JWT has already been used"}]}`)
			case tc.handle == nil:
				writeJSON(w, 200, `{"token":"cio_tp_token"}`)
			default:
				tc.handle(w, n)
			}
		})
		ids := &mintingIDs{}
		m := &recMask{}
		c := &CratesIO{Client: testClient(2), BaseURL: srv.URL, Mask: m.mask, Now: nowFixed}
		tok, err := c.Exchange(context.Background(), ids)
		if srv.count() != tc.wantCount || int(ids.n.Load()) != tc.wantCount {
			t.Fatalf("requests %d, id tokens %d, want %d", srv.count(), ids.n.Load(), tc.wantCount)
		}
		for _, a := range ids.auds {
			if a != "crates.io" {
				t.Fatalf("audience %q", a)
			}
		}
		if tc.wantErr == nil {
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value != "cio_tp_token" || !tok.ExpiresAt.Equal(tc.wantExp) {
				t.Fatalf("token %+v", tok)
			}
			if got := m.list(); len(got) != 1 || got[0] != "cio_tp_token" {
				t.Fatalf("masked %q", got)
			}
			return
		}
		assertErr(t, err, tc.wantErr)
		var he *HTTPError
		if errors.As(err, &he) {
			assertHint(t, he, tc.wantHint)
			if he.Claims == nil || he.Claims.Repository != "octo/app" {
				t.Fatal("claims missing")
			}
		}
	})
}

func TestCratesIORevoke(t *testing.T) {
	type test struct {
		token   string
		status  int
		body    string
		wantErr []string
		reqs    int
	}
	testenv.Run(t, map[string]test{
		"204": {token: "cio_tp_token", status: 204, reqs: 1},
		"401": {token: "cio_tp_token", status: 401, body: `{"errors":[{"detail":"authentication failed"}]}`, reqs: 1,
			wantErr: []string{"crates.io token revocation failed: DELETE ", "401 Unauthorized: authentication failed"}},
		"empty token":        {token: "", wantErr: []string{"no token"}},
		"token with newline": {token: "cio_tp\nX-Evil: 1", wantErr: []string{"refused"}},
	}, func(t *testing.T, _ string, tc test) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if r.Method != "DELETE" || r.URL.Path != "/api/v1/trusted_publishing/tokens" || r.Header.Get("Authorization") != "Bearer "+tc.token {
				w.WriteHeader(418)
				return
			}
			writeJSON(w, tc.status, tc.body)
		})
		c := &CratesIO{Client: testClient(2), BaseURL: f.URL}
		err := c.Revoke(context.Background(), tc.token)
		if f.count() != tc.reqs {
			t.Fatalf("requests %d, want %d", f.count(), tc.reqs)
		}
		if tc.wantErr == nil {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		assertErr(t, err, tc.wantErr, "cio_tp_token", "X-Evil")
	})
}

func TestCratesIOAudience(t *testing.T) {
	t.Parallel()
	if a := (&CratesIO{}).IDTokenAudience(); a != "crates.io" {
		t.Fatal(a)
	}
	if a := (&CratesIO{Audience: "x"}).IDTokenAudience(); a != "x" {
		t.Fatal(a)
	}
}

// TestCratesIOMalformedSuccess: a success answer that is not valid JSON is
// described by its shape only; a token still findable in it is masked and
// revoked, and never quoted.
func TestCratesIOMalformedSuccess(t *testing.T) {
	t.Parallel()
	tok := "cio_tp_" + strings.Repeat("Qx7", 10) + "ab" // 39 characters
	tests := []struct {
		name, body string
		revokeCode int
		want       []string
		revokes    int
	}{
		{name: "byte order mark", body: "\ufeff{\"token\":\"" + tok + "\"}", revokeCode: 204, revokes: 1,
			want: []string{"200 OK: the answer is not valid JSON (54 bytes; it starts with a byte order mark; parsing stopped at byte 1); not shown", "1 token(s) found in it were masked and revoked"}},
		{name: "trailing bytes", body: "{\"token\":\"" + tok + "\"}\r\nX", revokeCode: 204, revokes: 1,
			want: []string{"a JSON value of 51 bytes is followed by 3 more bytes", "masked and revoked"}},
		{name: "revocation refused", body: "\ufeff{\"token\":\"" + tok + "\"}", revokeCode: 401, revokes: 1,
			want: []string{"could not be revoked", "401 Unauthorized"}},
		{name: "token outside a token field", body: "\ufeffgarbage " + tok, revokeCode: 204, revokes: 1,
			want: []string{"not valid JSON (50 bytes", "1 token(s) found in it were masked and revoked"}},
		{name: "nothing findable", body: "\ufeffgarbage cio_tp_short", revokes: 0,
			want: []string{"not valid JSON (23 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if r.Method == "DELETE" {
					writeJSON(w, tc.revokeCode, `{"errors":[{"detail":"nope `+tok+`"}]}`)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tc.body))
			})
			m := &recMask{}
			red := NewRedactor()
			client := NewClient(HTTPConfig{Retries: 0, Redactor: red})
			c := &CratesIO{Client: client, BaseURL: f.URL, Mask: red.Hook(m.mask), Now: nowFixed}
			_, err := c.Exchange(context.Background(), &mintingIDs{})
			assertErr(t, err, tc.want, tok, tok[:20], "garbage")
			revokes := 0
			for _, r := range f.requests() {
				if r.Method == "DELETE" && r.Header.Get("Authorization") == "Bearer "+tok {
					revokes++
				}
			}
			if revokes != tc.revokes {
				t.Fatalf("%d revocations, want %d", revokes, tc.revokes)
			}
			if tc.revokes > 0 && !strings.Contains(strings.Join(m.list(), "|"), tok) {
				t.Fatalf("the token found was not masked: %q", m.list())
			}
		})
	}
}

package exchange

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

func newJFrog(url string, c *Client, m *recMask) *JFrog {
	j := &JFrog{
		Client:       c,
		BaseURL:      url + "/",
		ProviderName: "github-oidc",
		Context:      JFrogContext{Repo: "octo/app", Revision: "abc123", Branch: "main", JobID: "build", RunID: "42"},
		Now:          nowFixed,
	}
	if m != nil {
		j.Mask = m.mask
	}
	return j
}

func TestJFrogRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(j *JFrog)
		want   string
	}{
		{
			name: "minimal",
			want: `{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token_type":"urn:ietf:params:oauth:token-type:id_token","subject_token":"` + testIDToken + `","provider_name":"github-oidc","provider_type":"GitHub","repo":"octo/app","revision":"abc123","branch":"main","job_id":"build","run_id":"42"}`,
		},
		{
			name: "all options",
			modify: func(j *JFrog) {
				j.IdentityMappingName, j.ProjectKey, j.Audience = "cargo-map", "proj", "jfrog-aud"
			},
			want: `{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token_type":"urn:ietf:params:oauth:token-type:id_token","subject_token":"` + testIDToken + `","provider_name":"github-oidc","identity_mapping_name":"cargo-map","project_key":"proj","audience":"jfrog-aud","provider_type":"GitHub","repo":"octo/app","revision":"abc123","branch":"main","job_id":"build","run_id":"42"}`,
		},
		{
			name:   "empty context omitted",
			modify: func(j *JFrog) { j.Context = JFrogContext{} },
			want:   `{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token_type":"urn:ietf:params:oauth:token-type:id_token","subject_token":"` + testIDToken + `","provider_name":"github-oidc","provider_type":"GitHub"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, `{"access_token":"acc-1","token_type":"Bearer","expires_in":3600,"scope":"applied-permissions/user","username":"octo-user","reference_token":"ref-1"}`)
			})
			j := newJFrog(f.URL, testClient(0), nil)
			if tc.modify != nil {
				tc.modify(j)
			}
			tok, err := j.Exchange(context.Background(), staticIDs(testIDToken))
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d", len(reqs))
			}
			r := reqs[0]
			if r.Method != "POST" || r.Path != "/access/api/v1/oidc/token" || r.Query != "" {
				t.Fatalf("request %s %s?%s", r.Method, r.Path, r.Query)
			}
			for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "cargo-oidc"} {
				if got := r.Header.Get(k); got != v {
					t.Fatalf("header %s = %q, want %q", k, got, v)
				}
			}
			if r.Body != tc.want {
				t.Fatalf("body\n got %s\nwant %s", r.Body, tc.want)
			}
			want := Token{Value: "acc-1", ExpiresAt: fixedNow.Add(time.Hour), Username: "octo-user", ReferenceToken: "ref-1"}
			if *tok != want {
				t.Fatalf("token %+v, want %+v", *tok, want)
			}
		})
	}
}

func TestJFrogAnswers(t *testing.T) {
	type test struct {
		audience   string
		status     int
		ctype      string
		body       string
		wantErr    []string // substrings; nil = success
		wantHTTP   bool
		wantHint   []string
		wantMasked []string
		secrets    []string
	}
	testenv.Run(t, map[string]test{
		"ok no expiry":                {status: 200, body: `{"access_token":"acc-2"}`, wantMasked: []string{"acc-2"}},
		"ok expires_in string":        {status: 200, body: `{"access_token":"acc-3","expires_in":"60"}`, wantMasked: []string{"acc-3"}},
		"masks every secret in order": {status: 200, body: `{"access_token":"acc-4","reference_token":"ref-4","refresh_token":"rfr-4"}`, wantMasked: []string{"acc-4", "ref-4", "rfr-4"}},
		"403 with JFrog errors": {status: 403, body: `{"errors":[{"code":"FORBIDDEN","message":"Failed to validate identity mapping"},{"code":"X","message":"second"}]}`,
			wantErr: []string{"jfrog token exchange failed: POST ", "/access/api/v1/oidc/token: 403 Forbidden: Failed to validate identity mapping; second"}, wantHTTP: true,
			wantHint: []string{"identity mapping", "claims", "check provider-name", "identity-mapping-name"}},
		// JFrog's OIDC integration has an optional Audience; when it has
		// one, the token's aud must equal it.
		"401": {status: 401, body: `{"errors":[{"code":"UNAUTHORIZED","message":"Token is invalid"}]}`, wantErr: []string{"401 Unauthorized: Token is invalid"}, wantHTTP: true,
			wantHint: []string{"check provider-name", "the integration's Audience, if it has one, must equal the token's aud", "GitHub's default", "set the audience input to the integration's Audience, or leave that empty"}},
		"401 with an audience": {audience: "jfrog-github", status: 401, body: `{"errors":[{"code":"UNAUTHORIZED","message":"Token is invalid"}]}`, wantErr: []string{"401 Unauthorized: Token is invalid"}, wantHTTP: true,
			wantHint: []string{`the integration's Audience, if it has one, must be "jfrog-github" (the audience input)`}},
		"400":                   {status: 400, body: `{"errors":[{"message":"bad\nrequest\u0007"}]}`, wantErr: []string{"400 Bad Request: bad request"}, wantHTTP: true, wantHint: []string{"identity-mapping-name"}},
		"404 wrong provider":    {status: 404, body: `{"errors":[{"code":"NOT_FOUND","message":"Provider not found"}]}`, wantErr: []string{"404 Not Found: Provider not found"}, wantHTTP: true, wantHint: []string{"provider-name", "url"}},
		"error echoing the JWT": {status: 401, body: `{"errors":[{"message":"invalid token ` + testIDToken + `"}]}`, wantErr: []string{"invalid token [redacted]"}, wantHTTP: true, secrets: []string{testIDToken}},
		"html error page": {status: 403, ctype: "text/html", body: "<!DOCTYPE html>\n<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1><p>" + strings.Repeat("noise ", 1000) + "</p></body></html>",
			wantErr: []string{"403 Forbidden: HTML page: Access Denied"}, wantHTTP: true, secrets: []string{"noise noise"}},
		"html page with 200": {status: 200, ctype: "text/html", body: "<html><head><title>Sign in</title></head><body>x</body></html>", wantErr: []string{"200 OK: the answer is an HTML page (62 bytes), expected JSON; not shown"}, secrets: []string{"Sign in"}},
		"malformed json": {status: 200, body: "{\"access_token\": \"acc-leak-abcdefghijklmnopqrstuvwxyz0123456789\",\n second line", wantErr: []string{"not valid JSON (78 bytes; parsing stopped at byte 68); not shown"},
			wantMasked: []string{"acc-leak-abcdefghijklmnopqrstuvwxyz0123456789"}, secrets: []string{"acc-leak-abcdefghijklmnopqrstuvwxyz0123456789", "second line"}},
		"not json": {status: 200, ctype: "text/plain", body: "upstream connect error\nmore", wantErr: []string{`not valid JSON (27 bytes; parsing stopped at byte 1); not shown`}, secrets: []string{"upstream"}},
		"byte order mark": {status: 200, body: "\ufeff{\"access_token\":\"bom-tok-0123456789\"}", wantErr: []string{"it starts with a byte order mark; parsing stopped at byte 1"},
			wantMasked: []string{"bom-tok-0123456789"}, secrets: []string{"bom-tok-0123456789"}},
		"trailing bytes": {status: 200, body: "{\"access_token\":\"trail-tok-0123456789\"}\n{\"x\":1}", wantErr: []string{"a JSON value of 39 bytes is followed by 8 more bytes"},
			wantMasked: []string{"trail-tok-0123456789"}, secrets: []string{"trail-tok-0123456789"}},
		"json wrong shape":           {status: 200, body: `{"access_token":12345}`, wantErr: []string{"JSON but not the expected object"}},
		"empty answer":               {status: 200, body: ``, wantErr: []string{"the answer is empty"}},
		"empty token":                {status: 200, body: `{"access_token":""}`, wantErr: []string{"access token: the answer holds no token"}},
		"missing token":              {status: 200, body: `{"username":"u"}`, wantErr: []string{"access token: the answer holds no token"}},
		"token with newline":         {status: 200, body: `{"access_token":"abcd1234\nNODE_OPTIONS=x"}`, wantErr: []string{"newline", "refused"}, wantMasked: []string{"abcd1234", "NODE_OPTIONS=x"}, secrets: []string{"abcd1234", "NODE_OPTIONS"}},
		"token with control char":    {status: 200, body: `{"access_token":"abcd\u001b[31mefgh"}`, wantErr: []string{"control", "refused"}, secrets: []string{"abcd", "efgh"}},
		"token with space":           {status: 200, body: `{"access_token":"abcd efgh"}`, wantErr: []string{"whitespace"}, secrets: []string{"abcd", "efgh"}},
		"reference token with space": {status: 200, body: `{"access_token":"acc-5","reference_token":"refA bcdE"}`, wantErr: []string{"reference token", "whitespace"}, wantMasked: []string{"acc-5", "refA", "bcdE"}, secrets: []string{"refA", "bcdE"}},
	}, func(t *testing.T, _ string, tc test) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			ct := tc.ctype
			if ct == "" {
				ct = "application/json"
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		})
		m := &recMask{}
		j := newJFrog(f.URL, testClient(3), m)
		j.Audience = tc.audience
		tok, err := j.Exchange(context.Background(), staticIDs(testIDToken))
		if tc.wantMasked != nil {
			if got := m.list(); strings.Join(got, "|") != strings.Join(tc.wantMasked, "|") {
				t.Fatalf("masked %q, want %q", got, tc.wantMasked)
			}
		}
		if tc.wantErr == nil {
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value == "" {
				t.Fatal("empty token")
			}
			return
		}
		assertErr(t, err, tc.wantErr, append(tc.secrets, testIDToken)...)
		if f.count() != 1 {
			t.Fatalf("requests = %d, want 1 (no retry)", f.count())
		}
		var he *HTTPError
		if tc.wantHTTP != errors.As(err, &he) {
			t.Fatalf("err %T, HTTPError wanted: %v", err, tc.wantHTTP)
		}
		if he != nil {
			if he.Service != ServiceJFrog || he.StatusCode != tc.status || he.Claims == nil || he.Claims.Repository != "octo/app" {
				t.Fatalf("HTTPError fields %+v", he)
			}
			assertHint(t, he, tc.wantHint)
			if strings.Contains(he.Hint, "must be GitHub's default") {
				t.Errorf("hint %q says the integration's Audience must be GitHub's default; JFrog's is optional", he.Hint)
			}
			details := strings.Join(he.Details(), "\n")
			if !strings.Contains(details, "repository: octo/app") {
				t.Fatalf("details lack claims: %s", details)
			}
			assertNoSecret(t, details, testIDToken)
		}
	})
}

func TestJFrogRetriedStatusCarriesServiceMessage(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 502, `{"errors":[{"code":"BAD_GATEWAY","message":"upstream down"}]}`)
	})
	j := newJFrog(f.URL, testClient(2), nil)
	_, err := j.Exchange(context.Background(), staticIDs(testIDToken))
	var he *HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v", err)
	}
	want := "jfrog token exchange failed: POST " + f.URL + "/access/api/v1/oidc/token: 502 Bad Gateway (after 3 attempts): upstream down"
	if err.Error() != want || f.count() != 3 || he.Claims == nil || he.Hint == "" {
		t.Fatalf("err = %q (requests %d), want %q", err, f.count(), want)
	}
}

func TestJFrogRetryThenSuccess(t *testing.T) {
	t.Parallel()
	for _, st := range []int{500, 502, 503, 429} {
		f := newFailOnceFake(t, st, `{"access_token":"acc"}`)
		j := newJFrog(f.URL, testClient(3), nil)
		if _, err := j.Exchange(context.Background(), staticIDs(testIDToken)); err != nil {
			t.Fatalf("%d: %v", st, err)
		}
		if f.count() != 2 {
			t.Fatalf("%d: requests %d", st, f.count())
		}
	}
}

func TestJFrogConfigErrors(t *testing.T) {
	type test struct {
		j    *JFrog
		want string
	}
	testenv.Run(t, map[string]test{
		"no client":      {&JFrog{BaseURL: "https://x", ProviderName: "p"}, "no HTTP client"},
		"no provider":    {&JFrog{Client: testClient(0), BaseURL: "https://x"}, "provider name"},
		"bad url":        {&JFrog{Client: testClient(0), BaseURL: "ftp://x", ProviderName: "p"}, "not an absolute http(s) URL"},
		"query":          {&JFrog{Client: testClient(0), BaseURL: "https://x/?a=b", ProviderName: "p"}, "must not have a query"},
		"empty id token": {&JFrog{Client: testClient(0), BaseURL: "https://x", ProviderName: "p"}, "id token: the answer holds no token"},
	}, func(t *testing.T, _ string, tc test) {
		_, err := tc.j.Exchange(context.Background(), staticIDs(""))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("err = %v, want %q", err, tc.want)
		}
	})
}

func TestJFrogContextFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "s", "GITHUB_REF_NAME": "b", "GITHUB_JOB": "j", "GITHUB_RUN_ID": "1"}
	got := JFrogContextFromEnv(testenv.Getenv(env))
	if got != (JFrogContext{Repo: "o/r", Revision: "s", Branch: "b", JobID: "j", RunID: "1"}) {
		t.Fatalf("%+v", got)
	}
	j := &JFrog{Audience: "a"}
	if j.IDTokenAudience() != "a" {
		t.Fatal("audience")
	}
}

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

package exchange

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const requestToken = "runtime-request-token-abcdef"

// runtimeEnv is the environment of a job step with id-token: write.
func runtimeEnv(url string, extra map[string]string) func(string) string {
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   url + "/_apis/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
	}
	for k, v := range extra {
		env[k] = v
	}
	return testenv.Getenv(env)
}

func TestGitHubIDTokens(t *testing.T) {
	type test struct {
		handle    func(w http.ResponseWriter, r *http.Request, n int)
		retries   int
		audience  string
		wantCount int
		wantErr   []string
		wantHTTP  int // expected HTTPError status, 0 = not an HTTPError
	}
	testenv.Run(t, map[string]test{
		"ok with audience":    {audience: "crates.io", wantCount: 1},
		"ok default audience": {wantCount: 1},
		"503 then ok": {wantCount: 2, retries: 3, handle: func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				writeJSON(w, 503, `{"message":"busy"}`)
				return
			}
			writeJSON(w, 200, `{"count":1,"value":"`+testIDToken+`"}`)
		}},
		"500 always": {wantCount: 3, retries: 2, wantHTTP: 500,
			wantErr: []string{"github id token request failed: GET ", "/_apis/token: 500 Internal Server Error (after 3 attempts): oops"},
			handle: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 500, `{"message":"oops `+requestToken+`"}`)
			}},
		"429 then ok": {wantCount: 2, retries: 3, handle: func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				writeJSON(w, 429, `{}`)
				return
			}
			writeJSON(w, 200, `{"value":"`+testIDToken+`"}`)
		}},
		"403 not retried": {wantCount: 1, retries: 3, wantHTTP: 403, wantErr: []string{"403 Forbidden: denied"},
			handle: func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 403, `{"message":"denied"}`) }},
		"empty value": {wantCount: 1, wantErr: []string{"id token: the answer holds no token"},
			handle: func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{"value":""}`) }},
		"value with newline": {wantCount: 1, wantErr: []string{"refused"},
			handle: func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{"value":"abc\ndef"}`) }},
		"malformed": {wantCount: 1, wantErr: []string{"not valid JSON"},
			handle: func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{"value":`) }},
		"redirect refused": {wantCount: 1, wantErr: []string{"redirects are refused", "evil.example"},
			handle: func(w http.ResponseWriter, r *http.Request, n int) {
				http.Redirect(w, r, "https://evil.example/x", http.StatusTemporaryRedirect)
			}},
	}, func(t *testing.T, _ string, tc test) {
		handle := tc.handle
		if handle == nil {
			handle = func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, `{"count":1,"value":"`+testIDToken+`"}`)
			}
		}
		f := newFake(t, handle)
		src := GitHubIDTokens(runtimeEnv(f.URL, nil), testClient(tc.retries))
		tok, err := src.IDToken(context.Background(), tc.audience)
		reqs := f.requests()
		if len(reqs) != tc.wantCount {
			t.Fatalf("requests %d, want %d", len(reqs), tc.wantCount)
		}
		r := reqs[0]
		if r.Method != "GET" || r.Path != "/_apis/token" || r.Header.Get("Authorization") != "Bearer "+requestToken {
			t.Fatalf("request %+v", r)
		}
		wantQuery := "api-version=2.0"
		if tc.audience != "" {
			wantQuery += "&audience=" + tc.audience
		}
		if r.Query != wantQuery {
			t.Fatalf("query %q, want %q", r.Query, wantQuery)
		}
		if tc.wantErr == nil {
			if err != nil || tok != testIDToken {
				t.Fatalf("token %q, err %v", tok, err)
			}
			return
		}
		assertErr(t, err, tc.wantErr, requestToken, "api-version", "abc", "def")
		var he *HTTPError
		if errors.As(err, &he) != (tc.wantHTTP != 0) {
			t.Fatalf("err %T: %v", err, err)
		}
		if he != nil && (he.StatusCode != tc.wantHTTP || he.Service != ServiceGitHub || he.URL != f.URL+"/_apis/token") {
			t.Fatalf("HTTPError %+v", he)
		}
	})
}

func TestGitHubIDTokensMissing(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	event := func(name, head, base string) string {
		p := filepath.Join(dir, name)
		body := `{"pull_request":{"head":{"repo":{"full_name":"` + head + `"}},"base":{"repo":{"full_name":"` + base + `"}}}}`
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fork := event("fork.json", "someone/app", "octo/app")
	same := event("same.json", "octo/app", "octo/app")
	tests := []struct {
		name     string
		env      map[string]string
		variable string
		fork     bool
	}{
		{name: "nothing", variable: "ACTIONS_ID_TOKEN_REQUEST_URL"},
		{name: "url only", env: map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/?a=1"}, variable: "ACTIONS_ID_TOKEN_REQUEST_TOKEN"},
		{name: "fork pull_request", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": fork}, variable: "ACTIONS_ID_TOKEN_REQUEST_URL", fork: true},
		{name: "pull_request_target runs in the base repository, not called a fork", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_EVENT_PATH": fork}, variable: "ACTIONS_ID_TOKEN_REQUEST_URL"},
		{name: "same-repo pull_request", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": same}, variable: "ACTIONS_ID_TOKEN_REQUEST_URL"},
		{name: "push with fork payload", env: map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": fork}, variable: "ACTIONS_ID_TOKEN_REQUEST_URL"},
		{name: "fork pull_request_review", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request_review", "GITHUB_EVENT_PATH": fork}, variable: "ACTIONS_ID_TOKEN_REQUEST_URL", fork: true},
		{name: "missing payload", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": filepath.Join(dir, "nope.json")}, variable: "ACTIONS_ID_TOKEN_REQUEST_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tc.env[k] }
			_, err := GitHubIDTokens(getenv, testClient(0)).IDToken(context.Background(), "")
			var me *MissingIDTokenError
			if !errors.As(err, &me) || me.Variable != tc.variable || me.ForkPullRequest != tc.fork {
				t.Fatalf("err = %#v", err)
			}
			msg := err.Error()
			details := strings.Join(me.Details(), "\n")
			if !strings.Contains(msg, tc.variable) {
				t.Fatalf("err %q does not name %s", msg, tc.variable)
			}
			if got := strings.Contains(msg, "pull request from a fork"); got != tc.fork {
				t.Fatalf("fork mention %v in %q", got, msg)
			}
			if Classify(err) != KindNoIDToken {
				t.Errorf("Classify = %v, want %v", Classify(err), KindNoIDToken)
			}
			if tc.fork {
				// The permission cannot help a fork: no advice to add it,
				// but what to do instead.
				if strings.Contains(msg, "does the job have") || strings.Contains(details, "Add to the job") ||
					!strings.Contains(details, "head.repo.full_name == github.repository") || !strings.Contains(details, "pull_request_target") {
					t.Fatalf("fork advice wrong:\n%s\n%s", msg, details)
				}
				return
			}
			if !strings.Contains(msg, "`permissions: id-token: write`") || !strings.Contains(details, "id-token: write") {
				t.Fatalf("err %q, details %q: no advice to add the permission", msg, details)
			}
		})
	}
}

func TestEnvAndFileIDTokens(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	write := func(name, body string) string { return testenv.WriteFile(t, dir, name, body) }
	env := map[string]string{"TOK": "  " + testIDToken + "\n", "EMPTY": " \n", "BAD": "abc def"}
	getenv := testenv.Getenv(env)
	tests := []struct {
		name    string
		src     IDTokenSource
		want    string
		wantErr []string
	}{
		{name: "env", src: EnvIDToken(getenv, "TOK"), want: testIDToken},
		{name: "env unset", src: EnvIDToken(getenv, "CIRCLE_OIDC_TOKEN_V2"), wantErr: []string{"CIRCLE_OIDC_TOKEN_V2", "empty or not set"}},
		{name: "env blank", src: EnvIDToken(getenv, "EMPTY"), wantErr: []string{"EMPTY", "empty or not set"}},
		{name: "env with space", src: EnvIDToken(getenv, "BAD"), wantErr: []string{"BAD", "whitespace"}},
		{name: "file", src: FileIDToken(write("tok", testIDToken+"\n")), want: testIDToken},
		{name: "file missing", src: FileIDToken(filepath.Join(dir, "none")), wantErr: []string{"none", "does not exist"}},
		{name: "file empty", src: FileIDToken(write("empty", "\n\n")), wantErr: []string{"empty", "is empty"}},
		{name: "file with two lines", src: FileIDToken(write("two", "abc\ndef")), wantErr: []string{"refused"}},
		{name: "file huge", src: FileIDToken(write("huge", strings.Repeat("a", maxIDTokenFile+10))), wantErr: []string{"larger than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.src.IDToken(context.Background(), "ignored")
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			assertErr(t, err, tc.wantErr, "abc", "def")
		})
	}
}

func TestMasked(t *testing.T) {
	t.Parallel()
	m := &recMask{}
	var order []string
	src := Masked(IDTokenFunc(func(context.Context, string) (string, error) {
		order = append(order, "fetched")
		return "tok-1234", nil
	}), func(s string) { m.mask(s); order = append(order, "masked") })
	got, err := src.IDToken(context.Background(), "")
	if err != nil || got != "tok-1234" {
		t.Fatal(got, err)
	}
	order = append(order, "returned")
	if strings.Join(order, ",") != "fetched,masked,returned" || m.list()[0] != "tok-1234" {
		t.Fatalf("order %v", order)
	}
	if s := Masked(staticIDs("x"), nil); s != staticIDs("x") {
		t.Fatal("nil mask should return src")
	}
}

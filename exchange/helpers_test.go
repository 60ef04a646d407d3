package exchange

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeJWT builds an unsigned JWT with the given claims.
func fakeJWT(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	p, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "." + base64.RawURLEncoding.EncodeToString([]byte("signature-bytes"))
}

// githubClaims are typical GitHub claims; n makes each token distinct.
func githubClaims(n int) map[string]any {
	return map[string]any{
		"iss":              "https://token.actions.githubusercontent.com",
		"aud":              "https://github.com/octo",
		"sub":              "repo:octo/app:ref:refs/heads/main",
		"repository":       "octo/app",
		"repository_owner": "octo",
		"ref":              "refs/heads/main",
		"job_workflow_ref": "octo/app/.github/workflows/release.yml@refs/heads/main",
		"exp":              1700000000 + n,
		"iat":              1699999000,
		"jti":              fmt.Sprintf("jti-%d", n),
	}
}

var testIDToken = fakeJWT(githubClaims(0))

// staticIDs always gives tok.
type staticIDs string

func (s staticIDs) IDToken(context.Context, string) (string, error) { return string(s), nil }

// mintingIDs gives a distinct JWT on every call and records audiences.
type mintingIDs struct {
	n    atomic.Int64
	mu   sync.Mutex
	auds []string
}

func (m *mintingIDs) IDToken(_ context.Context, aud string) (string, error) {
	m.mu.Lock()
	m.auds = append(m.auds, aud)
	m.mu.Unlock()
	return fakeJWT(githubClaims(int(m.n.Add(1)))), nil
}

// testClient is a client with tiny waits, for tests.
func testClient(retries int) *Client {
	return NewClient(HTTPConfig{Retries: retries, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond})
}

// recorded is one request a fake received.
type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   string
}

// fake is an httptest server on 127.0.0.1 answering with handle, recording
// every request.
type fake struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFake(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int)) *fake {
	t.Helper()
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		n := len(f.reqs)
		f.mu.Unlock()
		handle(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

// newFailOnceFake is a fake that answers the first request with status
// and {}, and every later one with 200 and body.
func newFailOnceFake(t testing.TB, status int, body string) *fake {
	t.Helper()
	return newFake(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			writeJSON(w, status, `{}`)
			return
		}
		writeJSON(w, 200, body)
	})
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fake) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// recMask records masked secrets in order.
type recMask struct {
	mu  sync.Mutex
	got []string
}

func (m *recMask) mask(s string) {
	m.mu.Lock()
	m.got = append(m.got, s)
	m.mu.Unlock()
}

func (m *recMask) list() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got...)
}

// assertNoSecret fails when s contains any of secrets.
func assertNoSecret(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("message leaks a secret: %q", s)
		}
	}
}

// assertErr fails unless err is an error whose text holds every want and
// whose text and details hold none of secrets.
func assertErr(t *testing.T, err error, want []string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("err %q lacks %q", err, w)
		}
	}
	assertNoSecret(t, errText(err), secrets...)
}

// assertHint fails unless he's hint holds every want.
func assertHint(t *testing.T, he *HTTPError, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(he.Hint, w) {
			t.Fatalf("hint %q lacks %q", he.Hint, w)
		}
	}
}

// errText is err's text and, where it has them, its details, one a line.
func errText(err error) string {
	all := err.Error()
	var d interface{ Details() []string }
	if errors.As(err, &d) {
		all += "\n" + strings.Join(d.Details(), "\n")
	}
	return all
}

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func nowFixed() time.Time { return fixedNow }

func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

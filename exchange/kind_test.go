package exchange

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestClassify drives real exchanges into every kind of failure and checks
// the Kind, and that the claims block appears only when the service
// answered and refused.
func TestClassify(t *testing.T) {
	closed := func(t *testing.T) string { return "http://" + testenv.ClosedAddr(t) } // a port nothing listens on
	serve := func(h func(w http.ResponseWriter, r *http.Request, n int)) func(t *testing.T) string {
		return func(t *testing.T) string { return newFake(t, h).URL }
	}
	status := func(code int, body string) func(t *testing.T) string {
		return serve(func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, code, body) })
	}
	failingIDs := IDTokenFunc(func(context.Context, string) (string, error) {
		return "", errors.New("environment variable X is empty or not set")
	})
	type test struct {
		url     func(t *testing.T) string
		ids     IDTokenSource
		timeout time.Duration
		want    Kind
		todo    string // in the "what to do" block (Details); "" = not checked
	}
	testenv.Run(t, map[string]test{
		"id token source fails": {url: status(200, `{}`), ids: failingIDs, want: KindNoIDToken},
		"id token invalid":      {url: status(200, `{}`), ids: staticIDs("not a token"), want: KindNoIDToken},
		"connection refused":    {url: closed, want: KindUnreachable, todo: "that this runner can reach the host"},
		"untrusted certificate": {
			url: func(t *testing.T) string {
				s := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				s.Config.ErrorLog = newDiscardLogger()
				t.Cleanup(s.Close)
				return s.URL
			},
			want: KindUnreachable,
		},
		"no answer in time": {
			timeout: 150 * time.Millisecond,
			url: serve(func(_ http.ResponseWriter, r *http.Request, _ int) {
				<-r.Context().Done()
			}),
			want: KindUnreachable,
		},
		"400":               {url: status(400, `{"errors":[{"message":"bad"}]}`), want: KindRefused},
		"401":               {url: status(401, `{"errors":[{"message":"no mapping"}]}`), want: KindRefused},
		"403":               {url: status(403, `{"errors":[{"message":"no mapping"}]}`), want: KindRefused},
		"404":               {url: status(404, `{"errors":[{"message":"no integration"}]}`), want: KindRefused},
		"500 after retries": {url: status(500, `{}`), want: KindServiceFailed},
		"501 not retried":   {url: status(501, `{}`), want: KindServiceFailed},
		"503 after retries": {url: status(503, `oops`), want: KindServiceFailed},
		"429 after retries": {url: status(429, `{}`), want: KindServiceFailed},
		"503 until the time runs out": {
			timeout: 300 * time.Millisecond,
			url: serve(func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Retry-After", "1")
				writeJSON(w, 503, `{}`)
			}),
			want: KindServiceFailed,
		},
		"html on 200": {
			url: serve(func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, "<html><title>Login</title></html>")
			}),
			want: KindBadAnswer,
			todo: "no proxy, firewall or single sign-on page answers in its place",
		},
		"no token on 200": {url: status(200, `{"token_type":"Bearer"}`), want: KindBadAnswer, todo: "names the token service itself"},
		"redirect": {
			url: serve(func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, "https://elsewhere.example/x", http.StatusTemporaryRedirect)
			}),
			want: KindBadAnswer,
			todo: "never follows a redirect",
		},
	}, func(t *testing.T, _ string, tc test) {
		c := NewClient(HTTPConfig{Retries: 2, WaitMin: time.Millisecond, WaitMax: 200 * time.Millisecond})
		j := newJFrog(tc.url(t), c, nil)
		ids := tc.ids
		if ids == nil {
			ids = staticIDs(testIDToken)
		}
		ctx := context.Background()
		if tc.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, tc.timeout)
			defer cancel()
		}
		_, err := j.Exchange(ctx, ids)
		if err == nil {
			t.Fatal("the exchange succeeded")
		}
		if got := Classify(err); got != tc.want {
			t.Fatalf("Classify(%q) = %v, want %v", err, got, tc.want)
		}
		var d interface{ Details() []string }
		claims := errors.As(err, &d) && strings.Contains(strings.Join(d.Details(), "\n"), "repository: octo/app")
		if claims != (tc.want == KindRefused) {
			t.Errorf("claims block shown: %v, want it only for a refusal; error %q", claims, err)
		}
		if tc.todo != "" && (d == nil || !strings.Contains(strings.Join(d.Details(), "\n"), tc.todo)) {
			t.Errorf("error %q has no what-to-do block with %q", err, tc.todo)
		}
	})
}

// TestClassifyGitHubEndpoint: a failure of GitHub's ID token endpoint is
// "no ID token", whatever its status: the token service was never reached.
func TestClassifyGitHubEndpoint(t *testing.T) {
	t.Parallel()
	for _, code := range []int{403, 500} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			gh := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, code, `{}`) })
			svc := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, 200, `{}`) })
			env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": gh.URL + "/?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token"}
			c := testClient(1)
			_, err := newJFrog(svc.URL, c, nil).Exchange(context.Background(), GitHubIDTokens(testenv.Getenv(env), c))
			if got := Classify(err); got != KindNoIDToken {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, KindNoIDToken)
			}
			if svc.count() != 0 {
				t.Errorf("the token service was contacted")
			}
		})
	}
}

func TestClassifyOther(t *testing.T) {
	type test struct {
		err  error
		want Kind
	}
	testenv.Run(t, map[string]test{
		"nil":                     {nil, KindOther},
		"plain error":             {errors.New("something"), KindOther},
		"deadline":                {fmt.Errorf("x: %w", context.DeadlineExceeded), KindUnreachable},
		"no ID token":             {&MissingIDTokenError{Variable: "ACTIONS_ID_TOKEN_REQUEST_URL"}, KindNoIDToken},
		"wrapped 400":             {fmt.Errorf("wrapped: %w", &HTTPError{Service: ServiceCratesIO, StatusCode: 400}), KindRefused},
		"502":                     {&HTTPError{Service: ServiceCloudsmith, StatusCode: 502}, KindServiceFailed},
		"STS 400 retried":         {&HTTPError{Service: ServiceSTS, StatusCode: 400, Attempts: 3}, KindServiceFailed}, // throttling
		"STS 400 at the first go": {&HTTPError{Service: ServiceSTS, StatusCode: 400, Attempts: 1}, KindRefused},
	}, func(t *testing.T, _ string, tc test) {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	})
}

// TestKindNames: every Kind has a name of its own.
func TestKindNames(t *testing.T) {
	t.Parallel()
	for k := KindOther; k <= KindBadAnswer; k++ {
		if k.String() == "" || (k != KindOther && k.String() == KindOther.String()) {
			t.Errorf("Kind(%d) has no name of its own", k)
		}
	}
}

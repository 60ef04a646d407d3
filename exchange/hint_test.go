package exchange

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestJFrogRefusalHintAudience: JFrog's OIDC integration has an optional
// Audience; when it has one, the token's aud must equal it. The hint for a
// refusal says so, for an audience input that is set and one that is not.
func TestJFrogRefusalHintAudience(t *testing.T) {
	type test struct {
		audience string
		want     []string
	}
	testenv.Run(t, map[string]test{
		"audience unset": {"", []string{"the integration's Audience, if it has one, must equal the token's aud", "GitHub's default", "set the audience input to the integration's Audience, or leave that empty"}},
		"audience set":   {"jfrog-github", []string{`the integration's Audience, if it has one, must be "jfrog-github" (the audience input)`}},
	}, func(t *testing.T, _ string, tc test) {
		f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			writeJSON(w, http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"Token is invalid"}]}`)
		})
		j := newJFrog(f.URL, testClient(1), nil)
		j.Audience = tc.audience
		_, err := j.Exchange(context.Background(), staticIDs(testIDToken))
		var he *HTTPError
		if !errors.As(err, &he) {
			t.Fatalf("err %v, want an *HTTPError", err)
		}
		assertHint(t, he, tc.want)
		if strings.Contains(he.Hint, "must be GitHub's default") {
			t.Errorf("hint %q says the integration's Audience must be GitHub's default; JFrog's is optional", he.Hint)
		}
	})
}

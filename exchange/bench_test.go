package exchange

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func BenchmarkJFrogExchange(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"access_token":"acc-bench-token","token_type":"Bearer","expires_in":3600,"scope":"applied-permissions/user","username":"octo"}`)
	}))
	b.Cleanup(srv.Close)
	j := &JFrog{Client: NewClient(HTTPConfig{Retries: 3}), BaseURL: srv.URL, ProviderName: "github-oidc",
		Context: JFrogContext{Repo: "octo/app", Revision: "abc", Branch: "main", JobID: "build", RunID: "1"}, Mask: func(string) {}}
	ids := staticIDs(testIDToken)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Exchange(ctx, ids); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJFrogAnswer(b *testing.B) {
	body := []byte(`{"access_token":"` + testIDToken + `","token_type":"Bearer","expires_in":3600,"scope":"applied-permissions/user","username":"octo","reference_token":"ref"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseAnswer[jfrogAnswer](body, "application/json"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeClaims(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClaims(testIDToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkErrorMessage(b *testing.B) {
	body := []byte(`{"errors":[{"code":"FORBIDDEN","message":"Failed to validate identity mapping"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = errorAnswerMessage(body, "application/json", nil, 0)
	}
}

package credprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestCodeArtifactProvider: in provider mode every get repeats both calls
// (STS, then CodeArtifact), the endpoints come from Cargo's environment, the
// raw token is answered with its expiry, and other registries are refused.
func TestCodeArtifactProvider(t *testing.T) {
	t.Parallel()
	var stsN, caN atomic.Int32
	mux := http.NewServeMux()
	serveIDToken(mux, "sts.amazonaws.com", nil)
	mux.HandleFunc("POST /sts/", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("WebIdentityToken") != idToken || r.PostForm.Get("RoleSessionName") != "cargo-oidc-99-3" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		n := stsN.Add(1)
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>`+
			`<AccessKeyId>ASIAKEY%d</AccessKeyId><SecretAccessKey>secret%d</SecretAccessKey><SessionToken>session%d</SessionToken>`+
			`</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`, n, n, n)
	})
	mux.HandleFunc("POST /ca/v1/authorization-token", func(w http.ResponseWriter, r *http.Request) {
		n := caN.Add(1)
		if !strings.Contains(r.Header.Get("Authorization"), "Credential=ASIAKEY"+fmt.Sprint(n)+"/") ||
			r.URL.Query().Get("duration") != "1800" || r.URL.Query().Get("domain-owner") != "111122223333" {
			http.Error(w, `{"message":"bad"}`, http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, `{"authorizationToken":"ca-token-%d","expiration":%d}`, n, now.Add(30*time.Minute).Unix())
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	index := "sparse+https://my-domain-111122223333.d.codeartifact.eu-west-2.amazonaws.com/cargo/cargo-repo/"
	args := []string{"--provider=codeartifact", "--role-to-assume=arn:aws:iam::111122223333:role/cargo-ci", "--aws-region=eu-west-2",
		"--domain=my-domain", "--domain-owner=111122223333", "--repository=cargo-repo", "--duration=1800", "--token-scheme=none", "--retries=0"}
	req := func(idx string) string {
		b, _ := json.Marshal(Request{V: 1, Kind: "get", Operation: "read", Registry: Registry{IndexURL: idx, Name: "codeartifact"}, Args: args})
		return string(b)
	}
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/_apis/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "rt",
		"AWS_ENDPOINT_URL_STS": srv.URL + "/sts", "AWS_ENDPOINT_URL_CODEARTIFACT": srv.URL + "/ca",
		"GITHUB_RUN_ID": "99", "GITHUB_RUN_ATTEMPT": "3",
	}
	var out bytes.Buffer
	tmp := testenv.TempDir(t)
	err := Serve(context.Background(), Env{Getenv: testenv.Getenv(env),
		Stdin:  strings.NewReader(req(index) + "\n" + req(index) + "\n" + req("sparse+https://other.example/index/") + "\n"),
		Stdout: &out, HTTP: srv.Client(), Now: func() time.Time { return now }, TempDir: func() string { return tmp }})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("answers %q", lines)
	}
	// The second get is answered from the token cache.
	for i, want := range []string{"ca-token-1", "ca-token-1"} {
		var a struct{ Ok okGet }
		if err := json.Unmarshal([]byte(lines[1+i]), &a); err != nil || a.Ok.Token != want || a.Ok.Cache != "expires" {
			t.Fatalf("answer %d: %s (%v)", i, lines[1+i], err)
		}
	}
	if !strings.Contains(lines[3], `"url-not-supported"`) {
		t.Fatalf("other registry: %s", lines[3])
	}
	if stsN.Load() != 1 || caN.Load() != 1 {
		t.Fatalf("%d STS and %d CodeArtifact calls, want 1 and 1", stsN.Load(), caN.Load())
	}
	for _, s := range []string{"secret1", "session1", "ASIAKEY1"} {
		if strings.Contains(out.String(), s) {
			t.Fatalf("an answer holds %s", s)
		}
	}
}

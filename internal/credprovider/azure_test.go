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

// TestAzureProvider: in provider mode every get asks Entra for a fresh
// token with a fresh ID token (audience api://AzureADTokenExchange), at
// the authority AZURE_AUTHORITY_HOST of Cargo's environment names; Cargo
// gets it as Bearer with its expiry, other registries are refused, and an
// http authority is refused before any request.
func TestAzureProvider(t *testing.T) {
	t.Parallel()
	const tenant, client = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "11111111-2222-3333-4444-555555555555"
	var ids, entra atomic.Int32
	mux := http.NewServeMux()
	serveIDToken(mux, "api://AzureADTokenExchange", &ids)
	mux.HandleFunc("POST /"+tenant+"/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("client_assertion") != idToken || r.PostForm.Get("client_id") != client || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client","error_codes":[70021]}`, http.StatusBadRequest)
			return
		}
		n := entra.Add(1)
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"entra-token-%d"}`, n)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	index := "sparse+https://pkgs.dev.azure.com/contoso/_packaging/crates/Cargo/index/"
	args := []string{"--provider=azure", "--client-id=" + client, "--tenant-id=" + tenant, "--index-url=" + index, "--token-scheme=Bearer", "--retries=0"}
	req := func(idx string) string {
		b, _ := json.Marshal(Request{V: 1, Kind: "get", Operation: "read", Registry: Registry{IndexURL: idx, Name: "azure"}, Args: args})
		return string(b)
	}
	temp := testenv.TempDir(t) // the token cache's folder, shared by the runs
	run := func(authority string, reqs ...string) []string {
		env := map[string]string{
			"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/_apis/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "rt",
			"AZURE_AUTHORITY_HOST": authority, "RUNNER_TEMP": temp,
		}
		var out bytes.Buffer
		err := Serve(context.Background(), Env{Getenv: testenv.Getenv(env),
			Stdin: strings.NewReader(strings.Join(reqs, "\n") + "\n"), Stdout: &out, HTTP: srv.Client(), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != len(reqs)+1 {
			t.Fatalf("answers %q", lines)
		}
		if strings.Contains(out.String(), idToken) {
			t.Fatalf("an answer holds the ID token: %s", out.String())
		}
		return lines[1:]
	}
	lines := run(srv.URL, req(index), req(index), req("sparse+https://other.example/index/"))
	for i, want := range []string{"Bearer entra-token-1", "Bearer entra-token-1"} {
		var a struct{ Ok okGet }
		if err := json.Unmarshal([]byte(lines[i]), &a); err != nil || a.Ok.Token != want || a.Ok.Cache != "expires" {
			t.Fatalf("answer %d: %s (%v)", i, lines[i], err)
		}
	}
	if !strings.Contains(lines[2], `"url-not-supported"`) {
		t.Fatalf("other registry: %s", lines[2])
	}
	if ids.Load() != 1 || entra.Load() != 1 {
		t.Fatalf("%d ID tokens and %d Entra calls, want 1 and 1 (the second get is served from the token cache)", ids.Load(), entra.Load())
	}
	lines = run(strings.Replace(srv.URL, "https://", "http://", 1), req(index))
	if !strings.Contains(lines[0], "AZURE_AUTHORITY_HOST must be an https URL") || entra.Load() != 1 || ids.Load() != 1 {
		t.Fatalf("http authority: %s (%d Entra calls, %d ID tokens)", lines[0], entra.Load(), ids.Load())
	}
}

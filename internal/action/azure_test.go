package action

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

const (
	azureTenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	azureClient = "11111111-2222-3333-4444-555555555555"
	// azureToken stands for an Entra access token.
	azureToken = "eyJ0eXAiOiJKV1QifQ.ENTRA-ACCESS-TOKEN-SECRET"
)

var azureInputs = map[string]string{"provider": "azure", "client-id": azureClient, "tenant-id": azureTenant,
	"organization": "octo-org", "project": "web", "feed": "crates"}

// entraFake is Microsoft Entra's token endpoint for one tenant, behind the
// same test certificate as the world's server (every httptest TLS server
// has the same one, so the world's client trusts it), reached through
// AZURE_AUTHORITY_HOST. It checks the request's method, path, content type
// and form, and answers with status and body, or the token.
type entraFake struct {
	srv    *httptest.Server
	calls  atomic.Int32
	status int
	body   string
}

func newEntra(t *testing.T, w *world) *entraFake {
	t.Helper()
	f := &entraFake{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(b))
		if r.Method != http.MethodPost || r.URL.Path != "/"+azureTenant+"/oauth2/v2.0/token" || err != nil ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			form.Get("grant_type") != "client_credentials" || form.Get("client_id") != azureClient ||
			form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
			form.Get("client_assertion") != w.idToken || form.Get("scope") != "499b84ac-1321-427f-aa17-267ca6975798/.default" {
			t.Errorf("unexpected request %s %s %v %q", r.Method, r.URL.Path, r.Header, b)
			rw.WriteHeader(http.StatusTeapot)
			return
		}
		rw.Header().Set("Content-Type", "application/json; charset=utf-8")
		if f.status != 0 {
			rw.WriteHeader(f.status)
			fmt.Fprint(rw, f.body)
			return
		}
		fmt.Fprintf(rw, `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":%q}`, azureToken)
	}))
	t.Cleanup(f.srv.Close)
	delete(w.env, "INPUT_URL")
	w.env["AZURE_AUTHORITY_HOST"] = f.srv.URL
	for k, v := range azureInputs {
		w.env["INPUT_"+strings.ToUpper(k)] = v
	}
	return f
}

const azureIndex = "sparse+https://pkgs.dev.azure.com/octo-org/web/_packaging/crates/Cargo/index/"

func TestMainAzureTokenMode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	f := newEntra(t, w)
	w.env["INPUT_REPLACE-CRATES-IO"] = "true"
	out := w.mustMain()
	env := parseEntries(t, w.read("env"))
	want := map[string]string{
		"CARGO_REGISTRIES_AZURE_INDEX":               azureIndex,
		"CARGO_REGISTRIES_AZURE_TOKEN":               "Bearer " + azureToken,
		"CARGO_REGISTRIES_AZURE_CREDENTIAL_PROVIDER": "cargo:token",
	}
	if fmt.Sprint(env) != fmt.Sprint(want) {
		t.Errorf("GITHUB_ENV = %v\nwant %v", env, want)
	}
	outs := parseEntries(t, w.read("output"))
	if outs["token"] != azureToken || outs["index-url"] != azureIndex || outs["registry-name"] != "azure" || outs["expires-at"] != "2026-11-21T12:59:59Z" {
		t.Errorf("outputs = %v", outs)
	}
	if f.calls.Load() != 1 {
		t.Errorf("%d calls to Entra", f.calls.Load())
	}
	for _, s := range []string{"Exchanging the GitHub ID token with Azure Artifacts", "Token service: " + f.srv.URL + "/" + azureTenant + "/oauth2/v2.0/token (audience api://AzureADTokenExchange)"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(w.read("summary"), "Azure Artifacts") {
		t.Errorf("summary = %s", w.read("summary"))
	}
	assertMaskedFirst(t, out, w.idToken, azureToken)
	cfg := filepath.Join(w.env["GITHUB_WORKSPACE"], ".cargo", "config.toml")
	if b, err := os.ReadFile(cfg); err != nil || !strings.Contains(string(b), `replace-with = "azure"`) || !strings.Contains(string(b), azureIndex) {
		t.Errorf("config.toml = %s, %v", b, err)
	}
}

func TestMainAzureProviderMode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	f := newEntra(t, w)
	runProviderMode(t, w)
	env := parseEntries(t, w.read("env"))
	installed := filepath.Join(w.env["HOME"], ".cargo-oidc", "bin", "cargo-oidc"+exe)
	want := installed + " --provider=azure --client-id=" + azureClient + " --tenant-id=" + azureTenant + " --index-url=" + azureIndex +
		" --token-scheme=Bearer --retries=1 --timeout=10s"
	if cp := env["CARGO_REGISTRIES_AZURE_CREDENTIAL_PROVIDER"]; !strings.HasPrefix(cp, want+" --cache-dir=") {
		t.Errorf("credential provider\n got %q\nwant %q followed by --cache-dir=", cp, want)
	}
	if strings.Contains(w.read("env"), azureToken) || strings.Contains(w.read("output"), azureToken) {
		t.Error("provider mode exported a token")
	}
	if f.calls.Load() != 1 {
		t.Errorf("%d calls to Entra: provider mode checks the trust set-up once", f.calls.Load())
	}
}

// TestMainAzureRefused: Entra's refusal is titled as Azure Artifacts',
// the message carries the AADSTS title, the hint what to fix, the claims
// block what Entra judged; no token in any of it.
func TestMainAzureRefused(t *testing.T) {
	type test struct {
		status int
		body   string
		want   []string
	}
	testenv.Run(t, map[string]test{
		"no federated credential": {http.StatusBadRequest,
			`{"error":"invalid_client","error_description":"AADSTS70021: No matching federated identity record found for presented assertion. Trace ID: 0b9f1f5e-6c3a-4f7e-9f57-2a1d6b0c0d00","error_codes":[70021],"trace_id":"0b9f1f5e-6c3a-4f7e-9f57-2a1d6b0c0d00"}`,
			[]string{"::error title=cargo-oidc%3A Azure Artifacts refused the token exchange::", "no federated credential matches the ID token (AADSTS70021)",
				`subject "repo:octo-org/octo-repo:ref:refs/heads/main"`, "sub: repo:octo-org/octo-repo:ref:refs/heads/main", "trace ID 0b9f1f5e-6c3a-4f7e-9f57-2a1d6b0c0d00"}},
		"unknown tenant": {http.StatusBadRequest,
			`{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' not found.","error_codes":[90002]}`,
			[]string{"tenant not found (AADSTS90002)", `check tenant-id "` + azureTenant + `"`}},
		"the assertion echoed": {http.StatusUnauthorized, "", []string{"refused the token exchange", "AADSTS50027"}},
	}, func(t *testing.T, _ string, tt test) {
		w := newWorld(t, nil)
		f := newEntra(t, w)
		f.status, f.body = tt.status, tt.body
		if f.body == "" {
			f.body = `{"error":"invalid_client","error_description":"AADSTS50027: JWT token is invalid: ` + w.idToken + `.","error_codes":[50027]}`
		}
		out, err := w.run(Main)
		if err == nil {
			t.Fatalf("Main succeeded:\n%s", out)
		}
		for _, s := range tt.want {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
		if strings.Count(out, w.idToken) != 1 || strings.Contains(w.read("summary"), w.idToken) {
			t.Errorf("the ID token shows outside its ::add-mask:: line:\n%s", out)
		}
		if w.read("env") != "" || w.read("output") != "" {
			t.Error("a failed exchange wrote env or outputs")
		}
	})
}

package exchange

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestBaseHTTPClient checks that SSL_CERT_FILE, read through getenv and
// not the process environment, adds a CA that the client then trusts, and
// that a file that cannot be used is an error naming the variable.
func TestBaseHTTPClient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/ping" {
			http.Error(w, "want GET /ping", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("pong"))
	}))
	t.Cleanup(srv.Close)
	dir := testenv.TempDir(t)
	caFile := filepath.Join(dir, "ca.pem")
	other := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a certificate")})
	serverCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	// Another block first: every certificate of the file is added.
	if err := os.WriteFile(caFile, append(append([]byte("# comment\n"), serverCA...), other...), 0o600); err != nil {
		t.Fatal(err)
	}
	noPEM := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(noPEM, []byte("no certificates here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		certFile string
		wantNil  bool   // BaseHTTPClient returns nil: NewClient's default
		wantErr  string // from BaseHTTPClient
		wantCert bool   // the GET fails with a certificate error
	}{
		{name: "CA added", certFile: caFile},
		{name: "unset", wantNil: true, wantCert: true},
		{name: "missing file", certFile: filepath.Join(dir, "missing.pem"), wantErr: "read the CA certificates of SSL_CERT_FILE=" + filepath.Join(dir, "missing.pem")},
		{name: "no PEM", certFile: noPEM, wantErr: "SSL_CERT_FILE=" + noPEM + " holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string {
				if k == CertFileEnv {
					return tt.certFile
				}
				return ""
			}
			base, err := BaseHTTPClient(getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "unset it") {
					t.Fatalf("err %v, want %q and a hint", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (base == nil) != tt.wantNil {
				t.Fatalf("client %v, want nil %v", base, tt.wantNil)
			}
			c := NewClient(HTTPConfig{Base: base})
			ans, err := get(context.Background(), c, srv.URL+"/ping")
			if tt.wantCert {
				var ce *CertificateError
				if !errors.As(err, &ce) {
					t.Fatalf("err %v, want a *CertificateError", err)
				}
				return
			}
			if err != nil || ans.status != http.StatusOK || string(ans.body) != "pong" {
				t.Fatalf("GET: %v, %+v; want 200 pong", err, ans)
			}
		})
	}
}

package exchange

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestBaseHTTPClient checks that SSL_CERT_FILE, read through getenv and
// not the process environment, adds a CA that the client then trusts, and
// that a file that cannot be used is an error naming the variable.
func TestBaseHTTPClient(t *testing.T) {
	ca := newTestCA(t, "file CA")
	srv := ca.serve(t)
	dir := testenv.TempDir(t)
	other := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a certificate")})
	// Another block first: every certificate of the file is added.
	caFile := testenv.WriteFile(t, dir, "ca.pem", "# comment\n"+string(ca.pem)+string(other))
	noPEM := testenv.WriteFile(t, dir, "empty.pem", "no certificates here\n")
	type test struct {
		certFile string
		wantNil  bool   // BaseHTTPClient returns nil: NewClient's default
		wantErr  string // from BaseHTTPClient
		wantCert bool   // the GET fails with a certificate error
	}
	testenv.Run(t, map[string]test{
		"CA added":     {certFile: caFile},
		"unset":        {wantNil: true, wantCert: true},
		"missing file": {certFile: filepath.Join(dir, "missing.pem"), wantErr: "read the CA certificates of SSL_CERT_FILE=" + filepath.Join(dir, "missing.pem")},
		"no PEM":       {certFile: noPEM, wantErr: "SSL_CERT_FILE=" + noPEM + " holds no PEM certificate"},
	}, func(t *testing.T, _ string, tt test) {
		base, err := BaseHTTPClient(testenv.Getenv(map[string]string{CertFileEnv: tt.certFile}))
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

// testCA is a CA made for one test and a server certificate it signed for
// 127.0.0.1 only.
type testCA struct {
	cert   *x509.Certificate
	pem    []byte
	server tls.Certificate
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " server"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: ca, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// serve starts an HTTPS server with the CA's server certificate.
func (ca *testCA) serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, _ = io.Copy(w, r.Body)
			return
		}
		_, _ = w.Write([]byte("pong"))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestBaseHTTPClientSystemRootsLazily checks that the system's roots are
// loaded only when a server's certificate is not trusted through
// SSL_CERT_FILE alone, at most once per client; that a request refused by
// the file's roots is sent again, body and all, with the system's; and that
// what neither trusts is refused with crypto/tls's own error types.
func TestBaseHTTPClientSystemRootsLazily(t *testing.T) {
	fileCA, systemCA, otherCA := newTestCA(t, "file CA"), newTestCA(t, "system CA"), newTestCA(t, "other CA")
	fileSrv, systemSrv, otherSrv := fileCA.serve(t), systemCA.serve(t), otherCA.serve(t)
	caFile := testenv.WriteFile(t, testenv.TempDir(t), "ca.pem", string(fileCA.pem))
	localhost := func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }
	type test struct {
		urls      []string // fetched in turn, each on a new connection
		post      bool     // POST a body (echoed) instead of GET
		systemErr bool     // the system pool fails to load
		wantLoads int32    // loads of the system pool
		wantErr   error    // the x509 error of the last fetch; nil = all succeed
	}
	testenv.Run(t, map[string]test{
		"file CA only":                             {urls: []string{fileSrv.URL, fileSrv.URL}, wantLoads: 0},
		"file CA only, POST":                       {urls: []string{fileSrv.URL}, post: true, wantLoads: 0},
		"system CA, loaded once":                   {urls: []string{fileSrv.URL, systemSrv.URL, systemSrv.URL, fileSrv.URL}, wantLoads: 1},
		"system CA, POST sent again with its body": {urls: []string{systemSrv.URL, systemSrv.URL}, post: true, wantLoads: 1},
		"unknown CA":                               {urls: []string{otherSrv.URL}, wantLoads: 1, wantErr: x509.UnknownAuthorityError{}},
		"system pool fails to load":                {urls: []string{fileSrv.URL, systemSrv.URL}, systemErr: true, wantLoads: 1, wantErr: x509.UnknownAuthorityError{}},
		"wrong host name, file CA":                 {urls: []string{localhost(fileSrv.URL)}, wantLoads: 1, wantErr: x509.HostnameError{}},
		"wrong host name, system CA":               {urls: []string{localhost(systemSrv.URL)}, wantLoads: 1, wantErr: x509.HostnameError{}},
	}, func(t *testing.T, _ string, tt test) {
		var loads atomic.Int32
		system := func() (*x509.CertPool, error) {
			loads.Add(1)
			if tt.systemErr {
				return nil, errors.New("no system roots")
			}
			p := x509.NewCertPool()
			p.AddCert(systemCA.cert)
			return p, nil
		}
		base, err := baseHTTPClient(testenv.Getenv(map[string]string{CertFileEnv: caFile}), system)
		if err != nil {
			t.Fatal(err)
		}
		base.Transport.(*rootsTransport).fast.DisableKeepAlives = true
		for i, u := range tt.urls {
			want := "pong"
			var resp *http.Response
			if tt.post {
				want = fmt.Sprintf(`{"n":%d}`, i)
				// A body that cannot be read again once closed, as
				// http.Transport closes it when the handshake fails.
				resp, err = base.Post(u+"/echo", "application/json", &onceBody{r: strings.NewReader(want)})
			} else {
				resp, err = base.Get(u + "/ping")
			}
			if tt.wantErr == nil || i < len(tt.urls)-1 {
				if err != nil {
					t.Fatalf("fetch %d, %s: %v", i, u, err)
				}
				got, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || string(got) != want {
					t.Fatalf("fetch %d, %s: %q, %v; want %q", i, u, got, err, want)
				}
				continue
			}
			if err == nil {
				_ = resp.Body.Close()
			}
			var cv *tls.CertificateVerificationError
			if !errors.As(err, &cv) {
				t.Fatalf("fetch %s: err %v, want a *tls.CertificateVerificationError", u, err)
			}
			var ua x509.UnknownAuthorityError
			var he x509.HostnameError
			switch tt.wantErr.(type) {
			case x509.UnknownAuthorityError:
				if !errors.As(err, &ua) {
					t.Fatalf("fetch %s: err %v, want x509.UnknownAuthorityError", u, err)
				}
			case x509.HostnameError:
				if !errors.As(err, &he) {
					t.Fatalf("fetch %s: err %v, want x509.HostnameError", u, err)
				}
			}
		}
		base.CloseIdleConnections()
		if got := loads.Load(); got != tt.wantLoads {
			t.Errorf("system pool loaded %d times, want %d", got, tt.wantLoads)
		}
	})
}

// onceBody is a request body without GetBody that fails to read once
// closed.
type onceBody struct {
	r      io.Reader
	closed bool
}

func (b *onceBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read after close")
	}
	return b.r.Read(p)
}

func (b *onceBody) Close() error { b.closed = true; return nil }

package exchange

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/hashicorp/go-cleanhttp"
)

// CertFileEnv names the PEM file of extra trusted CA certificates, as
// OpenSSL, curl and Go on Linux read it.
const CertFileEnv = "SSL_CERT_FILE"

// BaseHTTPClient returns the base client (HTTPConfig.Base) of the action
// and the credential provider: a cleanhttp pooled client that trusts the
// system's roots plus every certificate in the PEM file SSL_CERT_FILE
// names, read through getenv. Go reads SSL_CERT_FILE by itself only on
// Linux and the BSDs (as the bundle file, beside the certificates under
// /etc/ssl/certs); on macOS and
// Windows it asks the platform verifier, which ignores the variable.
// Adding the file here makes a private CA work the same on every runner.
// With SSL_CERT_FILE empty it returns nil, NewClient's default.
//
// The system's roots are loaded only when a server's certificate is not
// trusted through the file alone (see rootsTransport): on Linux, loading
// them parses every certificate under /etc/ssl/certs, which took half of
// the binary's time for an exchange whose services all use the private CA.
func BaseHTTPClient(getenv func(string) string) (*http.Client, error) {
	return baseHTTPClient(getenv, x509.SystemCertPool)
}

// baseHTTPClient is BaseHTTPClient with the system pool's loader given, so
// that tests can see whether and when it runs.
func baseHTTPClient(getenv func(string) string, systemPool func() (*x509.CertPool, error)) (*http.Client, error) {
	path := getenv(CertFileEnv)
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the CA certificates of %s=%s: %w; point it at a PEM file of CA certificates, or unset it to trust the system's roots only", CertFileEnv, path, unwrapPathError(err))
	}
	extra := x509.NewCertPool()
	if !extra.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s=%s holds no PEM certificate (no -----BEGIN CERTIFICATE----- block parsed); point it at a PEM file of CA certificates, or unset it", CertFileEnv, path)
	}
	hc := cleanhttp.DefaultPooledClient()
	fast, ok := hc.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("cleanhttp's transport is a %T, not an *http.Transport", hc.Transport)
	}
	if fast.TLSClientConfig == nil {
		fast.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	fast.TLSClientConfig.RootCAs = extra
	rt := &rootsTransport{fast: fast, hosts: map[string]bool{}, newFull: func() *http.Transport {
		pool, err := systemPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(pem)
		full := fast.Clone()
		full.TLSClientConfig.RootCAs = pool
		return full
	}}
	hc.Transport = rt
	return hc, nil
}

// rootsTransport sends a request through fast, whose only roots are the
// certificates of SSL_CERT_FILE, and when that handshake fails on the
// server's certificate, again through full, whose roots are the system's
// plus the file's, built on first use. Both are crypto/tls's own
// verification, so a server is trusted exactly when it would be with the
// one pool of both, and a refusal is full's error. A host that needed full
// goes straight to it from then on. A failed handshake sends nothing of the
// request, so sending it again is safe; its body is kept for that.
type rootsTransport struct {
	fast    *http.Transport
	newFull func() *http.Transport

	mu    sync.Mutex
	full  *http.Transport // nil until first needed
	hosts map[string]bool // host:port that need the system's roots
}

// fullTransport returns full, built on the first call.
func (t *rootsTransport) fullTransport() *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.full == nil {
		t.full = t.newFull()
	}
	return t.full
}

// RoundTrip implements http.RoundTripper.
func (t *rootsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	t.mu.Lock()
	needsFull := t.hosts[host]
	t.mu.Unlock()
	if needsFull {
		return t.fullTransport().RoundTrip(req)
	}
	first, err := replayable(req)
	if err != nil {
		return nil, err
	}
	resp, err := t.fast.RoundTrip(first)
	var cv *tls.CertificateVerificationError
	if err == nil || !errors.As(err, &cv) {
		return resp, err
	}
	t.mu.Lock()
	t.hosts[host] = true
	t.mu.Unlock()
	again := first
	if first.GetBody != nil {
		body, err := first.GetBody()
		if err != nil {
			return nil, err
		}
		again = first.Clone(first.Context())
		again.Body = body
	}
	return t.fullTransport().RoundTrip(again)
}

// replayable returns req, or when it has a body that cannot be read again
// a copy whose body can (GetBody), having read and closed the original.
func replayable(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return req, nil
	}
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	r := req.Clone(req.Context())
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Body, _ = r.GetBody()
	return r, nil
}

// CloseIdleConnections closes the idle connections of both transports
// (http.Client.CloseIdleConnections calls it).
func (t *rootsTransport) CloseIdleConnections() {
	t.fast.CloseIdleConnections()
	t.mu.Lock()
	full := t.full
	t.mu.Unlock()
	if full != nil {
		full.CloseIdleConnections()
	}
}

// unwrapPathError drops the *fs.PathError layer, whose text repeats the
// path the caller already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

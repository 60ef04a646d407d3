package exchange

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/hashicorp/go-cleanhttp"
)

// CertFileEnv names the PEM file of extra trusted CA certificates, as
// OpenSSL, curl and Go on Linux read it.
const CertFileEnv = "SSL_CERT_FILE"

// BaseHTTPClient returns the base client (HTTPConfig.Base) of the action
// and the credential provider: a cleanhttp pooled client that trusts the
// system's roots plus every certificate in the PEM file SSL_CERT_FILE
// names, read through getenv. Go reads SSL_CERT_FILE by itself only on
// Linux and the BSDs (where it replaces the system bundle); on macOS and
// Windows it asks the platform verifier, which ignores the variable.
// Adding the file here makes a private CA work the same on every runner.
// With SSL_CERT_FILE empty it returns nil, NewClient's default.
func BaseHTTPClient(getenv func(string) string) (*http.Client, error) {
	path := getenv(CertFileEnv)
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the CA certificates of %s=%s: %w; point it at a PEM file of CA certificates, or unset it to trust the system's roots only", CertFileEnv, path, unwrapPathError(err))
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s=%s holds no PEM certificate (no -----BEGIN CERTIFICATE----- block parsed); point it at a PEM file of CA certificates, or unset it", CertFileEnv, path)
	}
	hc := cleanhttp.DefaultPooledClient()
	t, ok := hc.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("cleanhttp's transport is a %T, not an *http.Transport", hc.Transport)
	}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.RootCAs = pool
	return hc, nil
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

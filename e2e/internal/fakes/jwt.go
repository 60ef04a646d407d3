package fakes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SignRS256 returns a compact JWT signed with key, its header naming kid
// ({"alg":"RS256","kid":kid,"typ":"JWT"}).
func SignRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	return signJWT(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, claims)
}

// signHS256 signs claims with an HMAC secret (the service-issued tokens).
func signHS256(secret []byte, claims map[string]any) (string, error) {
	return signJWT(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, claims)
}

func signJWT(key jose.SigningKey, claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("jwt signer: %w", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	return tok, nil
}

// publicJWK describes pub as the JWK an issuer publishes for RS256 keys.
func publicJWK(pub *rsa.PublicKey, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// jwtAlgorithms are the signature algorithms parseJWT accepts in a header:
// every one the library knows, so that a token signed otherwise than RS256
// is rejected by the Verifier as a signature failure, not as malformed.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.EdDSA, jose.HS256, jose.HS384, jose.HS512, jose.RS256, jose.RS384, jose.RS512,
	jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512,
}

// parsedJWT is a compact JWT, decoded but not verified.
type parsedJWT struct {
	tok      *jwt.JSONWebToken
	alg, kid string
	claims   map[string]any
}

var errMalformedJWT = errors.New("malformed jwt")

// parseJWT decodes a compact JWT without verifying it.
func parseJWT(token string) (*parsedJWT, error) {
	if len(token) > 64<<10 {
		return nil, errMalformedJWT
	}
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errMalformedJWT
	}
	var claims map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil || claims == nil {
		return nil, errMalformedJWT
	}
	h := tok.Headers[0]
	return &parsedJWT{tok: tok, alg: h.Algorithm, kid: h.KeyID, claims: claims}, nil
}

// verifySignature checks the token's signature with pub.
func (p *parsedJWT) verifySignature(pub *rsa.PublicKey) error {
	var claims map[string]any
	return p.tok.Claims(pub, &claims)
}

// randomString returns n random bytes, hex encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+)
	return hex.EncodeToString(b)
}

// randomAlnum returns n random characters from [A-Za-z0-9].
func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// CA is a throw-away certificate authority with one leaf certificate valid for
// 127.0.0.1, ::1 and localhost. Every fake server serves TLS with the leaf.
type CA struct {
	// CertPEM is the CA certificate in PEM form.
	CertPEM []byte
	// File is the path of a file holding CertPEM, suitable for SSL_CERT_FILE
	// (the action binary) and CARGO_HTTP_CAINFO (cargo).
	File string
	// Pool is a certificate pool holding only the CA certificate.
	Pool *x509.CertPool

	leaf tls.Certificate
}

// NewCA creates a CA and a leaf certificate and writes the CA certificate to
// dir/ca.pem. The certificates are valid from an hour ago for 24 hours.
func NewCA(dir string) (*CA, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "cargo-oidc e2e test CA", Organization: []string{"cargo-oidc tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate leaf key: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create leaf certificate: %w", err)
	}
	ca := &CA{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Pool:    x509.NewCertPool(),
		leaf:    tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey},
	}
	ca.Pool.AddCert(caCert)
	ca.File = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca.File, ca.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write ca file: %w", err)
	}
	return ca, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// ServerTLS returns a TLS configuration serving the leaf certificate
// (HTTP/1.1 only, so that handlers can hijack connections).
func (ca *CA) ServerTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{ca.leaf},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}
}

// Client returns an HTTP client that trusts only this CA.
func (ca *CA) Client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 4,
		},
		Timeout: 30 * time.Second,
	}
}

// StartServer starts h on 127.0.0.1 with TLS from this CA. The caller closes
// the server.
func (ca *CA) StartServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = ca.ServerTLS()
	srv.StartTLS()
	return srv
}

package fakes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Reasons a verifier rejects a token.
const (
	reasonMalformed = "malformed" // not a compact JWT with JSON header and claims
	reasonKeys      = "keys"      // the issuer's JWKS could not be fetched
	reasonSignature = "signature" // unknown kid, wrong algorithm or bad signature
	reasonIssuer    = "issuer"
	reasonExpired   = "expired"
	reasonNotYet    = "not-yet"
	reasonAudience  = "audience"
	reasonClaim     = "claim" // a mapped claim does not have its required value
)

// verifyError says why a token was rejected. It never holds the token.
type verifyError struct {
	reason, claim, want, got string
}

func (e *verifyError) Error() string {
	return fmt.Sprintf("%s: claim %q is %q, want %q", e.reason, e.claim, e.got, e.want)
}

// verifier checks ID tokens for real: RS256 against the issuer's JWKS (by
// discovery over HTTPS, again for an unknown kid), iss, exp/nbf and aud.
type verifier struct {
	issuer string
	client *http.Client

	mu   sync.Mutex
	keys map[string]*rsa.PublicKey
}

// verify checks token against auds and returns its claims or a *verifyError.
func (v *verifier) verify(ctx context.Context, token string, auds []string) (map[string]any, error) {
	tok, claims, err := parseJWT(token)
	if err != nil {
		return nil, &verifyError{reason: reasonMalformed}
	}
	if iss := claimString(claims["iss"]); iss != v.issuer {
		return nil, &verifyError{reason: reasonIssuer, claim: "iss", want: v.issuer, got: iss}
	}
	h := tok.Headers[0]
	if h.Algorithm != "RS256" {
		return nil, &verifyError{reason: reasonSignature, got: fmt.Sprintf("algorithm %q is not RS256", h.Algorithm)}
	}
	key, err := v.key(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if tok.Claims(key) != nil {
		return nil, &verifyError{reason: reasonSignature, got: "signature does not match the key " + h.KeyID}
	}
	now := time.Now()
	exp, ok := claims["exp"].(float64)
	if !ok || !now.Before(time.Unix(int64(exp), 0)) {
		return nil, &verifyError{reason: reasonExpired, claim: "exp", got: claimTime(claims["exp"])}
	}
	if nbf, ok := claims["nbf"].(float64); ok && now.Before(time.Unix(int64(nbf), 0)) {
		return nil, &verifyError{reason: reasonNotYet, claim: "nbf", got: claimTime(nbf)}
	}
	got := claimStrings(claims["aud"])
	if !slices.ContainsFunc(got, func(a string) bool { return slices.Contains(auds, a) }) {
		return nil, &verifyError{reason: reasonAudience, claim: "aud", want: strings.Join(auds, ", "), got: strings.Join(got, ", ")}
	}
	return claims, nil
}

// checkMapping returns a *verifyError for the first claim, in name order,
// that does not equal its value in mapping.
func checkMapping(claims map[string]any, mapping map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(mapping)) {
		got, present := claims[k]
		gs := claimString(got)
		if !present {
			gs = "(missing)"
		}
		if !present || gs != mapping[k] {
			return &verifyError{reason: reasonClaim, claim: k, want: mapping[k], got: gs}
		}
	}
	return nil
}

func (v *verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	var set jose.JSONWebKeySet
	err := v.getJSON(ctx, v.issuer+"/.well-known/openid-configuration", &disc)
	switch {
	case err != nil:
	case disc.Issuer != v.issuer:
		err = fmt.Errorf("discovery document names issuer %q, want %q", disc.Issuer, v.issuer)
	case !strings.HasPrefix(disc.JWKSURI, "https://"):
		err = fmt.Errorf("jwks_uri %q is not https", disc.JWKSURI)
	default:
		err = v.getJSON(ctx, disc.JWKSURI, &set)
	}
	if err != nil {
		return nil, &verifyError{reason: reasonKeys, got: err.Error()}
	}
	v.keys = map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, ok := k.Key.(*rsa.PublicKey); ok && k.Valid() {
			v.keys[k.KeyID] = pub
		}
	}
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	return nil, &verifyError{reason: reasonSignature, got: fmt.Sprintf("no key with kid %q in the issuer's JWKS", kid)}
}

func (v *verifier) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}

// jwtAlgorithms are every algorithm the library knows: a token not signed
// RS256 is then a signature failure, not a malformed token.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.EdDSA, jose.HS256, jose.HS384, jose.HS512, jose.RS256, jose.RS384, jose.RS512,
	jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512,
}

// parseJWT decodes a compact JWT with one signature, unverified.
func parseJWT(token string) (*jwt.JSONWebToken, map[string]any, error) {
	var claims map[string]any
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err == nil && len(tok.Headers) == 1 && len(token) <= 64<<10 {
		err = tok.UnsafeClaimsWithoutVerification(&claims)
	}
	if err != nil || claims == nil {
		return nil, nil, fmt.Errorf("malformed jwt")
	}
	return tok, claims, nil
}

// signJWT signs claims RS256 with kid for an *rsa.PrivateKey (ID tokens),
// else HS256 with a []byte secret (the services' tokens).
func signJWT(key any, kid string, claims map[string]any) (string, error) {
	sk := jose.SigningKey{Algorithm: jose.HS256, Key: key}
	if rk, ok := key.(*rsa.PrivateKey); ok {
		sk = jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: rk, KeyID: kid}}
	}
	signer, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("jwt signer: %w", err)
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

func claimString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func claimStrings(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// claimTime formats a NumericDate claim, "(missing)" when it is not one.
func claimTime(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "(missing)"
	}
	return time.Unix(int64(f), 0).UTC().Format(time.RFC3339)
}

// randomString returns n random bytes, hex encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func guid() string {
	r := randomString(16)
	return r[:8] + "-" + r[8:12] + "-" + r[12:16] + "-" + r[16:20] + "-" + r[20:]
}

// CA is a throw-away CA with one leaf for 127.0.0.1, ::1 and localhost.
type CA struct {
	File string // the CA certificate (PEM): SSL_CERT_FILE, CARGO_HTTP_CAINFO

	pool *x509.CertPool
	leaf tls.Certificate
}

// newCA creates a CA and its leaf and writes dir/ca.pem.
func newCA(dir string) (*CA, error) {
	now := time.Now()
	cert := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("generate key: %w", err)
		}
		tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		return der, key, err
	}
	caTmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "cargo-oidc e2e test CA"}, BasicConstraintsValid: true, IsCA: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	caDER, caKey, err := cert(caTmpl, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, leafKey, err := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "127.0.0.1"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}, caCert, caKey)
	if err != nil {
		return nil, fmt.Errorf("create leaf certificate: %w", err)
	}
	ca := &CA{File: filepath.Join(dir, "ca.pem"), pool: x509.NewCertPool(),
		leaf: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}}
	ca.pool.AddCert(caCert)
	if err := os.WriteFile(ca.File, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return nil, fmt.Errorf("write ca file: %w", err)
	}
	return ca, nil
}

// ServerTLS serves the leaf, HTTP/1.1 only so that handlers can hijack.
func (ca *CA) ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.leaf}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
}

// Client returns an HTTP client that trusts only this CA.
func (ca *CA) Client() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 4}}
}

// StartServer starts h on 127.0.0.1 with TLS from this CA; the caller closes it.
func (ca *CA) StartServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = ca.ServerTLS()
	srv.StartTLS()
	return srv
}

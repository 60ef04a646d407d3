package fakes

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

var b64 = base64.RawURLEncoding

// JWK is one RSA public key in JSON Web Key form.
type JWK struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is a JSON Web Key Set, the document at an issuer's jwks_uri.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// NewJWK describes pub as a JWK with the given key id.
func NewJWK(pub *rsa.PublicKey, kid string) JWK {
	return JWK{
		Kty: "RSA",
		Alg: "RS256",
		Use: "sig",
		Kid: kid,
		N:   b64.EncodeToString(pub.N.Bytes()),
		E:   b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// PublicKey decodes the RSA public key of k.
func (k JWK) PublicKey() (*rsa.PublicKey, error) {
	if k.Kty != "RSA" {
		return nil, fmt.Errorf("jwk %q: unsupported key type %q", k.Kid, k.Kty)
	}
	n, err := b64.DecodeString(k.N)
	if err != nil {
		return nil, fmt.Errorf("jwk %q: bad modulus: %w", k.Kid, err)
	}
	e, err := b64.DecodeString(k.E)
	if err != nil {
		return nil, fmt.Errorf("jwk %q: bad exponent: %w", k.Kid, err)
	}
	ei := new(big.Int).SetBytes(e)
	if !ei.IsInt64() || ei.Int64() < 3 || ei.Int64() > 1<<31 {
		return nil, fmt.Errorf("jwk %q: bad exponent", k.Kid)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei.Int64())}, nil
}

// SignRS256 returns a compact JWT with header {"alg":"RS256","typ":"JWT","kid":kid}.
func SignRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid}
	signingInput, err := jwtSigningInput(header, claims)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	return signingInput + "." + b64.EncodeToString(sig), nil
}

// signHS256 signs claims with an HMAC secret (the service-issued tokens).
func signHS256(secret []byte, claims map[string]any) (string, error) {
	signingInput, err := jwtSigningInput(map[string]string{"alg": "HS256", "typ": "JWT"}, claims)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signingInput))
	return signingInput + "." + b64.EncodeToString(m.Sum(nil)), nil
}

func jwtSigningInput(header map[string]string, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("encode jwt header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode jwt claims: %w", err)
	}
	return b64.EncodeToString(h) + "." + b64.EncodeToString(c), nil
}

type jwtParts struct {
	alg, kid     string
	claims       map[string]any
	signingInput string
	sig          []byte
}

var errMalformedJWT = errors.New("malformed jwt")

// parseJWT splits and decodes a compact JWT without verifying it.
func parseJWT(token string) (*jwtParts, error) {
	if len(token) > 64<<10 {
		return nil, errMalformedJWT
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errMalformedJWT
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errMalformedJWT
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return nil, errMalformedJWT
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errMalformedJWT
	}
	var claims map[string]any
	if err := json.Unmarshal(cb, &claims); err != nil || claims == nil {
		return nil, errMalformedJWT
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errMalformedJWT
	}
	return &jwtParts{alg: header.Alg, kid: header.Kid, claims: claims, signingInput: parts[0] + "." + parts[1], sig: sig}, nil
}

func (p *jwtParts) verifyRS256(pub *rsa.PublicKey) error {
	if p.alg != "RS256" {
		return fmt.Errorf("unsupported algorithm %q", p.alg)
	}
	sum := sha256.Sum256([]byte(p.signingInput))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], p.sig)
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

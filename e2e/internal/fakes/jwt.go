package fakes

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"

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

package fakes

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Reasons a Verifier rejects a token.
const (
	ReasonMalformed = "malformed" // not a compact JWT with JSON header and claims
	ReasonKeys      = "keys"      // the issuer's JWKS could not be fetched
	ReasonSignature = "signature" // unknown kid, wrong algorithm or bad signature
	ReasonIssuer    = "issuer"    // iss is not the expected issuer
	ReasonExpired   = "expired"   // exp is in the past
	ReasonNotYet    = "not-yet"   // nbf is in the future
	ReasonAudience  = "audience"  // aud does not hold an accepted audience
	ReasonClaim     = "claim"     // a mapped claim does not have its required value
)

// VerifyError says why a token was rejected. It never holds the token.
type VerifyError struct {
	Reason string // one of the Reason constants
	Claim  string // the claim that failed (iss, aud, exp, nbf or a mapped claim)
	Want   string // the required value, when there is one
	Got    string // the token's value, when there is one
}

// Error describes the failure, naming the claim and both values.
func (e *VerifyError) Error() string {
	switch e.Reason {
	case ReasonClaim, ReasonIssuer, ReasonAudience:
		return fmt.Sprintf("claim %q is %q, want %q", e.Claim, e.Got, e.Want)
	case ReasonExpired:
		return "token expired at " + e.Got
	case ReasonNotYet:
		return "token not valid before " + e.Got
	case ReasonKeys:
		return "cannot fetch the issuer's signing keys: " + e.Got
	case ReasonSignature:
		return "signature verification failed: " + e.Got
	default:
		return "malformed token"
	}
}

// Verifier checks ID tokens for real: RS256 signature against the issuer's
// JWKS (found through its discovery document over HTTPS and cached), iss,
// exp/nbf, aud and a claim mapping. It is safe for concurrent use.
type Verifier struct {
	// Issuer is the required iss; its discovery document is fetched from
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Client fetches the discovery document and the JWKS.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	audiences []string
	mapping   map[string]string
	keys      map[string]*rsa.PublicKey
	fetches   int
}

// SetAudiences sets the accepted audiences; a token passes when its aud
// holds at least one of them.
func (v *Verifier) SetAudiences(auds ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.audiences = slices.Clone(auds)
}

// Audiences returns the accepted audiences.
func (v *Verifier) Audiences() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.audiences)
}

// SetMapping replaces the claim mapping: claim name -> required value (exact
// string match).
func (v *Verifier) SetMapping(m map[string]string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.mapping = maps.Clone(m)
}

// Mapping returns a copy of the claim mapping.
func (v *Verifier) Mapping() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.mapping)
}

// Verify checks token, including the claim mapping, and returns its claims
// or a *VerifyError.
func (v *Verifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	claims, err := v.VerifyToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.CheckMapping(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// VerifyToken checks signature, iss, exp, nbf and aud, but not the claim
// mapping, and returns the token's claims or a *VerifyError.
func (v *Verifier) VerifyToken(ctx context.Context, token string) (map[string]any, error) {
	p, err := parseJWT(token)
	if err != nil {
		return nil, &VerifyError{Reason: ReasonMalformed}
	}
	claims := p.claims
	if iss := claimString(claims["iss"]); iss != v.Issuer {
		return nil, &VerifyError{Reason: ReasonIssuer, Claim: "iss", Want: v.Issuer, Got: iss}
	}
	if p.alg != "RS256" {
		return nil, &VerifyError{Reason: ReasonSignature, Got: fmt.Sprintf("algorithm %q is not RS256", p.alg)}
	}
	key, err := v.key(ctx, p.kid)
	if err != nil {
		return nil, err
	}
	if err := p.verifySignature(key); err != nil {
		return nil, &VerifyError{Reason: ReasonSignature, Got: "signature does not match the key " + p.kid}
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	exp, ok := claimTime(claims["exp"])
	if !ok {
		return nil, &VerifyError{Reason: ReasonExpired, Claim: "exp", Got: "(missing)"}
	}
	if !now.Before(exp) {
		return nil, &VerifyError{Reason: ReasonExpired, Claim: "exp", Got: exp.UTC().Format(time.RFC3339)}
	}
	if nbf, ok := claimTime(claims["nbf"]); ok && now.Before(nbf) {
		return nil, &VerifyError{Reason: ReasonNotYet, Claim: "nbf", Got: nbf.UTC().Format(time.RFC3339)}
	}
	auds := claimStrings(claims["aud"])
	accepted := v.Audiences()
	if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(accepted, a) }) {
		return nil, &VerifyError{Reason: ReasonAudience, Claim: "aud", Want: strings.Join(accepted, ", "), Got: strings.Join(auds, ", ")}
	}
	return claims, nil
}

// CheckMapping checks claims against the claim mapping (claims in name
// order) and returns a *VerifyError for the first mismatch.
func (v *Verifier) CheckMapping(claims map[string]any) error {
	mapping := v.Mapping()
	names := make([]string, 0, len(mapping))
	for k := range mapping {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		got, present := claims[k]
		gs := claimString(got)
		if !present {
			gs = "(missing)"
		}
		if !present || gs != mapping[k] {
			return &VerifyError{Reason: ReasonClaim, Claim: k, Want: mapping[k], Got: gs}
		}
	}
	return nil
}

// key returns the public key for kid, fetching the JWKS when the cache is
// empty or does not know kid (a key rotation).
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	k, ok := v.keys[kid]
	v.mu.Unlock()
	if ok {
		return k, nil
	}
	keys, err := v.fetchKeys(ctx)
	if err != nil {
		return nil, &VerifyError{Reason: ReasonKeys, Got: err.Error()}
	}
	v.mu.Lock()
	v.keys = keys
	v.fetches++
	k, ok = keys[kid]
	v.mu.Unlock()
	if !ok {
		return nil, &VerifyError{Reason: ReasonSignature, Got: fmt.Sprintf("no key with kid %q in the issuer's JWKS", kid)}
	}
	return k, nil
}

func (v *Verifier) fetchKeys(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, v.Issuer+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	if disc.Issuer != v.Issuer {
		return nil, fmt.Errorf("discovery document names issuer %q, want %q", disc.Issuer, v.Issuer)
	}
	if !strings.HasPrefix(disc.JWKSURI, "https://") {
		return nil, fmt.Errorf("jwks_uri %q is not https", disc.JWKSURI)
	}
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, disc.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, ok := k.Key.(*rsa.PublicKey); ok && k.Valid() {
			keys[k.KeyID] = pub
		}
	}
	return keys, nil
}

func (v *Verifier) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	c := v.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

func claimString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	default:
		return nil
	}
}

func claimTime(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

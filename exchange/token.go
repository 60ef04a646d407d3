package exchange

import (
	"context"
	"fmt"
	"time"
)

// Token is what a service answers.
type Token struct {
	Value          string    // the access token (secret)
	ExpiresAt      time.Time // zero when unknown
	Username       string    // not secret
	ReferenceToken string    // secret, JFrog only, when it sends one
}

// Service is a token service.
type Service interface {
	// IDTokenAudience is the audience to ask the ID token source for (""
	// = the source's default).
	IDTokenAudience() string
	// Exchange fetches the ID token(s) it needs from ids (crates.io fetches
	// a fresh one per attempt, a JWT is accepted once) and exchanges it.
	// Every secret it receives is passed to Mask first.
	Exchange(ctx context.Context, ids IDTokenSource) (*Token, error)
}

// Revoker is a Service that can revoke the tokens it issued (crates.io).
type Revoker interface {
	Service
	// Revoke revokes token; errors never contain it.
	Revoke(ctx context.Context, token string) error
}

// Endpointer is a Service that describes where its calls go, for the log,
// when one URL input does not say it (AWS, Entra).
type Endpointer interface {
	Endpoint() string
}

// validToken reports whether tok is non-empty printable ASCII without
// spaces (what every token service issues and what an HTTP header and a
// file command can carry).
func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// CheckToken returns nil for a usable token, else an error wrapping
// ErrEmptyToken or ErrInvalidToken that names what (e.g. "access token")
// but never shows the token.
func CheckToken(what, tok string) error {
	if tok == "" {
		return fmt.Errorf("%s: %w", what, ErrEmptyToken)
	}
	if !validToken(tok) {
		return fmt.Errorf("%s: %w", what, ErrInvalidToken)
	}
	return nil
}

// maskSecret hands secret to mask. A secret that could not be masked as one
// line (it holds whitespace or control characters, and will be refused) is
// masked piece by piece so that no part of it can reach a log.
func maskSecret(mask func(string), secret string) {
	if mask == nil || secret == "" {
		return
	}
	if validToken(secret) {
		mask(secret)
		return
	}
	start := -1
	for i := 0; i <= len(secret); i++ {
		ok := i < len(secret) && secret[i] > ' ' && secret[i] < 0x7f
		if ok && start < 0 {
			start = i
		}
		if !ok && start >= 0 {
			if i-start >= 4 {
				mask(secret[start:i])
			}
			start = -1
		}
	}
}

func nowFunc(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}

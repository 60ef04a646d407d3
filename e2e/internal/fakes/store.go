package fakes

import (
	"sync"
	"time"
)

// Clock is the clock the fakes of a Stack share: the real time (tokens
// expire in real time).
type Clock struct{}

// Now returns the real time.
func (*Clock) Now() time.Time { return time.Now() }

// Token kinds recorded by a TokenStore.
const (
	KindIDToken        = "id-token"        // a GitHub ID token minted by the Issuer
	KindAccessToken    = "access-token"    // a token a service issued for the registry
	KindReferenceToken = "reference-token" // a JFrog reference token
	KindFaultToken     = "fault-token"     // a malformed token served by a fault (never valid)
)

// IssuedToken is one secret a fake handed out.
type IssuedToken struct {
	Value     string    // the secret itself
	Kind      string    // one of the Kind constants
	Service   string    // "github", "jfrog", "cloudsmith", "crates-io"
	IssuedAt  time.Time // by the store's clock
	ExpiresAt time.Time // by the store's clock
	Revoked   bool
}

// TokenStore records every secret the fakes issue and every request they
// receive. The Registry asks it whether a presented token is valid. It is
// safe for concurrent use.
type TokenStore struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu          sync.Mutex
	tokens      map[string]*IssuedToken
	order       []string
	requests    map[string]int
	arrived     chan struct{} // closed and replaced on every request counted
	exchanges   map[string]int
	revocations int
}

// NewTokenStore returns an empty store using now as its clock (nil: time.Now).
func NewTokenStore(now func() time.Time) *TokenStore {
	return &TokenStore{Now: now, tokens: map[string]*IssuedToken{}, requests: map[string]int{}, exchanges: map[string]int{}}
}

func (s *TokenStore) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Add records a secret of the given kind that expires ttl from now.
func (s *TokenStore) Add(kind, service, value string, ttl time.Duration) IssuedToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	t := &IssuedToken{Value: value, Kind: kind, Service: service, IssuedAt: now, ExpiresAt: now.Add(ttl)}
	if _, ok := s.tokens[value]; !ok {
		s.order = append(s.order, value)
	}
	s.tokens[value] = t
	return *t
}

// Lookup returns what the store knows about value.
func (s *TokenStore) Lookup(value string) (IssuedToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	if !ok {
		return IssuedToken{}, false
	}
	return *t, true
}

// Valid reports whether value is an access or reference token that a
// service issued, that has not expired and has not been revoked.
func (s *TokenStore) Valid(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	if !ok || t.Revoked || (t.Kind != KindAccessToken && t.Kind != KindReferenceToken) {
		return false
	}
	return s.now().Before(t.ExpiresAt)
}

// Revoke marks value revoked; it reports false when value is unknown, not an
// access token, or already revoked.
func (s *TokenStore) Revoke(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	if !ok || t.Revoked || t.Kind != KindAccessToken {
		return false
	}
	t.Revoked = true
	s.revocations++
	return true
}

// Tokens returns every secret recorded, in the order issued (ID tokens,
// access and reference tokens, and malformed tokens served by faults): the
// list a leak scan looks for.
func (s *TokenStore) Tokens() []IssuedToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]IssuedToken, 0, len(s.order))
	for _, v := range s.order {
		out = append(out, *s.tokens[v])
	}
	return out
}

// Secrets returns the values of Tokens.
func (s *TokenStore) Secrets() []string {
	ts := s.Tokens()
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Value
	}
	return out
}

// CountRequest records one request for a path (without query).
func (s *TokenStore) CountRequest(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[path]++
	if s.arrived != nil {
		close(s.arrived)
		s.arrived = nil
	}
}

// Requests returns how many requests a path received.
func (s *TokenStore) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// AllRequests returns a copy of the request counters by path.
func (s *TokenStore) AllRequests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

func (s *TokenStore) countExchange(service string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exchanges[service]++
}

// Exchanges returns how many successful token exchanges a service performed
// ("jfrog", "cloudsmith", "crates-io"; "" for the total).
func (s *TokenStore) Exchanges(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if service != "" {
		return s.exchanges[service]
	}
	n := 0
	for _, v := range s.exchanges {
		n += v
	}
	return n
}

// Revocations returns how many tokens were revoked.
func (s *TokenStore) Revocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revocations
}

package fakes

import (
	"maps"
	"sync"
	"time"
)

// Token kinds recorded by a TokenStore.
const (
	KindIDToken        = "id-token"        // an ID token minted by an Issuer
	KindAccessToken    = "access-token"    // a token a service issued for the registry
	KindReferenceToken = "reference-token" // a JFrog reference token
	KindFaultToken     = "fault-token"     // a secret served by a fault (never valid)
)

// IssuedToken is one secret a fake handed out.
type IssuedToken struct {
	Value     string // the secret itself
	Kind      string // one of the Kind constants
	Service   string // "github", "jfrog", "cloudsmith", "crates-io", "sts", "codeartifact", "azure", "gitlab"
	ExpiresAt time.Time
	Revoked   bool
}

// TokenStore records every secret the fakes issue and every request they
// receive; the registries ask it whether a presented token is valid. It is
// safe for concurrent use.
type TokenStore struct {
	mu          sync.Mutex
	tokens      map[string]*IssuedToken
	order       []string
	requests    map[string]int
	exchanges   map[string]int
	revocations int
}

func newTokenStore() *TokenStore {
	return &TokenStore{tokens: map[string]*IssuedToken{}, requests: map[string]int{}, exchanges: map[string]int{}}
}

// Add records a secret of the given kind that expires ttl from now.
func (s *TokenStore) Add(kind, service, value string, ttl time.Duration) IssuedToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[value]; !ok {
		s.order = append(s.order, value)
	}
	t := &IssuedToken{Value: value, Kind: kind, Service: service, ExpiresAt: time.Now().Add(ttl)}
	s.tokens[value] = t
	return *t
}

// Lookup returns what the store knows about value.
func (s *TokenStore) Lookup(value string) (IssuedToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[value]; ok {
		return *t, true
	}
	return IssuedToken{}, false
}

// Valid reports whether value is an access or reference token that a
// service issued, that has not expired and has not been revoked.
func (s *TokenStore) Valid(value string) bool {
	t, ok := s.Lookup(value)
	return ok && !t.Revoked && (t.Kind == KindAccessToken || t.Kind == KindReferenceToken) && time.Now().Before(t.ExpiresAt)
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

// Tokens returns every secret recorded, in the order issued: the list a
// leak scan looks for.
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
	var out []string
	for _, t := range s.Tokens() {
		out = append(out, t.Value)
	}
	return out
}

// CountRequest records one request for a path (without query).
func (s *TokenStore) CountRequest(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[path]++
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
	return maps.Clone(s.requests)
}

// Exchanges returns how many successful token exchanges a service performed
// ("" for the total).
func (s *TokenStore) Exchanges(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.exchanges {
		if service == "" || k == service {
			n += v
		}
	}
	return n
}

// Revocations returns how many tokens were revoked.
func (s *TokenStore) Revocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revocations
}

// issued records an access token a service issued and counts the exchange.
func (s *TokenStore) issued(service, tok string, ttl time.Duration) IssuedToken {
	it := s.Add(KindAccessToken, service, tok, ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exchanges[service]++
	return it
}

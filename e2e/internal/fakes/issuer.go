package fakes

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// GitHubIssuer is the issuer of real GitHub Actions ID tokens.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// IssuerConfig describes the job an Issuer mints ID tokens for.
type IssuerConfig struct {
	Owner       string        // repository owner; default "octo-org"
	Repo        string        // repository name without owner; default "octo-repo"
	Ref         string        // default "refs/heads/main"
	SHA         string        // default a fixed 40-hex commit
	Environment string        // deployment environment; "" = none (sub uses the ref form)
	EventName   string        // default "push"
	RunID       string        // default "4242424242"
	Workflow    string        // workflow file path; default ".github/workflows/ci.yml"
	Lifetime    time.Duration // ID token lifetime; default 5 minutes
	Now         func() time.Time
}

func (c *IssuerConfig) defaults() {
	c.Owner = cmp.Or(c.Owner, "octo-org")
	c.Repo = cmp.Or(c.Repo, "octo-repo")
	c.Ref = cmp.Or(c.Ref, "refs/heads/main")
	c.SHA = cmp.Or(c.SHA, "0123456789abcdef0123456789abcdef01234567")
	c.EventName = cmp.Or(c.EventName, "push")
	c.RunID = cmp.Or(c.RunID, "4242424242")
	c.Workflow = cmp.Or(c.Workflow, ".github/workflows/ci.yml")
	if c.Lifetime <= 0 {
		c.Lifetime = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Issuer plays GitHub's OIDC issuer and the runner's ID token endpoint:
// GET /.well-known/openid-configuration, GET /.well-known/jwks and
// GET /_apis/token?api-version=2.0[&audience=...] with
// "Authorization: Bearer <RequestToken>", answering {"value": JWT, "count": 1}.
type Issuer struct {
	// URL is the issuer's base URL and the iss claim of its tokens.
	URL string
	// RequestURL is what ACTIONS_ID_TOKEN_REQUEST_URL holds (with ?api-version=2.0).
	RequestURL string
	// RequestToken is what ACTIONS_ID_TOKEN_REQUEST_TOKEN holds.
	RequestToken string
	// Faults are served by the token endpoint.
	Faults *Faults

	cfg   IssuerConfig
	key   *rsa.PrivateKey
	kid   string
	store *TokenStore

	// service names the issuer in the store ("github" unless set); base,
	// when set, builds the claims in place of GitHub's.
	service string
	base    func(audience string, now time.Time) map[string]any

	mu        sync.Mutex
	overrides map[string]any
	audiences []string
}

// NewIssuer creates an issuer with a fresh RSA 2048 key. Call Handler and
// then SetURL once its server is listening. store may be nil.
func NewIssuer(cfg IssuerConfig, store *TokenStore) (*Issuer, error) {
	cfg.defaults()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate issuer key: %w", err)
	}
	return &Issuer{
		cfg:          cfg,
		key:          key,
		kid:          "e2e-" + randomString(8),
		store:        store,
		RequestToken: "req_" + randomAlnum(40),
		Faults:       &Faults{Store: store},
	}, nil
}

// SetURL sets the issuer's base URL (scheme://host:port) and RequestURL.
func (i *Issuer) SetURL(base string) {
	i.URL = strings.TrimSuffix(base, "/")
	i.RequestURL = i.URL + "/_apis/token?api-version=2.0"
}

// Config returns the issuer's configuration with defaults applied.
func (i *Issuer) Config() IssuerConfig { return i.cfg }

// Repository returns "owner/repo".
func (i *Issuer) Repository() string { return i.cfg.Owner + "/" + i.cfg.Repo }

// DefaultAudience is the aud GitHub uses when no audience is asked for.
func (i *Issuer) DefaultAudience() string { return "https://github.com/" + i.cfg.Owner }

// JWKS returns the key set published at /.well-known/jwks.
func (i *Issuer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(&i.key.PublicKey, i.kid)}}
}

// Override sets claims applied on top of the defaults to every token minted
// from now on (for example {"repository": "evil/repo"}); a nil value removes
// the claim. Override(nil) restores the defaults.
func (i *Issuer) Override(claims map[string]any) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if claims == nil {
		i.overrides = nil
		return
	}
	if i.overrides == nil {
		i.overrides = map[string]any{}
	}
	maps.Copy(i.overrides, claims)
}

// Audiences returns the audience parameter of every token request served
// ("" when none was given), in order.
func (i *Issuer) Audiences() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.audiences...)
}

// Claims returns the claims a token for audience would carry now (audience
// "" means GitHub's default), with overrides applied and extra on top.
func (i *Issuer) Claims(audience string, extra map[string]any) map[string]any {
	if audience == "" {
		audience = i.DefaultAudience()
	}
	base := i.githubClaims
	if i.base != nil {
		base = i.base
	}
	claims := base(audience, i.cfg.Now())
	i.mu.Lock()
	ov := maps.Clone(i.overrides)
	i.mu.Unlock()
	for _, m := range []map[string]any{ov, extra} {
		for k, v := range m {
			if v == nil {
				delete(claims, k)
			} else {
				claims[k] = v
			}
		}
	}
	return claims
}

// githubClaims are the claims of a GitHub Actions ID token.
func (i *Issuer) githubClaims(audience string, now time.Time) map[string]any {
	c := i.cfg
	repo := i.Repository()
	sub := "repo:" + repo + ":ref:" + c.Ref
	if c.Environment != "" {
		sub = "repo:" + repo + ":environment:" + c.Environment
	}
	claims := map[string]any{
		"jti":                   randomString(16),
		"sub":                   sub,
		"aud":                   audience,
		"ref":                   c.Ref,
		"sha":                   c.SHA,
		"repository":            repo,
		"repository_owner":      c.Owner,
		"repository_owner_id":   "1000001",
		"repository_id":         "2000002",
		"repository_visibility": "private",
		"run_id":                c.RunID,
		"run_number":            "7",
		"run_attempt":           "1",
		"actor":                 "octocat",
		"actor_id":              "583231",
		"workflow":              "CI",
		"workflow_ref":          repo + "/" + c.Workflow + "@" + c.Ref,
		"workflow_sha":          c.SHA,
		"job_workflow_ref":      repo + "/" + c.Workflow + "@" + c.Ref,
		"job_workflow_sha":      c.SHA,
		"event_name":            c.EventName,
		"ref_type":              "branch",
		"ref_protected":         "false",
		"runner_environment":    "github-hosted",
		"iss":                   i.URL,
		"nbf":                   now.Add(-5 * time.Second).Unix(),
		"iat":                   now.Unix(),
		"exp":                   now.Add(c.Lifetime).Unix(),
	}
	if c.Environment != "" {
		claims["environment"] = c.Environment
	}
	return claims
}

// Mint signs a token for audience ("" = GitHub's default) with overrides and
// extra claims applied, and records it in the store.
func (i *Issuer) Mint(audience string, extra map[string]any) (string, error) {
	claims := i.Claims(audience, extra)
	tok, err := SignRS256(i.key, i.kid, claims)
	if err != nil {
		return "", err
	}
	if i.store != nil {
		i.store.Add(KindIDToken, cmp.Or(i.service, "github"), tok, i.cfg.Lifetime)
	}
	return tok, nil
}

// Handler serves the discovery document, the JWKS and the token endpoint.
// Every request is counted in the store by path.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + "/.well-known/jwks",
			"subject_types_supported":               []string{"public", "pairwise"},
			"response_types_supported":              []string{"id_token"},
			"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository", "repository_owner", "job_workflow_ref", "environment", "event_name", "run_id"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid"},
		})
	})
	mux.HandleFunc("GET /.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, i.JWKS())
	})
	shape := func(tok string) any {
		return map[string]any{"count": 1, "value": tok}
	}
	mux.Handle("/_apis/token", i.Faults.wrap("github", shape, http.HandlerFunc(i.serveToken)))
	return countRequests(i.store, mux)
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "method not allowed"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+i.RequestToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized: the request token is missing or invalid"})
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "The api-version query parameter is required"})
		return
	}
	aud := q.Get("audience")
	i.mu.Lock()
	i.audiences = append(i.audiences, aud)
	i.mu.Unlock()
	tok, err := i.Mint(aud, nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "could not sign token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": tok})
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// countRequests counts every request by path in store (when not nil).
func countRequests(store *TokenStore, next http.Handler) http.Handler {
	if store == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		store.CountRequest(r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

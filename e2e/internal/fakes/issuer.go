package fakes

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The job every ID token of a Stack's issuer is minted for.
const (
	jobOwner, jobRepo = "octo-org", "octo-repo"
	jobRef            = "refs/heads/main"
	jobSHA            = "0123456789abcdef0123456789abcdef01234567"
	jobWorkflow       = ".github/workflows/ci.yml"
	idTokenLifetime   = 5 * time.Minute
)

// IssuerConfig describes the job (octo-org/octo-repo, refs/heads/main, a push).
type IssuerConfig struct {
	Environment string // the deployment environment; "" = none (sub names the ref)
}

// Issuer plays an OIDC issuer (discovery, JWKS) and the runner's ID token
// endpoint, GET /_apis/token with "Authorization: Bearer <RequestToken>".
type Issuer struct {
	URL          string  // the base URL and iss
	RequestURL   string  // ACTIONS_ID_TOKEN_REQUEST_URL (with ?api-version=2.0)
	RequestToken string  // ACTIONS_ID_TOKEN_REQUEST_TOKEN
	Faults       *Faults // served by the token endpoint

	key     *rsa.PrivateKey
	kid     string
	store   *TokenStore
	service string                                         // "github" or "gitlab", in the store
	claims  func(aud string, now time.Time) map[string]any // the claims before overrides

	mu        sync.Mutex
	overrides map[string]any
	audiences []string
}

func newIssuer(service string, store *TokenStore) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate issuer key: %w", err)
	}
	i := &Issuer{key: key, kid: "e2e-" + randomString(8), store: store, service: service,
		overrides: map[string]any{}, RequestToken: "req_" + randomAlnum(40)}
	i.Faults = newFaults(store, service, func(tok string) any { return map[string]any{"count": 1, "value": tok} })
	return i, nil
}

// DefaultAudience is the aud GitHub uses when no audience is asked for.
func (i *Issuer) DefaultAudience() string { return "https://github.com/" + jobOwner }

// Override sets claims of every token minted from now on (nil removes one);
// Override(nil) restores the defaults.
func (i *Issuer) Override(claims map[string]any) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if claims == nil {
		i.overrides = map[string]any{}
	}
	maps.Copy(i.overrides, claims)
}

// Audiences returns the audience parameter ("" = none) of every token request served.
func (i *Issuer) Audiences() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.audiences...)
}

// githubClaims are the claims of a GitHub Actions ID token for the job.
func githubClaims(iss string, cfg IssuerConfig) func(string, time.Time) map[string]any {
	repo := jobOwner + "/" + jobRepo
	sub := "repo:" + repo + ":ref:" + jobRef
	if cfg.Environment != "" {
		sub = "repo:" + repo + ":environment:" + cfg.Environment
	}
	return func(aud string, now time.Time) map[string]any {
		c := map[string]any{
			"jti": randomString(16), "sub": sub, "aud": aud, "iss": iss,
			"ref": jobRef, "sha": jobSHA, "repository": repo, "repository_owner": jobOwner,
			"repository_owner_id": "1000001", "repository_id": "2000002", "repository_visibility": "private",
			"run_id": "4242424242", "run_number": "7", "run_attempt": "1", "actor": "octocat", "actor_id": "583231",
			"workflow": "CI", "workflow_ref": repo + "/" + jobWorkflow + "@" + jobRef, "workflow_sha": jobSHA,
			"job_workflow_ref": repo + "/" + jobWorkflow + "@" + jobRef, "job_workflow_sha": jobSHA,
			"event_name": "push", "ref_type": "branch", "ref_protected": "false", "runner_environment": "github-hosted",
			"nbf": now.Add(-5 * time.Second).Unix(), "iat": now.Unix(), "exp": now.Add(idTokenLifetime).Unix(),
		}
		if cfg.Environment != "" {
			c["environment"] = cfg.Environment
		}
		return c
	}
}

// Mint signs and records a token for audience ("" = GitHub's default) with
// the overrides and extra claims applied.
func (i *Issuer) Mint(audience string, extra map[string]any) (string, error) {
	if audience == "" {
		audience = i.DefaultAudience()
	}
	claims := i.claims(audience, time.Now())
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
	tok, err := signJWT(i.key, i.kid, claims)
	if err != nil {
		return "", err
	}
	i.store.Add(KindIDToken, i.service, tok, idTokenLifetime)
	return tok, nil
}

func (i *Issuer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": i.URL, "jwks_uri": i.URL + "/.well-known/jwks",
			"subject_types_supported": []string{"public", "pairwise"}, "response_types_supported": []string{"id_token"},
			"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository", "repository_owner", "job_workflow_ref", "environment", "event_name", "run_id"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "scopes_supported": []string{"openid"},
		})
	})
	mux.HandleFunc("GET /.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.Handle("GET /_apis/token", i.Faults.wrap(http.HandlerFunc(i.serveToken)))
	return countRequests(i.store, mux)
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Header.Get("Authorization") != "Bearer "+i.RequestToken:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized: the request token is missing or invalid"})
		return
	case q.Get("api-version") == "":
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "The api-version query parameter is required"})
		return
	}
	i.mu.Lock()
	i.audiences = append(i.audiences, q.Get("audience"))
	i.mu.Unlock()
	tok, err := i.Mint(q.Get("audience"), nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "could not sign token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": tok})
}

// GitLab plays gitlab.com's OIDC issuer, with the claims of crates.io's own
// tests (crates_io_trustpub/src/gitlab/test_helpers.rs).
type GitLab struct{ *Issuer }

// StartGitLab starts a GitLab issuer beside the stack (same CA and store).
func (s *Stack) StartGitLab() (*GitLab, error) {
	iss, err := newIssuer("gitlab", s.Store)
	if err != nil {
		return nil, err
	}
	srv, u := s.listen(iss.handler())
	iss.URL = u
	iss.claims = func(aud string, now time.Time) map[string]any {
		return map[string]any{
			"iss": iss.URL, "aud": aud, "jti": randomString(16),
			"sub": "project_path:grp/app:ref_type:branch:ref:main", "project_id": "74884433",
			"project_path": "grp/app", "namespace_id": "72", "namespace_path": "grp",
			"pipeline_id": "2069090987", "pipeline_source": "push", "job_id": "11530106120",
			"ref": "main", "ref_type": "branch", "ref_path": "refs/heads/main", "ref_protected": "true",
			"runner_environment": "gitlab-hosted", "sha": "76719c2658b5c4423810d655a4624af1b38b7091",
			"ci_config_ref_uri": "gitlab.com/grp/app//.gitlab-ci.yml@refs/heads/main", "environment": "release",
			"nbf": now.Add(-5 * time.Second).Unix(), "iat": now.Unix(), "exp": now.Add(idTokenLifetime).Unix(),
		}
	}
	srv.StartTLS()
	return &GitLab{iss}, nil
}

// MintGitLab is Mint for a GitLab ID token.
func (g *GitLab) MintGitLab(aud string, extra map[string]any) (string, error) {
	return g.Mint(aud, extra)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // the fakes' answers always encode
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func countRequests(store *TokenStore, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		store.CountRequest(r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

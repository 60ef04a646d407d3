package fakes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultTokenTTL is the lifetime of service-issued tokens unless set.
const DefaultTokenTTL = time.Hour

// ServiceConfig is what every token service needs.
type ServiceConfig struct {
	// Verifier checks the presented ID token; its Issuer, audiences and
	// mapping are the service's trust configuration.
	Verifier *Verifier
	// Store records issued tokens and counts requests.
	Store *TokenStore
	// TTL of issued tokens; default DefaultTokenTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// service holds what the three token services share.
type service struct {
	name     string
	verifier *Verifier
	store    *TokenStore
	now      func() time.Time
	ttl      time.Duration
	// Faults are served by the exchange endpoint.
	Faults *Faults
}

func newService(name string, cfg ServiceConfig) service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTokenTTL
	}
	if cfg.Store == nil {
		cfg.Store = NewTokenStore(cfg.Now)
	}
	return service{name: name, verifier: cfg.Verifier, store: cfg.Store, now: cfg.Now, ttl: cfg.TTL, Faults: &Faults{Store: cfg.Store}}
}

// Verifier returns the verifier holding the trust configuration.
func (s *service) Verifier() *Verifier { return s.verifier }

// handler serves the exchange endpoint at path (other paths: 404), with
// its faults answering in shape, and counts every request.
func (s *service) handler(path string, shape tokenShape, serve http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(path, s.Faults.wrap(s.name, shape, serve))
	return countRequests(s.store, mux)
}

// tokenField is the answer shape {"token": ...} of Cloudsmith and crates.io.
func tokenField(tok string) any {
	return map[string]any{"token": tok}
}

// decodeBody reads a bounded JSON request body into out.
func decodeBody(r *http.Request, out any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// ---------------------------------------------------------------- JFrog

// JFrog token exchange constants.
const (
	JFrogGrantType        = "urn:ietf:params:oauth:grant-type:token-exchange"
	JFrogSubjectTokenType = "urn:ietf:params:oauth:token-type:id_token"
	JFrogTokenPath        = "/access/api/v1/oidc/token"
)

// JFrog plays the JFrog Platform OIDC token exchange,
// POST /access/api/v1/oidc/token.
type JFrog struct {
	service
	// ProviderName is the configured OIDC integration name.
	ProviderName string
	secret       []byte
}

// NewJFrog returns a JFrog service with the given OIDC provider name.
func NewJFrog(cfg ServiceConfig, providerName string) *JFrog {
	return &JFrog{service: newService("jfrog", cfg), ProviderName: providerName, secret: []byte(randomString(32))}
}

func jfrogError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// Handler serves the exchange endpoint (other paths: 404).
func (j *JFrog) Handler() http.Handler {
	return j.handler(JFrogTokenPath, func(tok string) any { return j.answer(tok, "octo") }, j.serve)
}

// answer is the success body around an access token.
func (j *JFrog) answer(tok, user string) map[string]any {
	return map[string]any{"token_type": "Bearer", "expires_in": int(j.ttl / time.Second), "scope": "applied-permissions/groups:readers",
		"username": "oidc/" + user, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "access_token": tok}
}

func (j *JFrog) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		jfrogError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method "+r.Method+" is not allowed")
		return
	}
	var body struct {
		GrantType             string `json:"grant_type"`
		SubjectTokenType      string `json:"subject_token_type"`
		SubjectToken          string `json:"subject_token"`
		ProviderName          string `json:"provider_name"`
		IncludeReferenceToken bool   `json:"include_reference_token"`
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		jfrogError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
		return
	}
	if err := decodeBody(r, &body); err != nil {
		jfrogError(w, http.StatusBadRequest, "BAD_REQUEST", "Failed to parse the request body as JSON")
		return
	}
	switch {
	case body.GrantType != JFrogGrantType:
		jfrogError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("Unsupported grant_type '%s'", body.GrantType))
		return
	case body.SubjectTokenType != JFrogSubjectTokenType:
		jfrogError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("Unsupported subject_token_type '%s'", body.SubjectTokenType))
		return
	case body.SubjectToken == "":
		jfrogError(w, http.StatusBadRequest, "BAD_REQUEST", "subject_token is required")
		return
	case body.ProviderName == "":
		jfrogError(w, http.StatusBadRequest, "BAD_REQUEST", "provider_name is required")
		return
	}
	if body.ProviderName != j.ProviderName {
		jfrogError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("OIDC integration '%s' was not found", body.ProviderName))
		return
	}
	claims, err := j.verifier.Verify(r.Context(), body.SubjectToken)
	if err != nil {
		jfrogError(w, http.StatusUnauthorized, "UNAUTHORIZED", j.message(err))
		return
	}
	ttl, now := j.ttl, j.now()
	repo := claimString(claims["repository"])
	access, err := signHS256(j.secret, map[string]any{
		"ver": "2", "sub": "jfac@01e2e/users/oidc/" + repo, "scp": "applied-permissions/groups:readers",
		"aud": "*@*", "iss": "jfac@01e2e", "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randomString(16),
	})
	if err != nil {
		jfrogError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "could not create token")
		return
	}
	j.store.Add(KindAccessToken, "jfrog", access, ttl)
	resp := j.answer(access, repo)
	if body.IncludeReferenceToken {
		ref := "cmVmdGtuOjAxOj" + randomAlnum(50)
		j.store.Add(KindReferenceToken, "jfrog", ref, ttl)
		resp["reference_token"] = ref
	}
	j.store.countExchange("jfrog")
	writeJSON(w, http.StatusOK, resp)
}

func (j *JFrog) message(err error) string {
	var ve *VerifyError
	if !errors.As(err, &ve) {
		return "Failed to validate the provided OIDC token"
	}
	switch ve.Reason {
	case ReasonMalformed:
		return "Failed to parse the provided OIDC token"
	case ReasonKeys, ReasonSignature:
		return "Failed to validate the OIDC token signature: " + ve.Got
	case ReasonIssuer:
		return fmt.Sprintf("Token issuer '%s' does not match the issuer of OIDC integration '%s' ('%s')", ve.Got, j.ProviderName, ve.Want)
	case ReasonAudience:
		return fmt.Sprintf("Token audience '%s' does not match the audience of OIDC integration '%s' ('%s')", ve.Got, j.ProviderName, ve.Want)
	case ReasonExpired:
		return "The provided OIDC token has expired (exp " + ve.Got + ")"
	case ReasonNotYet:
		return "The provided OIDC token is not valid yet (nbf " + ve.Got + ")"
	default:
		return fmt.Sprintf("Failed to find a matching identity mapping for the provided token claims: claim '%s' is '%s', the identity mapping requires '%s'", ve.Claim, ve.Got, ve.Want)
	}
}

// ----------------------------------------------------------- Cloudsmith

// Cloudsmith plays Cloudsmith's OIDC exchange, POST /openid/{namespace}/.
type Cloudsmith struct {
	service
	// Namespace and ServiceSlug are the configured workspace and service account.
	Namespace, ServiceSlug string
	secret                 []byte
}

// NewCloudsmith returns a Cloudsmith service for one namespace and service
// account.
func NewCloudsmith(cfg ServiceConfig, namespace, serviceSlug string) *Cloudsmith {
	return &Cloudsmith{service: newService("cloudsmith", cfg), Namespace: namespace, ServiceSlug: serviceSlug, secret: []byte(randomString(32))}
}

// Handler serves POST /openid/{namespace}/.
func (c *Cloudsmith) Handler() http.Handler {
	return c.handler("/openid/{ns}/{$}", tokenField, c.serve)
}

func (c *Cloudsmith) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": fmt.Sprintf("Method \"%s\" not allowed.", r.Method)})
		return
	}
	var body struct {
		OIDCToken   string `json:"oidc_token"`
		ServiceSlug string `json:"service_slug"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error"})
		return
	}
	if body.OIDCToken == "" || body.ServiceSlug == "" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"oidc_token, service_slug": {"This field is required."}})
		return
	}
	if r.PathValue("ns") != c.Namespace {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
		return
	}
	// Generic by design: the real service does not say what did not match.
	if _, err := c.verifier.Verify(r.Context(), body.OIDCToken); err != nil || body.ServiceSlug != c.ServiceSlug {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Incorrect authentication credentials."})
		return
	}
	ttl, now := c.ttl, c.now()
	tok, err := signHS256(c.secret, map[string]any{
		"iss": "https://api.cloudsmith.io", "sub": c.ServiceSlug, "aud": c.Namespace,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randomString(16),
	})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "A server error occurred."})
		return
	}
	c.store.Add(KindAccessToken, "cloudsmith", tok, ttl)
	c.store.countExchange("cloudsmith")
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// ------------------------------------------------------------- crates.io

// CratesIOTokenPath is the trusted-publishing exchange and revocation path.
const CratesIOTokenPath = "/api/v1/trusted_publishing/tokens"

// CratesIO plays crates.io trusted publishing:
// POST /api/v1/trusted_publishing/tokens {"jwt": ...} -> {"token": "cio_tp_..."},
// and DELETE on the same path with "Authorization: Bearer <token>".
type CratesIO struct {
	service
	jmu    sync.Mutex
	jtis   map[string]bool
	gitlab *gitlabTrust // TrustGitLab (gitlab.go)
}

// NewCratesIO returns a crates.io trusted-publishing service.
func NewCratesIO(cfg ServiceConfig) *CratesIO {
	return &CratesIO{service: newService("crates-io", cfg), jtis: map[string]bool{}}
}

func cratesError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"detail": detail}}})
}

// Handler serves the exchange and revocation endpoint (faults: POST and
// DELETE).
func (c *CratesIO) Handler() http.Handler { return c.handler(CratesIOTokenPath, tokenField, c.serve) }

func (c *CratesIO) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		c.exchange(w, r)
	case http.MethodDelete:
		c.revoke(w, r)
	default:
		cratesError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	}
}

func (c *CratesIO) exchange(w http.ResponseWriter, r *http.Request) {
	var body struct {
		JWT string `json:"jwt"`
	}
	if err := decodeBody(r, &body); err != nil || body.JWT == "" {
		cratesError(w, http.StatusUnprocessableEntity, "Failed to deserialize the JSON body into the target type: missing field `jwt`")
		return
	}
	if c.serveGitLab(r.Context(), w, body.JWT) {
		return
	}
	claims, err := c.verifier.VerifyToken(r.Context(), body.JWT)
	if ve := (*VerifyError)(nil); errors.As(err, &ve) && ve.Reason == ReasonIssuer {
		cratesError(w, http.StatusBadRequest, "Unsupported JWT issuer: "+ve.Got)
		return
	} else if err != nil {
		cratesError(w, http.StatusBadRequest, "Failed to decode JWT")
		return
	}
	if !c.firstUse(claimString(claims["jti"])) {
		cratesError(w, http.StatusBadRequest, "JWT has already been used")
		return
	}
	if err := c.verifier.CheckMapping(claims); err != nil {
		repo := claimString(claims["repository"])
		var ve *VerifyError
		if errors.As(err, &ve) && ve.Claim == "repository" {
			cratesError(w, http.StatusBadRequest, fmt.Sprintf("No Trusted Publishing config found for repository `%s`.", repo))
			return
		}
		cratesError(w, http.StatusBadRequest, fmt.Sprintf("No matching Trusted Publishing config found for repository `%s`: the token's `%s` is `%s`, the config requires `%s`.", repo, ve.Claim, ve.Got, ve.Want))
		return
	}
	c.issue(w)
}

// issue answers with a new trusted-publishing token.
func (c *CratesIO) issue(w http.ResponseWriter) {
	tok := "cio_tp_" + randomAlnum(32)
	c.store.Add(KindAccessToken, "crates-io", tok, c.ttl)
	c.store.countExchange("crates-io")
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func (c *CratesIO) revoke(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if auth == "" || !ok || tok == "" {
		cratesError(w, http.StatusUnauthorized, "this action requires authentication")
		return
	}
	t, known := c.store.Lookup(tok)
	if !known || t.Service != "crates-io" || t.Kind != KindAccessToken || !c.store.Valid(tok) || !c.store.Revoke(tok) {
		cratesError(w, http.StatusUnauthorized, "authentication failed: invalid or expired trusted publishing token")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

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

const defaultTokenTTL = time.Hour

// service is what every token service shares: trust, store and faults.
type service struct {
	name    string
	v       *verifier
	auds    []string
	mapping map[string]string
	store   *TokenStore
	ttl     time.Duration
	secret  []byte
	Faults  *Faults // served by the exchange endpoint
}

func (s *service) handler(pattern string, serve http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(pattern, s.Faults.wrap(serve))
	return countRequests(s.store, mux)
}

// verify checks an ID token against the trust configuration, mapping included.
func (s *service) verify(r *http.Request, token string) (map[string]any, error) {
	claims, err := s.v.verify(r.Context(), token, s.auds)
	if err == nil {
		err = checkMapping(claims, s.mapping)
	}
	return claims, err
}

// issueJWT signs and records an access token with claims, iat, nbf, exp and jti.
func (s *service) issueJWT(claims map[string]any) string {
	now := time.Now()
	claims["iat"], claims["nbf"], claims["exp"], claims["jti"] = now.Unix(), now.Unix(), now.Add(s.ttl).Unix(), randomString(16)
	tok, _ := signJWT(s.secret, "", claims) // HS256 with a 64-byte secret cannot fail
	s.store.Add(KindAccessToken, s.name, tok, s.ttl)
	return tok
}

func decodeBody(r *http.Request, out *map[string]string) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(out)
}

// JFrog token exchange constants.
const (
	JFrogGrantType        = "urn:ietf:params:oauth:grant-type:token-exchange"
	JFrogSubjectTokenType = "urn:ietf:params:oauth:token-type:id_token"
	JFrogTokenPath        = "/access/api/v1/oidc/token"
)

// JFrog plays the JFrog Platform's OIDC token exchange.
type JFrog struct {
	service
	ProviderName string // the OIDC integration's name
}

func jfrogError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func (j *JFrog) answer(tok, user string) map[string]any {
	return map[string]any{"token_type": "Bearer", "expires_in": int(j.ttl / time.Second), "scope": "applied-permissions/groups:readers",
		"username": "oidc/" + user, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "access_token": tok}
}

func (j *JFrog) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	bad := func(msg string) { jfrogError(w, http.StatusBadRequest, "BAD_REQUEST", msg) }
	switch {
	case r.Method != http.MethodPost:
		jfrogError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method "+r.Method+" is not allowed")
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		jfrogError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
	case decodeBody(r, &body) != nil:
		bad("Failed to parse the request body as JSON")
	case body["grant_type"] != JFrogGrantType:
		bad(fmt.Sprintf("Unsupported grant_type '%s'", body["grant_type"]))
	case body["subject_token_type"] != JFrogSubjectTokenType:
		bad(fmt.Sprintf("Unsupported subject_token_type '%s'", body["subject_token_type"]))
	case body["subject_token"] == "":
		bad("subject_token is required")
	case body["provider_name"] == "":
		bad("provider_name is required")
	case body["provider_name"] != j.ProviderName:
		jfrogError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("OIDC integration '%s' was not found", body["provider_name"]))
	default:
		claims, err := j.verify(r, body["subject_token"])
		if err != nil {
			jfrogError(w, http.StatusUnauthorized, "UNAUTHORIZED", j.message(err))
			return
		}
		repo := claimString(claims["repository"])
		access := j.issueJWT(map[string]any{"ver": "2", "sub": "jfac@01e2e/users/oidc/" + repo,
			"scp": "applied-permissions/groups:readers", "aud": "*@*", "iss": "jfac@01e2e"})
		writeJSON(w, http.StatusOK, j.answer(access, repo))
	}
}

// message is JFrog's wording of why a token was refused.
func (j *JFrog) message(err error) string {
	var ve *verifyError
	errors.As(err, &ve)
	switch ve.reason {
	case reasonMalformed:
		return "Failed to parse the provided OIDC token"
	case reasonKeys, reasonSignature:
		return "Failed to validate the OIDC token signature: " + ve.got
	case reasonIssuer, reasonAudience:
		return fmt.Sprintf("Token %s '%s' does not match the %s of OIDC integration '%s' ('%s')", ve.reason, ve.got, ve.reason, j.ProviderName, ve.want)
	case reasonExpired:
		return "The provided OIDC token has expired (exp " + ve.got + ")"
	case reasonNotYet:
		return "The provided OIDC token is not valid yet (nbf " + ve.got + ")"
	default:
		return fmt.Sprintf("Failed to find a matching identity mapping for the provided token claims: claim '%s' is '%s', the identity mapping requires '%s'", ve.claim, ve.got, ve.want)
	}
}

// Cloudsmith plays Cloudsmith's OIDC exchange, POST /openid/{namespace}/.
type Cloudsmith struct {
	service
	Namespace, ServiceSlug string // the workspace and service account
}

func (c *Cloudsmith) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	detail := func(status int, msg string) { writeJSON(w, status, map[string]string{"detail": msg}) }
	switch {
	case r.Method != http.MethodPost:
		detail(http.StatusMethodNotAllowed, fmt.Sprintf("Method \"%s\" not allowed.", r.Method))
	case decodeBody(r, &body) != nil:
		detail(http.StatusBadRequest, "JSON parse error")
	case body["oidc_token"] == "" || body["service_slug"] == "":
		writeJSON(w, http.StatusBadRequest, map[string][]string{"oidc_token, service_slug": {"This field is required."}})
	case r.PathValue("ns") != c.Namespace:
		detail(http.StatusNotFound, "Not found.")
	default:
		// Generic by design: the real service does not say what did not match.
		if _, err := c.verify(r, body["oidc_token"]); err != nil || body["service_slug"] != c.ServiceSlug {
			detail(http.StatusUnauthorized, "Incorrect authentication credentials.")
			return
		}
		tok := c.issueJWT(map[string]any{"iss": "https://api.cloudsmith.io", "sub": c.ServiceSlug, "aud": c.Namespace})
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	}
}

// CratesIOTokenPath is the trusted-publishing exchange and revocation path.
const CratesIOTokenPath = "/api/v1/trusted_publishing/tokens"

// CratesIO plays crates.io trusted publishing: POST {"jwt": ...} gets a
// token (each JWT once), DELETE with it as Bearer revokes it.
type CratesIO struct {
	service
	mu     sync.Mutex
	jtis   map[string]bool
	gitlab *service         // TrustGitLab: GitLab's issuer and audience
	pub    *GitLabPublisher // the trusted GitLab publisher
}

// Handler serves the exchange and revocation endpoint, faults included.
func (c *CratesIO) Handler() http.Handler { return c.handler(CratesIOTokenPath, c.serve) }

func (c *CratesIO) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	switch {
	case r.Method == http.MethodDelete:
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if t, _ := c.store.Lookup(tok); !ok || tok == "" {
			registryError(w, http.StatusUnauthorized, "this action requires authentication")
		} else if t.Service != "crates-io" || !c.store.Valid(tok) || !c.store.Revoke(tok) {
			registryError(w, http.StatusUnauthorized, "authentication failed: invalid or expired trusted publishing token")
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	case r.Method != http.MethodPost:
		registryError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	case decodeBody(r, &body) != nil || body["jwt"] == "":
		registryError(w, http.StatusUnprocessableEntity, "Failed to deserialize the JSON body into the target type: missing field `jwt`")
	default:
		if msg := c.exchange(r, body["jwt"]); msg != "" {
			registryError(w, http.StatusBadRequest, msg)
			return
		}
		tok := "cio_tp_" + randomAlnum(32)
		c.store.Add(KindAccessToken, "crates-io", tok, c.ttl)
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	}
}

// exchange returns crates.io's refusal of jwt ("" = accepted); a JWT is
// consumed even when no config matches.
func (c *CratesIO) exchange(r *http.Request, jwt string) string {
	c.mu.Lock()
	trust, pub := &c.service, c.pub
	if _, claims, err := parseJWT(jwt); err == nil && c.gitlab != nil && claimString(claims["iss"]) == c.gitlab.v.issuer {
		trust = c.gitlab
	}
	c.mu.Unlock()
	claims, err := trust.v.verify(r.Context(), jwt, trust.auds)
	var ve *verifyError
	if errors.As(err, &ve) && ve.reason == reasonIssuer {
		return "Unsupported JWT issuer: " + ve.got
	} else if err != nil {
		return "Failed to decode JWT"
	}
	jti := claimString(claims["jti"])
	c.mu.Lock()
	used := c.jtis[jti] || jti == ""
	c.jtis[jti] = true
	c.mu.Unlock()
	if used {
		return "JWT has already been used"
	}
	if trust == c.gitlab {
		return pub.match(claims)
	}
	repo := claimString(claims["repository"])
	if errors.As(checkMapping(claims, c.mapping), &ve) {
		if ve.claim == "repository" {
			return fmt.Sprintf("No Trusted Publishing config found for repository `%s`.", repo)
		}
		return fmt.Sprintf("No matching Trusted Publishing config found for repository `%s`: the token's `%s` is `%s`, the config requires `%s`.", repo, ve.claim, ve.got, ve.want)
	}
	return ""
}

// GitLabPublisher is a crates.io trusted publisher for a GitLab project,
// matched as crates.io does (handle_gitlab_token_inner): project_path
// case-insensitive, the file of ci_config_ref_uri, the environment if set.
type GitLabPublisher struct {
	Namespace, Project, WorkflowFilepath, Environment string
}

// TrustGitLab makes crates.io accept g's ID tokens for publisher p too.
func (s *Stack) TrustGitLab(g *GitLab, p *GitLabPublisher) {
	c := s.CratesIO
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gitlab = &service{v: &verifier{issuer: g.URL, client: s.CA.Client()}, auds: []string{"crates.io"}}
	c.pub = p
}

// match returns crates.io's refusal for claims ("" = a match).
func (p *GitLabPublisher) match(claims map[string]any) string {
	path := claimString(claims["project_path"])
	slash := strings.LastIndex(path, "/")
	ns, project := path[:max(slash, 0)], path[slash+1:]
	_, file, _ := strings.Cut(claimString(claims["ci_config_ref_uri"]), "//")
	file, _, found := strings.Cut(file, "@")
	env := claimString(claims["environment"])
	switch {
	case slash < 0:
		return "Unexpected `project_path` value"
	case !found || file == "":
		return "Unexpected `ci_config_ref_uri` value"
	case !strings.EqualFold(ns, p.Namespace) || !strings.EqualFold(project, p.Project):
		return fmt.Sprintf("No Trusted Publishing config found for repository `%s`.", path)
	case file != p.WorkflowFilepath:
		return fmt.Sprintf("The Trusted Publishing config for repository `%s` does not match the workflow filepath `%s` in the JWT. Expected workflow filepaths: `%s`", path, file, p.WorkflowFilepath)
	case p.Environment != "" && !strings.EqualFold(env, p.Environment):
		return fmt.Sprintf("The Trusted Publishing config for repository `%s` does not match the environment `%s` in the JWT. Expected environments: `%s`", path, env, p.Environment)
	}
	return ""
}

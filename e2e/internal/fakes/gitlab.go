package fakes

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// GitLab plays a GitLab instance's OIDC issuer for id_tokens: its discovery
// document and JWKS (the Issuer's handler), and tokens with GitLab's claims
// (crates.io's own test claims,
// rust-lang/crates.io crates/crates_io_trustpub/src/gitlab/test_helpers.rs).
// Its URL stands for https://gitlab.com, the one GitLab issuer crates.io
// accepts.
type GitLab struct {
	*Issuer
	// ProjectPath, NamespaceID and Environment are the job's claims.
	ProjectPath, NamespaceID, Environment string
}

// StartGitLab starts a GitLab issuer beside the stack (same CA, same
// token store), for project grp/app in namespace 72, environment release.
func (s *Stack) StartGitLab() (*GitLab, error) {
	iss, err := NewIssuer(IssuerConfig{Now: s.Clock.Now}, s.Store)
	if err != nil {
		return nil, err
	}
	srv := s.newServer()
	iss.SetURL(serverURL(srv, "127.0.0.1"))
	s.run(srv, iss.Handler())
	g := &GitLab{Issuer: iss, ProjectPath: "grp/app", NamespaceID: "72", Environment: "release"}
	iss.service, iss.base = "gitlab", g.claims
	return g, nil
}

// MintGitLab signs a GitLab-shaped ID token for aud, extra claims on top (a
// nil value removes one), and records it in the store.
func (g *GitLab) MintGitLab(aud string, extra map[string]any) (string, error) {
	return g.Mint(aud, extra)
}

func (g *GitLab) claims(aud string, now time.Time) map[string]any {
	ns, _, _ := strings.Cut(g.ProjectPath, "/")
	return map[string]any{
		"iss": g.URL, "aud": aud, "jti": randomString(16),
		"sub":          "project_path:" + g.ProjectPath + ":ref_type:branch:ref:main",
		"project_id":   "74884433",
		"project_path": g.ProjectPath, "namespace_id": g.NamespaceID, "namespace_path": ns,
		"pipeline_id": "2069090987", "pipeline_source": "push", "job_id": "11530106120",
		"ref": "main", "ref_type": "branch", "ref_path": "refs/heads/main", "ref_protected": "true",
		"runner_environment": "gitlab-hosted", "sha": "76719c2658b5c4423810d655a4624af1b38b7091",
		"ci_config_ref_uri": "gitlab.com/" + g.ProjectPath + "//.gitlab-ci.yml@refs/heads/main",
		"environment":       g.Environment,
		"nbf":               now.Add(-5 * time.Second).Unix(), "iat": now.Unix(), "exp": now.Add(g.cfg.Lifetime).Unix(),
	}
}

// GitLabPublisher is a crates.io trusted publisher for a GitLab project,
// matched as crates.io does (src/controllers/trustpub/tokens/exchange/mod.rs,
// handle_gitlab_token_inner): namespace and project of project_path,
// case-insensitive; the pipeline file of ci_config_ref_uri; the environment
// when the publisher names one.
type GitLabPublisher struct {
	Namespace, Project, WorkflowFilepath, Environment string
}

type gitlabTrust struct {
	verifier  *Verifier
	publisher *GitLabPublisher
}

// TrustGitLab makes crates.io accept ID tokens of g (audience crates.io)
// for publisher p.
func (s *Stack) TrustGitLab(g *GitLab, p *GitLabPublisher) {
	v := &Verifier{Issuer: g.URL, Client: s.CA.Client(), Now: s.Clock.Now}
	v.SetAudiences("crates.io")
	s.CratesIO.jmu.Lock()
	s.CratesIO.gitlab = &gitlabTrust{verifier: v, publisher: p}
	s.CratesIO.jmu.Unlock()
}

// serveGitLab answers an exchange of a GitLab token; it reports false for
// a token of another issuer.
func (c *CratesIO) serveGitLab(ctx context.Context, w http.ResponseWriter, jwt string) bool {
	c.jmu.Lock()
	trust := c.gitlab
	c.jmu.Unlock()
	p, err := parseJWT(jwt)
	if trust == nil || err != nil || claimString(p.claims["iss"]) != trust.verifier.Issuer {
		return false
	}
	claims, err := trust.verifier.VerifyToken(ctx, jwt)
	if err != nil {
		cratesError(w, http.StatusBadRequest, "Failed to decode JWT")
		return true
	}
	if !c.firstUse(claimString(claims["jti"])) {
		cratesError(w, http.StatusBadRequest, "JWT has already been used")
		return true
	}
	if msg := trust.publisher.match(claims); msg != "" {
		cratesError(w, http.StatusBadRequest, msg)
		return true
	}
	c.issue(w)
	return true
}

// firstUse records jti and reports whether it was new.
func (c *CratesIO) firstUse(jti string) bool {
	c.jmu.Lock()
	defer c.jmu.Unlock()
	used := c.jtis[jti]
	c.jtis[jti] = true
	return jti != "" && !used
}

// match returns crates.io's refusal for claims, "" when they match.
func (p *GitLabPublisher) match(claims map[string]any) string {
	path := claimString(claims["project_path"])
	i := strings.LastIndex(path, "/")
	if i < 0 {
		return "Unexpected `project_path` value"
	}
	ref := claimString(claims["ci_config_ref_uri"])
	_, file, _ := strings.Cut(ref, "//")
	file, _, found := strings.Cut(file, "@")
	if !found || file == "" {
		return "Unexpected `ci_config_ref_uri` value"
	}
	if !strings.EqualFold(path[:i], p.Namespace) || !strings.EqualFold(path[i+1:], p.Project) {
		return fmt.Sprintf("No Trusted Publishing config found for repository `%s`.", path)
	}
	if file != p.WorkflowFilepath {
		return fmt.Sprintf("The Trusted Publishing config for repository `%s` does not match the workflow filepath `%s` in the JWT. Expected workflow filepaths: `%s`", path, file, p.WorkflowFilepath)
	}
	if env := claimString(claims["environment"]); p.Environment != "" && !strings.EqualFold(env, p.Environment) {
		return fmt.Sprintf("The Trusted Publishing config for repository `%s` does not match the environment `%s` in the JWT. Expected environments: `%s`", path, env, p.Environment)
	}
	return ""
}

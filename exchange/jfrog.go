package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// JFrog exchanges an ID token with the JFrog Platform
// (POST {BaseURL}/access/api/v1/oidc/token).
type JFrog struct {
	Client  *Client
	BaseURL string // https://example.jfrog.io (no trailing slash needed)
	// ProviderName is the name of the OIDC integration in JFrog (required).
	ProviderName        string
	IdentityMappingName string
	ProjectKey          string
	// Audience is the audience to request for the ID token and to send to
	// JFrog; "" = GitHub's default.
	Audience string
	Context  JFrogContext
	Mask     func(string)
	Now      func() time.Time
}

// JFrogContext is the CI context JFrog's own client sends with an exchange
// (provider_type "GitHub" is added for GitHub Actions' tokens, see
// jfrogProviderType).
type JFrogContext struct{ Repo, Revision, Branch, JobID, RunID string }

// JFrogContextFromEnv reads GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_REF_NAME,
// GITHUB_JOB and GITHUB_RUN_ID.
func JFrogContextFromEnv(getenv func(string) string) JFrogContext {
	return JFrogContext{
		Repo:     getenv("GITHUB_REPOSITORY"),
		Revision: getenv("GITHUB_SHA"),
		Branch:   getenv("GITHUB_REF_NAME"),
		JobID:    getenv("GITHUB_JOB"),
		RunID:    getenv("GITHUB_RUN_ID"),
	}
}

// JFrog's grant and token types.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
)

type jfrogRequest struct {
	GrantType           string `json:"grant_type"`
	SubjectTokenType    string `json:"subject_token_type"`
	SubjectToken        string `json:"subject_token"`
	ProviderName        string `json:"provider_name"`
	IdentityMappingName string `json:"identity_mapping_name,omitempty"`
	ProjectKey          string `json:"project_key,omitempty"`
	Audience            string `json:"audience,omitempty"`
	ProviderType        string `json:"provider_type,omitempty"`
	Repo                string `json:"repo,omitempty"`
	Revision            string `json:"revision,omitempty"`
	Branch              string `json:"branch,omitempty"`
	JobID               string `json:"job_id,omitempty"`
	RunID               string `json:"run_id,omitempty"`
}

type jfrogAnswer struct {
	AccessToken    string  `json:"access_token"`
	TokenType      string  `json:"token_type"`
	ExpiresIn      seconds `json:"expires_in"`
	Username       string  `json:"username"`
	RefreshToken   string  `json:"refresh_token"`
	ReferenceToken string  `json:"reference_token"`
}

// IDTokenAudience implements Service: j.Audience ("" = GitHub's default).
func (j *JFrog) IDTokenAudience() string { return j.Audience }

// Exchange implements Service.
func (j *JFrog) Exchange(ctx context.Context, ids IDTokenSource) (*Token, error) {
	if j.Client == nil {
		return nil, errors.New("jfrog: no HTTP client configured")
	}
	if strings.TrimSpace(j.ProviderName) == "" {
		return nil, errors.New("jfrog: the provider name (the OIDC integration's name in JFrog) is required")
	}
	endpoint, err := serviceURL(j.BaseURL, "/access/api/v1/oidc/token")
	if err != nil {
		return nil, fmt.Errorf("jfrog: %w", err)
	}
	sc := &svcCall{red: j.Client.red, service: ServiceJFrog, method: http.MethodPost, url: displayRawURL(endpoint), hint: j.hint, parse: serviceMessage, mask: j.Mask}
	idt, err := sc.idToken(ctx, ids, j.Audience)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(jfrogRequest{
		GrantType:           GrantTypeTokenExchange,
		SubjectTokenType:    TokenTypeIDToken,
		SubjectToken:        idt,
		ProviderName:        j.ProviderName,
		IdentityMappingName: j.IdentityMappingName,
		ProjectKey:          j.ProjectKey,
		Audience:            j.Audience,
		ProviderType:        jfrogProviderType(ids),
		Repo:                j.Context.Repo,
		Revision:            j.Context.Revision,
		Branch:              j.Context.Branch,
		JobID:               j.Context.JobID,
		RunID:               j.Context.RunID,
	})
	if err != nil {
		return nil, fmt.Errorf("jfrog: encoding the request: %w", err)
	}
	a, err := sc.do(ctx, j.Client, &call{method: sc.method, url: endpoint, header: jsonHeaders(), body: body})
	if err != nil {
		return nil, err
	}
	ans, err := answerOf[jfrogAnswer](sc, a)
	if err != nil {
		return nil, err
	}
	if err := sc.guard(a.status, "access token", ans.AccessToken, ans.ReferenceToken, ans.RefreshToken); err != nil {
		return nil, err
	}
	if ans.ReferenceToken != "" {
		if err := CheckToken("reference token", ans.ReferenceToken); err != nil {
			return nil, sc.bad(a.status, err)
		}
	}
	tok := &Token{
		Value:          ans.AccessToken,
		Username:       CleanMessage(ans.Username),
		ReferenceToken: ans.ReferenceToken,
	}
	if ans.ExpiresIn > 0 {
		tok.ExpiresAt = nowFunc(j.Now).Add(time.Duration(ans.ExpiresIn) * time.Second)
	}
	return tok, nil
}

// hint says what to check after a failed JFrog exchange.
func (j *JFrog) hint(status int) string {
	switch status {
	case http.StatusNotFound:
		return fmt.Sprintf("a 404 usually means a wrong provider-name (JFrog has no OIDC integration named %q) or a wrong url (use the JFrog Platform base URL, such as https://example.jfrog.io, without /artifactory)", j.ProviderName)
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		var b strings.Builder
		fmt.Fprintf(&b, "JFrog matched no identity mapping of the OIDC integration %q to this ID token: a mapping's claims JSON must match the token's claims listed below (usually repository, often also sub, ref, job_workflow_ref or environment)", j.ProviderName)
		// JFrog's integration Audience is optional; when set, the token's
		// aud must match it.
		if j.Audience != "" {
			fmt.Fprintf(&b, ", and the integration's Audience, if it has one, must be %q (the audience input)", j.Audience)
		} else {
			b.WriteString(", and the integration's Audience, if it has one, must equal the token's aud (GitHub's default, https://github.com/<owner>, since the audience input is empty): set the audience input to the integration's Audience, or leave that empty")
		}
		b.WriteString("; check provider-name")
		if j.IdentityMappingName != "" {
			fmt.Fprintf(&b, " and identity-mapping-name (%q must name a mapping of that integration)", j.IdentityMappingName)
		} else {
			b.WriteString(", and identity-mapping-name if a specific mapping is meant")
		}
		if j.ProjectKey != "" {
			fmt.Fprintf(&b, "; check project-key %q", j.ProjectKey)
		}
		return b.String()
	case http.StatusTooManyRequests:
		return "JFrog kept rate-limiting the exchange; retry later or raise the retries input"
	}
	if status >= 500 {
		return "JFrog kept failing; this is usually transient: re-run the job, or raise the retries input"
	}
	return ""
}

// jfrogProviderType is the provider_type sent with a token of ids: what a
// *Source says of itself ("GitHub" for GitHub Actions, "" for the others,
// whose JFrog integration is generic OpenID Connect), "GitHub" for any
// other source (GitHubIDTokens).
func jfrogProviderType(ids IDTokenSource) string {
	if s, ok := ids.(interface{ JFrogProviderType() string }); ok {
		return s.JFrogProviderType()
	}
	return "GitHub"
}

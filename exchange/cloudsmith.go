package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultCloudsmithURL is Cloudsmith's API, used when BaseURL is empty.
const DefaultCloudsmithURL = "https://api.cloudsmith.io"

// Cloudsmith exchanges an ID token with Cloudsmith
// (POST {BaseURL}/openid/{Namespace}/).
type Cloudsmith struct {
	Client      *Client
	BaseURL     string // "" = DefaultCloudsmithURL
	Namespace   string // workspace (organisation) slug, required
	ServiceSlug string // the service account's slug, required
	Audience    string // "" = GitHub's default
	Mask        func(string)
	Now         func() time.Time
}

type cloudsmithRequest struct {
	OIDCToken   string `json:"oidc_token"`
	ServiceSlug string `json:"service_slug"`
}

type tokenAnswer struct {
	Token     string  `json:"token"`
	ExpiresAt string  `json:"expires_at"`
	ExpiresIn seconds `json:"expires_in"`
}

// IDTokenAudience implements Service: c.Audience ("" = GitHub's default).
func (c *Cloudsmith) IDTokenAudience() string { return c.Audience }

// Exchange implements Service. ExpiresAt comes from the token's exp claim
// when the token is a JWT.
func (c *Cloudsmith) Exchange(ctx context.Context, ids IDTokenSource) (*Token, error) {
	if c.Client == nil {
		return nil, errors.New("cloudsmith: no HTTP client configured")
	}
	if strings.TrimSpace(c.Namespace) == "" || strings.TrimSpace(c.ServiceSlug) == "" {
		return nil, errors.New("cloudsmith: namespace and service slug are required")
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultCloudsmithURL
	}
	endpoint, err := serviceURL(base, "/openid/"+url.PathEscape(c.Namespace)+"/")
	if err != nil {
		return nil, fmt.Errorf("cloudsmith: %w", err)
	}
	sc := &svcCall{red: c.Client.red, service: ServiceCloudsmith, method: http.MethodPost, url: displayRawURL(endpoint), hint: c.hint, parse: serviceMessage, mask: c.Mask}
	idt, err := sc.idToken(ctx, ids, c.Audience)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(cloudsmithRequest{OIDCToken: idt, ServiceSlug: c.ServiceSlug})
	if err != nil {
		return nil, fmt.Errorf("cloudsmith: encoding the request: %w", err)
	}
	ans, err := sc.tokenAnswer(ctx, c.Client, &call{method: sc.method, url: endpoint, header: jsonHeaders(), body: body})
	if err != nil {
		return nil, err
	}
	tok := &Token{Value: ans.Token}
	if cl, err := DecodeClaims(ans.Token); err == nil {
		tok.ExpiresAt = cl.ExpiresAt
	}
	if tok.ExpiresAt.IsZero() {
		tok.ExpiresAt = ans.expiry(nowFunc(c.Now))
	}
	return tok, nil
}

// expiry is the expiry the answer states, or zero.
func (a *tokenAnswer) expiry(now time.Time) time.Time {
	if a.ExpiresAt != "" {
		if t, err := time.Parse(time.RFC3339, a.ExpiresAt); err == nil {
			return t
		}
	}
	if a.ExpiresIn > 0 {
		return now.Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	return time.Time{}
}

// hint says what to check after a failed Cloudsmith exchange: its errors
// are generic on purpose.
func (c *Cloudsmith) hint(status int) string {
	switch {
	case status == http.StatusNotFound:
		return fmt.Sprintf("Cloudsmith's errors are generic on purpose; a 404 usually means the namespace %q is not a workspace slug, or url is not Cloudsmith's API (%s)", c.Namespace, DefaultCloudsmithURL)
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests:
		aud := "GitHub's default audience (https://github.com/<owner>), as no audience input is set"
		if c.Audience != "" {
			aud = fmt.Sprintf("%q", c.Audience)
		}
		return fmt.Sprintf("Cloudsmith's errors are generic on purpose; check: the service slug %q is a service account of the namespace %q; "+
			"that namespace has an OpenID Connect provider for https://token.actions.githubusercontent.com listing this service account; "+
			"the provider's required claims match the ID token's claims listed below; the provider's audience is %s", c.ServiceSlug, c.Namespace, aud)
	case status == http.StatusTooManyRequests:
		return "Cloudsmith kept rate-limiting the exchange; retry later or raise the retries input"
	case status >= 500:
		return "Cloudsmith kept failing; this is usually transient: re-run the job, or raise the retries input"
	}
	return ""
}

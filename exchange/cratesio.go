package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DefaultCratesIOURL is crates.io, used when BaseURL is empty.
const DefaultCratesIOURL = "https://crates.io"

// CratesIOAudience is the audience crates.io requires.
const CratesIOAudience = "crates.io"

// CratesIOTokenLifetime is how long a trusted publishing token lives when
// the answer does not say.
const CratesIOTokenLifetime = 30 * time.Minute

// CratesIO exchanges an ID token for a crates.io trusted publishing token
// (POST {BaseURL}/api/v1/trusted_publishing/tokens) and revokes it.
type CratesIO struct {
	Client   *Client
	BaseURL  string // "" = DefaultCratesIOURL
	Audience string // "" = CratesIOAudience
	Mask     func(string)
	Now      func() time.Time
}

type cratesIORequest struct {
	JWT string `json:"jwt"`
}

const cratesIOPath = "/api/v1/trusted_publishing/tokens"

// IDTokenAudience implements Service: c.Audience, or "crates.io" when empty.
func (c *CratesIO) IDTokenAudience() string {
	if c.Audience == "" {
		return CratesIOAudience
	}
	return c.Audience
}

func (c *CratesIO) endpoint() (string, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultCratesIOURL
	}
	u, err := serviceURL(base, cratesIOPath)
	if err != nil {
		return "", fmt.Errorf("crates.io: %w", err)
	}
	return u, nil
}

// Exchange implements Service. A JWT is accepted once, so every attempt,
// retries included, sends a freshly fetched ID token.
func (c *CratesIO) Exchange(ctx context.Context, ids IDTokenSource) (*Token, error) {
	if c.Client == nil {
		return nil, errors.New("crates.io: no HTTP client configured")
	}
	endpoint, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	sc := &svcCall{red: c.Client.red, service: ServiceCratesIO, method: http.MethodPost, url: displayRawURL(endpoint), parse: serviceMessage, mask: c.Mask}
	sc.hint = func(status int) string { return gitLabHint(status, sc.claims, c.hint) }
	aud := c.IDTokenAudience()
	build := func(ctx context.Context) ([]byte, error) {
		idt, err := sc.idToken(ctx, ids, aud)
		if err != nil {
			return nil, err
		}
		return json.Marshal(cratesIORequest{JWT: idt})
	}
	body, err := build(ctx)
	if err != nil {
		return nil, err
	}
	next := func(ctx context.Context) ([]byte, error) {
		b, err := build(ctx)
		if err != nil {
			return nil, fmt.Errorf("fetching a fresh id token for the retry: %w", err)
		}
		return b, nil
	}
	ans, err := sc.tokenAnswer(ctx, c.Client, &call{method: sc.method, url: endpoint, header: jsonHeaders(), body: body, next: next})
	if err != nil {
		c.revokeFound(ctx, err)
		return nil, spentOr(err)
	}
	now := nowFunc(c.Now)
	tok := &Token{Value: ans.Token, ExpiresAt: ans.expiry(now)}
	if tok.ExpiresAt.IsZero() {
		tok.ExpiresAt = now.Add(CratesIOTokenLifetime)
	}
	return tok, nil
}

// Revoke revokes a trusted publishing token (DELETE on the same path with
// Authorization: Bearer <token>; 204 or another 2xx is success). Errors are
// *HTTPError or *RequestError and never contain the token.
func (c *CratesIO) Revoke(ctx context.Context, token string) error {
	if c.Client == nil {
		return errors.New("crates.io: no HTTP client configured")
	}
	endpoint, err := c.endpoint()
	if err != nil {
		return err
	}
	sc := &svcCall{red: c.Client.red, service: ServiceCratesIO, method: http.MethodDelete, url: displayRawURL(endpoint), hint: revokeHint, parse: serviceMessage, mask: c.Mask}
	c.Client.red.Add(token)
	if err := CheckToken("token to revoke", token); err != nil {
		return sc.bad(0, err)
	}
	h := http.Header{"Authorization": {"Bearer " + token}, "Accept": {"application/json"}, "User-Agent": {UserAgent}}
	_, err = sc.do(ctx, c.Client, &call{method: sc.method, url: endpoint, header: h})
	return err
}

// revokeFound revokes the tokens found in an answer that could not be used
// (a malformed success answer, or an error answer that holds a token): every
// crates.io trusted publishing token ("cio_tp_...") anywhere in it, and the
// value of every token field. They were masked already. Other strings of
// the answer are not sent anywhere: crates.io revokes its own tokens only.
// The outcome is noted in the error.
func (c *CratesIO) revokeFound(ctx context.Context, err error) {
	found := foundSecrets(err)
	if len(found) == 0 {
		return
	}
	revoked, failed := 0, 0
	var last error
	for _, tok := range found {
		if !validToken(tok) {
			continue
		}
		if rerr := c.Revoke(ctx, tok); rerr != nil {
			failed++
			last = rerr
		} else {
			revoked++
		}
	}
	switch {
	case failed > 0:
		noteFound(err, fmt.Sprintf("%d token(s) found in it are masked but could not be revoked (%v); they expire on their own after 30 minutes", failed, last))
	case revoked > 0:
		noteFound(err, fmt.Sprintf("%d token(s) found in it were masked and revoked", revoked))
	default:
		noteFound(err, "the token found in it is unusable and was masked")
	}
}

func revokeHint(status int) string {
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return "crates.io refused the token: it has probably expired (30 minutes) or was revoked already"
	}
	return ""
}

// hint says what to check after a failed crates.io exchange.
func (c *CratesIO) hint(status int) string {
	switch {
	case status == http.StatusNotFound:
		return "a 404 usually means url is not crates.io (" + DefaultCratesIOURL + ") or the crate has no trusted publisher"
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests:
		return fmt.Sprintf("check the crate's trusted publisher on crates.io: the repository owner and name, the workflow file name and the environment (if one is set) must match the ID token's claims listed below, and the audience must be %q", CratesIOAudience)
	case status == http.StatusTooManyRequests:
		return "crates.io kept rate-limiting the exchange; retry later or raise the retries input"
	case status >= 500:
		return "crates.io kept failing; this is usually transient: re-run the job, or raise the retries input"
	}
	return ""
}

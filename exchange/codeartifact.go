package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// CodeArtifact durations: what GetAuthorizationToken accepts. Zero means
// AWS's default (12 hours).
const (
	CodeArtifactMinDuration     = 15 * time.Minute
	CodeArtifactMaxDuration     = 12 * time.Hour
	CodeArtifactDefaultDuration = 12 * time.Hour
)

// emptySHA256 is the hex SHA-256 of an empty payload, for SigV4.
var emptySHA256 = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// CodeArtifact gets an AWS CodeArtifact authorization token: the GitHub ID
// token is exchanged for temporary credentials with STS
// AssumeRoleWithWebIdentity (unsigned, XML answer), which sign (Signature
// Version 4) CodeArtifact's GetAuthorizationToken
// (POST /v1/authorization-token?domain=..&domain-owner=..[&duration=..]).
type CodeArtifact struct {
	Client *Client
	// Region is the AWS region of the domain (required), like us-east-1.
	Region string
	// RoleARN is the IAM role to assume (required).
	RoleARN string
	// RoleSessionName names the role session in CloudTrail (required).
	RoleSessionName string
	// Domain and DomainOwner (a 12-digit account ID) name the domain
	// (required).
	Domain, DomainOwner string
	// Duration is the CodeArtifact token's lifetime; 0 = AWS's default.
	Duration time.Duration
	// Audience is the ID token's audience; "" = STSAudience.
	Audience string
	// Endpoints are the STS and CodeArtifact base URLs; empty fields mean
	// the regional defaults (AWSDefaultEndpoints).
	Endpoints AWSEndpoints
	Mask      func(string)
	Now       func() time.Time
}

// codeArtifactAnswer is GetAuthorizationToken's JSON answer; expiration is
// a timestamp in epoch seconds.
type codeArtifactAnswer struct {
	AuthorizationToken string          `json:"authorizationToken"`
	Expiration         json.RawMessage `json:"expiration"`
}

// IDTokenAudience implements Service: c.Audience, or sts.amazonaws.com.
func (c *CodeArtifact) IDTokenAudience() string {
	if c.Audience == "" {
		return STSAudience
	}
	return c.Audience
}

// Endpoint describes where the calls go, for the log.
func (c *CodeArtifact) Endpoint() string {
	ep := c.endpoints()
	return "STS " + ep.STS + ", CodeArtifact " + ep.CodeArtifact
}

func (c *CodeArtifact) endpoints() AWSEndpoints {
	ep := AWSDefaultEndpoints(c.Region)
	if c.Endpoints.STS != "" {
		ep.STS = c.Endpoints.STS
	}
	if c.Endpoints.CodeArtifact != "" {
		ep.CodeArtifact = c.Endpoints.CodeArtifact
	}
	return ep
}

// Exchange implements Service. Every attempt of the CodeArtifact call is
// signed afresh. Token.Username is the assumed role's ARN (not secret).
func (c *CodeArtifact) Exchange(ctx context.Context, ids IDTokenSource) (*Token, error) {
	if c.Client == nil {
		return nil, errors.New("aws codeartifact: no HTTP client configured")
	}
	for _, f := range [][2]string{{"region", c.Region}, {"role ARN", c.RoleARN}, {"role session name", c.RoleSessionName},
		{"domain", c.Domain}, {"domain owner", c.DomainOwner}} {
		if strings.TrimSpace(f[1]) == "" {
			return nil, fmt.Errorf("aws codeartifact: the %s is required", f[0])
		}
	}
	if c.Duration != 0 && (c.Duration < CodeArtifactMinDuration || c.Duration > CodeArtifactMaxDuration) {
		return nil, fmt.Errorf("aws codeartifact: the token duration %s is outside %s to %s", c.Duration, CodeArtifactMinDuration, CodeArtifactMaxDuration)
	}
	ep := c.endpoints()
	aud := c.IDTokenAudience()
	idt, err := fetchIDToken(ctx, ids, aud)
	if err != nil {
		return nil, err
	}
	claims, _ := DecodeClaims(idt)
	sts := &stsCall{endpoint: ep.STS, region: c.Region, roleARN: c.RoleARN, sessionName: c.RoleSessionName, audience: aud}
	creds, err := sts.assumeRole(ctx, c.Client, idt, claims, c.Mask)
	if err != nil {
		return nil, err
	}
	ans, err := c.getToken(ctx, ep.CodeArtifact, creds)
	if err != nil {
		return nil, err
	}
	return &Token{Value: ans.AuthorizationToken, ExpiresAt: ans.expiry(nowFunc(c.Now), c.Duration), Username: creds.AssumedRoleARN}, nil
}

// getToken calls GetAuthorizationToken signed with creds.
func (c *CodeArtifact) getToken(ctx context.Context, base string, creds *awsCredentials) (*codeArtifactAnswer, error) {
	endpoint, err := serviceURL(base, "/v1/authorization-token")
	if err != nil {
		return nil, fmt.Errorf("aws codeartifact: %w", err)
	}
	q := url.Values{"domain": {c.Domain}, "domain-owner": {c.DomainOwner}}
	if c.Duration > 0 {
		q.Set("duration", strconv.FormatInt(int64(c.Duration/time.Second), 10))
	}
	full := endpoint + "?" + q.Encode()
	var code string
	sc := &svcCall{red: c.Client.red, service: ServiceCodeArtifact, method: http.MethodPost, url: displayRawURL(endpoint),
		hint: func(status int) string { return c.hint(status, code, creds.AssumedRoleARN) }, parse: awsMessage, mask: c.Mask}
	signer := v4.NewSigner()
	ac := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	sign := func(r *http.Request) error {
		r.Header.Del("Authorization")
		r.Header.Del("X-Amz-Date")
		r.Header.Del("X-Amz-Security-Token")
		return signer.SignHTTP(r.Context(), ac, r, emptySHA256, "codeartifact", c.Region, nowFunc(c.Now))
	}
	h := http.Header{"Accept": {"application/json"}, "User-Agent": {UserAgent}}
	a, err := c.Client.send(ctx, &call{method: sc.method, url: full, header: h, sign: sign, retryAnswer: awsThrottled})
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) {
			e, _ := parseAWSError(nil, he.body)
			code = e.Code
		}
		return nil, addDNSHint(sc.fail(err), c.Region, EnvEndpointURLCodeArtifact)
	}
	if a.status/100 != 2 {
		e, _ := parseAWSError(a.header, a.body)
		code = e.Code
		he := sc.failed(a)
		var h *HTTPError
		if errors.As(he, &h) && !h.withheld && e.Code != "" && !strings.HasPrefix(h.Message, e.Code) {
			h.Message = sc.red.Clean(e.String())
		}
		return nil, he
	}
	return guarded(sc, a, "authorization token", func(v *codeArtifactAnswer) string { return v.AuthorizationToken })
}

// expiry is the answer's expiration (epoch seconds, or an RFC 3339 string),
// else now plus the duration asked for (or AWS's default).
func (a *codeArtifactAnswer) expiry(now time.Time, asked time.Duration) time.Time {
	raw := strings.TrimSpace(string(a.Expiration))
	if s, err := strconv.Unquote(raw); err == nil {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t
		}
		raw = s
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil && f > 0 && f < 1e11 && !math.IsNaN(f) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	if asked <= 0 {
		asked = CodeArtifactDefaultDuration
	}
	return now.Add(asked)
}

// hint says what to fix after CodeArtifact refused, by error code.
func (c *CodeArtifact) hint(status int, code, role string) string {
	if role == "" {
		role = c.RoleARN
	}
	domainARN := fmt.Sprintf("arn:aws:codeartifact:%s:%s:domain/%s", c.Region, c.DomainOwner, c.Domain)
	where := fmt.Sprintf("check domain (%q), domain-owner (%q, the 12-digit ID of the account that owns the domain) and aws-region (%q: a domain lives in one region)", c.Domain, c.DomainOwner, c.Region)
	switch code {
	case "AccessDeniedException":
		return fmt.Sprintf("the role (%s) may not get a CodeArtifact token: its permissions policy needs codeartifact:GetAuthorizationToken on %s "+
			"and sts:GetServiceBearerToken (condition sts:AWSServiceName = codeartifact.amazonaws.com); "+
			"when the domain belongs to another account, the domain's resource policy must allow the role too; %s", role, domainARN, where)
	case "ResourceNotFoundException":
		return "CodeArtifact found no such domain: " + where
	case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException", "SignatureDoesNotMatch", "InvalidClientTokenId":
		return fmt.Sprintf("CodeArtifact did not accept the temporary credentials from STS: check aws-region (%q) is the domain's region, and that %s / %s, if set, point at STS and CodeArtifact of that region", c.Region, EnvEndpointURLCodeArtifact, EnvEndpointURL)
	case "ValidationException":
		return "CodeArtifact refused the request's parameters: " + where + ", and duration (15m to 12h)"
	}
	switch {
	case status == http.StatusTooManyRequests || code == "ThrottlingException":
		return "CodeArtifact kept throttling the call; retry later or raise the retries input"
	case status >= 500:
		return "CodeArtifact kept failing; this is usually transient: re-run the job, or raise the retries input"
	case status == http.StatusForbidden:
		return fmt.Sprintf("the role (%s) needs codeartifact:GetAuthorizationToken on %s and sts:GetServiceBearerToken; %s", role, domainARN, where)
	case status == http.StatusNotFound:
		return where
	}
	return ""
}

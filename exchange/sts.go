package exchange

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// STSAudience is the audience AWS's own tooling asks GitHub for, and the
// default audience of an IAM OIDC identity provider for GitHub.
const STSAudience = "sts.amazonaws.com"

// STSSessionDuration is how long the temporary AWS credentials live: the
// shortest STS allows, since they only sign one CodeArtifact call.
const STSSessionDuration = 15 * time.Minute

// stsVersion is the API version of the STS Query API.
const stsVersion = "2011-06-15"

// awsCredentials are the temporary credentials STS issues. The three keys
// are secret.
type awsCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	AssumedRoleARN  string // not secret
}

// stsAnswer is AssumeRoleWithWebIdentity's XML answer.
type stsAnswer struct {
	XMLName xml.Name `xml:"AssumeRoleWithWebIdentityResponse"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
		AssumedRoleUser struct {
			Arn string `xml:"Arn"`
		} `xml:"AssumedRoleUser"`
	} `xml:"AssumeRoleWithWebIdentityResult"`
}

// maxSTSAnswer bounds the XML parsed; a real answer is about 2 KB.
const maxSTSAnswer = 64 << 10

// parseSTSAnswer decodes AssumeRoleWithWebIdentity's answer. An answer that
// is not the XML expected is described by its shape only, never quoted (it
// may hold the secret key); credentials still findable in it are kept in
// the error for masking.
func parseSTSAnswer(body []byte, contentType string) (*awsCredentials, error) {
	bad := func(reason string) error {
		me := &MalformedAnswerError{Reason: reason, found: findSecrets(body)}
		me.Found = len(me.found)
		return me
	}
	n := len(body)
	if n > maxSTSAnswer {
		return nil, bad(fmt.Sprintf("the answer is larger than %d bytes (%d), expected a short XML document; %s", maxSTSAnswer, n, notShown))
	}
	if looksHTML(body, contentType) {
		return nil, bad(fmt.Sprintf("the answer is an HTML page (%d bytes), expected XML; %s", n, notShown))
	}
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return nil, bad(fmt.Sprintf("the answer is empty (%d bytes), expected XML", n))
	}
	var a stsAnswer
	if err := xml.Unmarshal(body, &a); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, bad(fmt.Sprintf("the answer is not valid XML (%d bytes; parsing stopped at line %d); %s", n, se.Line, notShown))
		}
		if !strings.HasPrefix(trimmed, "<") {
			return nil, bad(fmt.Sprintf("the answer is not valid XML (%d bytes; it does not start with <); %s", n, notShown))
		}
		return nil, bad("the answer is XML but not an AssumeRoleWithWebIdentityResponse")
	}
	c := a.Result.Credentials
	cr := &awsCredentials{
		AccessKeyID:     strings.TrimSpace(c.AccessKeyID),
		SecretAccessKey: strings.TrimSpace(c.SecretAccessKey),
		SessionToken:    strings.TrimSpace(c.SessionToken),
		AssumedRoleARN:  CleanMessage(a.Result.AssumedRoleUser.Arn),
	}
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(c.Expiration)); err == nil {
		cr.Expiration = t
	}
	return cr, nil
}

// mask records every secret of c for redaction and hands it to mask.
func (c *awsCredentials) mask(red *Redactor, mask func(string)) {
	for _, s := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
		red.Add(s)
	}
	maskSecret(mask, c.AccessKeyID)
	maskSecret(mask, c.SecretAccessKey)
	maskSecret(mask, c.SessionToken)
}

// check refuses credentials that cannot sign a request.
func (c *awsCredentials) check() error {
	return errors.Join(
		CheckToken("access key id", c.AccessKeyID),
		CheckToken("secret access key", c.SecretAccessKey),
		CheckToken("session token", c.SessionToken),
	)
}

// stsCall is one AssumeRoleWithWebIdentity request.
type stsCall struct {
	endpoint    string // base URL
	region      string
	roleARN     string
	sessionName string
	audience    string
	subject     string // the ID token's sub claim, when known
}

// assumeRole exchanges idt for temporary credentials (POST, form body, so
// that the ID token is never part of a URL). Every secret of the answer is
// masked before it is checked.
func (s *stsCall) assumeRole(ctx context.Context, c *Client, idt string, claims *Claims, mask func(string)) (*awsCredentials, error) {
	endpoint, err := serviceURL(s.endpoint, "/")
	if err != nil {
		return nil, fmt.Errorf("aws sts: %w", err)
	}
	var code string
	if claims != nil {
		s.subject = claims.Subject
	}
	sc := &svcCall{red: c.red, service: ServiceSTS, method: http.MethodPost, url: displayRawURL(endpoint), claims: claims,
		hint: func(status int) string { return s.hint(status, code) }, parse: awsMessage, mask: mask}
	form := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {stsVersion},
		"RoleArn":          {s.roleARN},
		"RoleSessionName":  {s.sessionName},
		"WebIdentityToken": {idt},
		"DurationSeconds":  {strconv.Itoa(int(STSSessionDuration / time.Second))},
	}
	h := http.Header{
		"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"},
		"Accept":       {"text/xml"},
		"User-Agent":   {UserAgent},
	}
	a, err := c.send(ctx, &call{method: sc.method, url: endpoint, header: h, body: []byte(form.Encode()), retryAnswer: awsThrottled})
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) {
			e, _ := parseAWSError(nil, he.body)
			code = e.Code
		}
		return nil, s.transportHint(sc.fail(err))
	}
	if a.status/100 != 2 {
		e, _ := parseAWSError(a.header, a.body)
		code = e.Code
		return nil, sc.failed(a)
	}
	cr, err := parseSTSAnswer(a.body, a.header.Get("Content-Type"))
	if err != nil {
		sc.maskFound(err)
		return nil, sc.bad(a.status, err)
	}
	cr.mask(sc.red, mask)
	if err := cr.check(); err != nil {
		return nil, sc.bad(a.status, err)
	}
	return cr, nil
}

// transportHint adds a hint to a failure without an answer when the
// endpoint's host does not resolve: usually a wrong aws-region.
func (s *stsCall) transportHint(err error) error {
	return addDNSHint(err, s.region, EnvEndpointURLSTS)
}

func addDNSHint(err error, region, envName string) error {
	var re *RequestError
	var dns *net.DNSError
	if errors.As(err, &re) && errors.As(err, &dns) && re.Hint == "" {
		re.Hint = fmt.Sprintf("the host %s does not resolve: check aws-region (%q, a region code such as us-east-1), or %s / %s if set", dns.Name, region, envName, EnvEndpointURL)
	}
	return err
}

// hint says what to fix after STS refused, by error code.
func (s *stsCall) hint(status int, code string) string {
	account := "<account>"
	if parts := strings.Split(s.roleARN, ":"); len(parts) > 4 && parts[4] != "" {
		account = parts[4]
	}
	sub := "matching the sub claim listed below"
	if s.subject != "" {
		sub = fmt.Sprintf("matching %q (this job's sub claim; StringLike with * to allow more)", s.subject)
	}
	trust := fmt.Sprintf("the trust policy of role %s must allow sts:AssumeRoleWithWebIdentity for the federated principal "+
		"arn:aws:iam::%s:oidc-provider/token.actions.githubusercontent.com, with the conditions "+
		"token.actions.githubusercontent.com:aud = %q and token.actions.githubusercontent.com:sub %s "+
		"(repo:OWNER/REPO:ref:refs/heads/BRANCH, or repo:OWNER/REPO:environment:NAME when the job has an environment)", s.roleARN, account, s.audience, sub)
	switch code {
	case "AccessDenied":
		return "STS refused to let this ID token assume the role: " + trust + "; also check role-to-assume names the role you mean"
	case "InvalidIdentityToken":
		return fmt.Sprintf("STS did not accept the ID token: the role's account needs an IAM OIDC identity provider for https://token.actions.githubusercontent.com "+
			"whose audiences (client IDs) include %q, the aud claim listed below (set the audience input to match the provider); then %s", s.audience, trust)
	case "ExpiredTokenException":
		return "the ID token had expired when STS checked it; re-run the job, and check the runner's clock"
	case "IDPRejectedClaim", "IDPCommunicationError":
		return "STS could not check the ID token with GitHub's OIDC issuer; this is usually transient: re-run the job"
	case "ValidationError":
		return fmt.Sprintf("check role-to-assume (%q, an IAM role ARN like arn:aws:iam::123456789012:role/NAME) and role-session-name (%q: 2 to 64 of A-Z a-z 0-9 _ + = , . @ -)", s.roleARN, s.sessionName)
	case "RegionDisabledException":
		return fmt.Sprintf("STS is not activated in %s for the role's account: activate the region in IAM > Account settings, or choose another aws-region", s.region)
	case "MalformedPolicyDocument", "PackedPolicyTooLarge":
		return "STS refused the session policy; check the role's trust policy"
	}
	switch {
	case status == http.StatusTooManyRequests || code == "Throttling":
		return "STS kept throttling the call; retry later or raise the retries input"
	case status >= 500:
		return "STS kept failing; this is usually transient: re-run the job, or raise the retries input"
	case status == http.StatusForbidden || status == http.StatusBadRequest:
		return trust
	case status == http.StatusNotFound:
		return fmt.Sprintf("a 404 means the STS endpoint is wrong: check aws-region (%q) and %s / %s if set", s.region, EnvEndpointURLSTS, EnvEndpointURL)
	}
	return ""
}

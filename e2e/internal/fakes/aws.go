package fakes

import (
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWS defaults of a Stack.
const (
	DefaultAWSRegion  = "eu-west-2"
	DefaultAWSAccount = "111122223333"
	DefaultAWSRole    = "arn:aws:iam::111122223333:role/cargo-oidc-e2e"
	DefaultCADomain   = "e2e-domain"
	DefaultCARepo     = "cargo-e2e"
	stsAudience       = "sts.amazonaws.com"
	caTokenPath       = "/v1/authorization-token" // GetAuthorizationToken
)

// Token kinds of the AWS fakes in the TokenStore.
const (
	KindAWSAccessKeyID     = "aws-access-key-id"
	KindAWSSecretAccessKey = "aws-secret-access-key"
	KindAWSSessionToken    = "aws-session-token"
)

type awsSession struct {
	secret, token string
	role, name    string
	expires       time.Time
}

// STS plays AssumeRoleWithWebIdentity (Query API, XML answers), checking the
// session name and duration, the ID token, the role ARN and its trust policy.
type STS struct {
	service
	RoleARN string // the only role

	smu      sync.Mutex
	sessions map[string]*awsSession
	names    []string
}

// SessionNames returns the RoleSessionName of every successful call.
func (s *STS) SessionNames() []string {
	s.smu.Lock()
	defer s.smu.Unlock()
	return append([]string(nil), s.names...)
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
		`<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>
`, code, xmlText(msg), guid())
}

var sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	parseErr := r.ParseForm()
	f := r.Form
	d := cmp.Or(f.Get("DurationSeconds"), "3600")
	dur, durErr := strconv.Atoi(d)
	claims, err := s.v.verify(r.Context(), f.Get("WebIdentityToken"), s.auds)
	var ve *verifyError
	errors.As(err, &ve)
	status, code, msg := http.StatusBadRequest, "", ""
	switch {
	case r.URL.Path != "/":
		status, code, msg = http.StatusNotFound, "InvalidAction", "Could not find operation for "+r.URL.Path
	case r.Method != http.MethodPost && r.Method != http.MethodGet:
		status, code, msg = http.StatusMethodNotAllowed, "InvalidAction", "method not allowed"
	case parseErr != nil:
		code, msg = "MalformedInput", "could not parse the request"
	case f.Get("Action") != "AssumeRoleWithWebIdentity" || f.Get("Version") != "2011-06-15":
		code, msg = "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", f.Get("Action"), f.Get("Version"))
	case f.Get("WebIdentityToken") == "" || f.Get("RoleArn") == "" || f.Get("RoleSessionName") == "":
		code, msg = "MissingParameter", "The request must contain the parameters RoleArn, RoleSessionName and WebIdentityToken"
	case !sessionNameRe.MatchString(f.Get("RoleSessionName")):
		code, msg = "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
	case durErr != nil || dur < 900 || dur > 43200:
		code, msg = "ValidationError", "1 validation error detected: Value '"+d+"' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
	case ve != nil && ve.reason == reasonExpired:
		code, msg = "ExpiredTokenException", "Token expired: current date/time must be before the expiration date/time "+ve.got
	case ve != nil && ve.reason == reasonAudience:
		code, msg = "InvalidIdentityToken", "Incorrect token audience"
	case ve != nil:
		code, msg = "InvalidIdentityToken", "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
	case f.Get("RoleArn") != s.RoleARN || checkMapping(claims, s.mapping) != nil:
		// A missing role and a trust policy that does not match look the same.
		status, code, msg = http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"
	}
	if code != "" {
		stsError(w, status, code, msg)
		return
	}
	ttl := time.Duration(dur) * time.Second
	akid := "ASIA" + strings.ToUpper(randomAlnum(16))
	ss := &awsSession{secret: randomAlnum(40), token: "IQoJb3JpZ2luX2VjE" + randomAlnum(300), role: s.RoleARN, name: f.Get("RoleSessionName"), expires: time.Now().Add(ttl)}
	s.store.Add(KindAWSAccessKeyID, "sts", akid, ttl)
	s.store.Add(KindAWSSecretAccessKey, "sts", ss.secret, ttl)
	s.store.Add(KindAWSSessionToken, "sts", ss.token, ttl)
	s.smu.Lock()
	s.sessions[akid] = ss
	s.names = append(s.names, ss.name)
	s.smu.Unlock()
	account := strings.Split(s.RoleARN, ":")[4]
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>`+
		`<Audience>%s</Audience><AssumedRoleUser><AssumedRoleId>AROA%s:%s</AssumedRoleId><Arn>%s</Arn></AssumedRoleUser>`+
		`<Provider>arn:aws:iam::%s:oidc-provider/token.actions.githubusercontent.com</Provider><Credentials><AccessKeyId>%s</AccessKeyId>`+
		`<SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>`+
		`<SubjectFromWebIdentityToken>%s</SubjectFromWebIdentityToken></AssumeRoleWithWebIdentityResult>`+
		`<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>
`, xmlText(strings.Join(claimStrings(claims["aud"]), ",")), strings.ToUpper(randomAlnum(17)), ss.name, ss.arn(), account,
		akid, ss.secret, ss.token, ss.expires.UTC().Format(time.RFC3339), xmlText(claimString(claims["sub"])), guid())
}

// CodeArtifact plays GetAuthorizationToken: it recomputes the SigV4 signature
// with the secret STS issued and checks the session, region, domain and owner.
type CodeArtifact struct {
	service
	sts                   *STS
	Region, Domain, Owner string // the one domain
}

func (c *CodeArtifact) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(caTokenPath, c.Faults.wrap(http.HandlerFunc(c.serve)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		caError(w, http.StatusNotFound, "ResourceNotFoundException", "Unknown operation "+r.URL.Path)
	})
	return countRequests(c.store, mux)
}

// caError answers in the restJson1 shape (the code in x-amzn-ErrorType).
func caError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-Errortype", code+":http://internal.amazon.com/coral/com.amazonaws.codeartifact/")
	w.Header().Set("X-Amzn-Requestid", guid())
	writeJSON(w, status, map[string]string{"message": msg})
}

func (ss *awsSession) arn() string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", strings.Split(ss.role, ":")[4], ss.role[strings.LastIndex(ss.role, "/")+1:], ss.name)
}

func (c *CodeArtifact) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	ss, code, msg := c.authenticate(r)
	q := r.URL.Query()
	domain, owner := q.Get("domain"), q.Get("domain-owner")
	n, durErr := strconv.Atoi(cmp.Or(q.Get("duration"), "43200")) // 0: the credentials' lifetime
	status := http.StatusForbidden
	switch {
	case r.Method != http.MethodPost:
		status, code, msg = http.StatusMethodNotAllowed, "ValidationException", "GetAuthorizationToken needs POST"
	case code != "":
	case domain == "":
		status, code, msg = http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'domain' failed to satisfy constraint: Member must not be null"
	case owner != "" && owner != c.Owner:
		code, msg = "AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: codeartifact:GetAuthorizationToken on resource: arn:aws:codeartifact:%s:%s:domain/%s because no resource-based policy allows the codeartifact:GetAuthorizationToken action", ss.arn(), c.Region, owner, domain)
	case domain != c.Domain:
		status, code, msg = http.StatusNotFound, "ResourceNotFoundException", fmt.Sprintf("Domain not found. Domain name: %s, domain owner: %s", domain, c.Owner)
	case durErr != nil || (n != 0 && (n < 900 || n > 43200)):
		status, code, msg = http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"
	}
	if code != "" {
		caError(w, status, code, msg)
		return
	}
	ttl := time.Duration(n) * time.Second
	if n == 0 {
		ttl = time.Until(ss.expires)
	}
	if c.ttl > 0 {
		ttl = c.ttl // a test asked for short-lived tokens
	}
	tok := "eyJ2ZXIiOjEsImlzdSI6" + randomAlnum(24) + "." + randomAlnum(400)
	it := c.store.Add(KindAccessToken, "codeartifact", tok, ttl)
	writeJSON(w, http.StatusOK, map[string]any{"authorizationToken": tok, "expiration": it.ExpiresAt.Unix()})
}

// authenticate checks the request's SigV4 signature as AWS does and returns
// the session, or the error code and message AWS would answer.
func (c *CodeArtifact) authenticate(r *http.Request) (*awsSession, string, string) {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return nil, "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" || fields["Signature"] == "" || fields["SignedHeaders"] == "" {
		return nil, "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters"
	}
	c.sts.smu.Lock()
	ss, ok := c.sts.sessions[cred[0]]
	c.sts.smu.Unlock()
	if !ok || r.Header.Get("X-Amz-Security-Token") != ss.token {
		return nil, "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if !time.Now().Before(ss.expires) {
		return nil, "ExpiredTokenException", "The security token included in the request is expired"
	}
	if cred[2] != c.Region {
		return nil, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", cred[2])
	}
	signedAt, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date")) // unparsable: the zero time, expired
	if d := time.Since(signedAt); d > 5*time.Minute || d < -5*time.Minute {
		return nil, "InvalidSignatureException", "Signature expired: " + r.Header.Get("X-Amz-Date") + " is now earlier or later than the allowed 5 minutes"
	}
	re, err := http.NewRequest(r.Method, "https://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return nil, "InvalidSignatureException", "cannot rebuild the request"
	}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h != "host" && h != "x-amz-date" && h != "x-amz-security-token" {
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: cred[0], SecretAccessKey: ss.secret, SessionToken: ss.token}
	const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, re, emptySHA, "codeartifact", c.Region, signedAt); err != nil {
		return nil, "InvalidSignatureException", "cannot sign"
	}
	if re.Header.Get("Authorization") != auth {
		return nil, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	}
	return ss, "", ""
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

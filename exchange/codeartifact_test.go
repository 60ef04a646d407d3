package exchange

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	tAccessKey = "ASIAEXAMPLEACCESSKEY1"
	tSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYsecretKEY01"
	tSession   = "FwoGZXIvYXdzEXAMPLEsessionTOKEN+abc/def=="
	tCAToken   = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.codeartifact-token-value-0123456789"
	tRoleARN   = "arn:aws:iam::111122223333:role/cargo-ci"
	tAssumed   = "arn:aws:sts::111122223333:assumed-role/cargo-ci/cargo-oidc-42-1"
)

func stsOK(access, secret, session string) string {
	return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:octo/app:ref:refs/heads/main</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>` + tAssumed + `</Arn>
      <AssumedRoleId>AROAEXAMPLE:cargo-oidc-42-1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>` + session + `</SessionToken>
      <SecretAccessKey>` + secret + `</SecretAccessKey>
      <Expiration>2026-01-02T03:19:05Z</Expiration>
      <AccessKeyId>` + access + `</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`
}

func stsErr(code, msg string) string {
	return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>` + code + `</Code><Message>` + msg + `</Message></Error>
  <RequestId>4b2f1d7e-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>`
}

// awsAnswer is one canned answer of the fake AWS.
type awsAnswer struct {
	status int
	ctype  string
	header map[string]string
	body   string
}

// fakeAWS serves STS (POST /) and CodeArtifact (POST
// /v1/authorization-token) from queues of answers; an empty queue gives
// the success answer.
func fakeAWS(t *testing.T, sts, ca []awsAnswer) *fake {
	t.Helper()
	var si, ci int
	return newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var a awsAnswer
		switch r.URL.Path {
		case "/":
			a = awsAnswer{200, "text/xml", nil, stsOK(tAccessKey, tSecretKey, tSession)}
			if si < len(sts) {
				a = sts[si]
			}
			si++
		case "/v1/authorization-token":
			a = awsAnswer{200, "application/json", nil, fmt.Sprintf(`{"authorizationToken":%q,"expiration":%d}`, tCAToken, fixedNow.Add(2*time.Hour).Unix())}
			if ci < len(ca) {
				a = ca[ci]
			}
			ci++
		default:
			a = awsAnswer{404, "text/plain", nil, "no such path"}
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", a.ctype)
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	})
}

func newCA(f *fake, m *recMask) *CodeArtifact {
	return &CodeArtifact{Client: testClient(2), Region: "eu-west-2", RoleARN: tRoleARN, RoleSessionName: "cargo-oidc-42-1",
		Domain: "my-domain", DomainOwner: "111122223333", Endpoints: AWSEndpoints{STS: f.URL, CodeArtifact: f.URL},
		Mask: m.mask, Now: nowFixed}
}

// sigV4 recomputes a SigV4 Authorization header from the request as the
// server saw it, independently of the SDK: the canonical request, the string
// to sign and the derived key of the AWS documentation.
func sigV4(r recorded, host, secret, region, service string) (string, error) {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "", fmt.Errorf("authorization %q is not SigV4", auth)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if len(amzDate) != 16 {
		return "", fmt.Errorf("x-amz-date %q", amzDate)
	}
	scope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	if fields["Credential"] != tAccessKey+"/"+scope {
		return "", fmt.Errorf("credential %q, want %s/%s", fields["Credential"], tAccessKey, scope)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	var ch strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = host
		}
		ch.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	q, _ := url.ParseQuery(r.Query)
	var keys []string
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cq []string
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	for _, k := range keys {
		cq = append(cq, enc(k)+"="+enc(q.Get(k)))
	}
	body := sha256.Sum256([]byte(r.Body))
	creq := strings.Join([]string{r.Method, r.Path, strings.Join(cq, "&"), ch.String(), fields["SignedHeaders"], hex.EncodeToString(body[:])}, "\n")
	h := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), amzDate[:8])
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, "aws4_request")
	want := hex.EncodeToString(mac(k, sts))
	if fields["Signature"] != want {
		return "", fmt.Errorf("signature %s, recomputed %s", fields["Signature"], want)
	}
	return want, nil
}

func TestCodeArtifactExchange(t *testing.T) {
	t.Parallel()
	for _, dur := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprint(dur), func(t *testing.T) {
			t.Parallel()
			f := fakeAWS(t, nil, nil)
			m := &recMask{}
			ca := newCA(f, m)
			ca.Duration = dur
			ids := &mintingIDs{}
			tok, err := ca.Exchange(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value != tCAToken || !tok.ExpiresAt.Equal(fixedNow.Add(2*time.Hour)) || tok.Username != tAssumed {
				t.Fatalf("token %+v", tok)
			}
			if ca.IDTokenAudience() != STSAudience || len(ids.auds) != 1 || ids.auds[0] != STSAudience {
				t.Fatalf("audiences %v", ids.auds)
			}
			if got := m.list(); strings.Join(got, " ") != strings.Join([]string{tAccessKey, tSecretKey, tSession, tCAToken}, " ") {
				t.Fatalf("masked %q", got)
			}
			reqs := f.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			s := reqs[0]
			form, _ := url.ParseQuery(s.Body)
			if s.Method != "POST" || s.Path != "/" || s.Query != "" || !strings.HasPrefix(s.Header.Get("Content-Type"), "application/x-www-form-urlencoded") ||
				s.Header.Get("Authorization") != "" {
				t.Fatalf("sts request %+v", s)
			}
			want := map[string]string{"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": tRoleARN,
				"RoleSessionName": "cargo-oidc-42-1", "DurationSeconds": "900", "WebIdentityToken": fakeJWT(githubClaims(1))}
			for k, v := range want {
				if form.Get(k) != v {
					t.Errorf("sts form %s = %q, want %q", k, form.Get(k), v)
				}
			}
			c := reqs[1]
			q, _ := url.ParseQuery(c.Query)
			if c.Method != "POST" || c.Path != "/v1/authorization-token" || q.Get("domain") != "my-domain" || q.Get("domain-owner") != "111122223333" {
				t.Fatalf("codeartifact request %+v", c)
			}
			if wantDur := map[time.Duration]string{0: "", time.Hour: "3600"}[dur]; q.Get("duration") != wantDur || (dur == 0 && q.Has("duration")) {
				t.Fatalf("duration %q, want %q", q.Get("duration"), wantDur)
			}
			if c.Header.Get("X-Amz-Security-Token") != tSession {
				t.Fatal("no session token header")
			}
			if _, err := sigV4(c, strings.TrimPrefix(f.URL, "http://"), tSecretKey, "eu-west-2", "codeartifact"); err != nil {
				t.Fatal(err)
			}
			if _, err := sigV4(c, strings.TrimPrefix(f.URL, "http://"), "another-secret", "eu-west-2", "codeartifact"); err == nil {
				t.Fatal("the signature verifies with the wrong secret: the check is vacuous")
			}
			if !strings.Contains(c.Header.Get("Authorization"), "/"+fixedNow.Format("20060102")+"/eu-west-2/codeartifact/aws4_request") {
				t.Fatalf("scope %q", c.Header.Get("Authorization"))
			}
		})
	}
}

func TestCodeArtifactErrors(t *testing.T) {
	t.Parallel()
	hdr := func(code string) map[string]string {
		return map[string]string{"X-Amzn-Errortype": code + ":http://internal.amazon.com/coral/com.amazonaws.codeartifact/"}
	}
	tests := []struct {
		name          string
		sts, ca       []awsAnswer
		svc           string
		status        int
		wantErr, hint []string
		stsN, caN     int
		claims        bool
	}{
		{name: "sts AccessDenied", sts: []awsAnswer{{403, "text/xml", nil, stsErr("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")}},
			svc: ServiceSTS, status: 403, stsN: 1, claims: true,
			wantErr: []string{"aws sts token exchange failed", "403 Forbidden", "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"},
			hint: []string{"trust policy", tRoleARN, `token.actions.githubusercontent.com:aud = "sts.amazonaws.com"`, "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
				`token.actions.githubusercontent.com:sub matching "repo:octo/app:ref:refs/heads/main"`, "repo:OWNER/REPO:environment:NAME"}},
		{name: "sts InvalidIdentityToken", sts: []awsAnswer{{400, "text/xml", nil, stsErr("InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com")}},
			svc: ServiceSTS, status: 400, stsN: 1, claims: true,
			wantErr: []string{"400 Bad Request", "InvalidIdentityToken: No OpenIDConnect provider found"},
			hint:    []string{"IAM OIDC identity provider", "https://token.actions.githubusercontent.com", `"sts.amazonaws.com"`, "audience input"}},
		{name: "sts Throttling 400 is retried", sts: []awsAnswer{{400, "text/xml", nil, stsErr("Throttling", "Rate exceeded")}, {400, "text/xml", nil, stsErr("Throttling", "Rate exceeded")}, {400, "text/xml", nil, stsErr("Throttling", "Rate exceeded")}},
			svc: ServiceSTS, status: 400, stsN: 3, wantErr: []string{"after 3 attempts", "Throttling: Rate exceeded"}, hint: []string{"throttling"}},
		{name: "sts 503 retried then ok", sts: []awsAnswer{{503, "text/plain", nil, "Service Unavailable"}}, stsN: 2, caN: 1},
		{name: "sts Throttling then ok", sts: []awsAnswer{{400, "text/xml", nil, stsErr("Throttling", "Rate exceeded")}}, stsN: 2, caN: 1},
		{name: "sts html", sts: []awsAnswer{{200, "text/html", nil, "<html><title>Proxy login</title></html>"}}, stsN: 1, wantErr: []string{"HTML page (39 bytes)", "not shown"}},
		{name: "sts not xml", sts: []awsAnswer{{200, "text/xml", nil, "{oops"}}, stsN: 1, wantErr: []string{"not valid XML"}},
		{name: "sts other xml", sts: []awsAnswer{{200, "text/xml", nil, "<Other/>"}}, stsN: 1, wantErr: []string{"not an AssumeRoleWithWebIdentityResponse"}},
		{name: "sts no credentials", sts: []awsAnswer{{200, "text/xml", nil, stsOK("", tSecretKey, tSession)}}, stsN: 1, wantErr: []string{"access key id", "no token"}},
		{name: "sts session token with newline", sts: []awsAnswer{{200, "text/xml", nil, stsOK(tAccessKey, tSecretKey, "abcdEFGH&#10;ijklMNOP")}}, stsN: 1, wantErr: []string{"session token", "refused"}},
		{name: "ca AccessDeniedException", ca: []awsAnswer{{403, "application/json", hdr("AccessDeniedException"), `{"message":"User: ` + tAssumed + ` is not authorized to perform: codeartifact:GetAuthorizationToken"}`}},
			svc: ServiceCodeArtifact, status: 403, stsN: 1, caN: 1,
			wantErr: []string{"aws codeartifact token exchange failed", "/v1/authorization-token: 403 Forbidden: AccessDeniedException: User: "},
			hint:    []string{"codeartifact:GetAuthorizationToken", "sts:GetServiceBearerToken", "arn:aws:codeartifact:eu-west-2:111122223333:domain/my-domain", tAssumed, "domain-owner"}},
		{name: "ca ResourceNotFoundException", ca: []awsAnswer{{404, "application/json", hdr("ResourceNotFoundException"), `{"message":"Domain not found"}`}},
			svc: ServiceCodeArtifact, status: 404, stsN: 1, caN: 1, wantErr: []string{"ResourceNotFoundException: Domain not found"},
			hint: []string{`domain-owner ("111122223333"`, `aws-region ("eu-west-2"`}},
		{name: "ca bad signature", ca: []awsAnswer{{403, "application/json", nil, `{"__type":"InvalidSignatureException","message":"The request signature we calculated does not match"}`}},
			svc: ServiceCodeArtifact, status: 403, stsN: 1, caN: 1, wantErr: []string{"InvalidSignatureException"}, hint: []string{"aws-region", EnvEndpointURLCodeArtifact}},
		{name: "ca throttled then ok", ca: []awsAnswer{{429, "application/json", hdr("ThrottlingException"), `{"message":"slow down"}`}}, stsN: 1, caN: 2},
		{name: "ca 500 always", ca: []awsAnswer{{500, "application/json", nil, `{"message":"boom"}`}, {500, "application/json", nil, `{"message":"boom"}`}, {500, "application/json", nil, `{"message":"boom"}`}},
			svc: ServiceCodeArtifact, status: 500, stsN: 1, caN: 3, wantErr: []string{"after 3 attempts", "boom"}, hint: []string{"transient"}},
		{name: "ca token with newline", ca: []awsAnswer{{200, "application/json", nil, `{"authorizationToken":"abcdEFGH\nijklMNOP","expiration":1}`}}, stsN: 1, caN: 1, wantErr: []string{"authorization token", "refused"}},
		{name: "ca empty token", ca: []awsAnswer{{200, "application/json", nil, `{"authorizationToken":""}`}}, stsN: 1, caN: 1, wantErr: []string{"no token"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fakeAWS(t, tc.sts, tc.ca)
			m := &recMask{}
			tok, err := newCA(f, m).Exchange(context.Background(), staticIDs(testIDToken))
			var stsN, caN int
			for _, r := range f.requests() {
				if r.Path == "/" {
					stsN++
				} else {
					caN++
				}
			}
			if stsN != tc.stsN || caN != tc.caN {
				t.Fatalf("%d sts and %d codeartifact requests, want %d and %d", stsN, caN, tc.stsN, tc.caN)
			}
			if tc.wantErr == nil {
				if err != nil || tok.Value != tCAToken {
					t.Fatalf("err %v", err)
				}
				return
			}
			assertErr(t, err, tc.wantErr, testIDToken, tSecretKey, tSession, tAccessKey, tCAToken, "abcdEFGH", "ijklMNOP")
			if tc.status != 0 {
				var he *HTTPError
				if !errors.As(err, &he) || he.Service != tc.svc || he.StatusCode != tc.status {
					t.Fatalf("err %T %+v, want an HTTPError of %s with %d", err, he, tc.svc, tc.status)
				}
				assertHint(t, he, tc.hint)
				// The claims block is shown only under a refusal (not for
				// throttling that outlasted the retries).
				all := errText(err)
				if shown := strings.Contains(all, "sub: repo:octo/app:ref:refs/heads/main"); tc.claims != shown || (shown && he.Claims == nil) {
					t.Errorf("claims shown %v, want %v, in %q", shown, tc.claims, all)
				}
			}
		})
	}
}

func TestCodeArtifactDNSHint(t *testing.T) {
	t.Parallel()
	ca := &CodeArtifact{Client: testClient(0), Region: "eu-wset-2", RoleARN: tRoleARN, RoleSessionName: "s1", Domain: "d1", DomainOwner: "111122223333",
		Endpoints: AWSEndpoints{STS: "https://sts.eu-wset-2.invalid"}}
	_, err := ca.Exchange(context.Background(), staticIDs(testIDToken))
	var re *RequestError
	if !errors.As(err, &re) || !strings.Contains(re.Hint, "aws-region") || !strings.Contains(re.Hint, `"eu-wset-2"`) {
		t.Fatalf("err %v, hint %q", err, re)
	}
}

func TestCodeArtifactRefusesBadConfig(t *testing.T) {
	t.Parallel()
	f := fakeAWS(t, nil, nil)
	for _, mod := range []func(c *CodeArtifact){
		func(c *CodeArtifact) { c.Region = "" },
		func(c *CodeArtifact) { c.RoleARN = "" },
		func(c *CodeArtifact) { c.DomainOwner = "" },
		func(c *CodeArtifact) { c.Duration = time.Minute },
		func(c *CodeArtifact) { c.Duration = 13 * time.Hour },
		func(c *CodeArtifact) { c.Client = nil },
	} {
		c := newCA(f, &recMask{})
		mod(c)
		if _, err := c.Exchange(context.Background(), staticIDs(testIDToken)); err == nil {
			t.Errorf("no error for %+v", c)
		}
	}
	if n := f.count(); n != 0 {
		t.Fatalf("%d requests for a bad configuration", n)
	}
}

func TestAWSEndpoints(t *testing.T) {
	t.Parallel()
	if got := AWSDefaultEndpoints("us-east-1"); got != (AWSEndpoints{"https://sts.us-east-1.amazonaws.com", "https://codeartifact.us-east-1.amazonaws.com"}) {
		t.Fatal(got)
	}
	if got := AWSDefaultEndpoints("cn-north-1"); got != (AWSEndpoints{"https://sts.cn-north-1.amazonaws.com.cn", "https://codeartifact.cn-north-1.amazonaws.com.cn"}) {
		t.Fatal(got)
	}
	tests := []struct {
		env     map[string]string
		want    AWSEndpoints
		wantErr string
	}{
		{env: nil, want: AWSDefaultEndpoints("eu-west-1")},
		{env: map[string]string{EnvEndpointURL: "https://proxy.example:8443/"}, want: AWSEndpoints{"https://proxy.example:8443", "https://proxy.example:8443"}},
		{env: map[string]string{EnvEndpointURL: "https://all.example", EnvEndpointURLSTS: "https://sts.example/base"},
			want: AWSEndpoints{"https://sts.example/base", "https://all.example"}},
		{env: map[string]string{EnvEndpointURLCodeArtifact: "https://vpce-1.codeartifact.example"},
			want: AWSEndpoints{"https://sts.eu-west-1.amazonaws.com", "https://vpce-1.codeartifact.example"}},
		{env: map[string]string{EnvEndpointURLSTS: "https://sts.example", EnvIgnoreEndpointURLs: "true"}, want: AWSDefaultEndpoints("eu-west-1")},
		{env: map[string]string{EnvEndpointURLSTS: "http://sts.example"}, wantErr: EnvEndpointURLSTS + " must be an https URL"},
		{env: map[string]string{EnvEndpointURL: "https://u:p@x.example"}, wantErr: EnvEndpointURL + " must not hold user info"},
		{env: map[string]string{EnvEndpointURLCodeArtifact: "not a url"}, wantErr: EnvEndpointURLCodeArtifact + ` "not a url" is not a URL`},
	}
	for _, tc := range tests {
		got, err := AWSEndpointsFromEnv(func(k string) string { return tc.env[k] }, "eu-west-1")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want %q", tc.env, err, tc.wantErr)
			}
			if strings.Contains(fmt.Sprint(err), "u:p@") {
				t.Errorf("error shows user info: %v", err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %+v, %v; want %+v", tc.env, got, err, tc.want)
		}
	}
}

func TestParseAWSError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header    http.Header
		body      string
		code, msg string
		ok        bool
	}{
		{nil, stsErr("AccessDenied", "Not authorized &amp; more"), "AccessDenied", "Not authorized & more", true},
		{http.Header{"X-Amzn-Errortype": {"AccessDeniedException:http://internal.amazon.com/coral/x"}}, `{"message":"no"}`, "AccessDeniedException", "no", true},
		{nil, `{"__type":"com.amazon.coral.service#UnrecognizedClientException","Message":"The security token is invalid"}`, "UnrecognizedClientException", "The security token is invalid", true},
		{nil, `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`, "SlowDown", "Please reduce your request rate.", true},
		{nil, `<html><title>502</title></html>`, "", "", false},
		{nil, `plain text`, "", "", false},
		{nil, `{"message":"line\nbreak"}`, "", "line break", true},
	}
	for _, tc := range tests {
		e, ok := parseAWSError(tc.header, []byte(tc.body))
		if ok != tc.ok || e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("%q: %+v %v, want %q %q %v", tc.body, e, ok, tc.code, tc.msg, tc.ok)
		}
	}
}

func TestCodeArtifactExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw   string
		asked time.Duration
		want  time.Time
	}{
		{`1767326645`, 0, time.Unix(1767326645, 0).UTC()},
		{`1767326645.5`, 0, time.Unix(1767326645, 5e8).UTC()},
		{`"2026-01-02T05:04:05Z"`, 0, fixedNow.Add(2 * time.Hour)},
		{``, time.Hour, fixedNow.Add(time.Hour)},
		{`"garbage"`, 0, fixedNow.Add(12 * time.Hour)},
		{`-5`, 0, fixedNow.Add(12 * time.Hour)},
	}
	for _, tc := range tests {
		a := &codeArtifactAnswer{Expiration: []byte(tc.raw)}
		if got := a.expiry(fixedNow, tc.asked); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.raw, got, tc.want)
		}
	}
}

// TestSTSMalformedAnswerMasksCredentials: an STS answer that is not the XML
// expected is described by its shape, and credentials still findable in it
// are masked and redacted, never quoted.
func TestSTSMalformedAnswerMasksCredentials(t *testing.T) {
	t.Parallel()
	body := `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><SecretAccessKey>` + tSecretKey +
		`</SecretAccessKey><SessionToken>` + tSession + `</SessionToken><AccessKeyId>` + tAccessKey + `</AccessKeyId></Credentials></AssumeRoleWithWebIdentityResu`
	f := fakeAWS(t, []awsAnswer{{200, "text/xml", nil, body}}, nil)
	m := &recMask{}
	ca := newCA(f, m)
	_, err := ca.Exchange(context.Background(), staticIDs(testIDToken))
	if err == nil || !strings.Contains(err.Error(), "not valid XML") || !strings.Contains(err.Error(), "not shown") {
		t.Fatalf("err %v", err)
	}
	assertNoSecret(t, err.Error(), tSecretKey, tSession, tAccessKey)
	got := strings.Join(m.list(), " ")
	for _, s := range []string{tSecretKey, tSession, tAccessKey} {
		if !strings.Contains(got, s) {
			t.Errorf("%s... not masked", s[:6])
		}
	}
	if red := ca.Client.red.Redact("x " + tSecretKey + " y"); strings.Contains(red, tSecretKey) {
		t.Errorf("the redactor does not know the secret key")
	}
}

package exchange

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// FuzzParseSTSAnswer: the STS XML parser never panics, fails only with a
// *MalformedAnswerError whose quoted line is clean, never quotes a
// well-formed answer's secret key, and keeps the role ARN clean.
func FuzzParseSTSAnswer(f *testing.F) {
	f.Add([]byte(stsOK(tAccessKey, tSecretKey, tSession)), "text/xml")
	f.Add([]byte(stsErr("AccessDenied", "no")), "text/xml")
	f.Add([]byte(`<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><Expiration>x</Expiration>`), "")
	f.Add([]byte("<!DOCTYPE html><title>t</title>"), "text/html")
	f.Add([]byte(`<a xmlns:x="&bogus;"><![CDATA[`), "")
	f.Add([]byte("{\"json\":1}"), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		c, err := parseSTSAnswer(body, ctype)
		if err != nil {
			checkMalformed(t, err)
			if me := err.(*MalformedAnswerError); strings.Contains(me.Error(), tSecretKey) {
				t.Fatalf("error quotes the secret key: %q", me)
			}
			return
		}
		checkMessage(t, c.AssumedRoleARN)
		if c.SecretAccessKey != strings.TrimSpace(c.SecretAccessKey) {
			t.Fatal("untrimmed secret")
		}
	})
}

// FuzzParseAWSError: AWS error answers (XML, JSON, header) give clean,
// bounded codes and messages.
func FuzzParseAWSError(f *testing.F) {
	f.Add([]byte(stsErr("Throttling", "Rate exceeded")), "")
	f.Add([]byte(`{"__type":"a#B:c","message":"m\n\x00"}`), "AccessDeniedException:http://x")
	f.Add([]byte(`{"code":"X","Message":"y"}`), "")
	f.Add([]byte(`<Error><Code>`+strings.Repeat("C", 500)+`</Code></Error>`), "")
	f.Fuzz(func(t *testing.T, body []byte, errType string) {
		h := http.Header{}
		if errType != "" {
			h.Set("X-Amzn-Errortype", errType)
		}
		e, _ := parseAWSError(h, body)
		checkMessage(t, e.Message)
		if len(e.Code) > maxAWSCode+3 {
			t.Fatalf("code too long: %d", len(e.Code))
		}
		checkMessage(t, e.Code)
		_ = awsThrottled(400, h, body)
		checkMessage(t, strings.TrimSuffix(awsMessage(body), "…"))
	})
}

// FuzzParseCodeArtifactAnswer: GetAuthorizationToken's answer parser and
// its expiry never panic, and the expiry is never before now unless the
// answer said so.
func FuzzParseCodeArtifactAnswer(f *testing.F) {
	f.Add([]byte(`{"authorizationToken":"t","expiration":1767326645}`), "application/json")
	f.Add([]byte(`{"authorizationToken":"t","expiration":"2026-01-02T00:00:00Z"}`), "")
	f.Add([]byte(`{"expiration":1e400}`), "")
	f.Add([]byte(`<html>`), "text/html")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		a, err := parseAnswer[codeArtifactAnswer](body, ctype)
		if err != nil {
			checkMalformed(t, err)
			return
		}
		exp := a.expiry(fixedNow, time.Hour)
		if exp.IsZero() {
			t.Fatal("zero expiry")
		}
	})
}

// FuzzAWSEndpointsFromEnv: an endpoint variable gives an https base URL
// without user info, query or fragment, or an error that never shows user
// info, a query or a fragment (the error's own words hold no @, ? or #).
func FuzzAWSEndpointsFromEnv(f *testing.F) {
	f.Add("https://sts.example", "", "eu-west-1")
	f.Add("http://x", "https://u:p@y", "cn-north-1")
	f.Add("", "not a url", "us-east-1")
	f.Add("https://h/p?q#f", "ftp://h", "")
	f.Add("https://a b/?q=1", "u:p/w@h h", "eu-west-1")
	f.Fuzz(func(t *testing.T, sts, global, region string) {
		env := map[string]string{EnvEndpointURLSTS: sts, EnvEndpointURL: global}
		ep, err := AWSEndpointsFromEnv(testenv.Getenv(env), region)
		if err != nil {
			if strings.ContainsAny(region, "@?#") {
				return // the region is shown as given
			}
			if strings.ContainsAny(err.Error(), "@?#") {
				t.Fatalf("error shows user info, a query or a fragment: %q", err)
			}
			return
		}
		for _, u := range []string{ep.STS, ep.CodeArtifact} {
			if (sts != "" || global != "") && u != AWSDefaultEndpoints(region).STS && u != AWSDefaultEndpoints(region).CodeArtifact {
				pu, perr := url.Parse(u)
				if perr != nil || pu.Scheme != "https" || pu.User != nil || pu.RawQuery != "" || pu.Fragment != "" {
					t.Fatalf("endpoint %q from %q / %q", u, sts, global)
				}
			}
		}
	})
}

package exchange

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// oneLine is s without its newlines: a whole XML document on one line, so
// that a "first line" would be all of it.
func oneLine(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "\n", ""), "  ", "") }

// TestErrorAnswerNeverQuotesSuccessShape: a non-success answer is quoted
// only through the fields of an error shape; one that carries a success
// answer's secrets (an AssumeRoleWithWebIdentityResponse with a 400, a
// token object with a 403 or a 503) is described without a word of it,
// and what it carried is masked and known to the redactor.
func TestErrorAnswerNeverQuotesSuccessShape(t *testing.T) {
	t.Parallel()
	cioTok := "cio_tp_" + strings.Repeat("Zq8", 10) + "xY"
	jfTok := "eyJ2ZXIiOiIyIn0.jfrog-access-token-value"
	tests := []struct {
		name    string
		sts, ca []awsAnswer
		service string // "" = CodeArtifact
		status  int
		body    string
		ctype   string
		secrets []string
		want    []string
	}{
		{name: "sts 400 with a success answer on one line", sts: []awsAnswer{{400, "text/xml", nil, oneLine(stsOK(tAccessKey, tSecretKey, tSession))}},
			secrets: []string{tSecretKey, tSession, tAccessKey}, want: []string{"400 Bad Request", "has the shape of a success answer", "not shown"}},
		{name: "sts 403 with credentials and an error code", sts: []awsAnswer{{403, "text/xml", nil, oneLine(stsErr("AccessDenied", "<SecretAccessKey>"+tSecretKey+"</SecretAccessKey>"))}},
			secrets: []string{tSecretKey}, want: []string{"403 Forbidden", "success answer"}},
		{name: "sts 503 retried with a success answer", sts: []awsAnswer{
			{503, "text/xml", nil, oneLine(stsOK(tAccessKey, tSecretKey, tSession))},
			{503, "text/xml", nil, oneLine(stsOK(tAccessKey, tSecretKey, tSession))},
			{503, "text/xml", nil, oneLine(stsOK(tAccessKey, tSecretKey, tSession))}},
			secrets: []string{tSecretKey, tSession, tAccessKey}, want: []string{"503 Service Unavailable (after 3 attempts)", "success answer"}},
		{name: "codeartifact 403 with a token", ca: []awsAnswer{{403, "application/json", nil, `{"authorizationToken":"` + tCAToken + `","message":"denied"}`}},
			secrets: []string{tCAToken}, want: []string{"403 Forbidden", "success answer"}},
		{name: "crates.io 400 with a token and a detail", service: ServiceCratesIO, status: 400, ctype: "application/json",
			body: `{"token":"` + cioTok + `","errors":[{"detail":"nope"}]}`, secrets: []string{cioTok}, want: []string{"400 Bad Request", "success answer", "1 token(s) found in it were masked and revoked"}},
		{name: "crates.io 500 plain text token", service: ServiceCratesIO, status: 500, ctype: "text/plain",
			body: "token " + cioTok + " issued", secrets: []string{cioTok}, want: []string{"500 Internal Server Error", "looks like a token", "masked and revoked"}},
		{name: "jfrog 401 with an access token", service: ServiceJFrog, status: 401, ctype: "application/json",
			body: `{"access_token":"` + jfTok + `","errors":[{"message":"x"}]}`, secrets: []string{jfTok}, want: []string{"401 Unauthorized", "success answer"}},
		{name: "cloudsmith 403 with a token", service: ServiceCloudsmith, status: 403, ctype: "application/json",
			body: `{"token":"` + jfTok + `"}`, secrets: []string{jfTok}, want: []string{"403 Forbidden", "success answer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &recMask{}
			red := NewRedactor()
			client := NewClient(HTTPConfig{Retries: 2, WaitMin: 1, WaitMax: 2, Redactor: red})
			var err error
			if tc.service == "" {
				f := fakeAWS(t, tc.sts, tc.ca)
				ca := newCA(f, m)
				ca.Client = client
				_, err = ca.Exchange(context.Background(), staticIDs(testIDToken))
			} else {
				f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
					if r.Method == http.MethodDelete {
						if r.URL.Path != cratesIOPath || r.Header.Get("Authorization") != "Bearer "+tc.secrets[0] {
							w.WriteHeader(418)
							return
						}
						w.WriteHeader(204)
						return
					}
					w.Header().Set("Content-Type", tc.ctype)
					w.WriteHeader(tc.status)
					fmt.Fprint(w, tc.body)
				})
				var svc Service
				switch tc.service {
				case ServiceCratesIO:
					svc = &CratesIO{Client: client, BaseURL: f.URL, Mask: m.mask, Now: nowFixed}
				case ServiceJFrog:
					svc = &JFrog{Client: client, BaseURL: f.URL, ProviderName: "gh", Mask: m.mask, Now: nowFixed}
				case ServiceCloudsmith:
					svc = &Cloudsmith{Client: client, BaseURL: f.URL, Namespace: "ns", ServiceSlug: "svc", Mask: m.mask, Now: nowFixed}
				}
				_, err = svc.Exchange(context.Background(), &mintingIDs{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			all := errText(err)
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("err %q lacks %q", all, w)
				}
			}
			for _, s := range tc.secrets {
				for _, part := range []string{s, s[:12], s[len(s)-12:]} {
					if strings.Contains(all, part) {
						t.Fatalf("err quotes the secret %q: %q", part, all)
					}
				}
			}
			masked := strings.Join(m.list(), "\n")
			for _, s := range tc.secrets {
				if !strings.Contains(masked, s) {
					t.Errorf("%s... was not masked (masked: %q)", s[:8], m.list())
				}
				if got := red.Redact("x " + s + " y"); strings.Contains(got, s) {
					t.Errorf("the redactor does not know %s...", s[:8])
				}
			}
		})
	}
}

// TestErrorAnswerQuotesErrorFields: what an error answer says is quoted
// through its error fields only; a structured answer without them is not
// quoted at all.
func TestErrorAnswerQuotesErrorFields(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, ctype, body, want string }{
		{"aws xml", "text/xml", stsErr("AccessDenied", "Not authorized"), ": AccessDenied: Not authorized"},
		{"json errors detail", "application/json", `{"errors":[{"detail":"JWT has already been used"}]}`, ": JWT has already been used"},
		{"json detail", "application/json", `{"detail":"Invalid token."}`, ": Invalid token."},
		{"json without an error field", "application/json", `{"user":"octo","session":"abc"}`, "400 Bad Request"},
		{"xml without an error shape", "text/xml", `<Other><Secret>value-that-is-private</Secret></Other>`, "400 Bad Request"},
		{"plain text line", "text/plain", "upstream connect error\nmore", ": upstream connect error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			he := newHTTPError(NewRedactor(), ServiceCratesIO, "POST", "https://x/y", 400, tc.ctype, []byte(tc.body), 1)
			if !strings.HasSuffix(he.Error(), tc.want) {
				t.Fatalf("err %q does not end in %q", he.Error(), tc.want)
			}
			for _, never := range []string{"octo", "session", "value-that-is-private", "<Other>"} {
				if strings.Contains(he.Error(), never) {
					t.Fatalf("err %q quotes %q", he.Error(), never)
				}
			}
		})
	}
}

// TestRedactorCleanBase64Secrets: secrets in base64 (with / + =), AWS
// secret access keys (40 characters) and session tokens are removed by
// pattern even when nothing recorded them; paths and words stay.
func TestRedactorCleanBase64Secrets(t *testing.T) {
	t.Parallel()
	awsKey := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" // AWS's documented example, 40 characters
	awsKey2 := "aB3dE5fG7hI9/kL1mN3oP5qR7sT9uV1wX3yZ5+Ab"
	noDigits := "wJalrXUtnFEMIaK/MDENGbPxRfiCYEXAMPLEKEY+"
	session := "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6VVF+aBc/dEf=="
	std := "dGhpcyBpcyBhIHNlY3JldCB0aGF0IGlzIGxvbmcgZW5vdWdo/+=="
	tests := []struct {
		name, in string
		gone     []string
		kept     []string
	}{
		{"aws example key", "key " + awsKey + " end", []string{"wJalrXUtnFEMI", "bPxRfiCYEXAMPLEKEY"}, []string{"key ", " end"}},
		{"aws key with plus", "<SecretAccessKey>" + awsKey2 + "</SecretAccessKey>", []string{"aB3dE5fG7hI9", "uV1wX3yZ5"}, nil},
		{"aws key without digits", "k=" + noDigits, []string{"wJalrXUtnFEMIaK", "MDENGbPxRfiCYEXAMPLEKEY"}, nil},
		{"session token", "t " + session, []string{"IQoJb3JpZ2luX2Vj", "dEf=="}, nil},
		{"standard base64", std, []string{"dGhpcyBpcyBh", "IGxvbmcgZW5vdWdo"}, nil},
		{"paths kept", "404 Not Found: no route /api/v1/trusted_publishing/tokens/for-this-long-path", nil, []string{"/api/v1/trusted_publishing/tokens/for-this-long-path"}},
		{"url kept", "see https://docs.example.com/artifactory/api/cargo/my-repository/index/config.json", nil, []string{"/artifactory/api/cargo/my-repository/index/config.json"}},
		{"sentence kept", "Not authorized to perform sts:AssumeRoleWithWebIdentity", nil, []string{"sts:AssumeRoleWithWebIdentity"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := NewRedactor().Clean(tc.in)
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q still holds %q", got, g)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(got, k) {
					t.Errorf("%q lost %q", got, k)
				}
			}
		})
	}
}

// TestAWSEndpointVariableNotShown: an endpoint variable is named in errors
// without its user info, query and fragment, parsable or not.
func TestAWSEndpointVariableNotShown(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		"https://sts.exa mple.com/base?X-Amz-Security-Token=QUERYSECRET#FRAGSECRET",
		"https://USERSECRET:PASSSECRET@sts.exa mple.com/?QUERYSECRET",
		"https://USERSECRET:PASS SECRET@[::1/x#FRAGSECRET",
		"%zz?QUERYSECRET",
		"USERSECRET:PASSSECRET@host name/path?QUERYSECRET",
		"https://sts.example.com:99999999999/?QUERYSECRET#FRAGSECRET",
		"http://USERSECRET:PASSSECRET@sts.example.com/?QUERYSECRET",
		"https://sts.example.com/?QUERYSECRET",
		"https://USERSECRET@sts.example.com/",
		"ftp://sts.example.com/x#FRAGSECRET",
		"https://?QUERYSECRET",
		"https://USERSECRET:PASS/SECRET@sts.example.com/",
		"https://USERSECRET:PASS/SECRET@sts.exa mple.com/",
	} {
		for _, name := range []string{EnvEndpointURLSTS, EnvEndpointURL, EnvEndpointURLCodeArtifact} {
			_, err := AWSEndpointsFromEnv(func(k string) string {
				if k == name {
					return v
				}
				return ""
			}, "eu-west-1")
			if err == nil {
				t.Fatalf("%s=%q: no error", name, v)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: err %q does not name the variable", name, v, err)
			}
			for _, s := range []string{"SECRET", "%zz?"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%s=%q: err %q shows user info, query or fragment", name, v, err)
				}
			}
		}
	}
	// The endpoints as given stay usable and are shown whole but clean.
	ca := &CodeArtifact{Region: "eu-west-1", Endpoints: AWSEndpoints{STS: "https://sts.example/base"}}
	if got := ca.Endpoint(); got != "STS https://sts.example/base, CodeArtifact https://codeartifact.eu-west-1.amazonaws.com" {
		t.Fatalf("Endpoint() %q", got)
	}
}

// TestCratesIOMalformedSuccessRevokesEveryToken: a success answer from
// crates.io that is not the JSON expected has every trusted publishing
// token found anywhere in it masked and revoked (DELETE on the token path
// with that token as the bearer), wherever it stands: an HTML page, a
// token in an array, a token followed by a newline.
func TestCratesIOMalformedSuccessRevokesEveryToken(t *testing.T) {
	t.Parallel()
	tok1 := "cio_tp_" + strings.Repeat("Ab1", 10) + "Cd"
	tok2 := "cio_tp_" + strings.Repeat("9zY", 10) + "Q0"
	tests := []struct {
		name, ctype, body string
		revoked           []string
	}{
		{"html page", "text/html", "<html><body><p>Your token:</p><pre>" + tok1 + "</pre><p>" + tok2 + "</p></body></html>", []string{tok1, tok2}},
		{"token in an array", "application/json", `{"token":["` + tok1 + `"]}`, []string{tok1}},
		{"token then newline", "application/json", "{\"token\":\"" + tok1 + "\n\"}", []string{tok1}},
		{"token twice", "text/plain", tok1 + " " + tok1, []string{tok1}},
		{"plain text", "text/plain", "token=" + tok2 + "; expires in 30 minutes", []string{tok2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var revoked []string
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if r.Method == http.MethodDelete {
					mu.Lock()
					revoked = append(revoked, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
					mu.Unlock()
					if r.URL.Path != cratesIOPath || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer cio_tp_") || r.ContentLength > 0 {
						w.WriteHeader(418)
						return
					}
					w.WriteHeader(204)
					return
				}
				w.Header().Set("Content-Type", tc.ctype)
				fmt.Fprint(w, tc.body)
			})
			m := &recMask{}
			red := NewRedactor()
			c := &CratesIO{Client: NewClient(HTTPConfig{Redactor: red}), BaseURL: f.URL, Mask: red.Hook(m.mask), Now: nowFixed}
			_, err := c.Exchange(context.Background(), &mintingIDs{})
			if err == nil {
				t.Fatal("no error")
			}
			mu.Lock()
			got := append([]string(nil), revoked...)
			mu.Unlock()
			if strings.Join(got, "|") != strings.Join(tc.revoked, "|") {
				t.Fatalf("revoked %q, want %q", got, tc.revoked)
			}
			for _, r := range f.requests() {
				if r.Method == http.MethodDelete && (r.Path != cratesIOPath || r.Body != "") {
					t.Fatalf("revocation %s %s with body %q", r.Method, r.Path, r.Body)
				}
			}
			if want := fmt.Sprintf("%d token(s) found in it were masked and revoked", len(tc.revoked)); !strings.Contains(err.Error(), want) {
				t.Errorf("err %q lacks %q", err, want)
			}
			for _, tok := range tc.revoked {
				assertNoSecret(t, err.Error(), tok, tok[:16])
				if !strings.Contains(strings.Join(m.list(), "\n"), tok) {
					t.Errorf("%s... not masked", tok[:12])
				}
			}
		})
	}
}

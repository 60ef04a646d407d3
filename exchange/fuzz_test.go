package exchange

import (
	"encoding/base64"
	"strings"
	"testing"
)

func FuzzDecodeClaims(f *testing.F) {
	f.Add(testIDToken)
	f.Add("a." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":["x","y"],"exp":1e300}`)) + ".b")
	f.Add("a." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"\u0000\n"}`)) + ".b")
	f.Add("..")
	f.Add("not a jwt")
	f.Fuzz(func(t *testing.T, jwt string) {
		c, err := DecodeClaims(jwt)
		if err != nil {
			if len(jwt) >= 8 && strings.Contains(err.Error(), jwt) {
				t.Fatalf("error echoes the input: %q", err)
			}
			return
		}
		for _, l := range c.Lines() {
			checkMessage(t, strings.SplitN(l, ": ", 2)[1])
		}
	})
}

func FuzzParseJFrogAnswer(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","expires_in":3600,"username":"u","reference_token":"r"}`), "application/json")
	f.Add([]byte(`{"expires_in":"12"}`), "")
	f.Add([]byte(`<html><title>x</title></html>`), "text/html")
	f.Add([]byte("{\"access_token\":\n"), "")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		a, err := parseAnswer[jfrogAnswer](body, ctype)
		if err != nil {
			checkMalformed(t, err)
			return
		}
		if a.ExpiresIn < 0 {
			t.Fatal("negative expiry")
		}
	})
}

func FuzzParseTokenAnswer(f *testing.F) {
	f.Add([]byte(`{"token":"t"}`), "")
	f.Add([]byte(`{"token":"t","expires_at":"2026-01-01T00:00:00Z","expires_in":5}`), "application/json")
	f.Add([]byte(`[]`), "")
	f.Add([]byte("<!doctype html><p>hi"), "")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		a, err := parseAnswer[tokenAnswer](body, ctype)
		if err != nil {
			checkMalformed(t, err)
			return
		}
		_ = a.expiry(fixedNow)
	})
}

func checkMalformed(t *testing.T, err error) {
	t.Helper()
	me, ok := err.(*MalformedAnswerError)
	if !ok {
		t.Fatalf("error %T", err)
	}
	checkMessage(t, me.Error())
	for _, tok := range me.found {
		if strings.Contains(me.Error(), tok) {
			t.Fatalf("the error quotes a token found in the answer: %q", me.Error())
		}
	}
}

// FuzzServiceErrorMessage covers the error-body parsers of all services
// (JFrog errors[].message, crates.io errors[].detail, Cloudsmith detail,
// AWS Code and Message) and the fallback used for HTML and text: the
// message is one bounded line, and no secret findable in the answer is
// ever quoted.
func FuzzServiceErrorMessage(f *testing.F) {
	f.Add([]byte(`{"errors":[{"code":"X","message":"m"}]}`), "application/json")
	f.Add([]byte(`{"errors":[{"detail":"d"}]}`), "")
	f.Add([]byte(`{"detail":"generic"}`), "")
	f.Add([]byte(`{"errors":["a","b"]}`), "")
	f.Add([]byte("<html><head><title>T\x00</title>"), "text/html")
	f.Add([]byte("\x1b[31mplain\ntext"), "text/plain")
	f.Add([]byte(oneLine(stsOK(tAccessKey, tSecretKey, tSession))), "text/xml")
	f.Add([]byte(`{"token":["cio_tp_0123456789abcdefABCDEF0123456789"],"detail":"x"}`), "application/json")
	f.Add([]byte("token cio_tp_0123456789abcdefABCDEF0123456789 issued"), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		var red *Redactor
		checkMessage(t, red.Clean(serviceMessage(body)))
		raw, _ := errorAnswerMessage(body, ctype, awsMessage, 0)
		checkMessage(t, strings.TrimPrefix(red.Clean(raw), "HTML page: "))
		he := newHTTPError(nil, ServiceJFrog, "POST", "https://x/y", 403, ctype, body, 1)
		if strings.ContainsAny(he.Error(), "\n\r\x00") {
			t.Fatalf("error has control characters: %q", he.Error())
		}
		const prefix = "jfrog token exchange failed: POST https://x/y: 403 Forbidden: "
		for _, s := range he.found {
			if len(s) >= minSecret && !strings.Contains(prefix+"the answer has the shape of a success answer", s) &&
				strings.Contains(he.Error(), s) {
				t.Fatalf("the error quotes %q found in the answer: %q", s, he.Error())
			}
		}
		if hasSuccessShape(body) && !he.withheld {
			t.Fatalf("an answer of a success shape is quoted: %q", he.Error())
		}
	})
}

func FuzzCleanMessage(f *testing.F) {
	f.Add("hello\nworld")
	f.Add("\xff\xfe\u202e")
	f.Add(strings.Repeat("ab", 400))
	f.Add(testIDToken)
	f.Fuzz(func(t *testing.T, s string) {
		out := CleanMessage(s)
		checkMessage(t, out)
		if CleanMessage(out) != out && !strings.HasSuffix(out, "…") {
			t.Fatalf("not idempotent: %q -> %q", out, CleanMessage(out))
		}
	})
}

func FuzzHTMLSummary(f *testing.F) {
	f.Add([]byte("<html><title>x</title></html>"))
	f.Add([]byte("<title"))
	f.Add([]byte("<script>a</script><p>b</p>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkMessage(t, CleanMessage(htmlSummary(body)))
	})
}

// FuzzRedactorClean: whatever surrounds a recorded secret, Clean removes it
// (and its JWT parts) before the cut, and its output is one bounded line.
func FuzzRedactorClean(f *testing.F) {
	f.Add("bad token ", testIDToken, " here")
	f.Add(strings.Repeat("x", 290), "cio_tp_0123456789abcdef0123456789abcdef", "")
	f.Add("\n\x00", "abcdef\nghijkl", "\u202e")
	f.Fuzz(func(t *testing.T, before, secret, after string) {
		red := NewRedactor()
		red.Add(secret)
		out := red.Clean(before + secret + after)
		checkMessage(t, out)
		whole := before + secret + after
		if len(secret) >= 40 && validToken(secret) && strings.Count(whole, secret[:20]) == 1 && strings.Contains(out, secret[:20]) {
			t.Fatalf("%q keeps the start of the secret %q", out, secret)
		}
	})
}

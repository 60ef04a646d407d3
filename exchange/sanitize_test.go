package exchange

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

func TestCleanMessage(t *testing.T) {
	type test struct{ in, want string }
	testenv.Run(t, map[string]test{
		"plain":              {"Forbidden", "Forbidden"},
		"newlines and tabs":  {"a\nb\r\n\tc  d", "a b c d"},
		"control and escape": {"a\x1b[31mred\x07\x00", "a[31mred"},
		"bidi override":      {"ab\u202ecd", "abcd"},
		"invalid utf8":       {"a\xffb", "a\uFFFDb"},
		"jwt redacted":       {"bad token " + testIDToken + " here", "bad token [redacted] here"},
		"trim":               {"  x  ", "x"},
		"bounded":            {strings.Repeat("é", 1000), strings.Repeat("é", MaxMessage) + "…"},
	}, func(t *testing.T, _ string, tc test) {
		if got := CleanMessage(tc.in); got != tc.want {
			t.Fatalf("got %q, want %q", got, tc.want)
		}
	})
}

func TestGenericMessage(t *testing.T) {
	type test struct{ ctype, body, want string }
	testenv.Run(t, map[string]test{
		"empty":                      {"", "  ", ""},
		"html title":                 {"text/html", "<html><head><TITLE>502 Bad &amp; Gateway</TITLE></head><body>" + strings.Repeat("x", 100000) + "</body></html>", "HTML page: 502 Bad & Gateway"},
		"html without content type":  {"", "<!DOCTYPE html>\n<html><body><script>var s='x'</script><h1>Service down</h1><p>later</p></body></html>", "HTML page: Service down"},
		"html no text":               {"text/html", "<html></html>", "HTML page"},
		"json message":               {"application/json", `{"message":"nope"}`, "nope"},
		"json detail":                {"", `{"detail":"Not found."}`, "Not found."},
		"json errors":                {"", `{"errors":[{"code":"A","message":"one"},{"detail":"two"},{"code":"THREE"}]}`, "one; two; THREE"},
		"json error object":          {"", `{"error":{"message":"inner"}}`, "inner"},
		"oauth":                      {"", `{"error":"invalid_grant","error_description":"expired"}`, "expired"},
		"text first line":            {"text/plain", "\n\nfirst line\nsecond", "first line"},
		"json without message":       {"", `{"foo":1}`, ""},
		"xml without an error shape": {"text/xml", `<Foo>bar</Foo>`, ""},
		"aws xml error":              {"text/xml", `<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>`, "AccessDenied: no"},
	}, func(t *testing.T, _ string, tc test) {
		if got, _ := errorAnswerMessage([]byte(tc.body), tc.ctype, nil, 0); got != tc.want {
			t.Fatalf("got %q, want %q", got, tc.want)
		}
	})
}

func TestMaskSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"abcdef", []string{"abcdef"}},
		{"", nil},
		{"abcd\nefgh", []string{"abcd", "efgh"}},
		{"ab\ncdefg\x00hij", []string{"cdefg"}},
	}
	for _, tc := range tests {
		m := &recMask{}
		maskSecret(m.mask, tc.in)
		if strings.Join(m.list(), "|") != strings.Join(tc.want, "|") {
			t.Fatalf("%q: masked %q, want %q", tc.in, m.list(), tc.want)
		}
	}
	maskSecret(nil, "x") // no panic
}

func checkMessage(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("invalid UTF-8: %q", s)
	}
	if n := utf8.RuneCountInString(s); n > MaxMessage+1 {
		t.Fatalf("too long: %d runes", n)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Fatalf("control character %U in %q", r, s)
		}
	}
}

func TestRedactorClean(t *testing.T) {
	t.Parallel()
	cio := "cio_tp_" + strings.Repeat("a1B2", 8) // 39 characters, like crates.io's
	api := "cio" + strings.Repeat("Zz09", 8)     // 35 characters
	parts := strings.Split(testIDToken, ".")
	red := NewRedactor()
	red.Add(testIDToken)
	red.Add("short")          // too short to remove by value
	red.Add("ref-0123456789") // a reference token
	tests := []struct {
		name, in string
		want     string
		gone     []string
	}{
		{"id token whole", "echo " + testIDToken, "echo ***", []string{testIDToken}},
		{"signature alone", "bad signature " + parts[2] + "!", "bad signature ***!", []string{parts[2]}},
		{"payload alone", "payload=" + parts[1], "payload=***", []string{parts[1]}},
		{"cut after redaction", strings.Repeat("x ", 140) + "token " + testIDToken, "", []string{parts[0][:10], parts[2][:8]}},
		{"trusted publishing token by pattern", "got " + cio + " back", "got [redacted] back", []string{cio[:12]}},
		{"api token by pattern", "got " + api, "got [redacted]", []string{api[:10]}},
		{"reference token by value", "ref=ref-0123456789.", "ref=***.", []string{"ref-0123456789"}},
		{"short values kept", "a short word", "a short word", nil},
		{"control characters", "a\nb\x1b[0m", "a b[0m", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := red.Clean(tc.in)
			if tc.want != "" && got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			checkMessage(t, got)
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Fatalf("%q still holds %q", got, g)
				}
			}
		})
	}
	// A secret straddling the cut at MaxMessage leaves nothing of itself.
	for off := MaxMessage - 40; off <= MaxMessage+2; off++ {
		got := red.Clean(strings.Repeat("y", off) + " " + cio + " tail")
		if strings.Contains(got, "cio_tp") || strings.Contains(got, "a1B2a1B2") {
			t.Fatalf("offset %d: %q keeps part of the token", off, got)
		}
	}
	var none *Redactor
	if got := none.Clean("plain " + testIDToken); got != "plain [redacted]" {
		t.Fatalf("nil redactor: %q", got)
	}
	if got := none.Redact("x"); got != "x" {
		t.Fatalf("nil Redact: %q", got)
	}
}

func TestRedactorHookAndErr(t *testing.T) {
	t.Parallel()
	red := NewRedactor()
	m := &recMask{}
	mask := red.Hook(m.mask)
	mask("secret-value-1")
	if got := m.list(); len(got) != 1 || got[0] != "secret-value-1" {
		t.Fatalf("hook did not pass the secret on: %q", got)
	}
	base := errors.New(`malformed HTTP response "secret-value-1 and more"`)
	err := red.Err(base)
	if strings.Contains(err.Error(), "secret-value-1") || !errors.Is(err, base) {
		t.Fatalf("Err: %q (is base: %v)", err, errors.Is(err, base))
	}
	if red.Err(nil) != nil {
		t.Fatal("Err(nil) is not nil")
	}
}

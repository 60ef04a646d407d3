package exchange

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanMessage(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "Forbidden", "Forbidden"},
		{"newlines and tabs", "a\nb\r\n\tc  d", "a b c d"},
		{"control and escape", "a\x1b[31mred\x07\x00", "a[31mred"},
		{"bidi override", "ab\u202ecd", "abcd"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
		{"jwt redacted", "bad token " + testIDToken + " here", "bad token [redacted] here"},
		{"trim", "  x  ", "x"},
		{"bounded", strings.Repeat("é", 1000), strings.Repeat("é", MaxMessage) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := CleanMessage(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGenericMessage(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, ctype, body, want string }{
		{"empty", "", "  ", ""},
		{"html title", "text/html", "<html><head><TITLE>502 Bad &amp; Gateway</TITLE></head><body>" + strings.Repeat("x", 100000) + "</body></html>", "HTML page: 502 Bad & Gateway"},
		{"html without content type", "", "<!DOCTYPE html>\n<html><body><script>var s='x'</script><h1>Service down</h1><p>later</p></body></html>", "HTML page: Service down"},
		{"html no text", "text/html", "<html></html>", "HTML page"},
		{"json message", "application/json", `{"message":"nope"}`, "nope"},
		{"json detail", "", `{"detail":"Not found."}`, "Not found."},
		{"json errors", "", `{"errors":[{"code":"A","message":"one"},{"detail":"two"},{"code":"THREE"}]}`, "one; two; THREE"},
		{"json error object", "", `{"error":{"message":"inner"}}`, "inner"},
		{"oauth", "", `{"error":"invalid_grant","error_description":"expired"}`, "expired"},
		{"text first line", "text/plain", "\n\nfirst line\nsecond", "first line"},
		{"json without message", "", `{"foo":1}`, `{"foo":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := genericMessage([]byte(tc.body), tc.ctype); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
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

package exchange

import (
	"bytes"
	"encoding/json"
	"errors"
	"html"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MaxMessage bounds a service message quoted in an error, in runes.
const MaxMessage = 300

// scanLimit bounds how much of a body the message helpers look at.
const scanLimit = 64 << 10

// The expressions of this file and answer.go are compiled on first use
// (lazyRegexp): compiled at init they cost every run of the binary, even one
// that never quotes a message, 0.1 MB and 570 allocations.
var (
	jwtRe = lazyRegexp(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}(\.[A-Za-z0-9_-]*)?`)
	// longRunRe matches token-like runs: a crates.io API token is 35
	// characters, a trusted publishing token 39.
	longRunRe = lazyRegexp(`[A-Za-z0-9_\-~+=]{32,}`)
	// base64RunRe matches runs of standard base64 (with / and +), where an
	// AWS secret access key (40 characters) or session token hides from
	// longRunRe; secretRun decides which of them to remove.
	base64RunRe = lazyRegexp(`[A-Za-z0-9+/=]{32,}`)
	scriptRe    = lazyRegexp(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	tagRe       = lazyRegexp(`(?s)<[^>]*>`)
	htmlStartRe = lazyRegexp(`(?i)^\s*(<!doctype\s+html|<html|<head|<body|<title|<!--)`)
)

// CleanMessage makes s safe to quote: invalid UTF-8 replaced, control and
// format characters removed (newlines and tabs become spaces), runs of
// spaces collapsed, JWT-like strings redacted, and the result bounded to
// MaxMessage runes. Text from a service goes through Redactor.Clean instead,
// which also removes known secrets and long token-like runs.
func CleanMessage(s string) string {
	return truncateRunes(jwtRe().ReplaceAllString(sanitize(s), redactedMark), MaxMessage)
}

// redactedMark replaces a secret in text that is shown.
const redactedMark = "[redacted]"

// sanitizeRunes bounds the text sanitize keeps, far beyond MaxMessage so
// that redaction sees every secret whole before the cut to MaxMessage.
const sanitizeRunes = 8 << 10

// sanitize replaces invalid UTF-8, removes control and format characters
// (whitespace becomes one space) and trims; it bounds the result to
// sanitizeRunes runes but does not cut to MaxMessage.
func sanitize(s string) string {
	if len(s) > scanLimit {
		s = s[:scanLimit]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(min(len(s), sanitizeRunes))
	space := false
	n := 0
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
		if n >= sanitizeRunes {
			break
		}
	}
	return b.String()
}

// Redactor removes secrets from text that came from outside the step
// (service answers, transport errors, headers) before it is shown. It
// collects every secret the step learns (hook it next to masking with Hook)
// and removes them by value; then it removes JWT-like strings and long
// token-like runs by pattern; only then is text cut to length, so a cut
// never leaves part of a secret. A nil *Redactor removes by pattern only.
// It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first
	known   map[string]bool
}

// NewRedactor returns an empty Redactor.
func NewRedactor() *Redactor { return &Redactor{known: map[string]bool{}} }

// minSecret is the shortest value removed by value: shorter pieces would
// mangle ordinary words.
const minSecret = 6

// Add records secret. A JWT's three parts are recorded too (a service may
// echo one part alone), and so are the printable pieces of a secret that
// holds whitespace or control characters.
func (r *Redactor) Add(secret string) {
	if r == nil || secret == "" {
		return
	}
	pieces := []string{secret}
	if parts := strings.Split(secret, "."); len(parts) == 3 {
		pieces = append(pieces, parts...)
	}
	pieces = append(pieces, strings.FieldsFunc(secret, func(c rune) bool { return c <= ' ' || c == 0x7f })...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known == nil {
		r.known = map[string]bool{}
	}
	for _, p := range pieces {
		if len(p) < minSecret || r.known[p] {
			continue
		}
		r.known[p] = true
		r.secrets = append(r.secrets, p)
	}
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Hook returns a mask function that records each secret and then passes it
// to next (when not nil): the one place every secret goes through.
func (r *Redactor) Hook(next func(string)) func(string) {
	return func(secret string) {
		r.Add(secret)
		if next != nil {
			next(secret)
		}
	}
}

// Redact replaces every recorded secret in s with "***". It neither
// shortens nor otherwise changes s, so it can be applied to any text that is
// about to be shown, ours or not.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// Clean makes outside text safe to quote: sanitized as CleanMessage does,
// every recorded secret removed by value, JWT-like strings, long token-like
// runs and base64 secrets removed by pattern, and only then bounded to
// MaxMessage runes.
func (r *Redactor) Clean(s string) string {
	s = r.Redact(sanitize(s))
	s = jwtRe().ReplaceAllString(s, redactedMark)
	s = base64RunRe().ReplaceAllStringFunc(s, func(run string) string {
		if secretRun(run) {
			return redactedMark
		}
		return run
	})
	s = longRunRe().ReplaceAllString(s, redactedMark)
	return truncateRunes(s, MaxMessage)
}

// secretRun reports whether a run of 32 or more standard base64 characters
// that holds a slash is a secret (a run without one is left to longRunRe,
// which takes it whole with a token's prefix). With a slash it may be a
// path, so it is a secret when it holds + or = (base64, not a path), mixes
// upper case, lower case and digits, or is 40 characters of mixed case (an
// AWS secret access key). Paths of lower-case words and digits stay.
func secretRun(run string) bool {
	if !strings.Contains(run, "/") {
		return false
	}
	if strings.ContainsAny(run, "+=") {
		return true
	}
	var upper, lower, digit bool
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	return upper && lower && (digit || len(run) == 40)
}

// Err returns err with its message passed through Clean; errors.Is and
// errors.As still see err. nil stays nil.
func (r *Redactor) Err(err error) error {
	if err == nil {
		return nil
	}
	var ce *textError
	if errors.As(err, &ce) && ce.cleaned && ce.msg == err.Error() {
		return err
	}
	return &textError{msg: r.Clean(err.Error()), err: err, cleaned: true}
}

// textError is err with another message: a cleaned one (Redactor.Err), or
// one with a secret scrubbed (scrubErr).
type textError struct {
	msg     string
	err     error
	cleaned bool
}

func (e *textError) Error() string { return e.msg }
func (e *textError) Unwrap() error { return e.err }

func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	i, n := 0, 0
	for i = range s {
		if n == max {
			break
		}
		n++
	}
	return strings.TrimSpace(s[:i]) + "…"
}

// looksHTML reports whether body is an HTML page.
func looksHTML(body []byte, contentType string) bool {
	if strings.Contains(strings.ToLower(contentType), "html") {
		return true
	}
	head := body
	if len(head) > 512 {
		head = head[:512]
	}
	return htmlStartRe().Match(head)
}

// htmlSummary is an HTML page's <title>, else its first line of text.
func htmlSummary(body []byte) string {
	if len(body) > scanLimit {
		body = body[:scanLimit]
	}
	lower := bytes.ToLower(body)
	if i := bytes.Index(lower, []byte("<title")); i >= 0 {
		if j := bytes.IndexByte(lower[i:], '>'); j >= 0 {
			start := i + j + 1
			end := bytes.Index(lower[start:], []byte("</title"))
			if end < 0 {
				end = min(len(body)-start, 1024)
			}
			if t := sanitize(html.UnescapeString(string(body[start : start+end]))); t != "" {
				return t
			}
		}
	}
	text := scriptRe().ReplaceAll(body, nil)
	text = tagRe().ReplaceAll(text, []byte("\n"))
	return firstLine([]byte(html.UnescapeString(string(text))))
}

// firstLine is the first non-blank line of body, sanitized.
func firstLine(body []byte) string {
	if len(body) > scanLimit {
		body = body[:scanLimit]
	}
	for len(body) > 0 {
		line := body
		if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if l := sanitize(string(line)); l != "" {
			return l
		}
	}
	return ""
}

func htmlMessage(body []byte) string {
	if s := htmlSummary(body); s != "" {
		return "HTML page: " + s
	}
	return "HTML page"
}

// jsonMessage finds a message in the usual JSON error shapes.
func jsonMessage(body []byte) (string, bool) {
	var v struct {
		Message          json.RawMessage `json:"message"`
		Detail           json.RawMessage `json:"detail"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription json.RawMessage `json:"error_description"`
		Errors           json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", false
	}
	if m := messagesOf(v.Errors); m != "" {
		return m, true
	}
	for _, raw := range []json.RawMessage{v.Message, v.Detail, v.ErrorDescription, v.Error} {
		if s := jsonText(raw); s != "" {
			return s, true
		}
	}
	return "", false
}

// jsonText is a JSON string's cleaned value, or a nested object's message.
func jsonText(raw json.RawMessage) string {
	if s, ok := jsonString(raw); ok {
		return sanitize(s)
	}
	if m, ok := jsonMessage(raw); ok {
		return m
	}
	return ""
}

// jsonString is raw's value when raw is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	ok := len(raw) > 0 && json.Unmarshal(raw, &s) == nil // before s is read
	return s, ok
}

// messagesOf joins the message (or detail, or code) of each element of a
// JSON errors array: [{"code":..,"message":..}] or [{"detail":..}].
func messagesOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var items []struct {
		Code    json.RawMessage `json:"code"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(raw, &items) != nil {
		var strs []string
		if json.Unmarshal(raw, &strs) != nil {
			return ""
		}
		return joinMessages(strs)
	}
	var msgs []string
	for _, it := range items {
		m := jsonText(it.Message)
		if m == "" {
			m = jsonText(it.Detail)
		}
		if m == "" {
			m = jsonText(it.Code)
		}
		if m != "" {
			msgs = append(msgs, m)
		}
	}
	return joinMessages(msgs)
}

func joinMessages(msgs []string) string {
	var parts []string
	for _, m := range msgs {
		if m = sanitize(m); m != "" {
			parts = append(parts, m)
		}
		if len(parts) == 10 {
			break
		}
	}
	return sanitize(strings.Join(parts, "; "))
}

// lazyRegexp returns a function that compiles expr on its first call and
// returns the same *regexp.Regexp from then on. It is sync.OnceValue
// written out with sync.Once: the generic OnceValue made the binary 8 KB
// larger, and it is 7.48 MB against a budget of 7.5.
func lazyRegexp(expr string) func() *regexp.Regexp {
	var (
		once sync.Once
		re   *regexp.Regexp
	)
	return func() *regexp.Regexp {
		once.Do(func() { re = regexp.MustCompile(expr) })
		return re
	}
}

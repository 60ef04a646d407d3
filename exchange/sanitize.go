package exchange

import (
	"bytes"
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMessage bounds a service message quoted in an error, in runes.
const MaxMessage = 300

// scanLimit bounds how much of a body the message helpers look at.
const scanLimit = 64 << 10

var (
	jwtRe       = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}(\.[A-Za-z0-9_-]*)?`)
	longRunRe   = regexp.MustCompile(`[A-Za-z0-9_\-.~+/=]{40,}`)
	scriptRe    = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	tagRe       = regexp.MustCompile(`(?s)<[^>]*>`)
	htmlStartRe = regexp.MustCompile(`(?i)^\s*(<!doctype\s+html|<html|<head|<body|<title|<!--)`)
)

// CleanMessage makes s safe to quote: invalid UTF-8 replaced, control and
// format characters removed (newlines and tabs become spaces), runs of
// spaces collapsed, JWT-like strings redacted, and the result bounded to
// MaxMessage runes.
func CleanMessage(s string) string {
	if len(s) > scanLimit {
		s = s[:scanLimit]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(min(len(s), MaxMessage*4))
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
		if n >= MaxMessage*2 {
			break
		}
	}
	out := jwtRe.ReplaceAllString(b.String(), "[redacted]")
	return truncateRunes(out, MaxMessage)
}

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
	return htmlStartRe.Match(head)
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
			if t := CleanMessage(html.UnescapeString(string(body[start : start+end]))); t != "" {
				return t
			}
		}
	}
	text := scriptRe.ReplaceAll(body, nil)
	text = tagRe.ReplaceAll(text, []byte("\n"))
	return firstLine([]byte(html.UnescapeString(string(text))))
}

// firstLine is the first non-blank line of body, cleaned and bounded.
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
		if l := CleanMessage(string(line)); l != "" {
			return l
		}
	}
	return ""
}

// redactLong replaces long token-like runs (possible secrets in a
// malformed success answer) with "[redacted]".
func redactLong(s string) string {
	return longRunRe.ReplaceAllString(s, "[redacted]")
}

// genericMessage is the message of an error body whose shape is unknown:
// an HTML page's title, a JSON message/detail/error field, else the first
// line.
func genericMessage(body []byte, contentType string) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	if looksHTML(body, contentType) {
		return htmlMessage(body)
	}
	if m, ok := jsonMessage(body); ok {
		return m
	}
	return firstLine(body)
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
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return CleanMessage(s)
	}
	if m, ok := jsonMessage(raw); ok {
		return m
	}
	return ""
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
		if m = CleanMessage(m); m != "" {
			parts = append(parts, m)
		}
		if len(parts) == 10 {
			break
		}
	}
	return CleanMessage(strings.Join(parts, "; "))
}

// malformed describes an answer that should have been JSON.
func malformed(body []byte, contentType string) *MalformedAnswerError {
	if len(bytes.TrimSpace(body)) == 0 {
		return &MalformedAnswerError{Reason: "the answer is empty, expected JSON"}
	}
	if looksHTML(body, contentType) {
		return &MalformedAnswerError{Reason: "the answer is an HTML page, expected JSON", FirstLine: redactLong(htmlSummary(body))}
	}
	return &MalformedAnswerError{Reason: "the answer is not valid JSON", FirstLine: redactLong(firstLine(body))}
}

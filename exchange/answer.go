package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// What an answer may carry that is secret, and how an error may quote it.
//
// A success answer is never quoted (it holds a token). An error answer is
// quoted only through the fields of an error shape (AWS's Code and Message,
// JSON's errors[].message / errors[].detail / detail / message / error /
// error_description), an HTML page by its title, a plain-text answer by its
// first line; a structured answer without such a field is not quoted. An
// error answer that has the shape of a success answer (token fields,
// credentials) or holds a token is not quoted at all, and what it holds is
// masked, redacted and, where the service allows it, revoked.

// maxFound bounds the secrets taken from one answer.
const maxFound = 16

var (
	// tokenFieldRe finds token fields whose value is a plain JSON string,
	// in text that need not be valid JSON.
	tokenFieldRe = lazyRegexp(`"(?:access_token|token|reference_token|refresh_token|authorizationToken|AccessKeyId|SecretAccessKey|SessionToken)"\s*:\s*"([^"\\\x00-\x1f]+)"`)
	// stsSecretRe finds the credentials of an STS answer in XML.
	stsSecretRe = lazyRegexp(`<(?:AccessKeyId|SecretAccessKey|SessionToken)>\s*([^<\s]+)\s*</`)
	// cratesIOTokenRe finds crates.io trusted publishing tokens anywhere:
	// "cio_tp_" then alphanumerics. crates.io's are 32 (31 random and a
	// checksum character); 16 or more are taken, so that a change of length
	// still finds them.
	cratesIOTokenRe = lazyRegexp(`cio_tp_[A-Za-z0-9]{16,}`)
	// successShapeRe finds the marks of a success answer: its token fields
	// (whatever their value) or STS's credential elements.
	successShapeRe = lazyRegexp(`"(?:access_token|token|reference_token|refresh_token|authorizationToken|AccessKeyId|SecretAccessKey|SessionToken|Credentials)"\s*:|<(?:AssumeRoleWithWebIdentityResult|Credentials|AccessKeyId|SecretAccessKey|SessionToken)[\s>/]`)
)

// tokenKeys are the JSON keys whose string values are secrets, at any depth.
var tokenKeys = map[string]bool{
	"access_token": true, "token": true, "reference_token": true, "refresh_token": true,
	"authorizationToken": true, "AccessKeyId": true, "SecretAccessKey": true, "SessionToken": true,
}

// findSecrets returns the secrets findable in an answer (at most maxFound,
// each once, in order of discovery): the string values of token fields,
// also inside arrays and in JSON that is not the shape expected; token
// fields in text that is not valid JSON; STS's credentials in XML; and
// crates.io trusted publishing tokens wherever they stand.
func findSecrets(body []byte) []string {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" || seen[s] || len(out) >= maxFound {
			return
		}
		seen[s] = true
		out = append(out, s)
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		walkTokens(v, false, add)
	}
	for _, m := range tokenFieldRe().FindAllSubmatch(body, maxFound) {
		add(string(m[1]))
	}
	for _, m := range stsSecretRe().FindAllSubmatch(body, maxFound) {
		add(string(m[1]))
	}
	for _, m := range cratesIOTokenRe().FindAll(body, maxFound) {
		add(string(m))
	}
	return out
}

// walkTokens hands add every string under a token key of v; secret says
// that v is (inside) the value of such a key.
func walkTokens(v any, secret bool, add func(string)) {
	switch t := v.(type) {
	case string:
		if secret {
			add(t)
		}
	case []any:
		for _, e := range t {
			walkTokens(e, secret, add)
		}
	case map[string]any:
		for k, e := range t {
			walkTokens(e, secret || tokenKeys[k], add)
		}
	}
}

// hasSuccessShape reports whether an answer looks like a success answer of
// one of the services: token fields or STS credentials.
func hasSuccessShape(body []byte) bool {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	return successShapeRe().Match(body)
}

// errorAnswerMessage is what an error may quote of a non-success answer,
// sanitized but neither redacted nor cut (see Redactor.Clean), and whether
// the answer was withheld because it has the shape of a success answer or
// holds a token. parse, when set, reads the service's own error shape.
func errorAnswerMessage(body []byte, contentType string, parse func([]byte) string, found int) (msg string, withheld bool) {
	n := len(body)
	switch {
	case hasSuccessShape(body):
		msg = fmt.Sprintf("the answer has the shape of a success answer, not of an error (%d bytes); not shown", n)
	case found > 0:
		msg = fmt.Sprintf("the answer holds what looks like a token (%d bytes); not shown", n)
	}
	if msg != "" {
		if found > 0 {
			msg += fmt.Sprintf(", and the %d secret(s) found in it are masked", found)
		}
		return msg, true
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", false
	}
	if looksHTML(body, contentType) {
		return htmlMessage(body), false
	}
	if parse != nil {
		if m := parse(body); m != "" {
			return m, false
		}
	}
	if m := errorFields(body); m != "" {
		return m, false
	}
	if json.Valid(trimmed) || trimmed[0] == '<' || trimmed[0] == '{' || trimmed[0] == '[' {
		// Structured, but without an error field: its other fields are
		// not known to be safe to show.
		return "", false
	}
	return firstLine(body), false
}

// errorFields is the message of the usual error shapes: JSON's, then AWS's.
func errorFields(body []byte) string {
	if m, ok := jsonMessage(body); ok {
		return m
	}
	if e, ok := parseAWSError(nil, body); ok {
		return e.String()
	}
	return ""
}

// foundSecrets returns the secrets found in the answer err describes: a
// malformed success answer or a non-success answer.
func foundSecrets(err error) []string {
	if me, ok := asMalformed(err); ok {
		return me.found
	}
	if he, ok := asHTTPError(err); ok {
		return he.found
	}
	return nil
}

// noteFound records what became of the secrets found in the answer err
// describes.
func noteFound(err error, note string) {
	if me, ok := asMalformed(err); ok {
		me.Note = note
		return
	}
	if he, ok := asHTTPError(err); ok {
		he.Message = strings.TrimSuffix(he.Message, ".") + "; " + note
	}
}

package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// svcCall holds what the errors of one service call need.
type svcCall struct {
	red     *Redactor
	service string
	method  string
	url     string // display URL, no query
	claims  *Claims
	hint    func(status int) string
	parse   func(body []byte) string // the service's own error message, "" if none
	mask    func(string)             // masks a secret for the runner's log; nil = none
}

// idToken fetches the ID token for audience from ids and keeps its claims
// for s's errors.
func (s *svcCall) idToken(ctx context.Context, ids IDTokenSource, audience string) (string, error) {
	idt, err := fetchIDToken(ctx, ids, audience)
	if err == nil {
		s.claims, _ = DecodeClaims(idt)
	}
	return idt, err
}

// fail turns an error of Client.send into the error the caller sees.
func (s *svcCall) fail(err error) error {
	var he *HTTPError
	if errors.As(err, &he) {
		return s.enrich(he)
	}
	return &RequestError{Service: s.service, Method: s.method, URL: s.url, Claims: s.claims, Err: err}
}

// failed is the error for a non-success answer that was not retried.
func (s *svcCall) failed(a *answer) error {
	return s.enrich(newHTTPError(s.red, s.service, s.method, s.url, a.status, a.header.Get("Content-Type"), a.body, 1))
}

func (s *svcCall) enrich(he *HTTPError) *HTTPError {
	out := *he
	out.Service, out.Method, out.URL, out.Claims = s.service, s.method, s.url, s.claims
	for _, t := range out.found {
		s.red.Add(t)
		maskSecret(s.mask, t)
	}
	out.setMessage(s.red, s.parse)
	if s.hint != nil {
		out.Hint = s.hint(he.StatusCode)
	}
	return &out
}

// bad is the error for a success status whose answer is unusable.
func (s *svcCall) bad(status int, err error) error {
	return &RequestError{Service: s.service, Method: s.method, URL: s.url, StatusCode: status, Claims: s.claims, Err: err}
}

// serviceURL joins base and path; base must be an absolute http(s) URL
// without query or fragment. It returns the URL and its display form.
func serviceURL(base, path string) (string, error) {
	base = strings.TrimSpace(base)
	if base == "" {
		return "", errors.New("the service URL is empty")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("the service URL %q is not an absolute http(s) URL", CleanMessage(displayRawURL(base)))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("the service URL %s must not have a query, fragment or user info", displayURL(u))
	}
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return u.String(), nil
}

func jsonHeaders() http.Header {
	return http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
		"User-Agent":   {UserAgent},
	}
}

// decodeAnswer unmarshals a success answer into v, or describes why it is
// not the JSON expected by its shape only: a success answer may hold a
// token, so nothing of it is quoted. Secrets still findable in it are kept
// in the error (see findSecrets).
func decodeAnswer(body []byte, contentType string, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	me := &MalformedAnswerError{Reason: describeAnswer(body, contentType, err)}
	me.found = findSecrets(body)
	me.Found = len(me.found)
	return me
}

const notShown = "not shown, as a success answer may hold a token"

// describeAnswer says what is wrong with a success answer without quoting it.
func describeAnswer(body []byte, contentType string, err error) string {
	n := len(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Sprintf("the answer is empty (%d bytes), expected JSON", n)
	}
	if json.Valid(body) {
		return "the answer is JSON but not the expected object"
	}
	if looksHTML(body, contentType) {
		return fmt.Sprintf("the answer is an HTML page (%d bytes), expected JSON; %s", n, notShown)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the answer is not valid JSON (%d bytes", n)
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		b.WriteString("; it starts with a byte order mark")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		fmt.Fprintf(&b, "; parsing stopped at byte %d", se.Offset)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var first json.RawMessage
	if dec.Decode(&first) == nil {
		if end := dec.InputOffset(); end < int64(n) {
			fmt.Fprintf(&b, "; a JSON value of %d bytes is followed by %d more bytes", end, int64(n)-end)
		}
	}
	b.WriteString("); " + notShown)
	return b.String()
}

// maskFound masks (s.mask) the secrets found in the answer err describes
// and records them for redaction, before anything can print them.
func (s *svcCall) maskFound(err error) {
	for _, t := range foundSecrets(err) {
		s.red.Add(t)
		maskSecret(s.mask, t)
	}
}

// seconds is a JSON number of seconds, also accepted as a numeric string;
// anything else reads as 0.
type seconds int64

// UnmarshalJSON implements json.Unmarshaler.
func (s *seconds) UnmarshalJSON(b []byte) error {
	str := strings.Trim(strings.TrimSpace(string(b)), `"`)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil || f <= 0 || f > 10*365*24*3600 {
		*s = 0
		return nil
	}
	*s = seconds(f)
	return nil
}

// serviceMessage parses an error body of a service: its own shape first
// (errors[].message / errors[].detail / detail / message), else generic.
func serviceMessage(body []byte) string {
	if m, ok := jsonMessage(body); ok {
		return m
	}
	return ""
}

// do sends cl and returns its answer when its status is a success; a
// failure to send and any other status are the call's errors.
func (s *svcCall) do(ctx context.Context, c *Client, cl *call) (*answer, error) {
	a, err := c.send(ctx, cl)
	if err != nil {
		return nil, s.fail(err)
	}
	if a.status/100 != 2 {
		return nil, s.failed(a)
	}
	return a, nil
}

// parseAnswer decodes a success answer into a T (see decodeAnswer).
func parseAnswer[T any](body []byte, contentType string) (*T, error) {
	var v T
	if err := decodeAnswer(body, contentType, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// answerOf decodes the success answer a of the call s into a T; when it is
// unusable, the secrets found in it are masked before the call's error is
// made.
func answerOf[T any](s *svcCall, a *answer) (*T, error) {
	v, err := parseAnswer[T](a.body, a.header.Get("Content-Type"))
	if err != nil {
		s.maskFound(err)
		return nil, s.bad(a.status, err)
	}
	return v, nil
}

// guard records tok and the answer's other secrets (more) for redaction
// and masks them, then checks that tok is usable as what: a token is masked
// before anything can print it. status is the answer's.
func (s *svcCall) guard(status int, what, tok string, more ...string) error {
	for _, t := range append([]string{tok}, more...) {
		s.red.Add(t)
		maskSecret(s.mask, t)
	}
	if err := CheckToken(what, tok); err != nil {
		return s.bad(status, err)
	}
	return nil
}

// guarded decodes the success answer a into a T (answerOf) and guards the
// one token it holds, tok's, as what (guard).
func guarded[T any](s *svcCall, a *answer, what string, tok func(*T) string) (*T, error) {
	v, err := answerOf[T](s, a)
	if err != nil {
		return nil, err
	}
	if err := s.guard(a.status, what, tok(v)); err != nil {
		return nil, err
	}
	return v, nil
}

// tokenAnswer sends cl and reads a {"token": ...} answer (Cloudsmith,
// crates.io): a non-2xx status, an unreadable answer and an unusable token
// are errors; the token is masked before it is checked.
func (s *svcCall) tokenAnswer(ctx context.Context, c *Client, cl *call) (*tokenAnswer, error) {
	a, err := s.do(ctx, c, cl)
	if err != nil {
		return nil, err
	}
	return guarded(s, a, "token", func(v *tokenAnswer) string { return v.Token })
}

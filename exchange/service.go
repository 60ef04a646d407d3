package exchange

import (
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
	service string
	method  string
	url     string // display URL, no query
	claims  *Claims
	hint    func(status int) string
	parse   func(body []byte) string // the service's own error message, "" if none
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
	return s.enrich(newHTTPError(s.service, s.method, s.url, a.status, a.header.Get("Content-Type"), a.body, 1))
}

func (s *svcCall) enrich(he *HTTPError) *HTTPError {
	out := *he
	out.Service, out.Method, out.URL, out.Claims = s.service, s.method, s.url, s.claims
	if s.parse != nil && !looksHTML(he.body, he.contentType) {
		if m := s.parse(he.body); m != "" {
			out.Message = m
		}
	}
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
// not the JSON expected (never quoting a valid JSON answer, which may hold a
// token).
func decodeAnswer(body []byte, contentType string, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		if json.Valid(body) {
			return &MalformedAnswerError{Reason: "the answer is JSON but not the expected object"}
		}
		return malformed(body, contentType)
	}
	return nil
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

// tokenAnswer sends cl and reads a {"token": ...} answer (Cloudsmith,
// crates.io): a non-2xx status, an unreadable answer and an unusable token
// are errors; the token is masked before it is checked.
func (s *svcCall) tokenAnswer(ctx context.Context, c *Client, cl *call, mask func(string)) (*tokenAnswer, error) {
	a, err := c.send(ctx, cl)
	if err != nil {
		return nil, s.fail(err)
	}
	if a.status/100 != 2 {
		return nil, s.failed(a)
	}
	ans, err := parseTokenAnswer(a.body, a.header.Get("Content-Type"))
	if err != nil {
		return nil, s.bad(a.status, err)
	}
	maskSecret(mask, ans.Token)
	if err := CheckToken("token", ans.Token); err != nil {
		return nil, s.bad(a.status, err)
	}
	return ans, nil
}

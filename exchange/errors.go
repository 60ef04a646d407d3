package exchange

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Service names used in HTTPError.Service and RequestError.Service.
const (
	ServiceGitHub     = "github id token endpoint"
	ServiceJFrog      = "jfrog"
	ServiceCloudsmith = "cloudsmith"
	ServiceCratesIO   = "crates.io"
)

// Sentinel errors wrapped by the errors of this package.
var (
	// ErrEmptyToken: a service or source answered without a token.
	ErrEmptyToken = errors.New("the answer holds no token")
	// ErrInvalidToken: a token contains whitespace, control or other
	// non-printable characters; it is refused and never shown.
	ErrInvalidToken = errors.New("the token contains whitespace, newline, control or non-printable characters; refused (not shown)")
)

// HTTPError is a non-success answer from a service. Error() is lowercase,
// one line, and never contains a token, e.g.
// `jfrog token exchange failed: POST https://x.jfrog.io/access/api/v1/oidc/token: 403 Forbidden: <service message>`.
type HTTPError struct {
	Service    string // ServiceGitHub, ServiceJFrog, ServiceCloudsmith, ServiceCratesIO
	Method     string
	URL        string // without query
	StatusCode int
	// Message is the service's own message, read from the fields of its
	// error shape (AWS's Code and Message; JSON's errors[].message,
	// errors[].detail, detail, message), else an HTML page's title or a
	// plain-text answer's first line, bounded to about 300 characters,
	// control characters stripped, secrets redacted. A structured answer
	// without an error field is not quoted; an answer that has the shape of
	// a success answer or holds a token is described, never quoted.
	Message string
	// Claims are the non-secret claims of the ID token that was sent, when
	// one was.
	Claims *Claims
	// Hint says what the user should check.
	Hint string
	// Attempts is the number of attempts made (more than 1 after retries).
	Attempts int

	body        []byte // bounded raw body, for the service's own parser
	contentType string
	found       []string // secrets found in the answer (masked by the service)
	withheld    bool     // the answer is not quoted: it may hold secrets
}

// newHTTPError builds the error for a non-success answer; its message is
// cleaned by red (every secret the step knows, and every secret found in
// the answer, removed before the cut). parse, when set, reads the service's
// own error shape.
func newHTTPError(red *Redactor, service, method, u string, status int, contentType string, body []byte, attempts int) *HTTPError {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	he := &HTTPError{
		Service:     service,
		Method:      method,
		URL:         u,
		StatusCode:  status,
		Attempts:    attempts,
		body:        body,
		contentType: contentType,
		found:       findSecrets(body),
	}
	for _, s := range he.found {
		red.Add(s)
	}
	he.setMessage(red, nil)
	return he
}

// setMessage sets Message from the answer, reading the service's own error
// shape with parse when set.
func (e *HTTPError) setMessage(red *Redactor, parse func([]byte) string) {
	msg, withheld := errorAnswerMessage(e.body, e.contentType, parse, len(e.found))
	e.Message, e.withheld = red.Clean(msg), withheld
}

// Error implements error.
func (e *HTTPError) Error() string {
	var b strings.Builder
	b.WriteString(failedHead(e.Service, e.Method, e.URL))
	b.WriteString(statusText(e.StatusCode))
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Details returns the hint and, when the service answered and refused
// (KindRefused), the claims lines, for a hint block under the error.
// Nothing in it is secret.
func (e *HTTPError) Details() []string {
	if isIDTokenService(e.Service) || e.kind() != KindRefused {
		return details(e.Hint, nil)
	}
	return details(e.Hint, e.Claims)
}

// details is the hint and the claims block shown under an error.
func details(hint string, claims *Claims) []string {
	var out []string
	if hint != "" {
		out = append(out, hint)
	}
	if claims != nil {
		if lines := claims.Lines(); len(lines) > 0 {
			out = append(out, "", "The ID token's claims (not secret):")
			for _, l := range lines {
				out = append(out, "  "+l)
			}
		}
	}
	return out
}

// failedPrefix is "<service> <operation> failed".
func failedPrefix(service, method string) string {
	switch {
	case service == ServiceGitHub:
		return "github id token request failed"
	case service == ServiceAzurePipelines:
		return "azure pipelines id token request failed"
	case service == "":
		return "request failed"
	case method == "DELETE":
		return service + " token revocation failed"
	default:
		return service + " token exchange failed"
	}
}

// failedHead begins the text of a failed request: what failed, then the
// request (method and URL) when known, each followed by ": ".
func failedHead(service, method, url string) string {
	head := failedPrefix(service, method) + ": "
	if method != "" || url != "" {
		head += strings.TrimSpace(method+" "+url) + ": "
	}
	return head
}

// isIDTokenService reports whether service names an ID token endpoint
// (not a token service).
func isIDTokenService(service string) bool {
	return service == ServiceGitHub || service == ServiceAzurePipelines
}

// RequestError is a failed call that has no non-success status to report:
// a transport error, a refused redirect, a certificate failure, an oversized
// or malformed answer, a missing or invalid token. Err says which.
type RequestError struct {
	Service    string
	Method     string
	URL        string // without query
	StatusCode int    // 0 when no answer was read
	Claims     *Claims
	Hint       string
	Err        error
}

// Error implements error.
func (e *RequestError) Error() string {
	var b strings.Builder
	b.WriteString(failedHead(e.Service, e.Method, e.URL))
	if e.StatusCode != 0 {
		b.WriteString(statusText(e.StatusCode))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// Details returns the hint, for the block shown under the error: the
// service's own when it gave one, else what to do about this kind of
// failure (an unusable answer, an unreachable service; see advice). The
// claims are left out: the service did not refuse them (Claims keeps them
// for callers that want them anyway).
func (e *RequestError) Details() []string {
	hint := e.Hint
	if hint == "" {
		hint = advice(e)
	}
	return details(hint, nil)
}

// TransportError is the last attempt's transport failure (connection
// refused or reset, timeout, TLS) after Attempts attempts.
type TransportError struct {
	Attempts int
	Err      error
}

// Error implements error.
func (e *TransportError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("%v (after %d attempts)", e.Err, e.Attempts)
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// RedirectError is a 3xx answer: redirects are refused so that the request
// body (an ID token) never reaches another host.
type RedirectError struct {
	Method       string
	URL          string // without query
	StatusCode   int
	LocationHost string // host named by the Location header ("" when none)
}

// Error implements error.
func (e *RedirectError) Error() string {
	loc := "without a Location"
	if e.LocationHost != "" {
		loc = "to host " + strconv.Quote(e.LocationHost)
	}
	return fmt.Sprintf("redirects are refused: the answer was %s, a redirect %s; use the final URL in the configuration",
		statusText(e.StatusCode), loc)
}

// BodyTooLargeError is a response body over the client's MaxBody limit.
type BodyTooLargeError struct {
	Limit         int64
	ContentLength int64 // announced length, when known (else 0)
}

// Error implements error.
func (e *BodyTooLargeError) Error() string {
	if e.ContentLength > 0 {
		return fmt.Sprintf("response too large: %d bytes announced, the limit is %d bytes", e.ContentLength, e.Limit)
	}
	return fmt.Sprintf("response too large: more than the limit of %d bytes", e.Limit)
}

// CertificateError is a TLS certificate verification failure. It is not
// retried.
type CertificateError struct {
	Host string
	Err  error
}

// Error implements error.
func (e *CertificateError) Error() string {
	host := ""
	if e.Host != "" {
		host = " for " + e.Host
	}
	return fmt.Sprintf("tls certificate verification failed%s (not retried): %v; if the service uses a private CA, add it to the trusted roots (SSL_CERT_FILE)", host, e.Err)
}

// Unwrap returns the cause.
func (e *CertificateError) Unwrap() error { return e.Err }

// MalformedAnswerError is a success answer that is not the JSON the service
// should send: invalid JSON, an HTML page, an unexpected shape. A success
// answer may hold a token, so it is described by its shape only (length,
// where parsing stopped), never quoted.
type MalformedAnswerError struct {
	Reason string // e.g. "the answer is not valid JSON (57 bytes; parsing stopped at byte 1)"
	// Found is the number of tokens still findable in the answer; they are
	// masked, and revoked where the service allows it.
	Found int
	// Note says what became of the tokens found ("" when none).
	Note string

	found []string // the tokens found (secret)
}

// Error implements error.
func (e *MalformedAnswerError) Error() string {
	if e.Note == "" {
		return e.Reason
	}
	return e.Reason + "; " + e.Note
}

// MissingIDTokenError says that the GitHub Actions runtime offers no ID
// token: the request variables are not set.
type MissingIDTokenError struct {
	Variable string // the variable that is missing
	// Source names the runner when it is not GitHub's (Forgejo Actions,
	// Gitea Actions); "" for GitHub Actions.
	Source string
	// ForkPullRequest is true when the run is for a pull request whose head
	// repository differs from the base repository.
	ForkPullRequest bool
	Event           string // GITHUB_EVENT_NAME
	HeadRepo        string // pull_request.head.repo.full_name
	BaseRepo        string // pull_request.base.repo.full_name
}

// Error implements error.
func (e *MissingIDTokenError) Error() string {
	if e.ForkPullRequest {
		return fmt.Sprintf("no github id token: this %s run is for a pull request from a fork (head %s, base %s), "+
			"and GitHub gives no ID token to pull requests from forks, even to a job with `permissions: id-token: write` (%s is not set)",
			e.Event, e.HeadRepo, e.BaseRepo, e.Variable)
	}
	if e.Source != "" {
		return fmt.Sprintf("no ID token from %s: %s is not set; does the job have `permissions: id-token: write`?", e.Source, e.Variable)
	}
	return fmt.Sprintf("no github id token: %s is not set; does the job have `permissions: id-token: write`?", e.Variable)
}

// Details says what to do: for a fork's pull request how to run without
// the registry token, else which permission to add.
func (e *MissingIDTokenError) Details() []string {
	if e.ForkPullRequest {
		return []string{
			"A pull request from a fork cannot use the registry through OIDC. Instead:",
			"- skip this step (or the job) for forks, with",
			"    if: github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository",
			"  and build forks without the private registry where you can (crates.io only);",
			"- or let a maintainer push the branch to " + e.BaseRepo + " and run the workflow from there.",
			"Do not switch to pull_request_target to get a token: it would hand a registry token to the fork's code.",
		}
	}
	return []string{
		"Add to the job (or the workflow):",
		"  permissions:",
		"    id-token: write",
		"    contents: read",
	}
}

// asMalformed is errors.As for *MalformedAnswerError.
func asMalformed(err error) (*MalformedAnswerError, bool) {
	var me *MalformedAnswerError
	ok := errors.As(err, &me)
	return me, ok
}

// asHTTPError is errors.As for *HTTPError.
func asHTTPError(err error) (*HTTPError, bool) {
	var he *HTTPError
	ok := errors.As(err, &he)
	return he, ok
}

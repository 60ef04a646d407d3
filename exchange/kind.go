package exchange

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Kind says what happened in a failed exchange, for a caller that words its
// message (or picks its exit path) by it. Classify gives the Kind of an
// error returned by this package.
type Kind int

// The kinds of failure, from the first step of an exchange to the last.
const (
	// KindOther is an error this package did not produce, or a programming
	// error (no client configured).
	KindOther Kind = iota
	// KindNoIDToken: no ID token could be obtained (the GitHub runtime
	// offers none, its endpoint refused or failed, a token variable or file
	// is empty). The token service was not contacted.
	KindNoIDToken
	// KindUnreachable: the token service could not be reached: DNS,
	// connection refused or reset, TLS, or no answer in time.
	KindUnreachable
	// KindRefused: the token service answered and refused the exchange
	// (a 4xx status other than 429, not retried). Only this kind shows the
	// ID token's claims: they are what the service judged.
	KindRefused
	// KindServiceFailed: the token service kept failing (5xx, 429, or a
	// 4xx it asked to retry, like STS's throttling) until the retries or the
	// time ran out.
	KindServiceFailed
	// KindBadAnswer: the token service answered success but the answer is
	// unusable (not the expected JSON, too large, no or an invalid token),
	// or it answered with a redirect, which is refused.
	KindBadAnswer
)

// String is a short description of k.
func (k Kind) String() string {
	switch k {
	case KindNoIDToken:
		return "no ID token"
	case KindUnreachable:
		return "service unreachable"
	case KindRefused:
		return "service refused"
	case KindServiceFailed:
		return "service failed"
	case KindBadAnswer:
		return "unusable answer"
	}
	return "other"
}

// IDTokenError is a failure to obtain an ID token from an IDTokenSource; the
// token service was not contacted. Its message is the cause's.
type IDTokenError struct{ Err error }

// Error implements error.
func (e *IDTokenError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *IDTokenError) Unwrap() error { return e.Err }

// RetryTimeoutError says that the time ran out while waiting to retry after
// the service answered LastStatus.
type RetryTimeoutError struct {
	LastStatus int
	Err        error // the context's error
}

// Error implements error.
func (e *RetryTimeoutError) Error() string {
	return fmt.Sprintf("the last answer was %s, then the time ran out waiting to retry: %v", statusText(e.LastStatus), e.Err)
}

// Unwrap returns the context's error.
func (e *RetryTimeoutError) Unwrap() error { return e.Err }

// Classify says what happened in err, an error of an Exchange or of an
// IDTokenSource. An error that does not come from this package is
// KindOther, except a context deadline, which is KindUnreachable (the
// service did not answer in time).
func Classify(err error) Kind {
	if err == nil {
		return KindOther
	}
	var he *HTTPError
	if errors.As(err, &he) {
		if he.Service == ServiceGitHub {
			return KindNoIDToken
		}
		return he.kind()
	}
	var rt *RetryTimeoutError
	if errors.As(err, &rt) {
		return statusKind(rt.LastStatus)
	}
	var ie *IDTokenError
	var me *MissingIDTokenError
	if errors.As(err, &ie) || errors.As(err, &me) {
		return KindNoIDToken
	}
	var re *RequestError
	isRequest := errors.As(err, &re)
	if isRequest && re.Service == ServiceGitHub {
		return KindNoIDToken
	}
	var redirect *RedirectError
	var large *BodyTooLargeError
	var malformed *MalformedAnswerError
	if errors.As(err, &redirect) || errors.As(err, &large) || errors.As(err, &malformed) ||
		errors.Is(err, ErrEmptyToken) || errors.Is(err, ErrInvalidToken) || (isRequest && re.StatusCode != 0) {
		return KindBadAnswer
	}
	var te *TransportError
	var ce *CertificateError
	if errors.As(err, &te) || errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded) || isRequest {
		return KindUnreachable
	}
	return KindOther
}

// kind is the Kind of a token service's final non-success answer. A 4xx
// that was retried (STS answers throttling with 400) means the service kept
// asking to try again, not that it refused.
func (e *HTTPError) kind() Kind {
	k := statusKind(e.StatusCode)
	if k == KindRefused && e.Attempts > 1 {
		return KindServiceFailed
	}
	return k
}

// statusKind is the Kind of a final non-success status of a token service.
func statusKind(status int) Kind {
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return KindServiceFailed
	case status >= 400:
		return KindRefused
	case status >= 300:
		return KindBadAnswer
	}
	return KindOther
}

// advice says what to do about a failed call whose service gave no hint of
// its own, by the kind of failure: an unusable answer (an HTML page, a
// redirect, no token) or an unreachable service. It is "" where the
// message already says it (a certificate) or the caller does (a deadline).
func advice(e *RequestError) string {
	switch Classify(e) {
	case KindBadAnswer:
		var redirect *RedirectError
		switch {
		case errors.As(e, &redirect):
			return "Give the service's own address (" + addressInput(e.Service) + "): the one the redirect names, if you trust it. " +
				"A proxy or load balancer in front of the service may redirect (http to https, another path); " +
				"cargo-oidc never follows a redirect, which would send the ID token on to another host."
		case errors.Is(e, ErrEmptyToken) || errors.Is(e, ErrInvalidToken):
			return "The service said success but gave no usable token. Check that " + addressInput(e.Service) +
				" names the token service itself, not a mirror or a proxy; re-run the job in case it was passing, " +
				"and report the answer's shape (above) to the service if it stays."
		}
		return "An HTML page or other text where the service's JSON was expected usually comes from something in front of it, " +
			"not the token service: check " + addressInput(e.Service) + ", and that no proxy, firewall or single sign-on page " +
			"answers in its place (HTTPS_PROXY, NO_PROXY). Re-run with debug logging (the secret ACTIONS_STEP_DEBUG: true) to see the request made."
	case KindUnreachable:
		var ce *CertificateError
		if errors.As(e, &ce) || errors.Is(e, context.DeadlineExceeded) {
			return ""
		}
		return "Check " + addressInput(e.Service) + " (scheme, host and port), and that this runner can reach the host: " +
			"a self-hosted runner may need HTTPS_PROXY (and NO_PROXY), a firewall rule, or DNS for a private host. " +
			"Re-run the job if the service was down for a moment."
	}
	return ""
}

// addressInput names what sets the address of service: the url input, or
// for AWS the region and the endpoint variables, for Entra the tenant and
// the authority variable.
func addressInput(service string) string {
	switch service {
	case ServiceJFrog:
		return "url (the JFrog Platform's base URL, such as https://example.jfrog.io, without /artifactory or /ui)"
	case ServiceSTS, ServiceCodeArtifact:
		return "aws-region, and " + EnvEndpointURL + " or " + EnvEndpointURLSTS + " / " + EnvEndpointURLCodeArtifact + " if set"
	case ServiceAzure:
		return "tenant-id, and " + EnvAzureAuthorityHost + " if set"
	}
	return "url"
}

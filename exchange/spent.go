package exchange

import (
	"errors"
	"net/http"
	"strings"
)

// SpentIDTokenError is crates.io's refusal of an ID token it has already
// exchanged ("JWT has already been used"): crates.io accepts each ID token
// once. A source that fetches a fresh token for every exchange (GitHub's)
// never meets it; a token fixed for the job (a GitLab id_tokens variable,
// CircleCI's CIRCLE_OIDC_TOKEN_V2, a file) is spent after its first
// exchange, and no retry can succeed.
type SpentIDTokenError struct {
	// Err is crates.io's answer.
	Err *HTTPError
}

// Error says that the ID token was already exchanged.
func (e *SpentIDTokenError) Error() string {
	return "crates.io refused the ID token: this ID token was already exchanged, and crates.io accepts each ID token once (" + e.Err.Error() + ")"
}

// Details says what to do, then the ID token's claims (not the hint of
// other refusals, which is about the trusted publisher's set-up).
func (e *SpentIDTokenError) Details() []string {
	return append([]string{"On GitLab the job's id_tokens are fixed for the job (and CircleCI's CIRCLE_OIDC_TOKEN_V2 too), so a second exchange in the same job can never succeed: exchange once per job and reuse the crates.io token (cargo-oidc's credential provider caches it for the job in its cache folder, --cache-dir; check that the folder is kept between the job's Cargo commands), or declare a second id_tokens variable for a second exchange."},
		details("", e.Err.Claims)...)
}

// Unwrap returns crates.io's answer.
func (e *SpentIDTokenError) Unwrap() error { return e.Err }

// spentOr is err as a *SpentIDTokenError when it is crates.io's "JWT has
// already been used" refusal (a 400 whose message says so), else err.
func spentOr(err error) error {
	var he *HTTPError
	if errors.As(err, &he) && he.Service == ServiceCratesIO && he.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(he.Message), "already been used") {
		return &SpentIDTokenError{Err: he}
	}
	return err
}

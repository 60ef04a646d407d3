// Package exchange turns a CI system's OIDC ID token into a short-lived
// registry token.
//
// It holds the HTTP client every call goes through (go-retryablehttp with
// jittered backoff, a capped Retry-After, fail-fast on client errors, no
// redirects, bounded response bodies), the ID token sources (the GitHub
// Actions runtime, an environment variable, a file), the token services
// (JFrog Platform, Cloudsmith, crates.io trusted publishing, and AWS
// CodeArtifact through STS with a SigV4-signed call), the typed errors
// they return and a decoder for the non-secret claims of an ID token.
//
// Secrets never appear in an error string: errors quote a service's own
// message but never a request body or a token, and every secret a service
// answers is handed to the caller's Mask function before anything else
// happens with it. Text from outside (service messages, transport errors, a
// redirect's host) goes through the client's Redactor, which removes every
// secret the step knows by value and token-like runs by pattern before the
// text is cut to length. A success answer that is not the JSON expected is
// described by its shape only, never quoted.
//
// Note on the design contract: the services keep the struct field Audience
// (the audience to request, "" = the default) and expose the effective value
// through the method IDTokenAudience, because Go does not allow a field and a
// method of the same name on one type.
package exchange

// Package fakes provides local services that behave like the real ones the
// cargo-oidc action talks to, for the e2e tests, the fault matrix, the
// benchmark and the playground. Start (or StartT) starts them all as a
// Stack, each on 127.0.0.1 with TLS from a throw-away CA:
//
//   - Issuer: GitHub's OIDC issuer (discovery, JWKS, RS256 ID tokens with
//     GitHub's claims) and the runner's ID token endpoint; StartGitLab adds
//     a GitLab issuer.
//   - JFrog, Cloudsmith, CratesIO, STS (AWS AssumeRoleWithWebIdentity) and
//     Entra: token exchanges that verify the ID token for real (signature
//     against the JWKS fetched over HTTPS, iss, aud, exp/nbf, a claim
//     mapping) and answer in the real service's success and error shapes.
//     CodeArtifact recomputes the SigV4 signature with the secret STS issued.
//   - Registry: sparse Cargo registries (JFrog, Cloudsmith, crates.io,
//     CodeArtifact, Azure Artifacts) serving real .crate files only to a
//     valid token in the scheme the real one takes, and accepting publish.
//   - TokenStore: every secret issued (what a leak scan looks for), which
//     are valid now, and request/exchange/revocation counters.
//   - Faults: per-endpoint queues of canned failures (see FaultKind), with
//     redirects to a RedirectSink on another host.
//
// Pointing the real cargo (1.95) at the fakes, found by experiment: set
// CARGO_HTTP_CAINFO=<Stack.CAFile> and a fresh CARGO_HOME. Alternative
// registries take CARGO_REGISTRIES_<N>_INDEX, _TOKEN ("Bearer <token>") and
// _CREDENTIAL_PROVIDER=cargo:token; cargo asks for config.json without a
// token, gets 401 and retries with it ("auth-required"). A project's
// [source.crates-io] replace-with = "<name>" sends a plain `dep = "1"`
// there too. cargo publish does not work through source replacement, and
// --index refuses to run without --token; what works is cargo's test hook
// CratesIOURLEnv=<Stack.CratesIOIndex> with CARGO_REGISTRY_TOKEN=<raw
// token>: cargo then PUTs <index>api/v1/crates/new with the raw token and
// polls the index for the new version.
package fakes

// Package fakes provides local services that behave like the real ones the
// cargo-oidc action talks to, each on 127.0.0.1 with TLS from a throw-away
// CA, started together as a Stack: GitHub's OIDC issuer (and GitLab's),
// the token exchanges (JFrog, Cloudsmith, crates.io, AWS STS and
// CodeArtifact, Entra), which verify ID tokens for real and answer in the
// real services' shapes, sparse Cargo registries that serve real .crate
// files only to a valid token and accept publish, a TokenStore of every
// secret issued (what a leak scan looks for), and per-endpoint Faults.
//
// Pointing the real cargo (1.95) at the fakes, found by experiment: set
// CARGO_HTTP_CAINFO=<Stack.CAFile> and a fresh CARGO_HOME. Alternative
// registries take CARGO_REGISTRIES_<N>_INDEX, _TOKEN ("Bearer <token>") and
// _CREDENTIAL_PROVIDER=cargo:token; cargo asks for config.json without a
// token, gets 401 and retries with it ("auth-required"). [source.crates-io]
// replace-with = "<name>" sends a plain `dep = "1"` there too, but cargo
// publish does not work through source replacement, and --index refuses to run without
// --token; what works is cargo's test hook CratesIOURLEnv=<Stack.CratesIOIndex>
// with CARGO_REGISTRY_TOKEN=<raw token>: cargo then PUTs
// <index>api/v1/crates/new with the raw token and polls the index.
package fakes

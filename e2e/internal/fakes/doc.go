// Package fakes provides local services that behave like the real ones the
// cargo-oidc action talks to, for the e2e tests, the fault matrix, the
// benchmark and the playground. Everything listens on 127.0.0.1 only and
// serves TLS with a throw-away CA.
//
//   - CA: a test CA and a leaf for 127.0.0.1/localhost; CA.File goes to
//     SSL_CERT_FILE (the action) and CARGO_HTTP_CAINFO (cargo).
//     StartUntrustedServer serves a certificate nobody trusts.
//   - Issuer: GitHub's OIDC issuer (discovery, JWKS) and the runner's ID token
//     endpoint (GET /_apis/token?api-version=2.0[&audience=..] with
//     "Authorization: Bearer <request token>" -> {"value": JWT, "count": 1}),
//     minting RS256 JWTs with GitHub's claims.
//   - JFrog, Cloudsmith, CratesIO: the token exchanges, each verifying the
//     JWT for real (signature against the JWKS fetched over HTTPS and
//     cached, iss, aud, exp/nbf, a claim mapping) and answering with the
//     service's own success and error shapes. crates.io accepts a JWT once
//     and revokes with DELETE.
//   - STS, CodeArtifact: AWS. STS answers AssumeRoleWithWebIdentity (form
//     body, XML answers) after checking the JWT like the others (the IAM OIDC
//     provider's audience sts.amazonaws.com, then the role's trust policy as
//     the claim mapping) and issues an access key id, secret and session
//     token; CodeArtifact recomputes the SigV4 signature of
//     GetAuthorizationToken with that secret (the SDK's signer), checks the
//     session token, the signing region and the domain owner, and issues a
//     token the Registry's CodeArtifact root takes raw. Point the action at
//     them with Stack.AWSEnv.
//   - Entra and an Azure Registry root: Azure. Entra's token endpoint
//     (POST /{tenant}/oauth2/v2.0/token, client_credentials with a GitHub
//     ID token as client_assertion) matches the assertion's iss/sub/aud
//     against the application's federated credentials, verifies it with
//     the JWKS and refuses in Entra's AADSTS shape; the Azure Artifacts
//     feed (/ORG/PROJECT/_packaging/FEED/Cargo/index/) takes only its
//     token, as Bearer. Point the action at them with Stack.AzureEnv
//     (AZURE_AUTHORITY_HOST) and Stack.AzureInputs.
//   - TokenStore: every token issued (the list a leak scan looks for), which
//     of them are valid now, and request/exchange/revocation counters.
//   - Registry: a sparse Cargo registry serving real .crate files only to a
//     currently valid token, and accepting cargo publish.
//   - Faults: a per-endpoint queue of canned failures (status with
//     Retry-After, malformed JSON, a token with a newline, 100 MB body,
//     307/308 redirect to a RedirectSink on another host, hang).
//   - Stack: all of the above started by one call (Start or StartT).
//
// Time: a Stack's services share a Clock (Options.TokenTTL sets how long
// their tokens live); tokens expire in real time.
//
// # Pointing the real cargo (1.95) at the fakes
//
// Found by experiment with cargo 1.95.0; the e2e scenario, provider and
// composite tests (package e2e) run cargo this way. In every case set CARGO_HTTP_CAINFO=<Stack.CAFile> and a
// fresh CARGO_HOME.
//
// Alternative registries (JFrog, Cloudsmith), cargo fetch: environment only,
//
//	CARGO_REGISTRIES_<N>_INDEX=<Stack.JFrogIndex or Stack.CloudsmithIndex>
//	CARGO_REGISTRIES_<N>_TOKEN=Bearer <token>
//	CARGO_REGISTRIES_<N>_CREDENTIAL_PROVIDER=cargo:token
//
// and a dependency `dep = { version = "1", registry = "<name>" }` (or
// CARGO_REGISTRY_DEFAULT). Cargo asks for config.json without a token, gets
// 401, retries with the token, and then sends it for index files and
// downloads ("auth-required": true). Stack.CargoEnv builds these variables.
//
// Replacing crates.io for cargo fetch: a .cargo/config.toml in the project
// holding only
//
//	[source.crates-io]
//	replace-with = "<name>"
//
// plus the three variables above: a plain `dep = "1"` then resolves and
// downloads through the named registry with its token.
//
// crates.io trusted publishing, cargo publish: source replacement does NOT
// work. `cargo publish` with crates-io replaced fails ("crates-io is replaced
// with remote registry <name>; include `--registry <name>` or `--registry
// crates-io`"), and `--registry crates-io` ignores the replacement and goes
// to https://index.crates.io. `--index <url>` refuses to run without
// `--token` (and never reads CARGO_REGISTRY_TOKEN). What works: cargo's test
// hook, which the release binary honours,
//
//	__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS=<Stack.CratesIOIndex>
//	CARGO_REGISTRY_TOKEN=<cio_tp_... token, raw>
//	cargo publish
//
// (constant CratesIOURLEnv). Cargo then treats the fake as crates.io for
// publish and for fetch: it PUTs <index>api/v1/crates/new with
// "Authorization: <token>" (raw, no Bearer, checked by the registry's
// SchemeRaw root), then polls the index until the new version shows up. The
// crates.io root's index is public like the real one; publishing needs a
// valid token (403 otherwise).
//
// # Example
//
//	s := fakes.StartT(t, fakes.Options{})
//	s.JFrog.Faults.Push(fakes.Status(503), fakes.Of(fakes.FaultHang))
//	env := append(s.ActionEnv(), "INPUT_PROVIDER=jfrog", "INPUT_URL="+s.JFrogURL,
//		"INPUT_PROVIDER-NAME="+s.JFrog.ProviderName, "INPUT_REPOSITORY=cargo-local")
//	// ... run the action, then:
//	_ = s.Store.Requests(fakes.JFrogTokenPath) // 3
//	_ = s.Store.Secrets()                      // scan logs for these
package fakes

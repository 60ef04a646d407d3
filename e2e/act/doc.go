// Package act runs workflows that use the action through nektos/act over
// Podman's Docker API: what only a second, real runner proves (loading,
// contexts, masked outputs, composite wrapping, the post stage, setup/'s
// steps). The matrix lives in the emulation (package e2e). See
// e2e/internal/act for the harness and where act differs from GitHub.
package act

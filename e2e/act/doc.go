// Package act holds the e2e tests that run workflows using the action
// (`uses: ./`, built from the repository's Dockerfile) through nektos/act,
// a runner implementation independent of this project's emulation, over
// Podman's Docker API. See e2e/internal/act for the harness and for where
// act differs from GitHub's runner.
package act

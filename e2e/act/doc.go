// Package act holds the e2e tests that run workflows using the action
// through nektos/act, a runner implementation independent of this
// project's emulation, over Podman's Docker API. See e2e/internal/act for
// the harness and for where act differs from GitHub's runner.
//
// They keep only what a second, real runner proves: that action.yml and
// the composite actions load under act, the contexts and outputs (masked)
// a later step sees, a composite action wrapping the container action, the
// post stage, and setup/'s steps (ci.yml's setup job). The matrix of
// inputs, faults and providers lives in the emulation (package e2e). One
// job lets act build the Dockerfile itself (`uses: ./`); the others run the
// image built once per run. One Podman service serves every test of the
// process, and TestMain sweeps what a killed earlier run left
// (harness.Begin).
package act

package e2e

import (
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// TestProviderCodeArtifact is TestProviderJFrog against AWS CodeArtifact:
// in provider mode every token Cargo asks for repeats both calls (STS
// AssumeRoleWithWebIdentity, then GetAuthorizationToken), with the
// endpoints from the job's AWS_ENDPOINT_URL_* variables.
func TestProviderCodeArtifact(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"provider", "token"} {
		t.Run(mode, func(t *testing.T) {
			provFetchScenario(t, mode, harness.CodeArtifactInputs, "codeartifact", "CODEARTIFACT")
		})
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// TestRun runs the playground for every provider, in both credential
// modes where they differ most: the action step and cargo must succeed, the
// step summary must be shown, and the log shown must be masked.
func TestRun(t *testing.T) {
	harness.Tool(t, "cargo", "install Rust (rustup) to run the playground")
	t.Cleanup(harness.Cleanup)
	tests := []struct {
		provider, mode string
		want           []string
	}{
		{"jfrog", "provider", []string{"| Provider | JFrog |", "| Tokens | minted by cargo-oidc", "Downloaded e2e-dep v1.0.0",
			"OK: cargo fetched e2e-dep 1.0.0 through the credential provider"}},
		{"cloudsmith", "token", []string{"> Exchanging the GitHub ID token with Cloudsmith", "| Provider | Cloudsmith |",
			"Exported CARGO_REGISTRIES_CLOUDSMITH_TOKEN=Bearer ***", "Downloaded e2e-dep v1.0.0 (registry `cloudsmith`)"}},
		{"crates-io", "provider", []string{"> Exchanging the GitHub ID token with crates.io", "| Provider | crates.io |",
			"CARGO_REGISTRY_CREDENTIAL_PROVIDER=", "Published playground v0.1.0", "OK: cargo published playground 0.1.0"}},
		{"artifactory", "token", []string{"provider: artifactory\n", "> Exchanging the GitHub ID token with JFrog", "| Provider | JFrog |", "| Expires | ",
			"Exported CARGO_REGISTRIES_ARTIFACTORY_TOKEN=Bearer ***", "OK: cargo fetched e2e-dep 1.0.0 with the exported token. Try the other -mode"}},
		{"azure", "provider", []string{"client-id: " + fakes.DefaultAzureClientID + "\n", "CARGO_REGISTRIES_AZURE_CREDENTIAL_PROVIDER=",
			"Downloaded e2e-dep v1.0.0 (registry `azure`)", "OK: cargo fetched e2e-dep 1.0.0 through the credential provider"}},
		{"codeartifact", "token", []string{`domain-owner: "111122223333"` + "\n", "> Exchanging the GitHub ID token with AWS CodeArtifact", "CARGO_REGISTRIES_CODEARTIFACT_TOKEN=***",
			"Downloaded e2e-dep v1.0.0 (registry `codeartifact`)", "OK: cargo fetched e2e-dep"}},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.mode, func(t *testing.T) {
			var out strings.Builder
			err := run(t.Context(), []string{"-provider", tt.provider, "-mode", tt.mode}, &out)
			t.Logf("playground output:\n%s", out.String())
			if err != nil {
				t.Fatalf("playground failed: %v", err)
			}
			got := out.String()
			want := append([]string{"Notice (Cargo registry ready)", "== 4. The step summary it wrote", "### cargo-oidc: Cargo registry ready"}, tt.want...)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if strings.Contains(got, "::add-mask::") || strings.Contains(got, "eyJ") || strings.Contains(got, "cio_tp_") || strings.Contains(got, "ASIA") || strings.Contains(got, "req_") || strings.Contains(got, "IQoJ") {
				t.Errorf("output shows a mask command, a JWT, a token or an AWS access key id")
			}
		})
	}
}

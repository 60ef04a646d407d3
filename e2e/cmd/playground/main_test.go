package main

import (
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// TestRun runs the playground in both credential modes: the action step and
// cargo fetch must succeed, and the log shown must be masked.
func TestRun(t *testing.T) {
	harness.Tool(t, "cargo", "install Rust (rustup) to run the playground")
	t.Cleanup(harness.Cleanup)
	t.Run("codeartifact", runCodeArtifact)
	for _, mode := range []string{"token", "provider"} {
		t.Run(mode, func(t *testing.T) {
			var out strings.Builder
			err := run(t.Context(), []string{"-mode", mode}, &out)
			t.Logf("playground output:\n%s", out.String())
			if err != nil {
				t.Fatalf("playground failed: %v", err)
			}
			got := out.String()
			for _, want := range []string{"> Exchanging the GitHub ID token with JFrog", "Notice (Cargo registry ready)",
				"Downloaded e2e-dep v1.0.0", "OK: cargo fetched e2e-dep"} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if strings.Contains(got, "::add-mask::") || strings.Contains(got, "eyJ") {
				t.Errorf("output shows a mask command or a JWT")
			}
			if mode == "token" && !strings.Contains(got, "TOKEN=Bearer ***") {
				t.Errorf("exported token not shown masked")
			}
		})
	}
}

func TestRenderLog(t *testing.T) {
	t.Parallel()
	mask := masker([]string{"sekrit", "sekrit-longer", " "})
	tests := []struct{ name, in, want string }{
		{"plain", "hello sekrit\n", "   hello ***\n"},
		{"longest mask first", "x sekrit-longer\n", "   x ***\n"},
		{"mask and debug hidden", "::add-mask::sekrit\n::debug::GET host 200\n", ""},
		{"group", "::group::Phase one\ninside\n::endgroup::\nafter\n", "   > Phase one\n     inside\n   after\n"},
		{"notice with title", "::notice title=Ready::registry x%0Asecond sekrit\n", "   Notice (Ready): registry x\n     second ***\n"},
		{"error", "::error title=cargo-oidc%3A failed::bad%25\n", "   Error (cargo-oidc: failed): bad%\n"},
		{"not a command", ":: nope\n", "   :: nope\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := renderLog(tt.in, mask); got != tt.want {
				t.Errorf("renderLog(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRunRejectsBadMode(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(t.Context(), []string{"-mode", "nope"}, &out); err == nil {
		t.Fatal("run accepted -mode nope")
	}
}

// runCodeArtifact: the playground against the local STS and CodeArtifact,
// in token mode (a subtest of TestRun, which removes the built binary).
func runCodeArtifact(t *testing.T) {
	var out strings.Builder
	err := run(t.Context(), []string{"-provider", "codeartifact"}, &out)
	t.Logf("playground output:\n%s", out.String())
	if err != nil {
		t.Fatalf("playground failed: %v", err)
	}
	got := out.String()
	for _, want := range []string{"> Exchanging the GitHub ID token with AWS CodeArtifact", "CARGO_REGISTRIES_CODEARTIFACT_TOKEN=***",
		"Downloaded e2e-dep v1.0.0 (registry `codeartifact`)", "OK: cargo fetched e2e-dep"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(got, "::add-mask::") || strings.Contains(got, "eyJ") || strings.Contains(got, "ASIA") {
		t.Errorf("output shows a mask command, a JWT, a CodeArtifact token or an AWS access key id")
	}
	if err := run(t.Context(), []string{"-provider", "nexus"}, &out); err == nil || !strings.Contains(err.Error(), "want jfrog or codeartifact") {
		t.Errorf("-provider nexus: %v", err)
	}
}

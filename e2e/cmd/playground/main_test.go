package main

import (
	"errors"
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
		{"jfrog", "token", []string{"> Exchanging the GitHub ID token with JFrog", "| Provider | JFrog |", "| Expires | ",
			"Exported CARGO_REGISTRIES_ARTIFACTORY_TOKEN=Bearer ***", "Downloaded e2e-dep v1.0.0", "OK: cargo fetched e2e-dep"}},
		{"jfrog", "provider", []string{"| Provider | JFrog |", "| Tokens | minted by cargo-oidc", "Downloaded e2e-dep v1.0.0",
			"OK: cargo fetched e2e-dep 1.0.0 through the credential provider"}},
		{"cloudsmith", "token", []string{"> Exchanging the GitHub ID token with Cloudsmith", "| Provider | Cloudsmith |",
			"Exported CARGO_REGISTRIES_CLOUDSMITH_TOKEN=Bearer ***", "Downloaded e2e-dep v1.0.0 (registry `cloudsmith`)"}},
		{"crates-io", "provider", []string{"> Exchanging the GitHub ID token with crates.io", "| Provider | crates.io |",
			"CARGO_REGISTRY_CREDENTIAL_PROVIDER=", "Published playground v0.1.0", "OK: cargo published playground 0.1.0"}},
		{"artifactory", "token", []string{"provider: artifactory\n", "> Exchanging the GitHub ID token with JFrog",
			"Exported CARGO_REGISTRIES_ARTIFACTORY_TOKEN=Bearer ***", "OK: cargo fetched e2e-dep 1.0.0 with the exported token. Try -mode=provider, or -provider with cloudsmith or crates-io or codeartifact or azure."}},
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
			if strings.Contains(got, "::add-mask::") || strings.Contains(got, "eyJ") || strings.Contains(got, "cio_tp_") || strings.Contains(got, "ASIA") {
				t.Errorf("output shows a mask command, a JWT, a token or an AWS access key id")
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-help", "--help", "-h"} {
		var out strings.Builder
		err := run(t.Context(), []string{arg}, &out)
		if exitCode(err) != 0 {
			t.Errorf("%s: err %v, exit code %d; want 0", arg, err, exitCode(err))
		}
		for _, w := range []string{"-provider", "jfrog", "cloudsmith", "crates-io", "codeartifact", "azure", "-mode"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: usage lacks %q:\n%s", arg, w, out.String())
			}
		}
	}
	if exitCode(errors.New("x")) != 1 {
		t.Error("an error exits 0")
	}
}

// TestWithLine checks the step's with: lines: a value YAML would read as
// something other than that string is quoted, others are shown plain.
func TestWithLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, value, want string }{
		{"domain-owner", "111122223333", `domain-owner: "111122223333"`},
		{"domain-owner", "012345678901", `domain-owner: "012345678901"`},
		{"export-env", "false", `export-env: "false"`},
		{"retries", "3", `retries: "3"`},
		{"provider", "artifactory", "provider: artifactory"},
		{"role-to-assume", "arn:aws:iam::111122223333:role/cargo-ci", "role-to-assume: arn:aws:iam::111122223333:role/cargo-ci"},
		{"index-url", "sparse+https://127.0.0.1:4443/cargo/r/", "index-url: sparse+https://127.0.0.1:4443/cargo/r/"},
		{"audience", "a: b", `audience: 'a: b'`},
	}
	for _, tt := range tests {
		if got := withLine(tt.key, tt.value); got != tt.want {
			t.Errorf("withLine(%q, %q) = %s, want %s", tt.key, tt.value, got, tt.want)
		}
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

func TestRunRejectsBadArguments(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-mode", "nope"}, {"-provider", "nexus"}, {"-provider", ""}, {"-bogus"}, {"extra"}} {
		var out strings.Builder
		if err := run(t.Context(), args, &out); exitCode(err) != 1 {
			t.Errorf("run accepted %q (err %v)", args, err)
		}
	}
}

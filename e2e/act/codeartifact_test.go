package act

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	actharness "github.com/cargo-oidc/cargo-oidc/e2e/internal/act"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
)

// codeArtifactWorkflow is a CodeArtifact job as a user writes it: the AWS
// endpoints in the step's env (as for a VPC endpoint), a later step reading
// what was exported, and cargo fetch from the registry.
const codeArtifactWorkflow = `name: act-codeartifact
on: push
permissions:
  id-token: write
  contents: read
jobs:
  codeartifact:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: reg
        env:
          AWS_ENDPOINT_URL_STS: @STS_URL@
          AWS_ENDPOINT_URL_CODEARTIFACT: @CODEARTIFACT_URL@
        with:
          provider: codeartifact
          role-to-assume: @ROLE@
          aws-region: @REGION@
          domain: @DOMAIN@
          domain-owner: "@OWNER@"
          index-url: @INDEX@
      - name: read the outputs
        run: |
          echo "CA_REGISTRY=${{ steps.reg.outputs.registry-name }}"
          echo "CA_TOKEN_SET=${CARGO_REGISTRIES_CODEARTIFACT_TOKEN:+yes}"
          echo "CA_AWS_VARS=$(env | grep -c '^AWS_' || true)"
      - run: echo /opt/rust/bin >> "$GITHUB_PATH"
      - name: cargo fetch
        working-directory: crate-ca
        env:
          CARGO_HTTP_CAINFO: @CA@
        run: cargo fetch && echo "CA_FETCH=ok"
`

// writeCodeArtifact adds the CodeArtifact workflow and its crate to repo.
func writeCodeArtifact(t *testing.T, repo string, s *fakes.Stack) {
	t.Helper()
	fill := strings.NewReplacer("@STS_URL@", s.STSURL, "@CODEARTIFACT_URL@", s.CodeArtifactURL, "@ROLE@", fakes.DefaultAWSRole,
		"@REGION@", fakes.DefaultAWSRegion, "@DOMAIN@", fakes.DefaultCADomain, "@OWNER@", fakes.DefaultAWSAccount,
		"@INDEX@", s.CodeArtifactIndex, "@CA@", s.CAFile)
	writeFile(t, filepath.Join(repo, ".github/workflows/codeartifact.yml"), fill.Replace(codeArtifactWorkflow))
	writeFile(t, filepath.Join(repo, "crate-ca/Cargo.toml"), fmt.Sprintf(
		"[package]\nname = \"act-e2e-ca\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n%s = { version = %q, registry = \"codeartifact\" }\n",
		fakes.DefaultCrate, fakes.DefaultCrateVersion))
	writeFile(t, filepath.Join(repo, "crate-ca/src/lib.rs"), "")
}

// checkCodeArtifact checks the CodeArtifact job's run under act.
func checkCodeArtifact(t *testing.T, s *fakes.Stack, res *actharness.Result) {
	t.Helper()
	if res.Failed() {
		t.Fatalf("the job failed:\n%s", res.Output)
	}
	for key, want := range map[string]string{"CA_REGISTRY": "codeartifact", "CA_TOKEN_SET": "yes", "CA_AWS_VARS": "0", "CA_FETCH": "ok"} {
		if got, _ := res.Value(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if n := s.Store.Exchanges("codeartifact"); n != 1 {
		t.Errorf("%d CodeArtifact tokens issued, want 1", n)
	}
	if used := s.Registry.TokensUsed(); len(used) == 0 {
		t.Errorf("the registry saw no token from cargo")
	}
}

package action

import (
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// TestProviderCommandCodeArtifact: the credential-provider setting carries
// every CodeArtifact input, and the plugin reads it back to the same
// configuration.
func TestProviderCommandCodeArtifact(t *testing.T) {
	t.Parallel()
	in := map[string]string{"provider": "codeartifact", "role-to-assume": "arn:aws:iam::111122223333:role/cargo-ci",
		"aws-region": "eu-west-2", "domain": "my-domain", "domain-owner": "111122223333", "repository": "cargo-repo",
		"duration": "2h", "role-session-name": "ci-session", "audience": "my-aud", "credential-mode": "provider", "retries": "2"}
	cfg, err := config.Load(func(k string) string { return in[k] })
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := providerCommand(cfg, "/home/runner/.cargo-oidc/bin/cargo-oidc", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cmd, "--url=") {
		t.Errorf("the command carries an empty url: %s", cmd)
	}
	opts, err := credprovider.ParseArgs(strings.Fields(cmd)[1:])
	if err != nil {
		t.Fatalf("the plugin refuses its own setting %q: %v", cmd, err)
	}
	got := *opts.Config()
	want := *cfg
	want.CredentialMode = config.ModeToken // the plugin mints tokens itself
	want.Repository = ""                   // it gets the index instead
	if got != want {
		t.Errorf("plugin config\n%+v\nwant\n%+v", got, want)
	}
	if got.Duration != 2*time.Hour || got.TokenScheme != "" {
		t.Errorf("duration %s scheme %q", got.Duration, got.TokenScheme)
	}
}

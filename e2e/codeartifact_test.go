package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
)

// TestProviderCodeArtifact is TestProviderJFrog against AWS CodeArtifact:
// in provider mode every token Cargo asks for repeats both calls (STS
// AssumeRoleWithWebIdentity, then GetAuthorizationToken), with the
// endpoints from the job's AWS_ENDPOINT_URL_* variables.
func TestProviderCodeArtifact(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"provider", "token"} {
		t.Run(mode, func(t *testing.T) {
			provFetchScenario(t, mode, (*fakes.Stack).CodeArtifactInputs, "codeartifact", "CODEARTIFACT")
		})
	}
}

// TestProviderCodeArtifactRepeatsBothCalls drives the built binary as Cargo
// does (--cargo-plugin, one get per run): every get makes one STS call and
// one CodeArtifact call, and answers the raw CodeArtifact token with its
// expiry, never an AWS credential.
func TestProviderCodeArtifactRepeatsBothCalls(t *testing.T) {
	t.Parallel()
	bin := provBinary(t)
	s := fakes.StartT(t, fakes.Options{})
	in := s.CodeArtifactInputs()
	args := []string{"--provider=codeartifact", "--role-to-assume=" + in["role-to-assume"], "--aws-region=" + in["aws-region"],
		"--domain=" + in["domain"], "--domain-owner=" + in["domain-owner"], "--index-url=" + in["index-url"], "--duration=900", "--token-scheme=none"}
	req, err := json.Marshal(map[string]any{"v": 1, "kind": "get", "operation": "read", "args": args,
		"registry": map[string]string{"index-url": s.CodeArtifactIndex, "name": "codeartifact"}})
	if err != nil {
		t.Fatal(err)
	}
	env := append([]string{"PATH=" + os.Getenv("PATH"), "GITHUB_RUN_ID=4242", "GITHUB_RUN_ATTEMPT=2"}, s.ActionEnv()...)
	for k, v := range s.AWSEnv() {
		env = append(env, k+"="+v)
	}
	for i := range 2 {
		cmd := exec.Command(bin, "--cargo-plugin")
		cmd.Env = append(env, "RUNNER_TEMP="+t.TempDir()) // an empty token cache: both calls again
		cmd.Stdin = bytes.NewReader(append(req, '\n'))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("provider run %d: %v", i, err)
		}
		var ans []map[string]json.RawMessage
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("provider line is not JSON: %v", err)
			}
			ans = append(ans, m)
		}
		var ok struct {
			Token      string `json:"token"`
			Cache      string `json:"cache"`
			Expiration int64  `json:"expiration"`
		}
		if len(ans) != 2 || json.Unmarshal(ans[1]["Ok"], &ok) != nil || !s.Store.Valid(ok.Token) || ok.Cache != "expires" || ok.Expiration == 0 {
			t.Fatalf("provider run %d answered %d lines, token valid %v, cache %q", i, len(ans), s.Store.Valid(ok.Token), ok.Cache)
		}
		provCheckNoSecrets(t, s, "the provider's answer without its token", strings.ReplaceAll(string(out), ok.Token, ""))
	}
	names, durs := s.STS.SessionNames(), s.CodeArtifact.Durations()
	if len(names) != 2 || len(durs) != 2 {
		t.Fatalf("%d STS and %d CodeArtifact calls for 2 gets, want 2 and 2", len(names), len(durs))
	}
	for i := range 2 {
		if names[i] != "cargo-oidc-4242-2" || durs[i] != 15*time.Minute {
			t.Errorf("call %d: session name %q, duration %s", i, names[i], durs[i])
		}
	}
}

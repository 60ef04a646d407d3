package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

var caOK = map[string]string{
	"provider": "codeartifact", "role-to-assume": "arn:aws:iam::111122223333:role/cargo-ci", "aws-region": "eu-west-2",
	"domain": "my-domain", "domain-owner": "111122223333", "repository": "cargo-repo",
}

func TestLoadCodeArtifact(t *testing.T) {
	t.Parallel()
	c, err := Load(withDefaults(caOK))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Provider: CodeArtifact, RoleARN: caOK["role-to-assume"], Region: "eu-west-2", Domain: "my-domain",
		DomainOwner: "111122223333", Repository: "cargo-repo",
		IndexURL:     "sparse+https://my-domain-111122223333.d.codeartifact.eu-west-2.amazonaws.com/cargo/cargo-repo/",
		RegistryName: "codeartifact", TokenScheme: "", ExportEnv: true, Retries: 3, Timeout: 60 * time.Second, Revoke: true,
		ConfigFile: ".cargo/config.toml", Cleanup: true, CredentialMode: ModeToken}
	if *c != want {
		t.Errorf("config =\n%+v\nwant\n%+v", *c, want)
	}
	if c.Authorization("tok") != "tok" {
		t.Errorf("the token is sent %q; AWS documents the raw token for Cargo", c.Authorization("tok"))
	}
	for in, check := range map[string]func(c *Config) bool{
		"duration=90m":        func(c *Config) bool { return c.Duration == 90*time.Minute },
		"duration=3600":       func(c *Config) bool { return c.Duration == time.Hour },
		"duration=12h":        func(c *Config) bool { return c.Duration == 12*time.Hour },
		"duration=900":        func(c *Config) bool { return c.Duration == 15*time.Minute },
		"duration=43200":      func(c *Config) bool { return c.Duration == 12*time.Hour },
		"duration=0000900":    func(c *Config) bool { return c.Duration == 15*time.Minute },
		"token-scheme=Bearer": func(c *Config) bool { return c.Authorization("t") == "Bearer t" },
		"aws-region=cn-north-1": func(c *Config) bool {
			return c.IndexURL == "sparse+https://my-domain-111122223333.d.codeartifact.cn-north-1.amazonaws.com.cn/cargo/cargo-repo/"
		},
		"provider=aws-codeartifact":       func(c *Config) bool { return c.Provider == CodeArtifact },
		"role-session-name=ci@octo.app,1": func(c *Config) bool { return c.RoleSessionName == "ci@octo.app,1" },
		"registry-name=aws":               func(c *Config) bool { return c.RegistryName == "aws" },
		"audience=my-aud":                 func(c *Config) bool { return c.Audience == "my-aud" },
	} {
		k, v, _ := strings.Cut(in, "=")
		c, err := Load(withDefaults(merge(caOK, k, v)))
		if err != nil || !check(c) {
			t.Errorf("%s: %+v, %v", in, c, err)
		}
	}
	c, err = Load(withDefaults(merge(caOK, "repository", "", "index-url", "sparse+https://mirror.example/cargo/x")))
	if err != nil || c.IndexURL != "sparse+https://mirror.example/cargo/x/" {
		t.Errorf("index-url: %+v, %v", c, err)
	}
}

func TestLoadCodeArtifactInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kv   []string
		want []string
	}{
		{[]string{"role-to-assume", ""}, []string{"input role-to-assume: is required"}},
		{[]string{"role-to-assume", "cargo-ci"}, []string{"input role-to-assume:", "not an IAM role ARN"}},
		{[]string{"role-to-assume", "arn:aws:iam::12345:role/x"}, []string{"input role-to-assume:"}},
		{[]string{"aws-region", ""}, []string{"input aws-region: is required"}},
		{[]string{"aws-region", "Frankfurt"}, []string{"input aws-region:", "us-east-1"}},
		{[]string{"domain", ""}, []string{"input domain: is required"}},
		{[]string{"domain", "My_Domain"}, []string{"input domain:"}},
		{[]string{"domain-owner", "1111-2222-3333"}, []string{"input domain-owner:", "12 digits"}},
		{[]string{"domain-owner", ""}, []string{"input domain-owner: is required"}},
		{[]string{"domain-owner", "12345678901"}, []string{"input domain-owner:", "starts with 0", `"012345678901"`}},
		{[]string{"repository", ""}, []string{"input repository: is required (or give index-url)"}},
		{[]string{"repository", "a/b"}, []string{"input repository:"}},
		{[]string{"duration", "10m"}, []string{"input duration:", "15m to 12h"}},
		{[]string{"duration", "13h"}, []string{"input duration:"}},
		{[]string{"duration", "0"}, []string{"input duration:"}},
		{[]string{"duration", "1h0m0.5s"}, []string{"input duration:"}},
		{[]string{"duration", "soon"}, []string{"input duration:"}},
		{[]string{"duration", "899"}, []string{"input duration:"}},
		{[]string{"duration", "43201"}, []string{"input duration:"}},
		// Seconds that wrap around to 15 minutes (2^55+900) or 1 hour once
		// multiplied by time.Second; the int64 maximum; beyond int64.
		{[]string{"duration", "36028797018964868"}, []string{"input duration:", "15m to 12h"}},
		{[]string{"duration", "36028797018967568"}, []string{"input duration:"}},
		{[]string{"duration", "9223372036854775807"}, []string{"input duration:"}},
		{[]string{"duration", "99999999999999999999999"}, []string{"input duration:"}},
		{[]string{"duration", "-900"}, []string{"input duration:"}},
		{[]string{"duration", "+900"}, []string{"input duration:"}},
		{[]string{"duration", "2562047h47m16.854775808s"}, []string{"input duration:"}},
		{[]string{"duration", "9999999999h"}, []string{"input duration:"}},
		{[]string{"role-session-name", "a"}, []string{"input role-session-name:", "2 to 64"}},
		{[]string{"role-session-name", "has space"}, []string{"input role-session-name:"}},
		{[]string{"role-session-name", strings.Repeat("x", 65)}, []string{"input role-session-name:"}},
		{[]string{"url", "https://example.jfrog.io"}, []string{"input url: is not used with provider codeartifact"}},
		{[]string{"provider-name", "x"}, []string{"input provider-name: is not used with provider codeartifact (it belongs to jfrog)"}},
		{[]string{"namespace", "x"}, []string{"input namespace:", "cloudsmith"}},
		{[]string{"revoke", "false"}, []string{"input revoke:", "crates-io"}},
	}
	for _, tc := range tests {
		_, err := Load(withDefaults(merge(caOK, tc.kv...)))
		if err == nil {
			t.Errorf("%v: no error", tc.kv)
			continue
		}
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%v: %T", tc.kv, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", tc.kv, err, w)
			}
		}
	}
	// CodeArtifact's inputs are foreign to the other providers.
	for _, in := range []string{"role-to-assume", "aws-region", "domain", "domain-owner", "duration", "role-session-name"} {
		_, err := Load(withDefaults(merge(jfrogOK, in, "x")))
		if err == nil || !strings.Contains(err.Error(), "input "+in+": is not used with provider jfrog (it belongs to codeartifact)") {
			t.Errorf("%s with jfrog: %v", in, err)
		}
	}
}

func TestDefaultRoleSessionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, "cargo-oidc"},
		{map[string]string{"GITHUB_RUN_ID": "1234567890", "GITHUB_RUN_ATTEMPT": "2"}, "cargo-oidc-1234567890-2"},
		{map[string]string{"GITHUB_RUN_ID": "12 34/\x00é"}, "cargo-oidc-1234"},
		{map[string]string{"GITHUB_RUN_ID": strings.Repeat("9", 80)}, "cargo-oidc-" + strings.Repeat("9", 53)},
	}
	for _, tc := range tests {
		got := DefaultRoleSessionName(testenv.Getenv(tc.env))
		if got != tc.want || !isSessionName(got) {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestCodeArtifactService(t *testing.T) {
	t.Parallel()
	c, err := Load(withDefaults(merge(caOK, "duration", "2h")))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "1", "AWS_ENDPOINT_URL_STS": "https://sts.vpce.example"}
	svc := c.Service(nil, nil, nil, testenv.Getenv(env))
	ca, ok := svc.(*exchange.CodeArtifact)
	if !ok {
		t.Fatalf("service %T", svc)
	}
	if ca.RoleSessionName != "cargo-oidc-77-1" || ca.Duration != 2*time.Hour || ca.Region != "eu-west-2" ||
		ca.Endpoints.STS != "https://sts.vpce.example" || ca.Endpoints.CodeArtifact != "https://codeartifact.eu-west-2.amazonaws.com" ||
		ca.IDTokenAudience() != "sts.amazonaws.com" {
		t.Errorf("service %+v", ca)
	}
	env["AWS_ENDPOINT_URL"] = "http://plain.example"
	svc = c.Service(nil, nil, nil, testenv.Getenv(env))
	if _, err := svc.Exchange(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "AWS_ENDPOINT_URL must be an https URL") {
		t.Errorf("http endpoint: %v", err)
	}
	if _, ok := svc.(*failedService); !ok || svc.IDTokenAudience() != "sts.amazonaws.com" {
		t.Errorf("failed service %T %s", svc, svc.IDTokenAudience())
	}
}

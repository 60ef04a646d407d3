package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// gitlabToken is a GitLab-shaped ID token for aud.
func gitlabToken(aud string) string {
	return fakeJWT(map[string]any{"iss": "https://gitlab.com", "aud": aud, "sub": "project_path:grp/app:ref_type:branch:ref:main",
		"project_path": "grp/app", "namespace_id": "72", "ci_config_ref_uri": "gitlab.com/grp/app//.gitlab-ci.yml@refs/heads/main",
		"environment": "release", "jti": "j-1", "exp": 1700000000})
}

// TestDetectSource: which variables give which source, in which order,
// and that nothing found lists every place looked.
func TestDetectSource(t *testing.T) {
	type test struct {
		env              map[string]string
		idEnv, idFile    string
		wantName         string
		wantCI           CI
		wantErrContains  []string
		wantDetailsMatch []string
	}
	testenv.Run(t, map[string]test{
		"github":                             {env: map[string]string{"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "http://x"}, wantName: "GitHub Actions", wantCI: CIGitHub},
		"github without permission":          {env: map[string]string{"GITHUB_ACTIONS": "true"}, wantName: "GitHub Actions", wantCI: CIGitHub},
		"forgejo sets gitea and github too":  {env: map[string]string{"GITHUB_ACTIONS": "true", "GITEA_ACTIONS": "true", "FORGEJO_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "http://x"}, wantName: "Forgejo Actions", wantCI: CIForgejo},
		"gitea":                              {env: map[string]string{"GITHUB_ACTIONS": "true", "GITEA_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "http://x"}, wantName: "Gitea Actions", wantCI: CIGitea},
		"gitlab default variable":            {env: map[string]string{"GITLAB_CI": "true"}, wantName: "GitLab CI's CARGO_OIDC_ID_TOKEN", wantCI: CIGitLab},
		"gitlab named variable":              {env: map[string]string{"GITLAB_CI": "true"}, idEnv: "REG_TOKEN", wantName: "GitLab CI's REG_TOKEN", wantCI: CIGitLab},
		"circleci":                           {env: map[string]string{"CIRCLECI": "true"}, wantName: "CircleCI", wantCI: CICircleCI},
		"buildkite":                          {env: map[string]string{"BUILDKITE": "true"}, wantName: "Buildkite", wantCI: CIBuildkite},
		"azure pipelines":                    {env: map[string]string{"TF_BUILD": "True"}, wantName: "Azure Pipelines", wantCI: CIAzurePipelines},
		"bitbucket":                          {env: map[string]string{"BITBUCKET_STEP_OIDC_TOKEN": "x"}, wantName: "Bitbucket Pipelines' BITBUCKET_STEP_OIDC_TOKEN", wantCI: CIBitbucket},
		"explicit variable wins over github": {env: map[string]string{"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "http://x"}, idEnv: "MY_TOKEN", wantName: "GitHub Actions's MY_TOKEN", wantCI: CIGitHub},
		"explicit variable outside CI":       {idEnv: "MY_TOKEN", wantName: "the variable MY_TOKEN", wantCI: CINone},
		"explicit file wins over circleci":   {env: map[string]string{"CIRCLECI": "true"}, idFile: "/run/token", wantName: "the file /run/token", wantCI: CICircleCI},
		"both explicit":                      {idEnv: "A", idFile: "/b", wantErrContains: []string{"not both"}},
		"nothing": {env: map[string]string{"CI": "true"}, wantErrContains: []string{"no ID token source found"},
			wantDetailsMatch: []string{"--id-token-env", "ACTIONS_ID_TOKEN_REQUEST_URL", "GITLAB_CI=true", "CARGO_OIDC_ID_TOKEN", "CIRCLE_OIDC_TOKEN_V2",
				"buildkite-agent oidc request-token", "SYSTEM_OIDCREQUESTURI", "BITBUCKET_STEP_OIDC_TOKEN"}},
	}, func(t *testing.T, _ string, tt test) {
		s, err := DetectSource(SourceEnv{Getenv: testenv.Getenv(tt.env), IDTokenEnv: tt.idEnv, IDTokenFile: tt.idFile, Client: testClient(0)})
		if len(tt.wantErrContains) > 0 {
			if err == nil {
				t.Fatalf("DetectSource = %q, want an error", s.Name)
			}
			for _, w := range tt.wantErrContains {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			var d interface{ Details() []string }
			details := ""
			if errors.As(err, &d) {
				details = strings.Join(d.Details(), "\n")
			}
			for _, w := range tt.wantDetailsMatch {
				if !strings.Contains(details, w) {
					t.Errorf("details do not name %q:\n%s", w, details)
				}
			}
			if len(tt.wantDetailsMatch) > 0 && Classify(err) != KindNoIDToken {
				t.Errorf("Classify = %v, want %v", Classify(err), KindNoIDToken)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != tt.wantName || s.CI != tt.wantCI {
			t.Errorf("source = %q (%q), want %q (%q)", s.Name, s.CI, tt.wantName, tt.wantCI)
		}
	})
}

// TestFixedAudienceSources: a token whose audience the CI configuration
// fixed is refused, with the setting that fixes it, before any token
// service sees it; it is masked all the same.
func TestFixedAudienceSources(t *testing.T) {
	t.Parallel()
	dir := testenv.TempDir(t)
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(gitlabToken("other")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		env       map[string]string
		idEnv     string
		idFile    string
		audience  string
		wantErr   []string // empty: accepted
		wantHint  string
		wantToken string
	}{
		{name: "gitlab wrong audience", env: map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": gitlabToken("other")}, audience: "crates.io",
			wantErr: []string{"GitLab CI's CARGO_OIDC_ID_TOKEN", `audience other`, `"crates.io"`}, wantHint: "id_tokens:\n    CARGO_OIDC_ID_TOKEN:\n      aud: crates.io"},
		{name: "gitlab right audience", env: map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": gitlabToken("crates.io")}, audience: "crates.io", wantToken: gitlabToken("crates.io")},
		{name: "gitlab any audience when none is needed", env: map[string]string{"GITLAB_CI": "true", "CARGO_OIDC_ID_TOKEN": gitlabToken("other")}, wantToken: gitlabToken("other")},
		{name: "gitlab missing variable", env: map[string]string{"GITLAB_CI": "true"}, audience: "crates.io",
			wantErr: []string{"no ID token from GitLab CI's CARGO_OIDC_ID_TOKEN", "is not set", "aud: crates.io"}},
		{name: "explicit variable wrong audience", env: map[string]string{"T": gitlabToken("other")}, idEnv: "T", audience: "jfrog",
			wantErr: []string{"the variable T", `"jfrog"`}, wantHint: "minted for audience jfrog"},
		{name: "file wrong audience", idFile: file, audience: "crates.io", wantErr: []string{"the file " + file}, wantHint: "minted for audience crates.io"},
		{name: "bitbucket wrong audience", env: map[string]string{"BITBUCKET_BUILD_NUMBER": "1", "BITBUCKET_STEP_OIDC_TOKEN": gitlabToken("ari:cloud:bitbucket::workspace/x")}, audience: "crates.io",
			wantErr: []string{"Bitbucket"}, wantHint: "workspace's own audience"},
		{name: "bitbucket without oidc", env: map[string]string{"BITBUCKET_BUILD_NUMBER": "1"}, wantErr: []string{"oidc: true"}},
		{name: "circleci no context", env: map[string]string{"CIRCLECI": "true"}, wantErr: []string{"context"}},
		{name: "circleci env token with the audience", env: map[string]string{"CIRCLECI": "true", "CIRCLE_OIDC_TOKEN_V2": gitlabToken("crates.io")}, audience: "crates.io", wantToken: gitlabToken("crates.io")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &recMask{}
			s, err := DetectSource(SourceEnv{Getenv: testenv.Getenv(tt.env), IDTokenEnv: tt.idEnv, IDTokenFile: tt.idFile, Client: testClient(0),
				Commands: failRunner{t}})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Masked(s, m.mask).IDToken(context.Background(), tt.audience)
			if len(tt.wantErr) == 0 {
				if err != nil || tok != tt.wantToken {
					t.Fatalf("IDToken = %v, want the token", err)
				}
				if got := m.list(); len(got) != 1 || got[0] != tok {
					t.Errorf("masked %d secrets, want the token once", len(got))
				}
				return
			}
			if err == nil {
				t.Fatal("IDToken succeeded, want an error")
			}
			msg := err.Error()
			var d interface{ Details() []string }
			if errors.As(err, &d) {
				msg += "\n" + strings.Join(d.Details(), "\n")
			}
			for _, w := range append(tt.wantErr, tt.wantHint) {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q:\n%s", w, msg)
				}
			}
			if Classify(err) != KindNoIDToken {
				t.Errorf("Classify = %v, want %v", Classify(err), KindNoIDToken)
			}
			for _, v := range tt.env {
				if strings.Count(v, ".") == 2 {
					assertNoSecret(t, msg, v)
					if len(m.list()) == 0 {
						t.Errorf("the token read was not masked")
					}
				}
			}
		})
	}
}

// failRunner fails the test when a command is run.
type failRunner struct{ t *testing.T }

func (f failRunner) Run(_ context.Context, name string, args ...string) (string, error) {
	f.t.Errorf("ran %s %v", name, args)
	return "", errors.New("no commands here")
}

// TestAzurePipelinesSource: the POST to SYSTEM_OIDCREQUESTURI, its
// failures titled as a missing ID token, and an audience Azure Pipelines
// cannot give refused before any request.
func TestAzurePipelinesSource(t *testing.T) {
	t.Parallel()
	const access = "azure-access-token-secret"
	azTok := fakeJWT(map[string]any{"iss": "https://vstoken.dev.azure.com/org", "aud": AzurePipelinesAudience, "exp": 1700000000})
	tests := []struct {
		name     string
		status   int
		body     string
		audience string
		wantErr  []string
		wantReqs int
	}{
		{name: "ok", status: 200, body: `{"oidcToken":"` + azTok + `"}`, audience: AzurePipelinesAudience, wantReqs: 1},
		{name: "ok without audience", status: 200, body: `{"oidcToken":"` + azTok + `"}`, wantReqs: 1},
		{name: "other audience refused first", status: 200, body: `{"oidcToken":"` + azTok + `"}`, audience: "crates.io", wantErr: []string{"Azure Pipelines", AzurePipelinesAudience, `"crates.io"`}},
		{name: "refused access token", status: 401, body: `{"message":"` + access + ` is bad"}`, audience: AzurePipelinesAudience, wantErr: []string{"no ID token from Azure Pipelines", "azure pipelines id token request failed", "401"}, wantReqs: 1},
		{name: "no token", status: 200, body: `{}`, wantErr: []string{"oidcToken"}, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeJSON(w, tt.status, tt.body) })
			env := map[string]string{"TF_BUILD": "True", "SYSTEM_OIDCREQUESTURI": f.URL + "/org/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken", "SYSTEM_ACCESSTOKEN": access}
			c := testClient(0)
			s, err := DetectSource(SourceEnv{Getenv: testenv.Getenv(env), Client: c})
			if err != nil {
				t.Fatal(err)
			}
			m := &recMask{}
			tok, err := Masked(s, m.mask).IDToken(context.Background(), tt.audience)
			if f.count() != tt.wantReqs {
				t.Errorf("%d requests, want %d", f.count(), tt.wantReqs)
			}
			for _, r := range f.requests() {
				if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/oidctoken") || r.Query != "api-version=7.1" ||
					r.Header.Get("Authorization") != "Bearer "+access || r.Header.Get("X-TFS-FedAuthRedirect") != "Suppress" {
					t.Errorf("request %s %s?%s (Authorization set: %v)", r.Method, r.Path, r.Query, r.Header.Get("Authorization") != "")
				}
			}
			if len(tt.wantErr) == 0 {
				if err != nil || tok != azTok {
					t.Fatalf("IDToken = %v", err)
				}
				if got := m.list(); len(got) != 1 || got[0] != azTok {
					t.Errorf("the token was not masked")
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			_, xerr := fetchIDToken(context.Background(), s, tt.audience)
			if Classify(xerr) != KindNoIDToken {
				t.Errorf("Classify(%v) = %v, want %v", xerr, Classify(xerr), KindNoIDToken)
			}
			msg := xerr.Error()
			var d interface{ Details() []string }
			if errors.As(xerr, &d) {
				msg += "\n" + strings.Join(d.Details(), "\n")
			}
			assertNoSecret(t, msg, access)
			for _, w := range tt.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q:\n%s", w, msg)
				}
			}
		})
	}
}

// stubPath writes an executable shell script name into a new folder and
// returns the folder, for a PATH.
func stubPath(t *testing.T, name, script string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the command stubs are shell scripts; the Linux and macOS runs cover ExecRunner")
	}
	dir := testenv.TempDir(t)
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCommandSources: Buildkite and CircleCI mint through their CLIs,
// found on the job's PATH, with the audience as an argument; a failing or
// hanging command is bounded, and its stderr quoted without the token.
func TestCommandSources(t *testing.T) {
	t.Parallel()
	tok := gitlabToken("crates.io")
	tests := []struct {
		name     string
		env      map[string]string
		command  string
		script   string
		timeout  time.Duration
		wantArgs string
		wantErr  []string
	}{
		{name: "buildkite", env: map[string]string{"BUILDKITE": "true"}, command: "buildkite-agent",
			script: `echo "$@" > "$(dirname "$0")/args"; echo ` + tok, wantArgs: "oidc request-token --audience crates.io"},
		{name: "circleci other audience", env: map[string]string{"CIRCLECI": "true", "CIRCLE_OIDC_TOKEN_V2": gitlabToken("org-id")}, command: "circleci",
			script: `echo "$@" > "$(dirname "$0")/args"; echo ` + tok, wantArgs: `run oidc get --claims {"aud":"crates.io"}`},
		{name: "buildkite fails", env: map[string]string{"BUILDKITE": "true"}, command: "buildkite-agent",
			script: `echo "leaked ` + tok + `" >&2; echo ` + tok + `; exit 3`, wantErr: []string{"no ID token from Buildkite", "buildkite-agent oidc request-token", "exit status 3", "leaked"}},
		{name: "buildkite hangs", env: map[string]string{"BUILDKITE": "true"}, command: "buildkite-agent", timeout: 200 * time.Millisecond,
			script: `sleep 5`, wantErr: []string{"did not finish within 200ms"}},
		{name: "buildkite prints nothing", env: map[string]string{"BUILDKITE": "true"}, command: "buildkite-agent",
			script: `true`, wantErr: []string{"holds no token"}},
		{name: "not on PATH", env: map[string]string{"BUILDKITE": "true"}, command: "other", script: `true`, wantErr: []string{"buildkite-agent is not on PATH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := stubPath(t, tt.command, tt.script)
			env := map[string]string{"PATH": dir}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := DetectSource(SourceEnv{Getenv: testenv.Getenv(env), Client: testClient(0), Commands: &ExecRunner{Getenv: testenv.Getenv(env), Timeout: tt.timeout}})
			if err != nil {
				t.Fatal(err)
			}
			m := &recMask{}
			start := time.Now()
			got, err := Masked(s, m.mask).IDToken(context.Background(), "crates.io")
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %s: the deadline did not hold", time.Since(start))
			}
			if len(tt.wantErr) == 0 {
				if err != nil || got != tok {
					t.Fatalf("IDToken = %v", err)
				}
				args, _ := os.ReadFile(filepath.Join(dir, "args"))
				if strings.TrimSpace(string(args)) != tt.wantArgs {
					t.Errorf("args %q, want %q", strings.TrimSpace(string(args)), tt.wantArgs)
				}
				if l := m.list(); len(l) != 1 || l[0] != tok {
					t.Errorf("the token was not masked")
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			assertNoSecret(t, err.Error(), tok)
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			if Classify(err) != KindNoIDToken {
				t.Errorf("Classify = %v", Classify(err))
			}
		})
	}
}

// TestJFrogProviderType: provider_type "GitHub" only for GitHub Actions'
// tokens; another CI's token is sent without it.
func TestJFrogProviderType(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ci   CI
		want any
	}{{"github", CIGitHub, "GitHub"}, {"gitlab", CIGitLab, nil}, {"buildkite", CIBuildkite, nil}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, 200, `{"access_token":"jfrog-access-token-1234","expires_in":3600}`)
			})
			src := &Source{Name: tt.ci.Title(), CI: tt.ci, fetch: staticIDs(testIDToken).IDToken}
			if _, err := newJFrog(f.URL, testClient(0), nil).Exchange(context.Background(), Masked(src, func(string) {})); err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(f.requests()[0].Body), &body); err != nil {
				t.Fatal(err)
			}
			if body["provider_type"] != tt.want {
				t.Errorf("provider_type = %v, want %v", body["provider_type"], tt.want)
			}
		})
	}
}

// TestGitLabClaimLines: a refusal of a GitLab token shows the claims
// crates.io matches a GitLab publisher by.
func TestGitLabClaimLines(t *testing.T) {
	t.Parallel()
	c, err := DecodeClaims(gitlabToken("crates.io"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Lines(), "\n")
	want := "iss: https://gitlab.com\naud: crates.io\nsub: project_path:grp/app:ref_type:branch:ref:main\nproject_path: grp/app\nnamespace_id: 72\n" +
		"ci_config_ref_uri: gitlab.com/grp/app//.gitlab-ci.yml@refs/heads/main\nenvironment: release"
	if got != want {
		t.Errorf("Lines:\n%s\nwant:\n%s", got, want)
	}
}

// TestActionsSourceNamesForgejo: the Actions runtime's missing variables
// are reported for the runner that runs the job.
func TestActionsSourceNamesForgejo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ env map[string]string }{
		{map[string]string{"GITHUB_ACTIONS": "true", "FORGEJO_ACTIONS": "true", "GITEA_ACTIONS": "true"}},
	} {
		s, err := DetectSource(SourceEnv{Getenv: testenv.Getenv(tt.env), Client: testClient(0)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.IDToken(context.Background(), "")
		if want := "no ID token from Forgejo Actions: ACTIONS_ID_TOKEN_REQUEST_URL is not set"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

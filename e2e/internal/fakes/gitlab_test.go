package fakes

import (
	"net/http"
	"strings"
	"testing"
)

// TestCratesIOGitLab: the crates.io fake accepts a GitLab token only as
// crates.io matches a GitLab trusted publisher (project, pipeline file,
// environment), once per jti, and still accepts GitHub's tokens beside it.
func TestCratesIOGitLab(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	gl, err := s.StartGitLab()
	if err != nil {
		t.Fatal(err)
	}
	s.TrustGitLab(gl, &GitLabPublisher{Namespace: "Grp", Project: "APP", WorkflowFilepath: ".gitlab-ci.yml", Environment: "release"})
	tests := []struct {
		name   string
		aud    string
		extra  map[string]any
		status int
		want   string
	}{
		{name: "match, case-insensitive project", aud: "crates.io", status: 200, want: `"token":"cio_tp_`},
		{name: "other project", aud: "crates.io", extra: map[string]any{"project_path": "grp/other"}, status: 400, want: "No Trusted Publishing config found for repository `grp/other`"},
		{name: "other pipeline file", aud: "crates.io", extra: map[string]any{"ci_config_ref_uri": "gitlab.com/grp/app//ci/x.yml@refs/heads/main"}, status: 400, want: "workflow filepath `ci/x.yml`"},
		{name: "other environment", aud: "crates.io", extra: map[string]any{"environment": "dev"}, status: 400, want: "environment `dev`"},
		{name: "no environment", aud: "crates.io", extra: map[string]any{"environment": nil}, status: 400, want: "environment ``"},
		{name: "other audience", aud: "jfrog", status: 400, want: "Failed to decode JWT"},
	}
	for _, tt := range tests {
		tok, err := gl.MintGitLab(tt.aud, tt.extra)
		if err != nil {
			t.Fatal(err)
		}
		st, b := call(t, s, http.MethodPost, s.CratesIOURL+CratesIOTokenPath, "", map[string]string{"jwt": tok})
		if st != tt.status || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: %d %s, want %d and %q", tt.name, st, b, tt.status, tt.want)
		}
		if tt.status == 200 {
			if st, b := call(t, s, http.MethodPost, s.CratesIOURL+CratesIOTokenPath, "", map[string]string{"jwt": tok}); st != 400 || !strings.Contains(string(b), "already been used") {
				t.Errorf("replay: %d %s", st, b)
			}
		}
	}
	if st, b := call(t, s, http.MethodPost, s.CratesIOURL+CratesIOTokenPath, "", map[string]string{"jwt": idToken(t, s, "crates.io")}); st != 200 {
		t.Errorf("a GitHub token beside GitLab's: %d %s", st, b)
	}
}

package exchange

import (
	"context"
	"fmt"
	"strings"
)

func detectGitLab(e *SourceEnv) (*Source, bool) {
	if e.Getenv("GITLAB_CI") != "true" {
		return nil, false
	}
	return gitLabSource(e.Getenv, DefaultIDTokenEnv), true
}

// gitLabSource reads the id_tokens variable name.
func gitLabSource(getenv func(string) string, name string) *Source {
	yml := func(want string) string {
		return "Give the job an ID token for audience " + want + " in .gitlab-ci.yml:\n" +
			"  id_tokens:\n    " + name + ":\n      aud: " + want
	}
	return &Source{Name: "GitLab CI's " + name, CI: CIGitLab, fixed: true, howToSet: yml,
		fetch: func(_ context.Context, audience string) (string, error) {
			tok := strings.TrimSpace(getenv(name))
			if tok == "" {
				want := audience
				if want == "" {
					want = "<the registry's audience>"
				}
				return "", &HintedError{Err: fmt.Errorf("%s is not set", name), Hint: strings.Split(yml(want), "\n")}
			}
			return tok, nil
		}}
}

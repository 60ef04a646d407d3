package exchange

import (
	"context"
	"errors"
	"strings"
)

func detectBitbucket(e *SourceEnv) (*Source, bool) {
	if e.Getenv("BITBUCKET_STEP_OIDC_TOKEN") == "" && e.Getenv("BITBUCKET_BUILD_NUMBER") == "" {
		return nil, false
	}
	getenv := e.Getenv
	how := func(want string) string {
		return "Bitbucket Pipelines mints step tokens for the workspace's own audience (ari:cloud:bitbucket::workspace/<uuid>), " +
			"not " + want + ": set the registry's trust and the audience input to the token's audience."
	}
	return &Source{Name: "Bitbucket Pipelines' BITBUCKET_STEP_OIDC_TOKEN", CI: CIBitbucket, fixed: true, howToSet: how,
		fetch: func(context.Context, string) (string, error) {
			tok := strings.TrimSpace(getenv("BITBUCKET_STEP_OIDC_TOKEN"))
			if tok == "" {
				return "", errors.New("BITBUCKET_STEP_OIDC_TOKEN is not set; add `oidc: true` to the step in bitbucket-pipelines.yml")
			}
			return tok, nil
		}}, true
}

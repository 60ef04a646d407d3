package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

func detectCircleCI(e *SourceEnv) (*Source, bool) {
	if e.Getenv("CIRCLECI") != "true" {
		return nil, false
	}
	run := e.Commands
	getenv := e.Getenv
	return &Source{Name: "CircleCI", CI: CICircleCI, fetch: func(ctx context.Context, audience string) (string, error) {
		tok := strings.TrimSpace(getenv("CIRCLE_OIDC_TOKEN_V2"))
		if tok != "" && audience != "" {
			if c, err := DecodeClaims(tok); err != nil || !slices.Contains(c.Audience, audience) {
				tok = "" // another audience: ask the CLI for one
			}
		}
		if tok != "" {
			return tok, nil
		}
		if audience == "" {
			return "", errors.New("CIRCLE_OIDC_TOKEN_V2 is not set; CircleCI gives ID tokens only to jobs that use at least one context (add `context:` to the job in .circleci/config.yml)")
		}
		claims, err := json.Marshal(map[string]string{"aud": audience})
		if err != nil {
			return "", err
		}
		// The claims are not secret; the token comes back on stdout only.
		return run.Run(ctx, "circleci", "run", "oidc", "get", "--claims", string(claims))
	}}, true
}

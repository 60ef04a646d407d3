package exchange

import (
	"context"
	"errors"
)

// ActionsSource is the Actions runtime's ID token endpoint
// (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN) as a Source, named GitHub,
// Forgejo or Gitea Actions by the runner's variables.
func ActionsSource(getenv func(string) string, c *Client) *Source {
	ci := CIGitHub
	switch {
	case getenv("FORGEJO_ACTIONS") != "":
		ci = CIForgejo
	case getenv("GITEA_ACTIONS") != "":
		ci = CIGitea
	}
	gh := GitHubIDTokens(getenv, c)
	return &Source{Name: ci.Title(), CI: ci, named: true, fetch: func(ctx context.Context, audience string) (string, error) {
		tok, err := gh.IDToken(ctx, audience)
		var me *MissingIDTokenError
		if ci != CIGitHub && errors.As(err, &me) {
			me.Source = ci.Title()
		}
		return tok, err
	}}
}

func detectActions(e *SourceEnv) (*Source, bool) {
	if e.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") == "" && e.Getenv("GITHUB_ACTIONS") != "true" {
		return nil, false
	}
	return ActionsSource(e.Getenv, e.Client), true
}

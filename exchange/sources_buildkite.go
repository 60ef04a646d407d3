package exchange

import (
	"context"
)

func detectBuildkite(e *SourceEnv) (*Source, bool) {
	if e.Getenv("BUILDKITE") != "true" {
		return nil, false
	}
	run := e.Commands
	return &Source{Name: "Buildkite", CI: CIBuildkite, fetch: func(ctx context.Context, audience string) (string, error) {
		args := []string{"oidc", "request-token"}
		if audience != "" {
			args = append(args, "--audience", audience)
		}
		return run.Run(ctx, "buildkite-agent", args...)
	}}, true
}

// Command release-publish does the steps of a release that users pin, so
// that running them again never changes what a user pinned:
//
//	go run ./internal/release/cmd/release-publish plan \
//	  --tag v1.2.3 --sha "$GITHUB_SHA"
//	go run ./internal/release/cmd/release-publish publish \
//	  --tag v1.2.3 --sha "$GITHUB_SHA" --dist dist
//
// plan checks the tag (vMAJOR.MINOR.PATCH[-PRERELEASE]) and where it points
// on the remote: at github.sha (nothing published yet: build everything) or
// at a release commit whose only parent is github.sha (an earlier run
// published it: reuse that commit, build no image). Anything else is an
// error. It writes version, major, prerelease, release-commit and build to
// $GITHUB_OUTPUT.
//
// publish then, in order, each step only when it is missing:
//  1. the release commit (action.yml, setup/SHA256SUMS, setup/VERSION from
//     the work tree) and the annotated version tag on it, pushed with a
//     lease on the tag's old value; or the existing release commit, reused;
//  2. the GitHub release (gh), a prerelease for -PRERELEASE tags, with every
//     binary and SHA256SUMS; an asset already there must have the content
//     the release commit's setup/SHA256SUMS names (else an error, never a
//     replacement), a missing one is uploaded without --clobber, a draft
//     left by a failed run is published;
//  3. the major tag (v1), for a stable release only, and only forward: to a
//     higher version than the one it points at.
//
// .github/workflows/release.yml runs both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	if code := release.ExitCode("release-publish", err, os.Stderr); code != 0 {
		// The run's annotation; % and line breaks escaped as the runner
		// expects in a workflow command's data.
		msg := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(err.Error())
		fmt.Fprintf(os.Stdout, "::error title=release-publish::%s\n", msg)
		os.Exit(code)
	}
}

// options are the parsed command line.
type options struct {
	command      string // plan or publish
	tag          string
	sha          string
	repo, remote string
	dist, gh     string
	version      release.Version
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

const usage = "usage: release-publish plan|publish --tag vX.Y.Z --sha COMMIT [--dist DIR]"

func parse(args []string, stderr io.Writer) (*options, error) {
	if len(args) == 0 || (args[0] != "plan" && args[0] != "publish") {
		return nil, errors.New("the first argument must be plan or publish; " + usage)
	}
	o := &options{command: args[0]}
	fs := flag.NewFlagSet("release-publish "+o.command, flag.ContinueOnError)
	fs.StringVar(&o.tag, "tag", "", "the version tag being released, like v1.2.3 or v1.3.0-rc.1 (required)")
	fs.StringVar(&o.sha, "sha", "", "the commit the tag pointed at when it was pushed: github.sha (required)")
	fs.StringVar(&o.repo, "repo", ".", "the checkout of --sha")
	fs.StringVar(&o.remote, "remote", "origin", "the git remote to read and push tags")
	if o.command == "publish" {
		fs.StringVar(&o.dist, "dist", "", "the folder with the binaries and SHA256SUMS release-binaries wrote (required)")
		fs.StringVar(&o.gh, "gh", "gh", "the GitHub CLI")
	}
	if err := release.ParseFlags(fs, args[1:], stderr); err != nil {
		return nil, err
	}
	if o.tag == "" {
		return nil, errors.New("--tag is required")
	}
	v, err := release.ParseVersion(o.tag)
	if err != nil {
		return nil, fmt.Errorf("--tag: %w; push a tag like v1.2.3 or v1.3.0-rc.1 instead", err)
	}
	o.version = v
	if !shaRE.MatchString(o.sha) {
		return nil, fmt.Errorf("--sha %q is not a full commit id (40 lower-case hex digits); pass github.sha", o.sha)
	}
	if o.command == "publish" && o.dist == "" {
		return nil, errors.New("--dist is required")
	}
	return o, nil
}

// run parses args and runs the command with env as the environment of the
// process and of every git and gh it starts.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	p := newPublisher(o, env, stdout)
	switch o.command {
	case "plan":
		pl, err := p.plan(ctx)
		if err != nil {
			return err
		}
		return p.writeOutputs(pl.outputs())
	default:
		err := p.publish(ctx)
		if werr := p.writeSummary(); werr != nil && err == nil {
			err = werr
		}
		return err
	}
}

// getenv returns the value of name in env, the last one when repeated.
func getenv(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/cargo-oidc/cargo-oidc/internal/regularfile"
)

// maxIDTokenFile bounds a token file and the part of an event payload read.
const (
	maxIDTokenFile  = 64 << 10
	maxEventPayload = 32 << 20
)

// IDTokenSource gives OIDC ID tokens.
type IDTokenSource interface {
	// IDToken returns an ID token for audience ("" = the source's default).
	IDToken(ctx context.Context, audience string) (string, error)
}

// IDTokenFunc adapts a function to IDTokenSource.
type IDTokenFunc func(ctx context.Context, audience string) (string, error)

// IDToken implements IDTokenSource.
func (f IDTokenFunc) IDToken(ctx context.Context, audience string) (string, error) {
	return f(ctx, audience)
}

// GitHubIDTokens returns the GitHub Actions runtime as an IDTokenSource:
// go-githubactions' GetIDToken with getenv and c.Standard(), so the request
// is retried. A missing ACTIONS_ID_TOKEN_REQUEST_URL or _TOKEN gives a
// *MissingIDTokenError (naming `permissions: id-token: write`, and the fork
// case for pull requests from forks); a non-200 answer gives an *HTTPError
// naming the endpoint without its query and the last status.
func GitHubIDTokens(getenv func(string) string, c *Client) IDTokenSource {
	return &githubIDTokens{getenv: getenv, c: c}
}

type githubIDTokens struct {
	getenv func(string) string
	c      *Client
}

func (g *githubIDTokens) IDToken(ctx context.Context, audience string) (string, error) {
	a := githubactions.New(githubactions.WithGetenv(g.getenv), githubactions.WithHTTPClient(g.c.Standard()))
	endpoint := displayRawURL(g.getenv("ACTIONS_ID_TOKEN_REQUEST_URL"))
	tok, err := a.GetIDToken(ctx, audience)
	if err != nil {
		return "", g.mapError(err, endpoint)
	}
	if err := CheckToken("id token", tok); err != nil {
		return "", &RequestError{Service: ServiceGitHub, Method: "GET", URL: endpoint, StatusCode: 200, Err: err}
	}
	return tok, nil
}

func (g *githubIDTokens) mapError(err error, endpoint string) error {
	var em *githubactions.EnvMissingError
	if errors.As(err, &em) {
		me := &MissingIDTokenError{Variable: em.Name, Event: g.getenv("GITHUB_EVENT_NAME")}
		// pull_request, pull_request_review and pull_request_review_comment
		// runs of a fork's pull request get no token; pull_request_target
		// runs in the base repository and gets one.
		if strings.HasPrefix(me.Event, "pull_request") && me.Event != "pull_request_target" {
			head, base := pullRequestRepos(g.getenv("GITHUB_EVENT_PATH"))
			if head != "" && base != "" && !strings.EqualFold(head, base) {
				me.ForkPullRequest, me.HeadRepo, me.BaseRepo = true, head, base
			}
		}
		return me
	}
	secret := g.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	g.c.red.Add(secret)
	var rf *githubactions.RequestFailedError
	if errors.As(err, &rf) {
		he := newHTTPError(g.c.red, ServiceGitHub, "GET", endpoint, rf.StatusCode, "", []byte(rf.Body), 1)
		he.Message = scrub(he.Message, secret)
		he.Hint = githubHint(rf.StatusCode)
		return he
	}
	var he *HTTPError
	if errors.As(err, &he) {
		// Retried statuses that never succeeded (from the client's ErrorHandler).
		out := *he
		out.Service, out.URL = ServiceGitHub, endpoint
		out.Message = scrub(out.Message, secret)
		out.Hint = githubHint(he.StatusCode)
		return &out
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if strings.Contains(err.Error(), "failed to process response as JSON") {
		err = &MalformedAnswerError{Reason: "the answer is not valid JSON"}
	} else if strings.HasPrefix(err.Error(), "failed to parse request URL") {
		err = errors.New("ACTIONS_ID_TOKEN_REQUEST_URL is not a valid URL")
	}
	return &RequestError{Service: ServiceGitHub, Method: "GET", URL: endpoint, Err: g.c.red.Err(scrubErr(err, secret))}
}

func githubHint(status int) string {
	return endpointHint(status, "the Actions runtime refused the request token; ID tokens can only be requested while the job runs, by a job with `permissions: id-token: write`",
		"GitHub's ID token endpoint failed repeatedly; this is usually transient: re-run the job, or raise the retries input")
}

// endpointHint is the hint for an ID token endpoint's answer status:
// refused for 401 and 403, failing for 429 and 5xx, else none.
func endpointHint(status int, refused, failing string) string {
	switch {
	case status == 401 || status == 403:
		return refused
	case status == 429 || status >= 500:
		return failing
	}
	return ""
}

// scrub removes secret from s (defence in depth: the request token must
// never be quoted).
func scrub(s, secret string) string {
	if secret == "" || len(secret) < 4 {
		return s
	}
	return strings.ReplaceAll(s, secret, "***")
}

func scrubErr(err error, secret string) error {
	if secret == "" || len(secret) < 4 || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &textError{msg: scrub(err.Error(), secret), err: err}
}

// pullRequestRepos reads the head and base repository names of the event
// payload at path ("" when unknown).
func pullRequestRepos(path string) (head, base string) {
	if path == "" {
		return "", ""
	}
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	var ev struct {
		PullRequest struct {
			Head struct {
				Repo struct {
					FullName string `json:"full_name"`
				} `json:"repo"`
			} `json:"head"`
			Base struct {
				Repo struct {
					FullName string `json:"full_name"`
				} `json:"repo"`
			} `json:"base"`
		} `json:"pull_request"`
	}
	if json.NewDecoder(io.LimitReader(f, maxEventPayload)).Decode(&ev) != nil {
		return "", ""
	}
	return CleanMessage(ev.PullRequest.Head.Repo.FullName), CleanMessage(ev.PullRequest.Base.Repo.FullName)
}

// EnvIDToken returns an IDTokenSource reading a ready-made ID token from
// the environment variable name (CircleCI's CIRCLE_OIDC_TOKEN_V2, a GitLab
// id_tokens variable). The audience is fixed by whoever minted it.
func EnvIDToken(getenv func(string) string, name string) IDTokenSource {
	return IDTokenFunc(func(context.Context, string) (string, error) {
		return readyIDToken(getenv(name), "environment variable "+name, fmt.Errorf("environment variable %s is empty or not set; it must hold an OIDC ID token", name))
	})
}

// FileIDToken returns an IDTokenSource reading a ready-made ID token from
// the file at path, read afresh on every call, surrounding whitespace
// trimmed. The file is opened without blocking and must be a regular file,
// so a named pipe or a device there fails at once instead of blocking the
// caller (a credential provider) past its timeout.
func FileIDToken(path string) IDTokenSource {
	return IDTokenFunc(func(context.Context, string) (string, error) {
		f, err := regularfile.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("id token file %s does not exist; it must hold an OIDC ID token", path)
			}
			return "", fmt.Errorf("reading id token file %s: %w", path, err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxIDTokenFile+1))
		if err != nil {
			return "", fmt.Errorf("reading id token file %s: %w", path, err)
		}
		if len(data) > maxIDTokenFile {
			return "", fmt.Errorf("id token file %s is larger than %d bytes; it must hold only an OIDC ID token", path, maxIDTokenFile)
		}
		return readyIDToken(string(data), "file "+path, fmt.Errorf("id token file %s is empty; it must hold an OIDC ID token", path))
	})
}

// readyIDToken is the ready-made ID token raw, read from where, without
// the whitespace around it and checked; empty is the error for none.
func readyIDToken(raw, where string, empty error) (string, error) {
	tok := strings.TrimSpace(raw)
	if tok == "" {
		return "", empty
	}
	if err := CheckToken("id token in "+where, tok); err != nil {
		return "", err
	}
	return tok, nil
}

// Masked returns src with every token it gives passed to mask before it is
// returned (mask nil: src unchanged). A *Source stays a *Source, so what
// it says of itself (its name, JFrog's provider_type) is kept.
func Masked(src IDTokenSource, mask func(secret string)) IDTokenSource {
	if mask == nil {
		return src
	}
	if s, ok := src.(*Source); ok {
		return s.withMask(mask)
	}
	return IDTokenFunc(func(ctx context.Context, audience string) (string, error) {
		tok, err := src.IDToken(ctx, audience)
		if tok != "" {
			maskSecret(mask, tok)
		}
		return tok, err
	})
}

// fetchIDToken gets an ID token from ids and checks it.
func fetchIDToken(ctx context.Context, ids IDTokenSource, audience string) (string, error) {
	if ids == nil {
		return "", errors.New("no ID token source configured")
	}
	tok, err := ids.IDToken(ctx, audience)
	if err != nil {
		return "", &IDTokenError{Err: err}
	}
	if err := CheckToken("id token", tok); err != nil {
		return "", &IDTokenError{Err: err}
	}
	return tok, nil
}

package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CI names the CI system an ID token Source belongs to.
type CI string

// The CI systems whose ID tokens DetectSource finds. The detectors follow
// the Cloudsmith CLI's (cloudsmith-io/cloudsmith-cli,
// cloudsmith_cli/core/credentials/oidc/detectors/*.py) and the Forgejo
// runner's variables (it sets FORGEJO_ACTIONS and GITEA_ACTIONS).
const (
	// CINone is an explicit variable or file outside a known CI system.
	CINone           CI = ""
	CIGitHub         CI = "github"
	CIForgejo        CI = "forgejo"
	CIGitea          CI = "gitea"
	CIGitLab         CI = "gitlab"
	CICircleCI       CI = "circleci"
	CIBuildkite      CI = "buildkite"
	CIAzurePipelines CI = "azure-pipelines"
	CIBitbucket      CI = "bitbucket"
)

// Title is the CI system's name as its users know it ("" for CINone).
func (c CI) Title() string {
	switch c {
	case CIGitHub:
		return "GitHub Actions"
	case CIForgejo:
		return "Forgejo Actions"
	case CIGitea:
		return "Gitea Actions"
	case CIGitLab:
		return "GitLab CI"
	case CICircleCI:
		return "CircleCI"
	case CIBuildkite:
		return "Buildkite"
	case CIAzurePipelines:
		return "Azure Pipelines"
	case CIBitbucket:
		return "Bitbucket Pipelines"
	}
	return ""
}

// DefaultIDTokenEnv is the GitLab CI id_tokens variable read when
// --id-token-env does not name another.
const DefaultIDTokenEnv = "CARGO_OIDC_ID_TOKEN"

// Source is where the job's ID tokens come from: a CI system's way of
// handing them out, or an explicit variable or file. It is an
// IDTokenSource that names itself in its errors, masks every token the
// moment it is read, and, when its tokens' audience is fixed by the CI
// configuration, refuses a token whose aud is not the audience asked for,
// saying which setting fixes it, before any token service sees it.
type Source struct {
	// Name names the source in messages: "GitHub Actions", "GitLab CI's
	// CARGO_OIDC_ID_TOKEN", "the file /run/token".
	Name string
	// CI is the CI system (CINone for an explicit variable or file outside one).
	CI CI

	fetch func(ctx context.Context, audience string) (string, error)
	// fixed: the token's audience was chosen before the job ran; it is
	// checked after reading. only: the one audience the source can give,
	// checked before any request.
	fixed bool
	only  string
	// named: the fetch's errors already name the source (the Actions
	// runtime's), so they are not wrapped.
	named bool
	// howToSet says how to give the token the audience want.
	howToSet func(want string) string
	mask     func(string)
}

// IDToken implements IDTokenSource.
func (s *Source) IDToken(ctx context.Context, audience string) (string, error) {
	if s.only != "" && audience != "" && audience != s.only {
		return "", &AudienceError{Source: s.Name, Want: audience, Got: []string{s.only}, Hint: s.hint(audience)}
	}
	tok, err := s.fetch(ctx, audience)
	if tok != "" {
		maskSecret(s.mask, tok)
	}
	if err != nil && s.named {
		return "", err
	}
	if err != nil {
		return "", &NoIDTokenError{Source: s.Name, Err: err}
	}
	if err := CheckToken("id token", tok); err != nil {
		return "", &NoIDTokenError{Source: s.Name, Err: err}
	}
	if (s.fixed || s.only != "") && audience != "" {
		c, err := DecodeClaims(tok)
		if err != nil {
			return "", &NoIDTokenError{Source: s.Name, Err: err}
		}
		if !slices.Contains(c.Audience, audience) {
			return "", &AudienceError{Source: s.Name, Want: audience, Got: c.Audience, Hint: s.hint(audience)}
		}
	}
	return tok, nil
}

func (s *Source) hint(want string) string {
	if s.howToSet == nil {
		return ""
	}
	return s.howToSet(want)
}

// JFrogProviderType is the provider_type sent to JFrog with a token of
// this source: "GitHub" for GitHub Actions (what JFrog's own client sends),
// else "" (not sent: JFrog's other integrations are generic OpenID Connect).
func (s *Source) JFrogProviderType() string {
	if s.CI == CIGitHub {
		return "GitHub"
	}
	return ""
}

// withMask is s with mask added to what every token is handed to.
func (s *Source) withMask(mask func(string)) *Source {
	out := *s
	prev := s.mask
	out.mask = func(t string) {
		if prev != nil {
			prev(t)
		}
		mask(t)
	}
	return &out
}

// NoIDTokenError is a failure of a Source to give an ID token; the token
// service was not contacted.
type NoIDTokenError struct {
	Source string
	Err    error
}

// Error implements error.
func (e *NoIDTokenError) Error() string { return "no ID token from " + e.Source + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *NoIDTokenError) Unwrap() error { return e.Err }

// AudienceError is an ID token whose audience is not the one the token
// service needs, refused before any request.
type AudienceError struct {
	Source string
	Want   string
	Got    []string
	Hint   string
}

// Error implements error.
func (e *AudienceError) Error() string {
	got := "no audience"
	if len(e.Got) > 0 {
		got = "audience " + strings.Join(e.Got, ", ")
	}
	return fmt.Sprintf("the ID token from %s has %s, but the token service needs %q; it was not sent", e.Source, got, e.Want)
}

// Details says which CI setting gives the token the audience needed.
func (e *AudienceError) Details() []string {
	if e.Hint == "" {
		return nil
	}
	return strings.Split(e.Hint, "\n")
}

// HintedError is a source's error with what to do about it, for the block
// under the error.
type HintedError struct {
	Err  error
	Hint []string
}

// Error implements error.
func (e *HintedError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *HintedError) Unwrap() error { return e.Err }

// Details returns the hint.
func (e *HintedError) Details() []string { return e.Hint }

// NoSourceError says that no ID token source was found; Looked lists what
// was looked for.
type NoSourceError struct{ Looked []string }

// Error implements error.
func (e *NoSourceError) Error() string {
	return "no ID token source found: this does not look like a CI job that hands out OIDC ID tokens"
}

// Details lists what was looked for and how to name a token explicitly.
func (e *NoSourceError) Details() []string {
	out := []string{"Looked for:"}
	for _, l := range e.Looked {
		out = append(out, "  - "+l)
	}
	return append(out, "Give the token explicitly with --id-token-env=VAR or --id-token-file=PATH.")
}

// SourceEnv is what DetectSource reads.
type SourceEnv struct {
	Getenv func(string) string
	// IDTokenEnv and IDTokenFile are --id-token-env and --id-token-file;
	// they win over every detector.
	IDTokenEnv, IDTokenFile string
	// Client makes the HTTP requests (GitHub, Forgejo and Gitea Actions,
	// Azure Pipelines); its Redactor learns the request secrets.
	Client *Client
	// Commands runs buildkite-agent and circleci; nil means ExecRunner
	// with Getenv's PATH and a 30-second deadline.
	Commands CommandRunner
}

// detector finds one CI system's source: ok is false when the job does not
// run there.
type detector struct {
	looked string
	detect func(e *SourceEnv) (*Source, bool)
}

// detectors are tried in order: the first match wins (a map would pick at
// random when two match).
var detectors = []detector{
	{"ACTIONS_ID_TOKEN_REQUEST_URL or GITHUB_ACTIONS=true (GitHub Actions; Forgejo and Gitea Actions by FORGEJO_ACTIONS / GITEA_ACTIONS)", detectActions},
	{"GITLAB_CI=true (GitLab CI: an id_tokens variable, " + DefaultIDTokenEnv + " unless --id-token-env names another)", detectGitLab},
	{"CIRCLECI=true (CircleCI: CIRCLE_OIDC_TOKEN_V2, or `circleci run oidc get` for another audience)", detectCircleCI},
	{"BUILDKITE=true (Buildkite: `buildkite-agent oidc request-token`)", detectBuildkite},
	{"TF_BUILD=True (Azure Pipelines: SYSTEM_OIDCREQUESTURI with SYSTEM_ACCESSTOKEN)", detectAzurePipelines},
	{"BITBUCKET_STEP_OIDC_TOKEN or BITBUCKET_BUILD_NUMBER (Bitbucket Pipelines, a step with oidc: true)", detectBitbucket},
}

// DetectSource finds the job's ID token source: --id-token-file or
// --id-token-env when given, else the first CI system whose variables are
// set, in the order of detectors. A CI system found without its token (a
// GitLab job without the id_tokens entry) is still returned: its IDToken
// says what to add. Nothing found is a *NoSourceError listing what was
// looked for.
func DetectSource(e SourceEnv) (*Source, error) {
	if e.Commands == nil {
		r := &ExecRunner{Getenv: e.Getenv}
		if e.Client != nil {
			r.Redactor = e.Client.red
		}
		e.Commands = r
	}
	ci := ciOf(e.Getenv)
	switch {
	case e.IDTokenEnv != "" && e.IDTokenFile != "":
		return nil, errors.New("give --id-token-env or --id-token-file, not both")
	case e.IDTokenFile != "":
		s := &Source{Name: "the file " + e.IDTokenFile, CI: ci, fixed: true, fetch: FileIDToken(e.IDTokenFile).IDToken}
		s.howToSet = func(want string) string {
			return "Write an ID token minted for audience " + want + " to " + e.IDTokenFile + "."
		}
		return s, nil
	case e.IDTokenEnv != "":
		if ci == CIGitLab {
			return gitLabSource(e.Getenv, e.IDTokenEnv), nil
		}
		s := &Source{Name: "the variable " + e.IDTokenEnv, CI: ci, fixed: true, fetch: EnvIDToken(e.Getenv, e.IDTokenEnv).IDToken}
		if ci != CINone {
			s.Name = ci.Title() + "'s " + e.IDTokenEnv
		}
		s.howToSet = func(want string) string {
			return "Put an ID token minted for audience " + want + " in " + e.IDTokenEnv + "."
		}
		return s, nil
	}
	var looked []string
	for _, d := range detectors {
		if s, ok := d.detect(&e); ok {
			return s, nil
		}
		looked = append(looked, d.looked)
	}
	return nil, &NoSourceError{Looked: append([]string{"--id-token-env=VAR or --id-token-file=PATH"}, looked...)}
}

// ciOf names the CI system by its marker variables alone.
func ciOf(getenv func(string) string) CI {
	switch {
	case getenv("FORGEJO_ACTIONS") != "":
		return CIForgejo
	case getenv("GITEA_ACTIONS") != "":
		return CIGitea
	case getenv("GITHUB_ACTIONS") == "true":
		return CIGitHub
	case getenv("GITLAB_CI") == "true":
		return CIGitLab
	case getenv("CIRCLECI") == "true":
		return CICircleCI
	case getenv("BUILDKITE") == "true":
		return CIBuildkite
	case strings.EqualFold(getenv("TF_BUILD"), "true"):
		return CIAzurePipelines
	case getenv("BITBUCKET_BUILD_NUMBER") != "":
		return CIBitbucket
	}
	return CINone
}

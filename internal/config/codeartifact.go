package config

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// CodeArtifact input rules, from the IAM, STS and CodeArtifact API
// references.
var (
	roleARNRe     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	regionRe      = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]{1,2}$`)
	domainRe      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,48}[a-z0-9]$`)
	accountRe     = regexp.MustCompile(`^[0-9]{12}$`)
	shortRe       = regexp.MustCompile(`^[0-9]{1,11}$`)
	caRepoRe      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$`)
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// codeArtifact reads the CodeArtifact inputs into c.
func (l *loader) codeArtifact(c *Config) {
	c.RoleARN = l.required("role-to-assume", "the ARN of the IAM role to assume, like arn:aws:iam::123456789012:role/cargo-ci")
	if c.RoleARN != "" && !roleARNRe.MatchString(c.RoleARN) {
		l.fail("role-to-assume", fmt.Sprintf("%q is not an IAM role ARN; use arn:aws:iam::<12-digit account>:role/<name>", c.RoleARN))
	}
	c.Region = l.required("aws-region", "the AWS region of the CodeArtifact domain, like us-east-1")
	if c.Region != "" && !regionRe.MatchString(c.Region) {
		l.fail("aws-region", fmt.Sprintf("%q is not an AWS region code; use one like us-east-1, eu-west-2 or cn-north-1", c.Region))
	}
	c.Domain = l.required("domain", "the name of the CodeArtifact domain")
	if c.Domain != "" && !domainRe.MatchString(c.Domain) {
		l.fail("domain", fmt.Sprintf("%q is not a CodeArtifact domain name (2 to 50 of a-z 0-9 -, starting with a letter)", c.Domain))
	}
	c.DomainOwner = l.required("domain-owner", "the 12-digit ID of the AWS account that owns the domain")
	if c.DomainOwner != "" && !accountRe.MatchString(c.DomainOwner) {
		msg := fmt.Sprintf("%q is not an AWS account ID; give the 12 digits, without dashes", c.DomainOwner)
		if shortRe.MatchString(c.DomainOwner) {
			msg += `; an ID that starts with 0 loses its zeros when YAML reads it as a number: quote it, like domain-owner: "012345678901"`
		}
		l.fail("domain-owner", msg)
	}
	c.Duration = l.duration()
	c.RoleSessionName = l.get("role-session-name")
	if c.RoleSessionName != "" && !sessionNameRe.MatchString(c.RoleSessionName) {
		l.fail("role-session-name", fmt.Sprintf("%q is not allowed; use 2 to 64 of A-Z a-z 0-9 _ + = , . @ -", c.RoleSessionName))
	}
	c.RegistryName = l.registryName("codeartifact")
	c.Repository = l.get("repository")
	if c.Repository != "" && !caRepoRe.MatchString(c.Repository) {
		l.fail("repository", fmt.Sprintf("%q is not a CodeArtifact repository name (2 to 100 of A-Z a-z 0-9 . _ -)", c.Repository))
	}
	c.IndexURL = l.index(func() string {
		if c.Domain == "" || c.DomainOwner == "" || c.Region == "" || c.Repository == "" {
			return ""
		}
		return CodeArtifactIndex(c.Domain, c.DomainOwner, c.Region, c.Repository)
	}, "the CodeArtifact repository name")
}

// CodeArtifactIndex is the sparse index of a CodeArtifact Cargo repository:
// sparse+https://<domain>-<owner>.d.codeartifact.<region>.amazonaws.com/cargo/<repository>/
// (amazonaws.com.cn in the China regions).
func CodeArtifactIndex(domain, owner, region, repository string) string {
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return "sparse+https://" + domain + "-" + owner + ".d.codeartifact." + region + "." + suffix + "/cargo/" + url.PathEscape(repository) + "/"
}

// duration reads the CodeArtifact token's lifetime: a Go duration (90m, 2h)
// or whole seconds, 15 minutes to 12 hours; empty means AWS's default.
func (l *loader) duration() time.Duration {
	v := l.get("duration")
	if v == "" {
		return 0
	}
	lo, hi := exchange.CodeArtifactMinDuration, exchange.CodeArtifactMaxDuration
	d, ok := seconds(v, lo, hi)
	if !ok {
		var err error
		d, err = time.ParseDuration(v)
		ok = err == nil && d >= lo && d <= hi && d%time.Second == 0
	}
	if !ok {
		l.fail("duration", fmt.Sprintf("%q is not allowed; use 15m to 12h, as a Go duration (90m, 2h) or whole seconds (3600)", v))
		return 0
	}
	return d
}

// seconds reads v as whole seconds (digits only) from lo to hi. The number
// is range-checked as an int64 before it is multiplied by time.Second: a
// larger one would wrap around into the range (36028797018964868 seconds
// is 15 minutes once multiplied). ok is false when v is not digits or out
// of range.
func seconds(v string, lo, hi time.Duration) (time.Duration, bool) {
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < int64(lo/time.Second) || n > int64(hi/time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// roleSessionName returns the STS session name: the role-session-name input,
// else one made from the run (cargo-oidc-<run id>-<attempt>), within STS's
// rules, so that CloudTrail shows which run used the role.
func (c *Config) roleSessionName(getenv func(string) string) string {
	if c.RoleSessionName != "" {
		return c.RoleSessionName
	}
	return DefaultRoleSessionName(getenv)
}

// DefaultRoleSessionName is "cargo-oidc-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>"
// with characters STS refuses dropped and bounded to 64 characters, or
// "cargo-oidc" outside a run.
func DefaultRoleSessionName(getenv func(string) string) string {
	name := "cargo-oidc"
	if getenv != nil {
		for _, k := range []string{"GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"} {
			v := strings.Map(func(r rune) rune {
				if r < 0x80 && (r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
					r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
					return r
				}
				return -1
			}, getenv(k))
			if v != "" {
				name += "-" + v
			}
		}
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// codeArtifactService builds the CodeArtifact exchange; the endpoint
// variables come from getenv.
func (c *Config) codeArtifactService(client *exchange.Client, mask func(string), now func() time.Time, getenv func(string) string) exchange.Service {
	ca := &exchange.CodeArtifact{Client: client, Region: c.Region, RoleARN: c.RoleARN, RoleSessionName: c.roleSessionName(getenv),
		Domain: c.Domain, DomainOwner: c.DomainOwner, Duration: c.Duration, Audience: c.Audience, Mask: mask, Now: now}
	ep, err := exchange.AWSEndpointsFromEnv(getenv, c.Region)
	if err != nil {
		return &failedService{svc: ca, err: fmt.Errorf("aws codeartifact: %w", err)}
	}
	ca.Endpoints = ep
	return ca
}

// failedService is a Service whose configuration from the environment was
// invalid: its exchange fails with that error before any request.
type failedService struct {
	svc exchange.Service
	err error
}

func (f *failedService) IDTokenAudience() string { return f.svc.IDTokenAudience() }
func (f *failedService) Exchange(_ context.Context, _ exchange.IDTokenSource) (*exchange.Token, error) {
	return nil, f.err
}

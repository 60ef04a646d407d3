package config

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
)

// CodeArtifact input rules, from the IAM, STS and CodeArtifact API
// references. They are hand-written rather than regular expressions: the
// package's regexp.MustCompile calls at init cost every run of the binary
// 0.6 MB and 4,200 allocations (1 ms idle, 7 ms on a loaded machine), most
// of it for the role name's {1,512}. codeartifact_test.go checks each
// against the expression it replaces.

// isRoleARN is ^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$.
func isRoleARN(s string) bool {
	rest, ok := strings.CutPrefix(s, "arn:aws")
	if !ok {
		return false
	}
	partition := strings.IndexFunc(rest, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r == '-') })
	if partition < 0 {
		return false
	}
	rest, ok = strings.CutPrefix(rest[partition:], ":iam::")
	if !ok || len(rest) < 12 || !isDigits(rest[:12], 12, 12) {
		return false
	}
	name, ok := strings.CutPrefix(rest[12:], ":role/")
	return ok && isOf(name, 1, 512, func(b byte) bool { return isWord(b) || strings.IndexByte("+=,.@/-", b) >= 0 })
}

// isRegion is ^[a-z]{2}(-[a-z0-9]+)+-[0-9]{1,2}$.
func isRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || !isOf(parts[0], 2, 2, isLower) || !isDigits(parts[len(parts)-1], 1, 2) {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if !isOf(p, 1, len(p), func(b byte) bool { return isLower(b) || isDigit(b) }) {
			return false
		}
	}
	return true
}

// isDomain is ^[a-z][a-z0-9-]{0,48}[a-z0-9]$.
func isDomain(s string) bool {
	return len(s) >= 2 && isLower(s[0]) && (isLower(s[len(s)-1]) || isDigit(s[len(s)-1])) &&
		isOf(s, 2, 50, func(b byte) bool { return isLower(b) || isDigit(b) || b == '-' })
}

// isCodeArtifactRepo is ^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$.
func isCodeArtifactRepo(s string) bool {
	return len(s) >= 2 && isAlnum(s[0]) &&
		isOf(s, 2, 100, func(b byte) bool { return isAlnum(b) || b == '.' || b == '_' || b == '-' })
}

// isSessionName is ^[\w+=,.@-]{2,64}$.
func isSessionName(s string) bool {
	return isOf(s, 2, 64, func(b byte) bool { return isWord(b) || strings.IndexByte("+=,.@-", b) >= 0 })
}

// isDigits reports whether s is min to max ASCII digits.
func isDigits(s string, min, max int) bool { return isOf(s, min, max, isDigit) }

// isOf reports whether s is min to max bytes, each one that ok accepts.
// The rules above allow ASCII only, so bytes count as characters.
func isOf(s string, min, max int, ok func(byte) bool) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isLower(b byte) bool { return b >= 'a' && b <= 'z' }
func isAlnum(b byte) bool { return isDigit(b) || isLower(b) || b >= 'A' && b <= 'Z' }

// isWord is regexp's \w: ASCII letters, digits and _.
func isWord(b byte) bool { return isAlnum(b) || b == '_' }

// codeArtifact reads the CodeArtifact inputs into c.
func (l *loader) codeArtifact(c *Config) {
	c.RoleARN = l.required("role-to-assume", "the ARN of the IAM role to assume, like arn:aws:iam::123456789012:role/cargo-ci")
	if c.RoleARN != "" && !isRoleARN(c.RoleARN) {
		l.fail("role-to-assume", fmt.Sprintf("%q is not an IAM role ARN; use arn:aws:iam::<12-digit account>:role/<name>", c.RoleARN))
	}
	c.Region = l.required("aws-region", "the AWS region of the CodeArtifact domain, like us-east-1")
	if c.Region != "" && !isRegion(c.Region) {
		l.fail("aws-region", fmt.Sprintf("%q is not an AWS region code; use one like us-east-1, eu-west-2 or cn-north-1", c.Region))
	}
	c.Domain = l.required("domain", "the name of the CodeArtifact domain")
	if c.Domain != "" && !isDomain(c.Domain) {
		l.fail("domain", fmt.Sprintf("%q is not a CodeArtifact domain name (2 to 50 of a-z 0-9 -, starting with a letter)", c.Domain))
	}
	c.DomainOwner = l.required("domain-owner", "the 12-digit ID of the AWS account that owns the domain")
	if c.DomainOwner != "" && !isDigits(c.DomainOwner, 12, 12) {
		msg := fmt.Sprintf("%q is not an AWS account ID; give the 12 digits, without dashes", c.DomainOwner)
		if isDigits(c.DomainOwner, 1, 11) {
			msg += `; an ID that starts with 0 loses its zeros when YAML reads it as a number: quote it, like domain-owner: "012345678901"`
		}
		l.fail("domain-owner", msg)
	}
	c.Duration = l.duration()
	c.RoleSessionName = l.get("role-session-name")
	if c.RoleSessionName != "" && !isSessionName(c.RoleSessionName) {
		l.fail("role-session-name", fmt.Sprintf("%q is not allowed; use 2 to 64 of A-Z a-z 0-9 _ + = , . @ -", c.RoleSessionName))
	}
	c.Repository = l.get("repository")
	if c.Repository != "" && !isCodeArtifactRepo(c.Repository) {
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
// invalid (or whose provider is not known): its exchange fails with that
// error before any request.
type failedService struct {
	svc exchange.Service // nil when there is none
	err error
}

// IDTokenAudience implements exchange.Service: the audience of the service
// that could not be configured, "" when none.
func (f *failedService) IDTokenAudience() string {
	if f.svc == nil {
		return ""
	}
	return f.svc.IDTokenAudience()
}

// Exchange implements exchange.Service: it fails with f.err.
func (f *failedService) Exchange(_ context.Context, _ exchange.IDTokenSource) (*exchange.Token, error) {
	return nil, f.err
}

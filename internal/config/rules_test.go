package config

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// rule is a hand-written CodeArtifact check and the regular expression it
// replaces.
type rule struct {
	name  string
	check func(string) bool
	re    *regexp.Regexp
}

// rules returns the checks with their expressions, compiled here in the
// tests, and not at init: TestInitAllocatesLittle measures the package's
// init, this file's included.
func rules() []rule {
	return []rule{
		{"role ARN", isRoleARN, regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)},
		{"region", isRegion, regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]{1,2}$`)},
		{"domain", isDomain, regexp.MustCompile(`^[a-z][a-z0-9-]{0,48}[a-z0-9]$`)},
		{"account", func(s string) bool { return isDigits(s, 12, 12) }, regexp.MustCompile(`^[0-9]{12}$`)},
		{"short account", func(s string) bool { return isDigits(s, 1, 11) }, regexp.MustCompile(`^[0-9]{1,11}$`)},
		{"repository", isCodeArtifactRepo, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$`)},
		{"session name", isSessionName, regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)},
	}
}

// ruleSamples are edge cases of every rule: bounds, each character class,
// a newline at the end (which $ must not allow), non-ASCII and invalid UTF-8.
var ruleSamples = []string{
	"", "a", "ab", "-", "a-", "a\n", "\n", "é", "\xff",
	"arn:aws:iam::111122223333:role/cargo-ci", "arn:aws-cn:iam::111122223333:role/path/to/Role_+=,.@-",
	"arn:aws-us-gov:iam::111122223333:role/x", "arn:aws:iam::11112222333:role/x", "arn:aws:iam::1111222233334:role/x",
	"arn:aws:iam::111122223333:role/", "arn:aws:iam::111122223333:role/x\n", "arn:aws:iam::111122223333:user/x",
	"arn:awsX:iam::111122223333:role/x", "arn:aws:iam::111122223333:role/" + strings.Repeat("a", 512),
	"arn:aws:iam::111122223333:role/" + strings.Repeat("a", 513), "arn:aws:iam::111122223333:role/é", "arn:aws",
	"us-east-1", "eu-west-2", "cn-north-1", "us-gov-west-1", "us-east-12", "us-east-123", "us-east-", "us--1",
	"u-east-1", "use-east-1", "US-east-1", "us-east", "us-1", "ap-southeast-3", "us-east-1\n",
	"my-domain", "a1", "1a", "a-", strings.Repeat("a", 50), strings.Repeat("a", 51), "my_domain", "My-domain",
	"111122223333", "011122223333", "11112222333", "1111222233334", "1", "0", "12345678901", "1111-2222-3333",
	"cargo-repo", "Cargo.Repo_1", ".repo", "r", "r" + strings.Repeat(".", 99), "r" + strings.Repeat(".", 100),
	"cargo-oidc-1234567890-2", "a+b=c,d.e@f-g_h", strings.Repeat("x", 64), strings.Repeat("x", 65), "a b", "a/b",
}

// TestRulesMatchTheirExpressions checks the hand-written checks against the
// expressions they replace on edge cases of each.
func TestRulesMatchTheirExpressions(t *testing.T) {
	t.Parallel()
	for _, r := range rules() {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range ruleSamples {
				if got, want := r.check(s), r.re.MatchString(s); got != want {
					t.Errorf("%q: %v, the expression says %v", s, got, want)
				}
			}
		})
	}
}

// FuzzRules checks the hand-written checks against their expressions on
// any input.
func FuzzRules(f *testing.F) {
	for _, s := range ruleSamples {
		f.Add(s)
	}
	rs := rules()
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range rs {
			if got, want := r.check(s), r.re.MatchString(s); got != want {
				t.Errorf("%s %q: %v, the expression says %v", r.name, s, got, want)
			}
		}
	})
}

// TestInitAllocatesLittle runs this test binary again with
// GODEBUG=inittrace=1 and reads what the package's initialisation
// allocated. It runs in every run of the action's binary; regexp.MustCompile
// at package level once made it 0.6 MB.
func TestInitAllocatesLittle(t *testing.T) {
	t.Parallel()
	const pkg = "github.com/cargo-oidc/cargo-oidc/internal/config"
	const maxBytes = 16 << 10
	bytes, allocs := testenv.InitCost(t, pkg)
	t.Logf("init %s: %d bytes, %d allocations", pkg, bytes, allocs)
	if bytes > maxBytes {
		t.Errorf("init of %s allocated %d bytes (%d allocations), want at most %d: compile regular expressions on first use (sync.OnceValue) or check by hand", pkg, bytes, allocs, maxBytes)
	}
}

package ghaction

import (
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/fspath"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestResolveWindowsRules runs the Windows cases through the Windows path
// rules on any machine; TestResolveWindows runs them through the running
// system's on Windows.
func TestResolveWindowsRules(t *testing.T) {
	t.Parallel()
	runWindowsResolveCases(t, func(ws string) Paths {
		return newPaths(fspath.Windows, testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": ws, "RUNNER_TEMP": windowsTemp}), "", "")
	})
}

func TestPathsWindowsRules(t *testing.T) {
	t.Parallel()
	runWindowsMappingCases(t, func(getenv func(string) string, hw, ht string) Paths {
		return newPaths(fspath.Windows, getenv, hw, ht)
	})
}

// TestResolveUnixNames: Linux has no device names and no drive letters;
// what Windows refuses is an ordinary name there, as it always was.
func TestResolveUnixNames(t *testing.T) {
	t.Parallel()
	p := newPaths(fspath.Unix, testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": "/github/workspace"}), "", "")
	for _, tc := range []struct{ value, want string }{
		{"NUL", "/github/workspace/NUL"},
		{".cargo/con.toml", "/github/workspace/.cargo/con.toml"},
		{"C:config.toml", "/github/workspace/C:config.toml"},
		{`.cargo\config.toml.`, `/github/workspace/.cargo\config.toml.`},
	} {
		if got, err := p.Resolve("config-file", tc.value); err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.value, got, err, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`D:\a\repo\repo\.cargo\config.toml`, `"D:\a\repo\repo\.cargo\config.toml"`},
		{"/github/workspace/x", `"/github/workspace/x"`},
		{"répo", `"répo"`},
		{`a"b`, `"a\"b"`},
		{"a\nb", `"a\nb"`},
		{"a\x1b[31mb", `"a\x1b[31mb"`},
		{"a\xffb", `"a\xffb"`},
	} {
		if got := quote(tc.in); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

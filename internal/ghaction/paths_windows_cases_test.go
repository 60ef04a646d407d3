package ghaction

import (
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// windowsWorkspace and windowsTemp are where GitHub's Windows runners put
// the workspace and runner.temp.
const (
	windowsWorkspace = `D:\a\repo\repo`
	windowsTemp      = `D:\a\_temp`
)

// windowsResolveCases are the inputs of a job on a Windows runner (setup/
// runs the action there, outside a container) and what Resolve makes of
// them. They run on every machine through the Windows rules
// (TestResolveWindowsRules) and on Windows through the real ones
// (TestResolveWindows).
var windowsResolveCases = []struct {
	workspace, value, want, err string
}{
	{windowsWorkspace, `.cargo\config.toml`, `D:\a\repo\repo\.cargo\config.toml`, ""},
	{windowsWorkspace, `.cargo/config.toml`, `D:\a\repo\repo\.cargo\config.toml`, ""},
	{windowsWorkspace, `sub/dir\c.toml`, `D:\a\repo\repo\sub\dir\c.toml`, ""},
	{windowsWorkspace, `sub\..\c.toml`, `D:\a\repo\repo\c.toml`, ""},
	{windowsWorkspace, `D:\a\repo\repo\.cargo\config.toml`, `D:\a\repo\repo\.cargo\config.toml`, ""},
	{windowsWorkspace, `D:/a/repo/repo/.cargo/config.toml`, `D:\a\repo\repo\.cargo\config.toml`, ""},
	{windowsWorkspace, `d:\A\REPO\repo\.cargo\config.toml`, `d:\A\REPO\repo\.cargo\config.toml`, ""},
	{windowsWorkspace, `D:\a\_temp\cargo\credentials.toml`, `D:\a\_temp\cargo\credentials.toml`, ""},
	{windowsWorkspace, `d:/a/_TEMP/cargo/credentials.toml`, `d:\a\_TEMP\cargo\credentials.toml`, ""},
	{`\\server\share\ws`, `.cargo\config.toml`, `\\server\share\ws\.cargo\config.toml`, ""},
	{`\\server\share\ws`, `//SERVER/share/WS/c.toml`, `\\SERVER\share\WS\c.toml`, ""},
	{`\\server\share\ws`, `\\server\other\ws\c.toml`, "", "outside the workspace"},
	{windowsWorkspace, `D:\a\_temp2\c.toml`, "", "outside the workspace"},
	{windowsWorkspace, `D:\a\repo\repo2\c.toml`, "", "outside the workspace"},
	{windowsWorkspace, `C:\Users\runneradmin\.cargo\credentials.toml`, "", "outside the workspace"},
	{windowsWorkspace, `D:\a\repo\repo\..\..\x.toml`, "", "outside the workspace"},
	{windowsWorkspace, `\\?\D:\a\repo\repo\c.toml`, "", "outside the workspace"},
	{windowsWorkspace, `..\outside.toml`, "", "leaves the workspace"},
	{windowsWorkspace, `.cargo/..\..\x.toml`, "", "leaves the workspace"},
	{windowsWorkspace, `C:config.toml`, "", "relative to a drive"},
	{windowsWorkspace, `D:.cargo\config.toml`, "", "relative to a drive"},
	{windowsWorkspace, `\a\repo\repo\config.toml`, "", "root of the current drive"},
	{windowsWorkspace, `~\.cargo\credentials.toml`, "", "starts with ~"},
	{windowsWorkspace, `NUL`, "", `"NUL" is a Windows device name`},
	{windowsWorkspace, `.cargo\con.toml`, "", `"con.toml" is a Windows device name`},
	{windowsWorkspace, `D:\a\_temp\COM1\credentials.toml`, "", `"COM1" is a Windows device name`},
	{windowsWorkspace, `lpt9 .txt`, "", "device name"},
	{windowsWorkspace, `.cargo\config.toml.`, "", "ends in a dot or a space"},
	{windowsWorkspace, `.cargo \config.toml`, "", "ends in a dot or a space"},
	{windowsWorkspace, `credentials.toml:stream`, "", "colon"},
}

func runWindowsResolveCases(t *testing.T, newP func(workspace string) Paths) {
	t.Helper()
	for _, tc := range windowsResolveCases {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			got, err := newP(tc.workspace).Resolve("config-file", tc.value)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "input config-file:") || !strings.Contains(err.Error(), tc.value) {
					t.Errorf("Resolve(%q) = %q, %v; want an error naming the input and the value and saying %q", tc.value, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Resolve(%q) = %q, %v; want %q", tc.value, got, err, tc.want)
			}
		})
	}
}

// runWindowsMappingCases checks ToHost and CheckShared with Windows paths:
// a mapping from container to host folders (as a container would have,
// spelled the Windows way) and a temp folder that is not shared.
func runWindowsMappingCases(t *testing.T, newP func(getenv func(string) string, hostWorkspace, hostTemp string) Paths) {
	t.Helper()
	p := newP(testenv.Getenv(map[string]string{"GITHUB_WORKSPACE": windowsWorkspace, "RUNNER_TEMP": windowsTemp, "HOME": `C:\Users\runneradmin`}), `E:\host\ws`, `E:\host\temp`)
	for _, tc := range []struct{ in, want string }{
		{`D:\a\repo\repo\.cargo\config.toml`, `E:\host\ws\.cargo\config.toml`},
		{`d:/A/REPO/repo/.cargo/config.toml`, `E:\host\ws\.cargo\config.toml`},
		{`D:\a\repo\repo`, `E:\host\ws`},
		{`D:\a\_temp\creds.toml`, `E:\host\temp\creds.toml`},
		{`D:\a\repo\repo2\x`, `D:\a\repo\repo2\x`},
		{`C:\x`, `C:\x`},
	} {
		if got := p.ToHost(tc.in); got != tc.want {
			t.Errorf("ToHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, err := p.Resolve("credentials-file", `e:\HOST\ws\.cargo\credentials.toml`); err != nil || got != `D:\a\repo\repo\.cargo\credentials.toml` {
		t.Errorf("Resolve(host path) = %q, %v; want the container path", got, err)
	}
	p.Container = true // and runner.temp not mounted
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{`D:\a\_temp\creds.toml`, false},
		{`d:\A\_TEMP\creds.toml`, false},
		{`D:/a/_temp/cargo/creds.toml`, false},
		{`D:\a\_temp2\creds.toml`, true},
		{`D:\a\repo\repo\.cargo\credentials.toml`, true},
	} {
		if err := p.CheckShared("credentials-file", tc.path); (err == nil) != tc.ok {
			t.Errorf("CheckShared(%q) = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
}

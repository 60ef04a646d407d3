package cargoconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestFoldersWindowsPaths runs Windows spellings of paths in a real
// folder through Folders: drive letters in any case, both separators, ".."
// and device names. The same cases run on every machine against
// fspath.Windows (internal/fspath).
func TestFoldersWindowsPaths(t *testing.T) {
	t.Parallel()
	ws := testenv.TempDir(t) // C:\Users\...\Temp\...: a drive letter, \ separators
	if filepath.VolumeName(ws) == "" {
		t.Fatalf("temp folder %q has no volume name", ws)
	}
	fl := OpenFolders(Folder{Dir: ws, Name: "the workspace"})
	t.Cleanup(func() { fl.Close() })
	swapCase := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case 'a' <= r && r <= 'z':
				return r - 'a' + 'A'
			case 'A' <= r && r <= 'Z':
				return r - 'A' + 'a'
			}
			return r
		}, s)
	}
	otherDrive := "Q:"
	if strings.EqualFold(filepath.VolumeName(ws), otherDrive) {
		otherDrive = "R:"
	}
	tests := []struct {
		name string
		path string
		want string // the file written, relative to ws; "" for an error
		err  string // in the error
	}{
		{"backslashes", ws + `\.cargo\config.toml`, `.cargo\config.toml`, ""},
		{"slashes", strings.ReplaceAll(ws, `\`, "/") + "/a/config.toml", `a\config.toml`, ""},
		{"mixed", ws + `/b\c/config.toml`, `b\c\config.toml`, ""},
		{"other case", swapCase(ws) + `\d\config.toml`, `d\config.toml`, ""},
		{"dot dot inside", ws + `\e\..\f\config.toml`, `f\config.toml`, ""},
		{"dot dot outside", ws + `\..\config.toml`, "", "outside the workspace"},
		{"other drive", otherDrive + strings.TrimPrefix(ws, filepath.VolumeName(ws)) + `\config.toml`, "", "outside the workspace"},
		{"device path", `\\?\` + ws + `\config.toml`, "", "outside the workspace"},
		{"rooted without a drive", strings.TrimPrefix(ws, filepath.VolumeName(ws)) + `\config.toml`, "", "outside the workspace"},
		{"device name", ws + `\NUL`, "", `"NUL" is a Windows device name`},
		{"device name with extension", ws + `\.cargo\con.toml`, "", `"con.toml" is a Windows device name`},
		{"device folder", ws + `\COM1\config.toml`, "", `"COM1" is a Windows device name`},
		{"trailing dot", ws + `\.cargo\config.toml.`, "", "ends in a dot or a space"},
		{"trailing space", ws + `\.cargo \config.toml`, "", "ends in a dot or a space"},
		{"stream", ws + `\config.toml:secret`, "", "colon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := fl.PlanConfig(tt.path, Registry{Name: "art", Index: testIndex})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("PlanConfig(%q) = %v, want an error saying %q", tt.path, err, tt.err)
				}
				if strings.Contains(tt.err, "outside") {
					var oe *OutsideError
					if !errors.As(err, &oe) {
						t.Errorf("PlanConfig(%q) = %v, want an *OutsideError", tt.path, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanConfig(%q): %v", tt.path, err)
			}
			if err := fl.Apply([]*Change{c}, Owner{}); err != nil {
				t.Fatalf("Apply(%q): %v", tt.path, err)
			}
			b, err := os.ReadFile(filepath.Join(ws, tt.want))
			if err != nil || !strings.Contains(string(b), testIndex) {
				t.Fatalf("%s: %q, %v; want the registry written", tt.want, b, err)
			}
		})
	}
}

// TestFoldersWindowsLinks: link targets written with \ are split at \, and
// a target rooted on the current drive (\x) is refused like one outside.
func TestFoldersWindowsLinks(t *testing.T) {
	t.Parallel()
	ws := testenv.TempDir(t)
	write(t, filepath.Join(ws, "shared", "cargo.toml"), "[net]\nretry = 1\n", 0o640)
	if err := os.MkdirAll(filepath.Join(ws, ".cargo"), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Symlink(t, `..\shared\cargo.toml`, filepath.Join(ws, ".cargo", "config.toml"))
	rooted := strings.TrimPrefix(filepath.Join(ws, "shared", "cargo.toml"), filepath.VolumeName(ws))
	if err := os.Symlink(rooted, filepath.Join(ws, "rooted.toml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(`..\..\..\..\..\..\..\..\outside.toml`, filepath.Join(ws, "up.toml")); err != nil {
		t.Fatal(err)
	}
	fl := OpenFolders(Folder{Dir: ws, Name: "the workspace"})
	t.Cleanup(func() { fl.Close() })

	c, err := fl.PlanConfig(filepath.Join(ws, ".cargo", "config.toml"), Registry{Name: "art", Index: testIndex})
	if err != nil {
		t.Fatalf("link with \\ inside the workspace: %v", err)
	}
	if err := fl.Apply([]*Change{c}, Owner{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "shared", "cargo.toml")); err != nil || !strings.Contains(string(b), testIndex) || !strings.Contains(string(b), "retry = 1") {
		t.Fatalf("shared\\cargo.toml = %q, %v; want the link's target edited", b, err)
	}
	for _, name := range []string{"rooted.toml", "up.toml"} {
		_, err := fl.PlanConfig(filepath.Join(ws, name), Registry{Name: "art", Index: testIndex})
		var le *LinkError
		if !errors.As(err, &le) {
			t.Errorf("%s: err = %v, want a *LinkError", name, err)
		}
	}
}

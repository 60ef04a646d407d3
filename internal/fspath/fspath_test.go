package fspath

import (
	"errors"
	"strings"
	"testing"
)

// withinCases are shared with the Windows-only tests of ghaction and
// cargoconf, which run the same paths through the real filesystem code.
var withinCases = []struct {
	os        OS
	path, dir string
	rest      string
	ok        bool
}{
	// Unix: byte for byte, as the action always compared on Linux.
	{Unix, "/github/workspace/.cargo/config.toml", "/github/workspace", ".cargo/config.toml", true},
	{Unix, "/github/workspace", "/github/workspace", "", true},
	{Unix, "/github/workspace/", "/github/workspace/", "", true},
	{Unix, "/github/workspace2/x", "/github/workspace", "", false},
	{Unix, "/github/Workspace/x", "/github/workspace", "", false},
	{Unix, "/github/workspace/../home/x", "/github/workspace", "", false},
	{Unix, "/github/workspace/a/../b", "/github/workspace", "b", true},
	{Unix, "/github//workspace/./a", "/github/workspace", "a", true},
	{Unix, "/x/y", "/", "x/y", true},
	{Unix, `/ws/a\b`, "/ws", `a\b`, true},
	{Unix, "ws/a", "/ws", "", false},
	{Unix, "/ws/a", "", "", false},
	// Windows: drive letters, both separators, UNC shares, any case.
	{Windows, `D:\a\repo\repo\.cargo\config.toml`, `D:\a\repo\repo`, `.cargo\config.toml`, true},
	{Windows, `D:/a/repo/repo/.cargo/config.toml`, `D:\a\repo\repo`, `.cargo\config.toml`, true},
	{Windows, `D:\a\repo\repo/.cargo\config.toml`, `D:/a/repo/repo/`, `.cargo\config.toml`, true},
	{Windows, `d:\A\REPO\repo\Cargo`, `D:\a\repo\REPO`, `Cargo`, true},
	{Windows, `D:\a\repo\repo`, `d:\a\repo\repo\`, ``, true},
	{Windows, `D:\a\repo\répo\x`, `D:\a\repo\RÉPO`, `x`, true},
	{Windows, `D:\a\repo\repo2\x`, `D:\a\repo\repo`, ``, false},
	{Windows, `C:\a\repo\repo\x`, `D:\a\repo\repo`, ``, false},
	{Windows, `D:\a\repo\repo\..\other\x`, `D:\a\repo\repo`, ``, false},
	{Windows, `D:\a\repo\repo\sub\..\x`, `D:\a\repo\repo`, `x`, true},
	{Windows, `D:a\repo\repo\x`, `D:\a\repo\repo`, ``, false},
	{Windows, `\a\repo\repo\x`, `D:\a\repo\repo`, ``, false},
	{Windows, `D:\x\y`, `D:\`, `x\y`, true},
	{Windows, `\\server\share\ws\.cargo\x`, `\\server\share\ws`, `.cargo\x`, true},
	{Windows, `//SERVER/Share/ws/x`, `\\server\share\ws`, `x`, true},
	{Windows, `\\server\share\x`, `\\server\share`, `x`, true},
	{Windows, `\\server\other\ws\x`, `\\server\share\ws`, ``, false},
	{Windows, `\\server\share\ws\..\..\other\ws\x`, `\\server\share\ws`, ``, false},
	// A device path names the same file, but is not how runners spell
	// the workspace: refused as outside rather than guessed.
	{Windows, `\\?\D:\a\repo\repo\x`, `D:\a\repo\repo`, ``, false},
	{Windows, `D:\a\repo\repo\x`, ``, ``, false},
}

func TestWithin(t *testing.T) {
	t.Parallel()
	for _, tc := range withinCases {
		t.Run(tc.os.String()+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			rest, ok := tc.os.Within(tc.path, tc.dir)
			if rest != tc.rest || ok != tc.ok {
				t.Errorf("%s.Within(%q, %q) = %q, %v; want %q, %v", tc.os, tc.path, tc.dir, rest, ok, tc.rest, tc.ok)
			}
		})
	}
}

// cleanCases are path/filepath's own tests (path_test.go): cleantests for
// both flavours (with \ on Windows), nonwincleantests for Unix,
// wincleantests for Windows.
var cleanCases = []struct{ path, result string }{
	{"abc", "abc"}, {"abc/def", "abc/def"}, {"a/b/c", "a/b/c"}, {".", "."}, {"..", ".."},
	{"../..", "../.."}, {"../../abc", "../../abc"}, {"/abc", "/abc"}, {"/", "/"}, {"", "."},
	{"abc/", "abc"}, {"abc/def/", "abc/def"}, {"a/b/c/", "a/b/c"}, {"./", "."}, {"../", ".."},
	{"../../", "../.."}, {"/abc/", "/abc"}, {"abc//def//ghi", "abc/def/ghi"}, {"abc//", "abc"},
	{"abc/./def", "abc/def"}, {"/./abc/def", "/abc/def"}, {"abc/.", "abc"},
	{"abc/def/ghi/../jkl", "abc/def/jkl"}, {"abc/def/../ghi/../jkl", "abc/jkl"}, {"abc/def/..", "abc"},
	{"abc/def/../..", "."}, {"/abc/def/../..", "/"}, {"abc/def/../../..", ".."}, {"/abc/def/../../..", "/"},
	{"abc/def/../../../ghi/jkl/../../../mno", "../../mno"}, {"/../abc", "/abc"}, {"a/../b:/../../c", `../c`},
	{"abc/./../def", "def"}, {"abc//./../def", "def"}, {"abc/../../././../def", "../../def"},
}

var unixCleanCases = []struct{ path, result string }{
	{"//abc", "/abc"}, {"///abc", "/abc"}, {"//abc//", "/abc"},
}

var windowsCleanCases = []struct{ path, result string }{
	{`c:`, `c:.`}, {`c:\`, `c:\`}, {`c:\abc`, `c:\abc`}, {`c:abc\..\..\.\.\..\def`, `c:..\..\def`},
	{`c:\abc\def\..\..`, `c:\`}, {`c:\..\abc`, `c:\abc`}, {`c:..\abc`, `c:..\abc`}, {`c:\b:\..\..\..\d`, `c:\d`},
	{`\`, `\`}, {`/`, `\`}, {`\\i\..\c$`, `\\i\..\c$`}, {`\\i\..\i\c$`, `\\i\..\i\c$`}, {`\\i\..\I\c$`, `\\i\..\I\c$`},
	{`\\host\share\foo\..\bar`, `\\host\share\bar`}, {`//host/share/foo/../baz`, `\\host\share\baz`},
	{`\\host\share\foo\..\..\..\..\bar`, `\\host\share\bar`}, {`\\.\C:\a\..\..\..\..\bar`, `\\.\C:\bar`},
	{`\\.\C:\\\\a`, `\\.\C:\a`}, {`\\a\b\..\c`, `\\a\b\c`}, {`\\a\b`, `\\a\b`}, {`.\c:`, `.\c:`},
	{`.\c:\foo`, `.\c:\foo`}, {`.\c:foo`, `.\c:foo`}, {`//abc`, `\\abc`}, {`///abc`, `\\\abc`},
	{`//abc//`, `\\abc\\`}, {`\\?\C:\`, `\\?\C:\`}, {`\\?\C:\a`, `\\?\C:\a`},
	{`a/../c:`, `.\c:`}, {`a\..\c:`, `.\c:`}, {`a/../c:/a`, `.\c:\a`}, {`a/../../c:`, `..\c:`},
	{`foo:bar`, `foo:bar`}, {`/a/../??/a`, `\.\??\a`},
}

func TestClean(t *testing.T) {
	t.Parallel()
	type tc struct {
		os           OS
		path, result string
	}
	var cases []tc
	for _, c := range cleanCases {
		cases = append(cases, tc{Unix, c.path, c.result}, tc{Windows, c.path, strings.ReplaceAll(c.result, "/", `\`)})
	}
	for _, c := range unixCleanCases {
		cases = append(cases, tc{Unix, c.path, c.result})
	}
	for _, c := range windowsCleanCases {
		cases = append(cases, tc{Windows, c.path, c.result})
	}
	for _, c := range cases {
		if got := c.os.Clean(c.path); got != c.result {
			t.Errorf("%s.Clean(%q) = %q, want %q", c.os, c.path, got, c.result)
		}
		if got := c.os.Clean(c.result); got != c.result {
			t.Errorf("%s.Clean(%q) = %q, want it unchanged", c.os, c.result, got)
		}
	}
}

func TestVolumeNameAndIsAbs(t *testing.T) {
	t.Parallel()
	// path/filepath's volumenametests and winisabstests (path_test.go).
	vols := []struct{ path, vol string }{
		{`c:/foo/bar`, `c:`}, {`c:`, `c:`}, {`c:\`, `c:`}, {`2:`, `2:`}, {``, ``},
		{`\\\host`, `\\\host`}, {`\\\host\`, `\\\host`}, {`\\\host\share`, `\\\host`}, {`\\\host\\share`, `\\\host`},
		{`\\host`, `\\host`}, {`//host`, `\\host`}, {`\\host\`, `\\host\`}, {`//host/`, `\\host\`},
		{`\\host\share`, `\\host\share`}, {`//host/share`, `\\host\share`}, {`\\host\share\`, `\\host\share`},
		{`//host/share/`, `\\host\share`}, {`\\host\share\foo`, `\\host\share`}, {`//host/share/foo`, `\\host\share`},
		{`\\host\share\\foo\\\bar\\\\baz`, `\\host\share`}, {`//host/share//foo///bar////baz`, `\\host\share`},
		{`\\host\share\foo\..\bar`, `\\host\share`}, {`//host/share/foo/../bar`, `\\host\share`},
		{`//.`, `\\.`}, {`//./`, `\\.\`}, {`//./NUL`, `\\.\NUL`}, {`//?`, `\\?`}, {`//?/`, `\\?\`},
		{`//?/NUL`, `\\?\NUL`}, {`/??`, `\??`}, {`/??/`, `\??\`}, {`/??/NUL`, `\??\NUL`}, {`//./a/b`, `\\.\a`},
		{`//./C:`, `\\.\C:`}, {`//./C:/`, `\\.\C:`}, {`//./C:/a/b/c`, `\\.\C:`},
		{`//./UNC/host/share/a/b/c`, `\\.\UNC\host\share`}, {`//./UNC/host`, `\\.\UNC\host`},
		{`//./UNC/host\`, `\\.\UNC\host\`}, {`//./UNC`, `\\.\UNC`}, {`//./UNC/`, `\\.\UNC\`},
		{`\\?\x`, `\\?\x`}, {`\??\x`, `\??\x`},
	}
	for _, v := range vols {
		if got := Windows.VolumeName(v.path); got != v.vol {
			t.Errorf("Windows.VolumeName(%q) = %q, want %q", v.path, got, v.vol)
		}
		if got := Unix.VolumeName(v.path); got != "" {
			t.Errorf("Unix.VolumeName(%q) = %q, want none", v.path, got)
		}
	}
	abs := []struct {
		path            string
		windows, rooted bool
	}{
		{`C:\`, true, true}, {`c\`, false, false}, {`c::`, false, true}, {`c:`, false, true}, {`/`, false, true},
		{`\`, false, true}, {`\Windows`, false, true}, {`c:a\b`, false, true}, {`c:\a\b`, true, true},
		{`c:/a/b`, true, true}, {`\\host\share`, true, true}, {`\\host\share\`, true, true},
		{`\\host\share\foo`, true, true}, {`//host/share/foo/bar`, true, true}, {`\\?\a\b\c`, true, true},
		{`\??\a\b\c`, true, true}, {``, false, false}, {`a\b`, false, false}, {`.cargo/config.toml`, false, false},
	}
	for _, a := range abs {
		if got := Windows.IsAbs(a.path); got != a.windows {
			t.Errorf("Windows.IsAbs(%q) = %v, want %v", a.path, got, a.windows)
		}
		if got := Windows.IsRooted(a.path); got != a.rooted {
			t.Errorf("Windows.IsRooted(%q) = %v, want %v", a.path, got, a.rooted)
		}
		wantUnix := strings.HasPrefix(a.path, "/")
		if got := Unix.IsAbs(a.path); got != wantUnix {
			t.Errorf("Unix.IsAbs(%q) = %v, want %v", a.path, got, wantUnix)
		}
		if got := Unix.IsRooted(a.path); got != wantUnix {
			t.Errorf("Unix.IsRooted(%q) = %v, want %v", a.path, got, wantUnix)
		}
	}
}

func TestSplitJoin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		os   OS
		rel  string
		want string // components joined with |
		join string // Join("/r", rel) or Join(`C:\r`, rel)
	}{
		{Unix, "a/b/c", "a|b|c", "/r/a/b/c"},
		{Unix, "a//b/", "a|b", "/r/a/b"},
		{Unix, `a\b`, `a\b`, `/r/a\b`},
		{Unix, "../x", "..|x", "/x"},
		{Unix, "", "", "/r"},
		{Windows, `a\b/c`, "a|b|c", `C:\r\a\b\c`},
		{Windows, `.\a\\b\`, ".|a|b", `C:\r\a\b`},
		{Windows, `..\x`, "..|x", `C:\x`},
	} {
		if got := strings.Join(tc.os.Split(tc.rel), "|"); got != tc.want {
			t.Errorf("%s.Split(%q) = %q, want %q", tc.os, tc.rel, got, tc.want)
		}
		root := "/r"
		if tc.os.windows {
			root = `C:\r`
		}
		if got := tc.os.Join(root, tc.rel); got != tc.join {
			t.Errorf("%s.Join(%q, %q) = %q, want %q", tc.os, root, tc.rel, got, tc.join)
		}
	}
	for _, tc := range []struct {
		os   OS
		elem []string
		want string
	}{
		{Unix, []string{"", ""}, ""},
		{Windows, []string{"", ""}, ""},
		{Windows, []string{"C:", "f"}, `C:f`},
		{Windows, []string{"C:", `\f`}, `C:\f`},
		{Windows, []string{`\`, "host", "share"}, `\host\share`},
		{Windows, []string{`\`, "??", "c:"}, `\.\??\c:`},
		{Windows, []string{`\\server\share`, "x"}, `\\server\share\x`},
		{Windows, []string{`D:\a`, "", "b"}, `D:\a\b`},
	} {
		if got := tc.os.Join(tc.elem...); got != tc.want {
			t.Errorf("%s.Join(%q) = %q, want %q", tc.os, tc.elem, got, tc.want)
		}
	}
}

// nameCases: the components Windows refuses, and ones it accepts.
var nameCases = []struct {
	name   string
	reason string // "" when accepted; else a word of the reason
}{
	{"config.toml", ""}, {".cargo", ""}, {"credentials", ""}, {".", ""}, {"..", ""}, {"CONSOLE", ""},
	{"COM0", ""}, {"LPT10", ""}, {"nul-ish", ""}, {"a.b c", ""}, {"AUXILIARY.toml", ""},
	{"CON", "device"}, {"con", "device"}, {"PRN", "device"}, {"AUX", "device"}, {"NUL", "device"},
	{"nul.txt", "device"}, {"NUL.tar.gz", "device"}, {"COM1", "device"}, {"com9.toml", "device"},
	{"LPT1", "device"}, {"lpt5", "device"}, {"COM\u00b9", "device"}, {"CONIN$", "device"},
	{"conout$", "device"}, {"CON ", "device"}, {"NUL .txt", "device"}, {"aux.", "device"}, {"PRN:", "device"},
	{"config.toml.", "dot or a space"}, {"credentials ", "dot or a space"}, {".cargo...", "dot or a space"},
	{"config.toml:secret", "colon"}, {"c:", "colon"},
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, tc := range nameCases {
		err := Windows.CheckName(tc.name)
		var ne *NameError
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("Windows.CheckName(%q) = %v, want nil", tc.name, err)
		case tc.reason != "" && (!errors.As(err, &ne) || ne.Name != tc.name || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), `"`+tc.name+`"`)):
			t.Errorf("Windows.CheckName(%q) = %v, want a *NameError naming it and saying %q", tc.name, err, tc.reason)
		}
		if err := Unix.CheckName(tc.name); err != nil {
			t.Errorf("Unix.CheckName(%q) = %v, want nil (Unix has no device names)", tc.name, err)
		}
	}
	if err := Windows.CheckNames(`.cargo\sub/NUL.toml`); err == nil || !strings.Contains(err.Error(), "NUL.toml") {
		t.Errorf("CheckNames of a path with NUL.toml = %v, want it named", err)
	}
	if err := Windows.CheckNames(`.cargo\config.toml`); err != nil {
		t.Errorf("CheckNames(.cargo/config.toml) = %v", err)
	}
}

// oldWithin is the check the action used on Linux before this package
// (ghaction.under, cargoconf.within): Unix.Within must agree with it.
func oldWithin(path, dir string) (string, bool) {
	if dir == "" {
		return "", false
	}
	path, dir = Unix.Clean(path), Unix.Clean(dir)
	if path == dir {
		return "", true
	}
	prefix := dir
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if strings.HasPrefix(path, prefix) {
		return path[len(prefix):], true
	}
	return "", false
}

func FuzzUnixWithinUnchanged(f *testing.F) {
	for _, tc := range withinCases {
		f.Add(tc.path, tc.dir)
	}
	f.Add(".", ".")
	f.Add("..", ".")
	f.Add("a", ".")
	f.Fuzz(func(t *testing.T, path, dir string) {
		rest, ok := Unix.Within(path, dir)
		wantRest, wantOK := oldWithin(path, dir)
		if rest != wantRest || ok != wantOK {
			t.Fatalf("Unix.Within(%q, %q) = %q, %v; the Linux check gave %q, %v", path, dir, rest, ok, wantRest, wantOK)
		}
	})
}

// FuzzWindowsWithin checks Windows.Within against its definition: inside
// means the cleaned dir, compared with every letter upper-cased (ASCII
// paths only), is a component prefix of the cleaned path.
func FuzzWindowsWithin(f *testing.F) {
	for _, tc := range withinCases {
		f.Add(tc.path, tc.dir)
	}
	f.Fuzz(func(t *testing.T, path, dir string) {
		for _, s := range []string{path, dir} {
			for i := 0; i < len(s); i++ {
				if s[i] >= 0x80 {
					return
				}
			}
		}
		rest, ok := Windows.Within(path, dir)
		if dir == "" {
			if ok {
				t.Fatalf("Within(%q, \"\") = true", path)
			}
			return
		}
		p, d := strings.ToUpper(Windows.Clean(path)), strings.ToUpper(Windows.Clean(dir))
		want := p == d || strings.HasPrefix(p, strings.TrimSuffix(d, `\`)+`\`) && !strings.HasSuffix(Windows.VolumeName(d), `\`)
		// A volume ending in a separator (\\host\) or with nothing after
		// it ("C:.") is an odd corner: only check the plain shapes.
		if strings.HasSuffix(Windows.VolumeName(path), `\`) || strings.HasSuffix(Windows.VolumeName(dir), `\`) || strings.Contains(p, `\\`) || strings.Contains(d, `\\`) {
			return
		}
		if ok != want {
			t.Fatalf("Windows.Within(%q, %q) = %q, %v; cleaned %q in %q: want %v", path, dir, rest, ok, p, d, want)
		}
		if ok && !strings.HasSuffix(Windows.Clean(path), rest) {
			t.Fatalf("Windows.Within(%q, %q) rest %q is not the end of the cleaned path", path, dir, rest)
		}
	})
}

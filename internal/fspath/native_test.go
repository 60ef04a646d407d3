package fspath

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzNativeMatchesFilepath checks the running system's rules against
// path/filepath, which implements them for this system: on Linux the Unix
// rules, on Windows (or under wine) the Windows rules.
func FuzzNativeMatchesFilepath(f *testing.F) {
	for _, c := range cleanCases {
		f.Add(c.path, c.result)
	}
	for _, c := range windowsCleanCases {
		f.Add(c.path, c.result)
	}
	for _, c := range withinCases {
		f.Add(c.path, c.dir)
	}
	for _, c := range nameCases {
		f.Add(c.name, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := Native.Clean(a), filepath.Clean(a); got != want {
			t.Fatalf("%s.Clean(%q) = %q, filepath.Clean gives %q", Native, a, got, want)
		}
		if got, want := Native.IsAbs(a), filepath.IsAbs(a); got != want {
			t.Fatalf("%s.IsAbs(%q) = %v, filepath.IsAbs gives %v", Native, a, got, want)
		}
		if got, want := Native.VolumeName(a), filepath.VolumeName(a); got != want {
			t.Fatalf("%s.VolumeName(%q) = %q, filepath.VolumeName gives %q", Native, a, got, want)
		}
		if got, want := Native.Join(a, b), filepath.Join(a, b); got != want {
			t.Fatalf("%s.Join(%q, %q) = %q, filepath.Join gives %q", Native, a, b, got, want)
		}
		if got, want := Native.Join(a, "", b, ""), filepath.Join(a, "", b, ""); got != want {
			t.Fatalf("%s.Join(%q, \"\", %q, \"\") = %q, filepath.Join gives %q", Native, a, b, got, want)
		}
		// A name CheckName accepts is local to any folder: os.Root opens it.
		if a != "" && a != ".." && !strings.ContainsAny(a, `/\`) && Native.CheckName(a) == nil && !filepath.IsLocal(a) {
			t.Fatalf("%s.CheckName(%q) accepts a name filepath.IsLocal refuses", Native, a)
		}
	})
}

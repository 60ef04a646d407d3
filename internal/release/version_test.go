package release

import (
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

func TestParseVersion(t *testing.T) {
	type test struct {
		want    Version
		wantErr string
	}
	testenv.Run(t, map[string]test{
		"v1.2.3":                    {Version{1, 2, 3, ""}, ""},
		"v0.0.0":                    {Version{0, 0, 0, ""}, ""},
		"v1.3.0-rc.1":               {Version{1, 3, 0, "rc.1"}, ""},
		"v10.20.30-alpha-1.x":       {Version{10, 20, 30, "alpha-1.x"}, ""},
		"1.2.3":                     {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v1.2":                      {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v1":                        {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v01.2.3":                   {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v1.2.3+build.5":            {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v1.2.3-":                   {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v1.2.3-rc..1":              {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v1.2.3 ":                   {Version{}, "is not vMAJOR.MINOR.PATCH"},
		"v99999999999999999999.0.0": {Version{}, "too large"},
	}, func(t *testing.T, tag string, tt test) {
		got, err := ParseVersion(tag)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseVersion(%q) = %v, %v; want error %q", tag, got, err, tt.wantErr)
			}
			return
		}
		if err != nil || got != tt.want {
			t.Fatalf("ParseVersion(%q) = %+v, %v; want %+v", tag, got, err, tt.want)
		}
		if got.String() != tag {
			t.Errorf("String() = %q, want %q", got.String(), tag)
		}
	})
}

// TestVersionCompare walks semver.org's precedence example (item 11) and a
// few more, in ascending order, and checks every pair.
func TestVersionCompare(t *testing.T) {
	t.Parallel()
	ordered := []string{
		"v0.9.9", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta",
		"v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.1", "v1.2.0",
		"v1.3.0-rc.1", "v1.3.0-rc.2", "v1.3.0-rc.10", "v1.3.0", "v1.10.0", "v2.0.0",
	}
	for i, a := range ordered {
		va, err := ParseVersion(a)
		if err != nil {
			t.Fatal(err)
		}
		for j, b := range ordered {
			vb, err := ParseVersion(b)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := va.Compare(vb); got != want {
				t.Errorf("%s.Compare(%s) = %d, want %d", a, b, got, want)
			}
		}
	}
	v, _ := ParseVersion("v1.3.0-rc.1")
	if !v.Prerelease() || v.MajorTag() != "v1" {
		t.Errorf("v1.3.0-rc.1: Prerelease() = %v, MajorTag() = %q", v.Prerelease(), v.MajorTag())
	}
}

// FuzzParseVersion: whatever parses prints back as itself and compares
// equal to itself, and Compare is antisymmetric.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v1.2.3", "v1.3.0-rc.1", "v0.0.0-0.a", "v1.2", "v1.2.3+x"} {
		f.Add(s, "v1.2.3-rc.2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, err := ParseVersion(a)
		if err != nil {
			return
		}
		if va.String() != a {
			t.Fatalf("ParseVersion(%q).String() = %q", a, va.String())
		}
		if va.Compare(va) != 0 {
			t.Fatalf("%q does not compare equal to itself", a)
		}
		vb, err := ParseVersion(b)
		if err != nil {
			return
		}
		if va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare(%q, %q) is not antisymmetric", a, b)
		}
	})
}

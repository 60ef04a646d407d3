package release

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed release tag, vMAJOR.MINOR.PATCH[-PRERELEASE].
type Version struct {
	Major, Minor, Patch uint64
	// Pre is the pre-release part without its leading "-" ("rc.1"), or
	// empty for a stable release.
	Pre string
}

// ParseVersion reads a release tag like v1.2.3 or v1.2.3-rc.1 (see
// ValidateVersion). Build metadata (+...) is refused: a tag names one
// release.
func ParseVersion(tag string) (Version, error) {
	if err := ValidateVersion(tag); err != nil {
		return Version{}, err
	}
	core, pre, _ := strings.Cut(tag[1:], "-")
	parts := strings.Split(core, ".")
	var nums [3]uint64
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Version{}, fmt.Errorf("version %q: %s is too large a number; use a smaller version", tag, p)
		}
		nums[i] = n
	}
	return Version{Major: nums[0], Minor: nums[1], Patch: nums[2], Pre: pre}, nil
}

// String returns the tag: v1.2.3 or v1.2.3-rc.1.
func (v Version) String() string {
	s := fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Prerelease reports whether v has a pre-release part (v1.2.3-rc.1).
func (v Version) Prerelease() bool { return v.Pre != "" }

// MajorTag returns the tag that follows the latest release of v's major
// version: v1 for v1.2.3.
func (v Version) MajorTag() string { return fmt.Sprintf("v%d", v.Major) }

// Compare orders versions by semantic-version precedence
// (https://semver.org/#spec-item-11): -1 when v is lower than w, 0 when
// equal, +1 when higher. A pre-release is lower than its release.
func (v Version) Compare(w Version) int {
	for _, c := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if c[0] != c[1] {
			if c[0] < c[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := strings.Split(v.Pre, "."), strings.Split(w.Pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareIdent(a[i], b[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// compareIdent compares two pre-release identifiers: numeric ones as
// numbers, below alphanumeric ones, which compare as ASCII.
func compareIdent(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
	switch {
	case an && bn:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

func isNumeric(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

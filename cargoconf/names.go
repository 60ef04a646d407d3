package cargoconf

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CratesIO is the name Cargo reserves for the crates.io registry. It cannot be used
// as the name of an alternative registry.
const CratesIO = "crates-io"

// EnvName returns the form Cargo uses for a registry name inside environment
// variable names such as CARGO_REGISTRIES_<NAME>_TOKEN: upper-cased, with '-' and
// '.' replaced by '_'. For example "my-reg.x" becomes "MY_REG_X".
func EnvName(registry string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' {
			return '_'
		}
		return r
	}, strings.ToUpper(registry))
}

// ValidateRegistryName reports whether name is a registry name Cargo accepts. Cargo's
// rules (checked with cargo 1.95): the name is not empty, its first character is a
// letter or '_' (a Unicode XID start character, not a digit), and every other
// character is a letter, a digit, '_' or '-' (Unicode XID continue characters).
// "crates-io" is refused because Cargo reserves it for crates.io itself.
func ValidateRegistryName(name string) error {
	const allowed = "a registry name must start with a letter or '_' and may contain only letters, digits, '-' and '_' (Cargo's rules), for example \"artifactory\" or \"my-registry\""
	if name == "" {
		return fmt.Errorf("invalid registry name: it is empty; %s", allowed)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("invalid registry name %q: it is not valid UTF-8; %s", name, allowed)
	}
	if name == CratesIO {
		return fmt.Errorf("invalid registry name %q: Cargo reserves it for crates.io; choose another name", name)
	}
	for i, r := range name {
		if i == 0 {
			if unicode.IsDigit(r) {
				return fmt.Errorf("invalid registry name %q: it cannot start with a digit; %s", name, allowed)
			}
			if !isXIDStart(r) && r != '_' {
				return fmt.Errorf("invalid registry name %q: it cannot start with %q; %s", name, r, allowed)
			}
			continue
		}
		if !isXIDContinue(r) && r != '-' {
			return fmt.Errorf("invalid registry name %q: character %q is not allowed; %s", name, r, allowed)
		}
	}
	return nil
}

// isXIDStart approximates Unicode's XID_Start property with the tables of package unicode.
func isXIDStart(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r)
}

// isXIDContinue approximates Unicode's XID_Continue property.
func isXIDContinue(r rune) bool {
	return isXIDStart(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Mn, r) ||
		unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)
}

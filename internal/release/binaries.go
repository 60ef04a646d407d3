package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/cargoconf"
)

// Target is one released binary: an operating system and an architecture,
// as GOOS and GOARCH name them.
type Target struct {
	GOOS, GOARCH string
}

// MaxBinarySize is the size budget of a released Linux binary (built
// stripped, without net/http's HTTP/2): 7.8 MB. The action's image is this
// binary and the CA bundle, pulled or built at the start of every job. The
// macOS and Windows binaries run from the setup/ composite's download and
// have no budget (darwin/amd64 and windows/amd64 are about 2% larger).
const MaxBinarySize = 7_800_000

// Targets are the binaries every release attaches: Linux, macOS and
// Windows on amd64 and arm64.
var Targets = []Target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// String returns "GOOS/GOARCH".
func (t Target) String() string { return t.GOOS + "/" + t.GOARCH }

// Asset returns the file name of the target's binary in a release:
// cargo-oidc-GOOS-GOARCH, with .exe for Windows. setup/setup.sh computes the
// same name from the runner's RUNNER_OS and RUNNER_ARCH.
func (t Target) Asset() string {
	name := "cargo-oidc-" + t.GOOS + "-" + t.GOARCH
	if t.GOOS == "windows" {
		name += ".exe"
	}
	return name
}

// ParseTarget reads "GOOS/GOARCH" and checks that it is a released target.
func ParseTarget(s string) (Target, error) {
	goos, goarch, _ := strings.Cut(s, "/")
	for _, t := range Targets {
		if t.GOOS == goos && t.GOARCH == goarch {
			return t, nil
		}
	}
	var names []string
	for _, t := range Targets {
		names = append(names, t.String())
	}
	return Target{}, fmt.Errorf("target %q is not released; the targets are %s", s, strings.Join(names, ", "))
}

// BuildArgs returns the arguments of `go build` for a release binary with
// the given version stamped, written to out: static (the caller sets
// CGO_ENABLED=0, GOOS and GOARCH), reproducible paths (-trimpath),
// stripped, without net/http's bundled HTTP/2, as the Dockerfile builds it.
func BuildArgs(version, out string) []string {
	return []string{"build", "-trimpath", "-tags", "nethttpomithttp2",
		"-ldflags", "-s -w -X main.version=" + version, "-o", out, "."}
}

// versionRE is a release version: v, then semantic version.
var versionRE = regexp.MustCompile(`^v(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

// ValidateVersion reports whether v is a release tag like v1.2.3 or
// v1.2.3-rc.1.
func ValidateVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("version %q is not vMAJOR.MINOR.PATCH[-PRERELEASE] (like v1.2.3)", v)
	}
	return nil
}

// Sum is the SHA-256 of one release file.
type Sum struct {
	Name string
	Hex  string // 64 lower-case hex digits
}

// SumOf returns the Sum of data under name.
func SumOf(name string, data []byte) Sum {
	h := sha256.Sum256(data)
	return Sum{Name: name, Hex: hex.EncodeToString(h[:])}
}

// assetNameRE is what a file name in SHA256SUMS may look like: no paths,
// no spaces, nothing a shell would expand.
var assetNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FormatSums returns the SHA256SUMS file for sums, in the format of
// `sha256sum` (hash, two spaces, name; one line each), sorted by name, so
// `sha256sum -c SHA256SUMS` checks the downloaded files.
func FormatSums(sums []Sum) ([]byte, error) {
	sorted := append([]Sum(nil), sums...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b bytes.Buffer
	for i, s := range sorted {
		if !assetNameRE.MatchString(s.Name) {
			return nil, fmt.Errorf("file name %q is not a plain release file name", s.Name)
		}
		if !hexRE.MatchString(s.Hex) {
			return nil, fmt.Errorf("checksum of %s is not 64 lower-case hex digits", s.Name)
		}
		if i > 0 && sorted[i-1].Name == s.Name {
			return nil, fmt.Errorf("file %s is listed twice", s.Name)
		}
		fmt.Fprintf(&b, "%s  %s\n", s.Hex, s.Name)
	}
	return b.Bytes(), nil
}

// ParseSums reads a SHA256SUMS file as FormatSums writes it (and as
// `sha256sum` writes it, with a "*" before the name in binary mode). It
// refuses anything else, a name twice included, with the line number.
func ParseSums(data []byte) ([]Sum, error) {
	var sums []Sum
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		hash, name, ok := strings.Cut(line, " ")
		if !ok || !hexRE.MatchString(hash) {
			return nil, fmt.Errorf("SHA256SUMS line %d: want \"<64 lower-case hex digits>  <file name>\"", n)
		}
		switch {
		case strings.HasPrefix(name, " "), strings.HasPrefix(name, "*"):
			name = name[1:]
		default:
			return nil, fmt.Errorf("SHA256SUMS line %d: want two spaces between the checksum and the name", n)
		}
		if !assetNameRE.MatchString(name) {
			return nil, fmt.Errorf("SHA256SUMS line %d: %q is not a plain release file name", n, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("SHA256SUMS line %d: %s is listed twice", n, name)
		}
		seen[name] = true
		sums = append(sums, Sum{Name: name, Hex: hash})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("SHA256SUMS: %w", err)
	}
	return sums, nil
}

// The files a release commit adds to the composite action's folder. The
// composite (setup/action.yml) reads them from its own checkout, the
// release commit: it downloads the binary of VERSION for the runner and
// refuses it unless its SHA-256 is the one in SHA256SUMS.
const (
	SetupDir         = "setup"
	SetupSumsFile    = "SHA256SUMS"
	SetupVersionFile = "VERSION"
)

// SetupFiles returns the contents of the files a release commit adds to
// SetupDir, by file name: SHA256SUMS (the same bytes as the release's
// SHA256SUMS) and VERSION (the release tag and a line break). Every target
// must have a checksum, so the composite works on every runner the release
// supports.
func SetupFiles(version string, sums []Sum) (map[string][]byte, error) {
	if err := ValidateVersion(version); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, s := range sums {
		have[s.Name] = true
	}
	for _, t := range Targets {
		if !have[t.Asset()] {
			return nil, fmt.Errorf("no checksum for %s (%s): every released target needs one", t.Asset(), t)
		}
	}
	data, err := FormatSums(sums)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{SetupSumsFile: data, SetupVersionFile: []byte(version + "\n")}, nil
}

// WriteFile writes data to a temporary file next to path, syncs it and
// renames it over path, so a reader never sees half a file. It is the
// action's own atomic writer (cargoconf.WriteFileAtomic), owner unchanged.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return cargoconf.WriteFileAtomic(path, data, perm, cargoconf.Owner{})
}

package cargoconf

import (
	"fmt"
	"strings"
	"testing"
)

// realisticConfig is a 50-line project config with comments, arrays and several tables.
const realisticConfig = `# Cargo configuration for the monorepo.
# Maintained by the platform team; ask in #rust before changing it.

[build]
jobs = 4                      # CI machines
target-dir = "target"
rustflags = [
  "-C", "link-arg=-fuse-ld=lld",  # faster links
  # "-C", "target-cpu=native",
]

[target.x86_64-unknown-linux-gnu]
linker = "clang"

[target.'cfg(windows)']
rustflags = ["-C", "target-feature=+crt-static"]

[alias]
b = "build"
c = "check --all-targets"
t = "test --workspace"
xtask = "run --package xtask --"

[env]
RUST_LOG = { value = "info", force = false }
NOTES = """
# not a table
[registry]
"""

[net]
retry = 3
git-fetch-with-cli = true

[http]
timeout = 30
multiplexing = true

[registries.internal]
index = "sparse+https://cargo.internal.example/index/"
credential-provider = "cargo:token"

[registry]
global-credential-providers = ["cargo:token"]

[term]
verbose = false
color = "auto"

[profile.release]
lto = "thin"
codegen-units = 1
`

func BenchmarkMerge(b *testing.B) {
	r := Registry{Name: "artifactory", Index: testIndex, CredentialProvider: "cargo:token", Default: true, ReplaceCratesIO: true}
	in := []byte(realisticConfig)
	if _, err := Merge(in, "config.toml", r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Merge(in, "config.toml", r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMergeIdempotent(b *testing.B) {
	r := Registry{Name: "artifactory", Index: testIndex, CredentialProvider: "cargo:token", Default: true, ReplaceCratesIO: true}
	in, err := Merge([]byte(realisticConfig), "config.toml", r)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(in, "config.toml", r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNesting measures refusing the worst inputs of MaxFileSize
// bytes (see worstShapes): the time per file is the figure to compare with
// a second.
func BenchmarkNesting(b *testing.B) {
	r := Registry{Name: "artifactory", Index: testIndex}
	for _, w := range worstShapes() {
		b.Run(strings.ReplaceAll(w.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(w.in)))
			for b.Loop() {
				if _, err := Merge(w.in, "config.toml", r); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkAcceptedAtLimits measures the costliest inputs the shape check
// lets through to the decoder: MaxItems items of several kinds, nesting at
// MaxNesting, long keys and one long string, the larger ones close to
// MaxFileSize bytes.
func BenchmarkAcceptedAtLimits(b *testing.B) {
	r := Registry{Name: "artifactory", Index: testIndex}
	pad := strings.Repeat("x", MaxFileSize/MaxItems-32)
	var long, nested strings.Builder
	for i := range MaxItems - 8 {
		fmt.Fprintf(&long, "[t%d%s]\n", i, pad)
	}
	for i := range (MaxItems - 8) / (MaxNesting + 1) {
		fmt.Fprintf(&nested, "a%d = %s\n", i, strings.Repeat("[", MaxNesting)+strings.Repeat("]", MaxNesting))
	}
	inputs := []struct {
		name string
		in   string
	}{
		{"keys", keys(MaxItems - 8)},
		{"long_table_names", long.String()},
		{"nested_arrays", nested.String()},
		{"array_elements", "a = [" + strings.Repeat("1,", MaxItems-8) + "]\n"},
		{"one_long_string", "s = \"" + strings.Repeat("x", MaxFileSize-8) + "\"\n"},
	}
	for _, tc := range inputs {
		in := []byte(tc.in)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Merge(in, "config.toml", r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

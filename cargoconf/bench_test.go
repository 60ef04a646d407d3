package cargoconf

import "testing"

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

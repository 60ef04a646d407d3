package fakes

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Dep is a dependency of a crate in the registry's index.
type Dep struct {
	Name string // crate name
	Req  string // version requirement, e.g. "^1.0"
}

// BuildCrate returns a .crate file (a gzipped tarball) for a library crate
// with <name>-<version>/Cargo.toml and <name>-<version>/src/lib.rs, plus
// extra files (relative path -> content). The output is deterministic.
func BuildCrate(name, version string, deps []Dep, extra map[string]string) ([]byte, error) {
	var manifest strings.Builder
	fmt.Fprintf(&manifest, "[package]\nedition = \"2021\"\nname = %q\nversion = %q\ndescription = \"A crate served by the cargo-oidc e2e fake registry\"\nlicense = \"MIT\"\n\n[lib]\npath = \"src/lib.rs\"\n", name, version)
	if len(deps) > 0 {
		manifest.WriteString("\n[dependencies]\n")
		for _, d := range deps {
			fmt.Fprintf(&manifest, "%s = %q\n", d.Name, d.Req)
		}
	}
	files := map[string]string{
		"Cargo.toml": manifest.String(),
		"src/lib.rs": fmt.Sprintf("//! %s %s, served by the cargo-oidc e2e fake registry.\n\n/// Returns the crate's name and version.\npub fn hello() -> &'static str {\n    %q\n}\n", name, version, name+" "+version),
	}
	for k, v := range extra {
		files[k] = v
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range paths {
		body := files[p]
		hdr := &tar.Header{Name: name + "-" + version + "/" + p, Mode: 0o644, Size: int64(len(body)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("build crate %s-%s: %w", name, version, err)
	}
	return buf.Bytes(), nil
}

// IndexPath returns the sparse index path of a crate name: 1/{n}, 2/{n},
// 3/{c}/{n} or {ab}/{cd}/{name}, lower-cased.
func IndexPath(name string) string {
	n := strings.ToLower(name)
	switch len(n) {
	case 0:
		return ""
	case 1:
		return "1/" + n
	case 2:
		return "2/" + n
	case 3:
		return "3/" + n[:1] + "/" + n
	default:
		return n[:2] + "/" + n[2:4] + "/" + n
	}
}

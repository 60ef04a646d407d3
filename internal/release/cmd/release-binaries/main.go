// Command release-binaries builds the release binaries of cargo-oidc for
// every released target (release.Targets), static and with the version
// stamped, writes their SHA256SUMS, and, with --setup, the files a release
// commit adds to the composite action's folder (SHA256SUMS and VERSION).
//
//	go run ./internal/release/cmd/release-binaries \
//	  --version v1.2.3 --out dist --setup setup
//
// .github/workflows/release.yml runs it; .ci/test runs it with --check to
// cross-compile every target without keeping the binaries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

func main() {
	os.Exit(release.ExitCode("release-binaries", run(context.Background(), os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// options are the parsed command line.
type options struct {
	version, out, setup, repo string
	targets                   []release.Target
	check                     bool
}

func parse(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("release-binaries", flag.ContinueOnError)
	o := &options{}
	fs.StringVar(&o.version, "version", "", "release tag to stamp, like v1.2.3 (required)")
	fs.StringVar(&o.out, "out", "", "folder for the binaries and SHA256SUMS (required)")
	fs.StringVar(&o.setup, "setup", "", "the composite action's folder, to write its SHA256SUMS and VERSION into (optional)")
	fs.StringVar(&o.repo, "repo", ".", "the repository to build")
	targets := fs.String("targets", "", "comma-separated GOOS/GOARCH list (default: every released target)")
	fs.BoolVar(&o.check, "check", false, "only check that every target builds: --out is a temporary folder, removed afterwards")
	if err := release.ParseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	if o.check {
		if o.version == "" {
			o.version = "v0.0.0-check"
		}
		if o.out != "" || o.setup != "" {
			return nil, errors.New("--check builds into a temporary folder; do not give --out or --setup")
		}
	} else if o.out == "" {
		return nil, errors.New("--out is required")
	}
	if err := release.ValidateVersion(o.version); err != nil {
		return nil, fmt.Errorf("--version: %w", err)
	}
	o.targets = release.Targets
	if *targets != "" {
		o.targets = nil
		for _, s := range strings.Split(*targets, ",") {
			t, err := release.ParseTarget(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("--targets: %w", err)
			}
			o.targets = append(o.targets, t)
		}
		if o.setup != "" && len(o.targets) != len(release.Targets) {
			return nil, errors.New("--setup needs every released target: a release commit must carry a checksum for each")
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.check {
		dir, err := os.MkdirTemp("", "release-binaries-check-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.out = dir
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var sums []release.Sum
	for _, t := range o.targets {
		path := filepath.Join(o.out, t.Asset())
		start := time.Now()
		if err := build(ctx, o.repo, t, o.version, path, stderr); err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s := release.SumOf(t.Asset(), data)
		sums = append(sums, s)
		fmt.Fprintf(stdout, "%-22s %s  %8d bytes  built in %s\n", t, s.Hex, len(data), time.Since(start).Round(10*time.Millisecond))
	}
	if o.check {
		fmt.Fprintf(stdout, "all %d targets build\n", len(o.targets))
		return nil
	}
	data, err := release.FormatSums(sums)
	if err != nil {
		return err
	}
	if err := release.WriteFile(filepath.Join(o.out, "SHA256SUMS"), data, 0o644); err != nil {
		return err
	}
	if o.setup != "" {
		files, err := release.SetupFiles(o.version, sums)
		if err != nil {
			return err
		}
		for name, data := range files {
			if err := release.WriteFile(filepath.Join(o.setup, name), data, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "wrote %s and %s under %s\n", release.SetupSumsFile, release.SetupVersionFile, o.setup)
	}
	return nil
}

// build runs `go build` for one target, static (CGO_ENABLED=0).
func build(ctx context.Context, repo string, t release.Target, version, out string, stderr io.Writer) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", release.BuildArgs(version, abs)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.GOOS, "GOARCH="+t.GOARCH, "GOFLAGS=-buildvcs=false")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", t, err)
	}
	return nil
}

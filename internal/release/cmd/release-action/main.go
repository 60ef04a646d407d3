// Command release-action writes the action.yml of a release: the repository's
// action.yml with runs.image set to a prebuilt image pinned by digest.
//
//	go run ./internal/release/cmd/release-action \
//	  --image ghcr.io/cargo-oidc/cargo-oidc:1.2.3@sha256:<digest> --out action.yml
//
// .github/workflows/release.yml runs it after pushing the image.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

func main() {
	os.Exit(release.ExitCode("release-action", run(os.Args[1:], os.Stderr), os.Stderr))
}

// run parses args, reads --in, and writes the release action.yml to --out.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("release-action", flag.ContinueOnError)
	in := fs.String("in", "action.yml", "the main branch's action.yml")
	out := fs.String("out", "", "where to write the release action.yml (may be the same file as --in)")
	image := fs.String("image", "", "ghcr.io/OWNER/NAME:VERSION@sha256:DIGEST")
	if err := release.ParseFlags(fs, args, stderr); err != nil {
		return err
	}
	switch {
	case *image == "":
		return errors.New("--image is required")
	case *out == "":
		return errors.New("--out is required")
	}
	src, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	data, err := release.ReleaseActionYAML(src, *image)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	return release.WriteFile(*out, data, 0o644)
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
)

// scnImageTag is the tag of the image built from the repository's
// Dockerfile for this test process; the process id keeps test processes
// running at the same time from removing each other's image.
var scnImageTag = fmt.Sprintf("localhost/cargo-oidc-e2e:scenarios-%d", os.Getpid())

// scnMaxImageSize is the budget for the image: 8 MB.
const scnMaxImageSize = 8_000_000

// scnBuilt is the image the container tests share, built once per process.
type scnBuilt struct {
	engine *container.Engine
	build  *container.BuildResult
	base   *container.BaseImage
}

var (
	scnImageOnce sync.Once
	scnImage     *scnBuilt
	scnImageErr  error
	scnImageSkip error // why the container tests skip (no Podman)
)

// scnContainer returns the engine and the image built from the repository's
// own Dockerfile, building it on first use. Without Podman it skips (fails
// under CI=true).
func scnContainer(t *testing.T) *scnBuilt {
	t.Helper()
	scnImageOnce.Do(func() {
		if scnImageSkip = container.Available(); scnImageSkip != nil {
			return
		}
		scnImage, scnImageErr = scnBuildImage()
	})
	harness.Require(t, "Podman", scnImageSkip)
	if scnImageErr != nil {
		t.Fatalf("building the action's image: %v", scnImageErr)
	}
	return scnImage
}

// scnBuildImage makes the build stage's base image locally (nothing can be
// pulled) and builds the Dockerfile as the runner does: `podman build -t TAG
// -f Dockerfile <repo>`, no build arguments. It prints the build time and
// the image size.
func scnBuildImage() (*scnBuilt, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	e, err := container.New("")
	if err != nil {
		return nil, err
	}
	e.Log = os.Stdout
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	base, err := e.EnsureBaseImage(ctx, filepath.Join(root, "Dockerfile"), root)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	b, err := e.Build(ctx, root, scnImageTag)
	if err != nil {
		return nil, err
	}
	fmt.Printf("e2e: image %s: %d bytes (%.2f MB), podman build took %s; base image %s ready in %s (created: %v)\n",
		b.Image, b.Size, float64(b.Size)/1e6, b.Duration.Round(10*time.Millisecond),
		base.Name, base.Duration.Round(10*time.Millisecond), base.Created)
	return &scnBuilt{engine: e, build: b, base: base}, nil
}

// scnRemoveImage removes the image the tests built, if any (TestMain).
func scnRemoveImage() {
	if scnImage == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := scnImage.engine.RemoveImage(ctx, scnImageTag); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: removing the test image:", err)
	}
}

// TestContainerImage checks the image built from the repository's
// Dockerfile: its size is within budget, and both entrypoints exist and run
// (the main stage's /cargo-oidc and the post stage's /cargo-oidc-post).
func TestContainerImage(t *testing.T) {
	t.Parallel()
	img := scnContainer(t)
	t.Logf("image %s: %d bytes (%.2f MB), built in %s", img.build.Image, img.build.Size, float64(img.build.Size)/1e6, img.build.Duration.Round(10*time.Millisecond))
	if img.build.Size > scnMaxImageSize {
		t.Errorf("image is %d bytes, over the budget of %d", img.build.Size, scnMaxImageSize)
	}
	for _, ep := range []string{"/cargo-oidc", "/cargo-oidc-post"} {
		t.Run(strings.TrimPrefix(ep, "/"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := img.engine.Command(ctx, "run", "--rm", "--network=none", "--entrypoint", ep, scnImageTag, "--version")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("podman run --entrypoint %s %s --version: %v\n%s", ep, scnImageTag, err, out)
			}
			if !strings.HasPrefix(string(out), "cargo-oidc ") {
				t.Errorf("%s --version printed %q, want \"cargo-oidc <version>\"", ep, out)
			}
		})
	}
}

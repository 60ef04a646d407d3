package e2e

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

// TestReleasePathPulledImage runs the release path end to end: the run's
// image built from the Dockerfile is pushed to a registry on 127.0.0.1
// (go-containerregistry's in-process registry), internal/release writes the
// release action.yml (runs.image: docker://...@sha256:...), and the action
// runs from that image, pulled by digest and not built, followed by a
// `cargo fetch` with what it exported (scnFetch). It prints the pull time
// against the build from the Dockerfile.
func TestReleasePathPulledImage(t *testing.T) {
	t.Parallel()
	img := scnContainer(t)
	cargo := scnCargo(t)
	ctx, cancel := harness.Context(t.Context(), t, "the release path", 10*time.Minute)
	defer cancel()
	e := img.engine
	// Plain HTTP on 127.0.0.1, so podman talks to it with --tls-verify=false.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()

	// Push, as release.yml pushes to ghcr.io, and write the release
	// action.yml with the digest.
	pushed := strings.TrimPrefix(srv.URL, "http://") + "/cargo-oidc/cargo-oidc:0.99.2"
	digestFile := filepath.Join(t.TempDir(), "digest")
	relPodman(ctx, t, e, "push", "--tls-verify=false", "--digestfile", digestFile, scnImageTag, "docker://"+pushed)
	ref := pushed + "@" + strings.TrimSpace(readFile(t, digestFile))
	relYAML, err := release.PinImage([]byte(readFile(t, filepath.Join(harness.Root(t), "action.yml"))), ref)
	if err != nil {
		t.Fatal(err)
	}
	relAction, err := runner.LoadAction(writeFile(t, filepath.Join(t.TempDir(), "action.yml"), string(relYAML), 0o644))
	if err != nil || relAction.Runs.Image != "docker://"+ref {
		t.Fatalf("the release action.yml does not load (%v) or does not run docker://%s", err, ref)
	}
	// Docker pulls NAME:TAG@DIGEST by the digest and ignores the tag;
	// Podman refuses a reference with both, so it gets NAME@DIGEST.
	image := relByDigest(ref)
	// The runner of a user's job has never built the image: nothing by
	// that name may be on this machine before the pull.
	if err := e.Command(ctx, "image", "exists", image).Run(); err == nil {
		t.Fatalf("%s exists locally before the pull", image)
	}
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), image) })
	pullStart := time.Now()
	relPodman(ctx, t, e, "pull", "--tls-verify=false", "docker://"+image)
	pull := time.Since(pullStart)
	scnFetch(scnNewWorld(t, runner.Container(e, image), cargo, relAction), providerNamed(t, "jfrog"))
	fmt.Printf("release path: image: Dockerfile: podman build (this run's, with the build cache) %s; image: docker://...@sha256: podman pull %s (%.1fx faster)\n",
		img.build.Duration.Round(10*time.Millisecond), pull.Round(10*time.Millisecond), float64(img.build.Duration)/float64(pull))
	if pull >= img.build.Duration {
		t.Errorf("pulling the image (%s) was not faster than building it from the Dockerfile (%s)", pull, img.build.Duration)
	}
}

// relPodman runs podman with the engine's configuration and fails the test
// on error.
func relPodman(ctx context.Context, t *testing.T, e *container.Engine, args ...string) {
	t.Helper()
	if out, err := e.Command(ctx, args...).CombinedOutput(); err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), harness.Err(ctx, err), out)
	}
}

// relByDigest drops the tag of NAME:TAG@DIGEST.
func relByDigest(ref string) string {
	name, digest, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + digest
}

// relBinaryModules are the modules the binary may link (the project's
// rules); test-only modules such as go-containerregistry, go-jose and the
// YAML parser must never reach it.
var relBinaryModules = []string{
	"github.com/cargo-oidc/cargo-oidc",
	"github.com/sethvargo/go-githubactions",
	"github.com/hashicorp/go-retryablehttp",
	"github.com/hashicorp/go-cleanhttp",
	"github.com/BurntSushi/toml",
	"github.com/aws/aws-sdk-go-v2", // the SigV4 signer (CodeArtifact)
	"github.com/aws/smithy-go",
}

// relTestOnlyPackages are packages of this module that only tests may
// import.
var relTestOnlyPackages = []string{
	"github.com/cargo-oidc/cargo-oidc/internal/testenv",
	"github.com/cargo-oidc/cargo-oidc/e2e",
}

// relIn reports whether path is one of roots or below one.
func relIn(roots []string, path string) bool {
	return slices.ContainsFunc(roots, func(r string) bool { return path == r || strings.HasPrefix(path, r+"/") })
}

// TestReleaseBinaryDependencies: for every released target, `go list -deps`
// of the binary names only allowed modules and none of this module's
// test-only packages.
func TestReleaseBinaryDependencies(t *testing.T) {
	t.Parallel()
	root := harness.Root(t)
	for _, tg := range release.Targets {
		t.Run(tg.GOOS+"-"+tg.GOARCH, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "list", "-deps", "-tags", "nethttpomithttp2", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}", ".")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+tg.GOOS, "GOARCH="+tg.GOARCH, "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps: %v", err)
			}
			for line := range strings.Lines(string(out)) {
				pkg, mod, _ := strings.Cut(strings.TrimSpace(line), " ")
				if relIn(relTestOnlyPackages, pkg) {
					t.Errorf("the %s binary links %s, a package only tests may import", tg, pkg)
				}
				if mod != "" && !relIn(relBinaryModules, mod) { // "": the standard library
					t.Errorf("the %s binary links module %s, which is not allowed in the binary", tg, mod)
				}
			}
		})
	}
}

// scnImageTag is the tag of the image built from the repository's
// Dockerfile for this test process; the process id keeps test processes
// running at the same time from removing each other's image.
var scnImageTag = fmt.Sprintf("localhost/cargo-oidc-e2e:scenarios-%d", os.Getpid())

// scnMaxImageSize is the budget for the image: the binary's budget
// (release.MaxBinarySize, 7.8 MB) and the CA bundle (about 0.22 MB).
const scnMaxImageSize = release.MaxBinarySize + 250_000

// scnBuilt is the image the container tests share, built once per process.
type scnBuilt struct {
	engine *container.Engine
	build  *container.BuildResult
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
	return &scnBuilt{engine: e, build: b}, nil
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

// TestContainerImage: the image built from the repository's Dockerfile is
// within its size budget (its entrypoints run in TestScenarioContainer).
func TestContainerImage(t *testing.T) {
	t.Parallel()
	if b := scnContainer(t).build; b.Size > scnMaxImageSize {
		t.Errorf("image is %d bytes, over the budget of %d", b.Size, scnMaxImageSize)
	}
}

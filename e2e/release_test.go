package e2e

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
	"github.com/cargo-oidc/cargo-oidc/internal/release"
)

// relCounter counts the requests an in-process registry answers.
type relCounter struct {
	mu    sync.Mutex
	blobs map[string]int // "GET" or "PUT"/"POST"/"PATCH" -> blob requests
	next  http.Handler
}

func (c *relCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/blobs/") {
		c.mu.Lock()
		c.blobs[r.Method]++
		c.mu.Unlock()
	}
	c.next.ServeHTTP(w, r)
}

func (c *relCounter) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blobs[method]
}

// TestReleasePathPulledImage runs the release path end to end: the image is
// built from the Dockerfile as a release builds it, pushed to a registry on
// 127.0.0.1 (go-containerregistry's in-process registry), internal/release
// writes the release action.yml (runs.image: docker://...@sha256:...), and
// the action runs from that image, pulled by digest and not built, followed
// by a `cargo fetch` with what it exported. It prints the step's wall time
// on the pulled image against the build from the Dockerfile.
func TestReleasePathPulledImage(t *testing.T) {
	t.Parallel()
	img := scnContainer(t) // the run's one build of the Dockerfile
	cargo := scnCargo(t)
	root := harness.Root(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	e := img.engine

	// The registry: plain HTTP on 127.0.0.1, so podman talks to it with
	// --tls-verify=false; it stops with the test.
	counter := &relCounter{blobs: map[string]int{}, next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(counter)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// 1. The image built from the Dockerfile as the runner builds it for
	// `image: Dockerfile` (once per run, shared with the container
	// scenarios), under a name of this test's, and the step on it.
	built := fmt.Sprintf("localhost/cargo-oidc-e2e:release-%d", os.Getpid())
	relPodman(ctx, t, e, "tag", scnImageTag, built)
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), built) })
	b := img.build
	mainAction := repoAction(t)
	buildStep := relRunStep(ctx, t, cargo, mainAction, runner.Container(e, built))

	// 2. Push it, as release.yml pushes to ghcr.io, and write the release
	// action.yml with the digest.
	pushed := host + "/cargo-oidc/cargo-oidc:0.99.2"
	digestFile := filepath.Join(t.TempDir(), "digest")
	relPodman(ctx, t, e, "push", "--tls-verify=false", "--digestfile", digestFile, built, "docker://"+pushed)
	ref := pushed + "@" + strings.TrimSpace(readFile(t, digestFile))
	relYAML, err := release.PinImage([]byte(readFile(t, filepath.Join(root, "action.yml"))), ref)
	if err != nil {
		t.Fatal(err)
	}
	actionDir := t.TempDir()
	writeFile(t, filepath.Join(actionDir, "action.yml"), string(relYAML), 0o644)
	relAction, err := runner.LoadAction(filepath.Join(actionDir, "action.yml"))
	if err != nil {
		t.Fatalf("the release action.yml does not load: %v", err)
	}
	if relAction.Runs.Image != "docker://"+ref {
		t.Fatalf("release runs.image = %q, want docker://%s", relAction.Runs.Image, ref)
	}
	// Docker pulls NAME:TAG@DIGEST by the digest and ignores the tag;
	// Podman refuses a reference with both, so it gets NAME@DIGEST.
	image := relByDigest(strings.TrimPrefix(relAction.Runs.Image, "docker://"))

	// 3. Nothing of the image stays on this machine: the runner of a user's
	// job has never built it.
	if err := e.RemoveImage(ctx, built); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveImage(ctx, pushed); err != nil {
		t.Fatal(err)
	}
	if err := e.Command(ctx, "image", "exists", image).Run(); err == nil {
		t.Fatalf("%s still exists locally after removing the built image", image)
	}

	// 4. Pull it by digest, as the runner does during job set-up for
	// image: docker://..., and run the step on it.
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), image) })
	gets := counter.count(http.MethodGet)
	pullStart := time.Now()
	relPodman(ctx, t, e, "pull", "--tls-verify=false", "docker://"+image)
	pull := time.Since(pullStart)
	if counter.count(http.MethodGet) == gets {
		t.Fatal("the pull fetched no blob from the registry: the image was not pulled")
	}
	pulledStep := relRunStep(ctx, t, cargo, relAction, runner.Container(e, image))

	buildTotal := b.Duration + buildStep
	pullTotal := pull + pulledStep
	fmt.Printf("release path: image: Dockerfile: podman build (this run's, with the build cache) %s + step %s = %s; "+
		"image: docker://...@sha256: podman pull %s + step %s = %s (%.1fx faster)\n",
		b.Duration.Round(10*time.Millisecond), buildStep.Round(10*time.Millisecond), buildTotal.Round(10*time.Millisecond),
		pull.Round(10*time.Millisecond), pulledStep.Round(10*time.Millisecond), pullTotal.Round(10*time.Millisecond),
		float64(buildTotal)/float64(pullTotal))
	if pullTotal >= buildTotal {
		t.Errorf("the pulled image (%s) was not faster than a build from the Dockerfile (%s)", pullTotal, buildTotal)
	}
}

// relRunStep runs one job: the action (JFrog, token mode) on rt, its post
// stage, and a later `cargo fetch` that must download the registry's crate
// with only what the action exported. It returns the main stage's wall time.
func relRunStep(ctx context.Context, t *testing.T, cargo string, a *runner.Action, rt runner.Runtime) time.Duration {
	t.Helper()
	s := fakes.StartT(t, fakes.Options{})
	job := runner.NewJob(t, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken})
	caFile := writeFile(t, filepath.Join(job.Temp(), "e2e-ca.pem"), readFile(t, s.CAFile), 0o644) // under RUNNER_TEMP: mounted in the container
	res, err := job.RunAction(ctx, rt, a, runner.Step{ID: "registry", Inputs: s.JFrogInputs(),
		Env: map[string]string{"SSL_CERT_FILE": caFile}})
	if err != nil {
		t.Fatalf("%s: %v", rt, err)
	}
	if res.Failed() || !s.Store.Valid(res.Outputs["token"]) {
		t.Fatalf("%s: the step failed or gave no valid token (exit %d):\n%s", rt, res.ExitCode, res.Combined())
	}
	writeFiles(t, job.Workspace(), project("rel-user", "0.1.0", dependsOn("artifactory")))
	out, err := job.RunCmd(ctx, runner.Cmd{Name: cargo, Args: []string{"fetch"}, Env: map[string]string{"CARGO_HTTP_CAINFO": s.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed() || !strings.Contains(out.Stderr, "Downloaded "+fakes.DefaultCrate) {
		t.Fatalf("%s: cargo fetch after the step failed (exit %d):\n%s", rt, out.ExitCode, out.Combined())
	}
	post, err := job.RunPost(ctx, "registry")
	if err != nil || post == nil || post.Failed() {
		t.Fatalf("%s: post stage: %v\n%v", rt, err, post)
	}
	t.Logf("%s: step %s, cargo fetch %s", rt, res.Duration.Round(time.Millisecond), out.Duration.Round(time.Millisecond))
	return res.Duration
}

// relPodman runs podman with the engine's configuration and fails the test
// on error.
func relPodman(ctx context.Context, t *testing.T, e *container.Engine, args ...string) {
	t.Helper()
	cmd := e.Command(ctx, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// relByDigest drops the tag of NAME:TAG@DIGEST.
func relByDigest(ref string) string {
	name, digest, ok := strings.Cut(ref, "@")
	if !ok {
		return ref
	}
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
				for _, testOnly := range relTestOnlyPackages {
					if pkg == testOnly || strings.HasPrefix(pkg, testOnly+"/") {
						t.Errorf("the %s binary links %s, a package only tests may import", tg, pkg)
					}
				}
				if mod == "" {
					continue // the standard library
				}
				ok := false
				for _, allowed := range relBinaryModules {
					if mod == allowed || strings.HasPrefix(mod, allowed+"/") {
						ok = true
					}
				}
				if !ok {
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

package act

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
)

// ActionImageRepo is the repository of the action image the tests build
// once per run (BuildActionImage).
const ActionImageRepo = "localhost/cargo-oidc-test-action"

// BuildActionImage builds the Dockerfile in dir once, as the runner does,
// tagged ActionImageRepo:tag and labelled by the engine (so that a killed
// run's image is swept), and returns the image name. Tests then run the
// action from that image (UsePrebuiltImage) instead of letting act build
// the Dockerfile for every `uses: ./` and every post stage. The
// Dockerfile's FROM image must exist (container.Engine.EnsureBaseImage).
func BuildActionImage(ctx context.Context, e *container.Engine, dir, tag string) (string, error) {
	image := ActionImageRepo + ":" + tag
	if _, err := e.Build(ctx, dir, image); err != nil {
		return "", fmt.Errorf("build the action image once for every act run: %w", err)
	}
	return image, nil
}

// imageLine is action.yml's `runs.image: Dockerfile` line.
var imageLine = regexp.MustCompile(`(?m)^([ \t]+image:[ \t]*)['"]?Dockerfile['"]?[ \t]*$`)

// UsePrebuiltImage rewrites the action.yml at path so that `runs.image:
// Dockerfile` becomes `docker://image`: act (with --pull=false, as Run
// passes) then starts the local image instead of building the Dockerfile,
// as GitHub's runner does for a released action. Everything else of
// action.yml (inputs, args, env, post-entrypoint) is kept.
func UsePrebuiltImage(path, image string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if n := len(imageLine.FindAllIndex(data, -1)); n != 1 {
		return fmt.Errorf("%s: %d lines `image: Dockerfile`, want exactly 1; update UsePrebuiltImage to the action's layout", path, n)
	}
	out := imageLine.ReplaceAll(data, []byte("${1}docker://"+image))
	if bytes.Equal(out, data) {
		return fmt.Errorf("%s: runs.image was not rewritten", path)
	}
	return os.WriteFile(path, out, 0o644)
}

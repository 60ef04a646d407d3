// Package harness builds the action's binary once per test process and
// gives the e2e tests, the benchmark and the playground the inputs that point
// the action at the local fake services.
package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
)

// RepoRoot returns the repository's root: the nearest parent of the working
// directory holding action.yml and go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "action.yml")) && fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no action.yml and go.mod above the working directory")
		}
		dir = parent
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cargo-oidc as the Dockerfile does (static, stripped) into a
// temporary folder, once per process, and returns its path. The folder is
// removed by Cleanup.
func Binary() (string, error) {
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "cargo-oidc-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "cargo-oidc")
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "nethttpomithttp2", "-ldflags", "-s -w -X main.version=e2e", "-o", buildPath, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	return buildPath, buildErr
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if buildPath != "" {
		_ = os.RemoveAll(filepath.Dir(buildPath))
	}
}

// JFrogInputs are the inputs of a step exchanging with the stack's JFrog.
func JFrogInputs(s *fakes.Stack) map[string]string {
	return map[string]string{"provider": "jfrog", "url": s.JFrogURL, "provider-name": s.JFrog.ProviderName,
		"repository": jfrogRepo(s)}
}

// CloudsmithInputs are the inputs of a step exchanging with the stack's
// Cloudsmith; the index is given since the default is cargo.cloudsmith.io.
func CloudsmithInputs(s *fakes.Stack) map[string]string {
	return map[string]string{"provider": "cloudsmith", "url": s.CloudsmithURL, "namespace": s.Cloudsmith.Namespace,
		"service-slug": s.Cloudsmith.ServiceSlug, "index-url": s.CloudsmithIndex}
}

// CratesIOInputs are the inputs of a crates.io trusted-publishing step.
func CratesIOInputs(s *fakes.Stack) map[string]string {
	return map[string]string{"provider": "crates-io", "url": s.CratesIOURL}
}

// jfrogRepo is the repository key in the stack's JFrog index URL.
func jfrogRepo(s *fakes.Stack) string {
	_, rest, _ := strings.Cut(s.JFrogIndex, "/api/cargo/")
	repo, _, _ := strings.Cut(rest, "/")
	return repo
}

// CodeArtifactInputs are the inputs of a step exchanging with the stack's
// STS and CodeArtifact; the index is given since the real one is on
// amazonaws.com. The step also needs Stack.AWSEnv in its environment.
func CodeArtifactInputs(s *fakes.Stack) map[string]string {
	return map[string]string{"provider": "codeartifact", "role-to-assume": fakes.DefaultAWSRole, "aws-region": fakes.DefaultAWSRegion,
		"domain": fakes.DefaultCADomain, "domain-owner": fakes.DefaultAWSAccount, "index-url": s.CodeArtifactIndex}
}

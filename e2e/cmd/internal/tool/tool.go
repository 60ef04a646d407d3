// Package tool holds what the e2e commands share: flag parsing, looking for
// programs, and one run of the action as a step of an emulated job.
package tool

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/harness"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// Parse parses args into fs; -help prints usage and the flags to out and
// returns flag.ErrHelp; a positional argument is an error.
func Parse(fs *flag.FlagSet, out io.Writer, usage string, args []string) error {
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see -help", fs.Arg(0))
	}
	return nil
}

// LookPath checks that each program of names is in PATH; install says how
// to get one that is missing.
func LookPath(install string, names ...string) error {
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("%s not found in PATH: %s", name, install)
		}
	}
	return nil
}

// RunAction builds cargo-oidc (once per process) and runs it on the host as
// step "registry" of a job under dir whose ID tokens come from s. A step
// that fails is no error: the caller reads the result.
func RunAction(ctx context.Context, s *fakes.Stack, dir string, env, inputs map[string]string) (*runner.Job, *runner.StepResult, error) {
	bin, err := harness.Binary()
	if err != nil {
		return nil, nil, err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	a, err := runner.LoadAction(filepath.Join(root, "action.yml"))
	if err != nil {
		return nil, nil, err
	}
	j, err := runner.New(dir, runner.Options{IDTokenURL: s.RequestURL, IDTokenToken: s.RequestToken, Env: env})
	if err != nil {
		return nil, nil, err
	}
	res, err := j.RunAction(ctx, runner.Host(bin), a, runner.Step{ID: "registry", Inputs: inputs})
	if err != nil {
		return nil, nil, fmt.Errorf("run the action: %w", err)
	}
	return j, res, nil
}

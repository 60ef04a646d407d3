// Command cargo-oidc is a GitHub Action that exchanges the job's GitHub OIDC
// ID token for a short-lived registry token (JFrog Artifactory, Cloudsmith,
// crates.io trusted publishing, AWS CodeArtifact) and sets Cargo up for the later steps of the
// job. Run with --cargo-plugin it is a Cargo credential provider that mints a
// fresh token whenever Cargo asks. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/cargo-oidc/cargo-oidc/internal/action"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// version is set at build time with -ldflags "-X main.version=..." (the
// release builds and the Dockerfile do); when it is empty, buildVersion reads
// the module version from the build info instead.
var version string

// buildVersion is the version --version prints and the credential provider
// reports: the stamped one, else the main module's version from the build
// info (v1.2.3 after `go install github.com/cargo-oidc/cargo-oidc@v1.2.3`, a
// pseudo-version for a build in a git checkout), else "dev".
func buildVersion(stamped string, read func() (*debug.BuildInfo, bool)) string {
	if stamped != "" {
		return stamped
	}
	if info, ok := read(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// errUsage marks a command-line error (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		var reported *action.ReportedError
		if !errors.As(err, &reported) {
			fmt.Fprintln(os.Stderr, "cargo-oidc:", err)
		}
		os.Exit(1)
	}
}

const usage = `cargo-oidc exchanges a GitHub Actions OIDC ID token for a short-lived Cargo
registry token (JFrog Artifactory, Cloudsmith, crates.io trusted publishing,
AWS CodeArtifact).

Usage:
  cargo-oidc [--host-workspace=DIR] [--host-temp=DIR]   main stage (a GitHub Actions step;
                                                        inputs come from INPUT_* variables)
  cargo-oidc post [--host-workspace=DIR] [--host-temp=DIR]
                                                        post stage (revoke, clean up)
  cargo-oidc --cargo-plugin                             Cargo credential provider; configure it with
                                                        credential-provider = "/path/cargo-oidc --provider=jfrog ..."
  cargo-oidc --help | --version

See https://github.com/cargo-oidc/cargo-oidc for the inputs and examples.
`

// run dispatches on the command line. args[0] is the program name; when it is
// cargo-oidc-post (the image's post-entrypoint) the post stage runs.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	name := "cargo-oidc"
	if len(args) > 0 {
		name = filepath.Base(args[0])
		args = args[1:]
	}
	post := name == "cargo-oidc-post"
	if len(args) > 0 && args[0] == "post" {
		post, args = true, args[1:]
	}
	for _, a := range args {
		if a == "--cargo-plugin" {
			return credprovider.Serve(ctx, credprovider.Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Version: buildVersion(version, debug.ReadBuildInfo)})
		}
	}

	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hostWorkspace := fs.String("host-workspace", "", "host path of the workspace (runs.args)")
	hostTemp := fs.String("host-temp", "", "host path of the runner's temp folder (runs.args)")
	help := fs.Bool("help", false, "print usage")
	showVersion := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case *help:
		fmt.Fprint(stdout, usage)
		return nil
	case *showVersion:
		fmt.Fprintln(stdout, "cargo-oidc", buildVersion(version, debug.ReadBuildInfo))
		return nil
	case fs.NArg() > 0:
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	// A container action's binary is the container's first process: the
	// runner's `docker run` has no --init.
	env := action.Env{Getenv: getenv, Stdout: stdout, HostWorkspace: *hostWorkspace, HostTemp: *hostTemp,
		Container: os.Getpid() == 1}
	if post {
		return action.Post(ctx, env)
	}
	return action.Main(ctx, env)
}

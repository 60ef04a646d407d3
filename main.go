// Command cargo-oidc is a GitHub Action that exchanges the job's GitHub OIDC
// ID token for a short-lived registry token (JFrog Artifactory, Cloudsmith,
// crates.io trusted publishing, AWS CodeArtifact) and sets Cargo up for the later steps of the
// job. Run with --cargo-plugin it is a Cargo credential provider that mints a
// fresh token whenever Cargo asks; its exec, configure and token commands
// (internal/cli) do the same on other CI systems. See README.md.
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
	"slices"
	"strings"
	"syscall"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/action"
	"github.com/cargo-oidc/cargo-oidc/internal/cli"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
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
	if len(os.Args) > 1 && cli.IsCommand(os.Args[1]) {
		// exec passes signals on to its command instead of dying of them.
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		hc, err := exchange.BaseHTTPClient(os.Getenv)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cargo-oidc: error: cannot use SSL_CERT_FILE:", err)
			os.Exit(1)
		}
		os.Exit(cli.Main(context.Background(), cli.Env{Getenv: os.Getenv, Environ: os.Environ, Stdin: os.Stdin, Stdout: os.Stdout,
			Stderr: os.Stderr, HTTP: hc, Signals: sigs}, os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "cargo-oidc: %v\nRun 'cargo-oidc --help' for what it accepts.\n", err)
		os.Exit(2)
	default:
		var reported *action.ReportedError
		if !errors.As(err, &reported) {
			fmt.Fprintln(os.Stderr, "cargo-oidc:", err)
		}
		os.Exit(1)
	}
}

// usageError is a command-line mistake (exit code 2); its text names what
// was wrong.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// providerArgs are the credential provider's own arguments, besides the
// inputs (credprovider.ParseArgs).
var providerArgs = []string{"id-token-env", "id-token-file"}

// usage is the --help text: every way to run the binary, every flag of
// flags and every argument the credential provider accepts.
func usage(flags *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString(`cargo-oidc exchanges a CI job's OIDC ID token for a short-lived Cargo
registry token (JFrog Artifactory, Cloudsmith, crates.io trusted publishing,
AWS CodeArtifact).

Usage:
  cargo-oidc [flags]          main stage of the action: exchange, then set Cargo up;
                              the inputs come from the runner's INPUT_<NAME> variables
  cargo-oidc post [flags]     post stage of the action: revoke, clean up
  cargo-oidc --cargo-plugin   Cargo credential provider (Cargo starts it this way)
  cargo-oidc --help | -h      print this text
  cargo-oidc --version        print the version
  cargo-oidc exec|configure|token [--INPUT=value ...]
                              for any CI system and scripts; see Commands below

Flags of the main and post stages:
`)
	flags.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "help", "version":
		case "composite":
			fmt.Fprintf(&b, "  --%-20s %s\n", f.Name, f.Usage)
		case "state-file":
			fmt.Fprintf(&b, "  --%-20s %s\n", f.Name+"=FILE", f.Usage)
		default:
			fmt.Fprintf(&b, "  --%-20s %s\n", f.Name+"=DIR", f.Usage)
		}
	})
	b.WriteString(`
Credential provider: set Cargo's credential-provider for the registry to
  "/path/to/cargo-oidc --provider=NAME --<input>=value ..."
Cargo (1.74 or later) runs "/path/to/cargo-oidc --cargo-plugin" and passes the
other words in its request. They are:
  --<input>=value        an input of the action, as in the step's with: block
  --id-token-env=VAR     use the ready OIDC ID token in environment variable VAR
                         (a GitLab id_tokens entry other than CARGO_OIDC_ID_TOKEN)
  --id-token-file=PATH   use the ready OIDC ID token in file PATH, read for each token
  --cache-dir=PATH       keep the job's tokens in folder PATH (absolute; default:
                         cargo-oidc-cache-<uid> in the job's temp folder)
Without --id-token-env or --id-token-file the CI system gives the ID token
(GitHub Actions: the job needs permissions: id-token: write).

Inputs (README.md says what each means and which provider reads it):
`)
	line := " "
	for _, in := range config.Inputs {
		if len(line)+len(in)+1 > 78 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + in
	}
	b.WriteString(line + "\n\nCommands for any CI system (and scripts):\n" + cli.Usage() +
		"\n\nSee https://github.com/cargo-oidc/cargo-oidc for the inputs and examples.\n")
	return b.String()
}

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
	// Cargo always passes --cargo-plugin first; anywhere else it is an
	// argument of something else (cargo-oidc exec -- tool --cargo-plugin).
	if len(args) > 0 && args[0] == "--cargo-plugin" {
		hc, err := exchange.BaseHTTPClient(getenv)
		if err != nil {
			return err
		}
		return credprovider.Serve(ctx, credprovider.Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: os.Stderr, HTTP: hc, Version: buildVersion(version, debug.ReadBuildInfo)})
	}

	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hostWorkspace := fs.String("host-workspace", "", "host path of the workspace (from action.yml's runs.args)")
	hostTemp := fs.String("host-temp", "", "host path of the runner's temp folder (from action.yml's runs.args)")
	composite := fs.Bool("composite", false, "main stage of setup/: inputs from CARGO_OIDC_IN_<NAME> (dashes as _)")
	stateFile := fs.String("state-file", "", "post stage of setup/: the state from this GITHUB_STATE file")
	help := fs.Bool("help", false, "print usage")
	showVersion := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h
			fmt.Fprint(stdout, usage(fs))
			return nil
		}
		return flagError(err, args)
	}
	switch {
	case *help:
		fmt.Fprint(stdout, usage(fs))
		return nil
	case *showVersion:
		fmt.Fprintln(stdout, "cargo-oidc", buildVersion(version, debug.ReadBuildInfo))
		return nil
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q: the stages take their inputs from INPUT_<NAME> variables, not from arguments", fs.Arg(0))}
	}
	// SSL_CERT_FILE adds a private CA on every OS (exchange.BaseHTTPClient).
	hc, hcErr := exchange.BaseHTTPClient(getenv)
	if hcErr != nil {
		r := ghaction.New(getenv, stdout)
		if !post {
			r.Error("cargo-oidc: cannot use SSL_CERT_FILE", hcErr.Error())
			return &action.ReportedError{Err: hcErr}
		}
		// The post stage never fails the job and still removes its files.
		r.Warning("cargo-oidc: cannot use SSL_CERT_FILE", hcErr.Error()+"\nThe post stage goes on with the system's trusted roots.")
	}
	// A container action's binary is the container's first process: the
	// runner's `docker run` has no --init.
	env := action.Env{Getenv: getenv, Stdout: stdout, HTTP: hc, HostWorkspace: *hostWorkspace, HostTemp: *hostTemp,
		Container: os.Getpid() == 1}
	switch {
	case post && *composite:
		return &usageError{"--composite is a flag of the main stage; the post stage of the composite action takes --state-file=FILE"}
	case !post && *stateFile != "":
		return &usageError{"--state-file is a flag of the post stage: cargo-oidc post --state-file=FILE"}
	case post && *stateFile != "":
		return action.PostFromFile(ctx, env, *stateFile)
	case post:
		return action.Post(ctx, env)
	case *composite:
		env.Getenv = ghaction.CompositeGetenv(getenv)
	}
	return action.Main(ctx, env)
}

// flagError rewords an error of the flag package: it names the flag as it
// was written, and says where an action input given as a flag belongs.
func flagError(err error, args []string) error {
	msg := err.Error()
	undefined, ok := strings.CutPrefix(msg, "flag provided but not defined: -")
	if !ok {
		return &usageError{strings.Replace(msg, ": -", ": --", 1)}
	}
	written := "--" + undefined
	for _, a := range args {
		if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); n == undefined && strings.HasPrefix(a, "-") {
			written, _, _ = strings.Cut(a, "=")
			break
		}
	}
	if slices.Contains(config.Inputs, undefined) || slices.Contains(providerArgs, undefined) {
		return &usageError{fmt.Sprintf("unknown flag %s: --%s=value is an argument of Cargo's credential-provider setting "+
			"(Cargo passes it to cargo-oidc --cargo-plugin in its request); the action's main stage reads its inputs from INPUT_<NAME> variables",
			written, undefined)}
	}
	return &usageError{"unknown flag " + written}
}

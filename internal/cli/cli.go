// Package cli runs cargo-oidc's terminal commands, for CI systems other
// than GitHub Actions (and for scripts anywhere): exec runs one command with
// a fresh registry token in its environment, configure sets Cargo up to ask
// cargo-oidc for tokens, token prints one.
//
// The commands take the action's inputs as --name=value arguments (the
// credential provider's rules, credprovider.ParseInputs) and find the job's
// ID token themselves (exchange.DetectSource). Nothing here reads the
// process environment or exits: Main returns the exit status.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"
	"github.com/cargo-oidc/cargo-oidc/internal/credprovider"
)

// Env is what the commands take from the outside world.
type Env struct {
	Getenv func(string) string
	// Environ is the environment exec's command inherits; nil means none
	// besides Cargo's variables.
	Environ func() []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// HTTP is the base client; nil means a default one.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Signals are forwarded to exec's command while it runs (nil: none).
	Signals <-chan os.Signal
	// Executable is the path of this binary, for configure's
	// credential-provider setting; nil means os.Executable.
	Executable func() (string, error)
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// command is one terminal command.
type command struct {
	name, args, summary string
	// run runs the command with its inputs and the command line after
	// "--" (exec's alone).
	run func(ctx context.Context, e *Env, o *credprovider.Options, argv []string) (int, error)
	// exec: the command runs the command after "--", and handles
	// Env.Signals itself.
	exec bool
}

// commands are the terminal commands, in the order --help lists them.
var commands = []command{
	{"exec", "[--INPUT=value ...] -- COMMAND [ARG ...]",
		"exchange; run COMMAND with Cargo's token variables set for it alone;\n" +
			"      revoke (crates.io); exit with COMMAND's status", runExec, true},
	{"configure", "[--INPUT=value ...]",
		"merge the registry, with cargo-oidc as its credential provider, into\n" +
			"      $CARGO_HOME/config.toml: plain cargo works for the rest of the job", runConfigure, false},
	{"token", "[--INPUT=value ...]",
		"print a registry token on stdout (it is then in your hands)", runToken, false},
}

// IsCommand reports whether name is a terminal command.
func IsCommand(name string) bool {
	for _, c := range commands {
		if c.name == name {
			return true
		}
	}
	return false
}

// Usage is the commands' part of --help.
func Usage() string {
	var b strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&b, "  cargo-oidc %s %s\n      %s\n", c.name, c.args, c.summary)
	}
	b.WriteString(`The inputs are the action's (--provider=, --url=, ...), with its defaults.
The ID token is found by itself on GitHub, Forgejo and Gitea Actions, GitLab CI
(id_tokens variable ` + exchange.DefaultIDTokenEnv + `), CircleCI, Buildkite,
Azure Pipelines and Bitbucket Pipelines; --id-token-env=VAR or
--id-token-file=PATH names it instead.`)
	return b.String()
}

// Main runs the command args[0] with args[1:] and returns the exit status:
// exec's command's own, 1 for a failure, 2 for a usage error. Errors go to
// Stderr as "cargo-oidc: error: ..." with "cargo-oidc: hint: ..." lines,
// every secret met removed.
func Main(ctx context.Context, e Env, args []string) int {
	for _, c := range commands {
		if len(args) == 0 || c.name != args[0] {
			continue
		}
		o, argv, err := parse(args[1:], c.exec)
		code := 2
		if err == nil {
			stop := func() {}
			if !c.exec {
				ctx, stop = e.cancelOnSignal(ctx)
			}
			code, err = c.run(ctx, &e, o, argv)
			stop()
		}
		if err != nil {
			report(e.Stderr, err)
		}
		return code
	}
	fmt.Fprintf(e.Stderr, "cargo-oidc: error: unknown command\n")
	return 2
}

// cancelOnSignal cancels ctx on the first signal, while no command runs.
func (e *Env) cancelOnSignal(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	if e.Signals == nil {
		return ctx, cancel
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-e.Signals:
			cancel()
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel() }
}

// usageError is a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// redactedError is err with the secrets red knows removed from its text
// and details.
type redactedError struct {
	err error
	red *exchange.Redactor
}

func (e *redactedError) Error() string { return e.red.Redact(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

// Details implements exchange's details convention.
func (e *redactedError) Details() []string {
	var d interface{ Details() []string }
	if !errors.As(e.err, &d) {
		return nil
	}
	var out []string
	for _, l := range d.Details() {
		out = append(out, e.red.Redact(l))
	}
	return out
}

// report prints err as age does: an error line, then one hint line per
// line of its details.
func report(w io.Writer, err error) {
	msg := strings.TrimPrefix(err.Error(), "cargo-oidc: ")
	fmt.Fprintf(w, "cargo-oidc: error: %s\n", strings.ReplaceAll(msg, "\n", "\ncargo-oidc: error: "))
	var d interface{ Details() []string }
	if errors.As(err, &d) {
		for _, l := range d.Details() {
			if strings.TrimSpace(l) != "" {
				fmt.Fprintf(w, "cargo-oidc: hint: %s\n", l)
			}
		}
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(w, "cargo-oidc: hint: run 'cargo-oidc --help' for what it accepts")
	}
}

// parse reads the inputs; exec's command follows "--".
func parse(args []string, wantCommand bool) (*credprovider.Options, []string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	switch {
	case wantCommand && len(rest) == 0:
		return nil, nil, &usageError{"exec needs the command to run after --: cargo-oidc exec --provider=... -- cargo publish"}
	case !wantCommand && rest != nil:
		return nil, nil, &usageError{"this command runs no other command; use cargo-oidc exec [inputs] -- COMMAND"}
	}
	for _, a := range args {
		if a == "--help" || a == "-h" {
			return nil, nil, &usageError{"see cargo-oidc --help"}
		}
	}
	o, err := credprovider.ParseInputs(args, "the command line", config.Default)
	if err != nil {
		return nil, nil, &usageError{strings.TrimPrefix(err.Error(), "cargo-oidc: ")}
	}
	if o.Record != "" {
		return nil, nil, &usageError{"--" + credprovider.RecordArg + " is the action's own argument of the credential provider"}
	}
	return o, rest, nil
}

// session is one exchange's client, redactor and source.
type session struct {
	cfg    *config.Config
	red    *exchange.Redactor
	client *exchange.Client
	src    *exchange.Source
	svc    exchange.Service
}

// open finds the ID token source and builds the service; nothing is sent.
func open(e *Env, o *credprovider.Options) (*session, error) {
	cfg := o.Config()
	red := exchange.NewRedactor()
	red.Add(e.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
	red.Add(e.Getenv("SYSTEM_ACCESSTOKEN"))
	client := exchange.NewClient(exchange.HTTPConfig{Base: e.HTTP, Retries: cfg.Retries, Redactor: red})
	src, err := o.IDTokens(e.Getenv, client, red.Add)
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, red: red, client: client, src: src, svc: cfg.Service(client, red.Add, e.now, e.Getenv)}, nil
}

// exchange gets the registry token within the timeout input.
func (s *session) exchange(ctx context.Context) (*exchange.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	tok, err := s.svc.Exchange(ctx, s.src)
	if err != nil {
		return nil, &redactedError{err: fmt.Errorf("%s: %w", title(s, err), withoutSource(err)), red: s.red}
	}
	s.red.Add(tok.Value)
	s.red.Add(tok.ReferenceToken)
	return tok, nil
}

// withoutSource is err without the "no ID token from <source>: " its
// title already says.
func withoutSource(err error) error {
	var ne *exchange.NoIDTokenError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// title says what went wrong, naming the ID token's source.
func title(s *session, err error) string {
	name := s.cfg.Provider.Title()
	switch exchange.Classify(err) {
	case exchange.KindNoIDToken:
		return "no ID token from " + s.src.Name + " (" + name + " was not contacted)"
	case exchange.KindUnreachable:
		return "cannot reach " + name
	case exchange.KindRefused:
		return name + " refused the token exchange of the ID token from " + s.src.Name
	}
	return "the token exchange with " + name + " failed"
}

// revoke revokes a crates.io token (when the revoke input is true) and
// says so on stderr.
func (s *session) revoke(e *Env, tok *exchange.Token) {
	cr, ok := s.svc.(*exchange.CratesIO)
	if !ok || !s.cfg.Revoke {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	if err := cr.Revoke(ctx, tok.Value); err != nil {
		fmt.Fprintf(e.Stderr, "cargo-oidc: warning: the crates.io token was not revoked (it expires 30 minutes after issue): %s\n", s.red.Redact(err.Error()))
		return
	}
	fmt.Fprintln(e.Stderr, "cargo-oidc: revoked the crates.io token")
}

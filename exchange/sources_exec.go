package exchange

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// CommandRunner runs a CI system's command line tool that prints an ID
// token (buildkite-agent, circleci) and returns its standard output,
// trimmed.
type CommandRunner interface {
	Run(ctx context.Context, name string, args ...string) (string, error)
}

// DefaultCommandTimeout bounds one run of a token command.
const DefaultCommandTimeout = 30 * time.Second

// maxCommandStderr bounds the part of a token command's stderr kept for
// its error.
const maxCommandStderr = 4 << 10

// ExecRunner runs commands found on Getenv's PATH, each within Timeout
// (0 = DefaultCommandTimeout). Its stdout is bounded like a token file;
// its stderr is bounded, and quoted in the error only after the token and
// every secret Redactor knows are removed. No token is ever an argument.
type ExecRunner struct {
	Getenv   func(string) string
	Timeout  time.Duration
	Redactor *Redactor
}

// CommandError is a token command that failed or printed no token.
type CommandError struct {
	Command string // "buildkite-agent oidc request-token"
	Err     error
	Stderr  string // bounded, cleaned, secrets removed
}

// Error implements error.
func (e *CommandError) Error() string {
	s := e.Command + ": " + e.Err.Error()
	if e.Stderr != "" {
		s += ": " + e.Stderr
	}
	return s
}

// Unwrap returns the cause.
func (e *CommandError) Unwrap() error { return e.Err }

// Run implements CommandRunner.
func (r *ExecRunner) Run(ctx context.Context, name string, args ...string) (string, error) {
	what := name
	if len(args) >= 2 {
		what += " " + args[0] + " " + args[1]
	}
	path, err := lookPath(r.Getenv("PATH"), name)
	if err != nil {
		return "", &CommandError{Command: what, Err: err}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	stdout := &boundedBuffer{max: maxIDTokenFile}
	stderr := &boundedBuffer{max: maxCommandStderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, stdout, stderr
	// A child that leaves a grandchild holding the pipes does not hold us.
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	tok := strings.TrimSpace(stdout.String())
	clean := func() string {
		s := scrub(stderr.String(), tok)
		if r.Redactor != nil {
			return r.Redactor.Clean(s)
		}
		return NewRedactor().Clean(s)
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return tok, &CommandError{Command: what, Err: fmt.Errorf("did not finish within %s: %w", timeout, context.DeadlineExceeded), Stderr: clean()}
	case err != nil:
		return tok, &CommandError{Command: what, Err: err, Stderr: clean()}
	case stdout.over:
		return tok, &CommandError{Command: what, Err: fmt.Errorf("printed more than %d bytes; expected one ID token", maxIDTokenFile)}
	case tok == "":
		return "", &CommandError{Command: what, Err: ErrEmptyToken, Stderr: clean()}
	}
	return tok, nil
}

// lookPath finds name in the PATH list path (not the process's own, so a
// caller's getenv decides), with Windows' executable extensions.
func lookPath(path, name string) (string, error) {
	exts := []string{""}
	if runtime.GOOS == "windows" {
		exts = []string{".exe", ".cmd", ".bat", ""}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // a relative PATH entry would run what the working directory holds
		}
		for _, ext := range exts {
			p := filepath.Join(dir, name+ext)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0) {
				return p, nil
			}
		}
	}
	return "", errors.New(name + " is not on PATH; run the job on an agent or image that has it, or give the token with --id-token-env or --id-token-file")
}

// boundedBuffer keeps the first max bytes written and notes whether more
// came.
type boundedBuffer struct {
	mu   sync.Mutex
	max  int
	buf  []byte
	over bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - len(b.buf)
	if len(p) > room {
		b.over = true
		b.buf = append(b.buf, p[:max(room, 0)]...)
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

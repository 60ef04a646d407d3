// Package ghaction is the action's side of the runner protocol: inputs, log
// commands and masking through go-githubactions (every masked secret is also
// removed by value from every line the action writes), a safe writer for the file
// commands (GITHUB_ENV, GITHUB_OUTPUT, GITHUB_STATE), the step summary, and
// the translation between container paths and the host paths later steps see.
//
// go-githubactions writes file commands with a fixed delimiter and does not
// check values (the flaw @actions/core fixed for CVE-2022-35954), panics when
// a file variable is unset, and treats every log message as a format string.
// This package never calls those parts: log messages always go through "%s",
// and file commands go through [FileCommands], which uses a random delimiter
// per entry and refuses values that could break out of it.
package ghaction

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/sethvargo/go-githubactions"
)

// Runner writes log commands for one step. It never panics on a failed write
// to its output: the first write error is kept and reported by Err.
type Runner struct {
	gha    *githubactions.Action
	out    *safeWriter
	debug  bool
	masked map[string]bool
	red    *exchange.Redactor
}

// New returns a Runner reading inputs through getenv and writing log commands
// to out. Debug lines are written only when RUNNER_DEBUG is "1".
func New(getenv func(string) string, out io.Writer) *Runner {
	w := &safeWriter{w: out}
	return &Runner{
		gha:    githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(w)),
		out:    w,
		debug:  getenv("RUNNER_DEBUG") == "1",
		masked: map[string]bool{},
		red:    exchange.NewRedactor(),
	}
}

// Redactor returns the redactor that knows every secret passed to Mask
// (and the three parts of a JWT): give it to the HTTP client so that
// messages built from outside text lose them before they are cut.
func (r *Runner) Redactor() *exchange.Redactor { return r.red }

// Redact removes every secret passed to Mask from s, by value.
func (r *Runner) Redact(s string) string { return r.red.Redact(s) }

// Input returns the trimmed value of the named input ("" when unset).
func (r *Runner) Input(name string) string { return r.gha.GetInput(name) }

// Mask tells the runner to hide secret in all later log output, and
// records it for redaction: every log line, annotation and summary the
// action writes is redacted by value as well. Empty values and values
// already masked are skipped. A value with line breaks is masked line by
// line, as the runner masks per line.
func (r *Runner) Mask(secret string) {
	r.red.Add(secret)
	for _, line := range strings.FieldsFunc(secret, func(c rune) bool { return c == '\n' || c == '\r' }) {
		if line == "" || r.masked[line] {
			continue
		}
		r.masked[line] = true
		r.gha.AddMask(line)
	}
}

// Group opens a collapsible group in the log.
func (r *Runner) Group(title string) { r.gha.Group(r.Redact(title)) }

// EndGroup closes the group opened by Group.
func (r *Runner) EndGroup() { r.gha.EndGroup() }

// Info writes a plain log line.
func (r *Runner) Info(msg string) { r.gha.Infof("%s", r.Redact(msg)) }

// Debug writes a ::debug:: line when RUNNER_DEBUG is "1".
func (r *Runner) Debug(msg string) {
	if r.debug {
		r.gha.Debugf("%s", r.Redact(msg))
	}
}

// Notice writes a ::notice:: annotation with a title.
func (r *Runner) Notice(title, msg string) {
	r.gha.WithFieldsMap(map[string]string{"title": r.Redact(title)}).Noticef("%s", r.Redact(msg))
}

// Warning writes a ::warning:: annotation with a title.
func (r *Runner) Warning(title, msg string) {
	r.gha.WithFieldsMap(map[string]string{"title": r.Redact(title)}).Warningf("%s", r.Redact(msg))
}

// Error writes an ::error:: annotation with a title. The message may span
// several lines; the runner shows them all in the annotation.
func (r *Runner) Error(title, msg string) {
	r.gha.WithFieldsMap(map[string]string{"title": r.Redact(title)}).Errorf("%s", r.Redact(msg))
}

// Err returns the first error met while writing log commands, if any.
func (r *Runner) Err() error { return r.out.err }

// safeWriter keeps the first write error instead of letting go-githubactions
// panic on it.
type safeWriter struct {
	w   io.Writer
	err error
}

func (s *safeWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return len(p), nil
	}
	if _, err := s.w.Write(p); err != nil {
		s.err = err
	}
	return len(p), nil
}

// RandomHex is n bytes from random (crypto/rand when nil), in hex.
func RandomHex(random io.Reader, n int) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

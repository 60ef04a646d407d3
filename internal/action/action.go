// Package action runs the action's two stages: the main stage, which
// exchanges the job's GitHub ID token for a registry token and sets Cargo up
// for the later steps of the job, and the post stage, which revokes what can
// be revoked and removes the credentials file the main stage created.
//
// Nothing here reads the process environment or exits: the environment, the
// output writer, the HTTP client and the clock come in through Env, and every
// failure is returned as an error after being shown as an annotation.
package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/ghaction"
)

// Env is everything a stage takes from the outside world.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
	// HTTP is the base client (TLS roots, proxies); nil means a default one.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HostWorkspace and HostTemp are the host paths of the workspace and the
	// runner's temp folder, from runs.args; empty outside a container.
	HostWorkspace, HostTemp string
	// Container is true when the stage runs as a container action (the
	// binary is the container's entrypoint), false on the runner's machine.
	Container bool
	// Executable returns the path of the running binary (provider mode
	// copies it to the host); nil means os.Executable.
	Executable func() (string, error)
	// Random supplies the file-command delimiters; nil means crypto/rand.
	Random io.Reader
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// ReportedError is an error the stage has already shown to the user as an
// ::error:: annotation; the caller only has to choose the exit code.
type ReportedError struct{ Err error }

func (e *ReportedError) Error() string { return e.Err.Error() }
func (e *ReportedError) Unwrap() error { return e.Err }

// State names passed from the main stage to the post stage (GITHUB_STATE,
// read back as STATE_<name>).
const (
	stateProvider           = "provider"
	stateURL                = "url"
	stateToken              = "token"
	stateRevoke             = "revoke"
	stateRetries            = "retries"
	stateCredentialsFile    = "credentials-file"
	stateCredentialsCreated = "credentials-created"
	stateCleanup            = "cleanup"
	stateRegistryName       = "registry-name"
	stateTimeout            = "timeout"
	stateMinted             = "minted"
	stateCache              = "token-cache"
)

// summaryHeading is title starting with "cargo-oidc: " exactly once.
func summaryHeading(title string) string {
	return "cargo-oidc: " + strings.TrimPrefix(title, "cargo-oidc: ")
}

// exchangeTitle is the title of a failed exchange with the service called
// name, of an ID token from source: what happened (exchange.Classify), not
// only that it failed.
func exchangeTitle(name, source string, err error) string {
	switch exchange.Classify(err) {
	case exchange.KindNoIDToken:
		return "cargo-oidc: no " + idTokenOf(source) + " (" + name + " was not contacted)"
	case exchange.KindUnreachable:
		return "cargo-oidc: cannot reach " + name
	case exchange.KindRefused:
		return "cargo-oidc: " + name + " refused the token exchange"
	case exchange.KindServiceFailed:
		status := func(code int) string { return strings.TrimSpace(strconv.Itoa(code) + " " + http.StatusText(code)) }
		var he *exchange.HTTPError
		var rt *exchange.RetryTimeoutError
		switch {
		case errors.As(err, &he) && he.Attempts > 1:
			return fmt.Sprintf("cargo-oidc: %s failed (%s, %d attempts)", name, status(he.StatusCode), he.Attempts)
		case he != nil:
			return fmt.Sprintf("cargo-oidc: %s failed (%s)", name, status(he.StatusCode))
		case errors.As(err, &rt):
			return fmt.Sprintf("cargo-oidc: %s failed (%s until the time ran out)", name, status(rt.LastStatus))
		}
		return "cargo-oidc: " + name + " failed"
	case exchange.KindBadAnswer:
		return "cargo-oidc: " + name + " gave an unusable answer"
	}
	return "cargo-oidc: the token exchange with " + name + " failed"
}

// failure shows err as an ::error:: annotation titled title, with the hint
// and the ID token's claims when the error carries them, and writes the same
// as the step summary. It returns err wrapped as a *ReportedError.
//
// A failed step exports nothing: entries already planned for GITHUB_ENV,
// GITHUB_OUTPUT and GITHUB_STATE (the token among them) are dropped, so no
// later step (with if: always()) sees variables for files that were rolled
// back, and the post stage finds nothing to clean up. The success summary
// planned with them is dropped too: the summary of a failed step is the
// failure alone.
//
// Every secret the step knows is removed from the text by value first (the
// runner masks the summary by exact match only); the summary then quotes the
// text in code blocks, unchanged, so that no escaping can split a secret.
func failure(r *ghaction.Runner, fc *ghaction.FileCommands, title string, err error) error {
	fc.Discard(ghaction.EnvFile, ghaction.OutputFile, ghaction.StateFile, ghaction.SummaryFile)
	msg, details := explain(err)
	msg, details = r.Redact(msg), r.Redact(details)
	r.Error(title, strings.TrimSpace(msg+"\n\n"+details))
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", mdEscape(r.Redact(summaryHeading(title))))
	b.WriteString(codeBlock(msg))
	if details != "" {
		b.WriteString("\n" + codeBlock(details))
	}
	fc.AddSummary(b.String())
	if ferr := fc.Flush(); ferr != nil {
		r.Debug("writing the step summary: " + ferr.Error())
	}
	return &ReportedError{Err: err}
}

// codeBlock quotes text verbatim in a fenced code block whose fence is
// longer than any run of backticks in it, so nothing in text needs escaping
// (and GitHub renders no markdown or HTML inside).
func codeBlock(text string) string {
	fence := strings.Repeat("`", max(3, longestBackticks(text)+1))
	return fence + "text\n" + strings.TrimRight(text, "\n") + "\n" + fence + "\n"
}

// longestBackticks is the length of the longest run of backticks in s: a
// fence (code block or code span) one longer needs no escaping inside.
func longestBackticks(s string) int {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// explain splits err into its message and a details block: the hint and the
// non-secret claims of the ID token the service saw.
func explain(err error) (msg, details string) {
	var parts []string
	for _, e := range flatten(err) {
		parts = append(parts, e.Error())
	}
	msg = strings.Join(parts, "\n")
	var lines []string
	var d interface{ Details() []string }
	if errors.As(err, &d) {
		lines = append(lines, d.Details()...)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		lines = append(lines, "The step ran out of time (input timeout). A service that does not answer, or one that keeps asking to retry later, ends this way; raise timeout if it is only slow.")
	}
	return msg, strings.TrimSpace(strings.Join(lines, "\n"))
}

// flatten returns the leaves of a joined error, or err itself.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// mdEscape keeps a line of text from being read as markdown or HTML.
func mdEscape(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "|", "\\|", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]")
	return r.Replace(s)
}

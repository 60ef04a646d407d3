package ghaction

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// File names one of the runner's file commands by its environment variable.
type File string

// The file commands the action writes.
const (
	EnvFile     File = "GITHUB_ENV"
	OutputFile  File = "GITHUB_OUTPUT"
	StateFile   File = "GITHUB_STATE"
	SummaryFile File = "GITHUB_STEP_SUMMARY"
)

// ErrUnsafeValue is wrapped by the error for a name or value that cannot be
// written safely to a file command.
var ErrUnsafeValue = errors.New("unsafe file command entry")

// FileCommands collects file-command entries and writes each file once, with
// one append, so a failed step leaves no half-written entry. Each entry uses
// its own random heredoc delimiter (name<<ghadelimiter_<random>), and a value
// holding a line break or the delimiter is refused, never written.
type FileCommands struct {
	getenv  func(string) string
	random  io.Reader
	entries map[File]*bytes.Buffer
	order   []File
	files   map[File]*os.File
}

// NewFileCommands returns an empty collection; random supplies delimiter
// bytes (crypto/rand.Reader when nil).
func NewFileCommands(getenv func(string) string, random io.Reader) *FileCommands {
	return &FileCommands{getenv: getenv, random: random, entries: map[File]*bytes.Buffer{}, files: map[File]*os.File{}}
}

// Set adds name=value to file f.
func (c *FileCommands) Set(f File, name, value string) error {
	if name == "" || strings.ContainsAny(name, "=\r\n") || strings.Contains(name, "<<") || strings.HasSuffix(name, "<") {
		return fmt.Errorf("%s entry %q: %w: a name must be non-empty without '=', '<<', a final '<' or line breaks", f, name, ErrUnsafeValue)
	}
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("%s entry %s: %w: the value contains a line break", f, name, ErrUnsafeValue)
	}
	random, err := RandomHex(c.random, 16)
	if err != nil {
		return fmt.Errorf("making a delimiter for %s: %w", f, err)
	}
	delim := "ghadelimiter_" + random
	if strings.Contains(value, delim) || strings.Contains(name, delim) {
		return fmt.Errorf("%s entry %s: %w: the value contains its delimiter", f, name, ErrUnsafeValue)
	}
	c.buffer(f).WriteString(name + "<<" + delim + "\n" + value + "\n" + delim + "\n")
	return nil
}

// Discard drops the entries not yet written to the given files, e.g. the
// token and the variables of a step that fails after the exchange.
func (c *FileCommands) Discard(files ...File) {
	for _, f := range files {
		delete(c.entries, f)
		for i, o := range c.order {
			if o == f {
				c.order = append(c.order[:i:i], c.order[i+1:]...)
				break
			}
		}
	}
}

// AddSummary appends markdown to the step summary.
func (c *FileCommands) AddSummary(markdown string) {
	b := c.buffer(SummaryFile)
	b.WriteString(markdown)
	if !strings.HasSuffix(markdown, "\n") {
		b.WriteByte('\n')
	}
}

func (c *FileCommands) buffer(f File) *bytes.Buffer {
	b, ok := c.entries[f]
	if !ok {
		b = &bytes.Buffer{}
		c.entries[f] = b
		c.order = append(c.order, f)
	}
	return b
}

// Open opens, for appending, every file that has entries, without writing.
// Call it before changing anything else so an unwritable GITHUB_ENV fails
// the step while nothing has changed yet.
func (c *FileCommands) Open() error {
	for _, f := range c.order {
		if _, ok := c.files[f]; ok {
			continue
		}
		path := c.getenv(string(f))
		if path == "" {
			return fmt.Errorf("%s is not set: run the action as a GitHub Actions step, or set %s to a file", f, f)
		}
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", f, err)
		}
		c.files[f] = fh
	}
	return nil
}

// Flush opens what Open has not, writes every file's entries with one
// append each, and closes the files. Entries are cleared once written.
func (c *FileCommands) Flush() error {
	if err := c.Open(); err != nil {
		c.Close()
		return err
	}
	var errs []error
	for _, f := range c.order {
		fh := c.files[f]
		if _, err := fh.Write(c.entries[f].Bytes()); err != nil {
			errs = append(errs, fmt.Errorf("writing %s: %w", f, err))
		}
	}
	errs = append(errs, c.Close())
	c.entries = map[File]*bytes.Buffer{}
	c.order = nil
	return errors.Join(errs...)
}

// Close closes files opened by Open without writing.
func (c *FileCommands) Close() error {
	var errs []error
	for f, fh := range c.files {
		if err := fh.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", f, err))
		}
		delete(c.files, f)
	}
	return errors.Join(errs...)
}

// MaxStateFile bounds the state file ReadStateFile reads: the main stage
// writes a few hundred bytes.
const MaxStateFile = 1 << 20

// ErrBadStateFile is wrapped by the error for a state file that is not in
// the runner's file-command format or is too large.
var ErrBadStateFile = errors.New("malformed state file")

// ReadStateFile reads a GITHUB_STATE file the main stage wrote (for the
// composite action setup/, whose post step is another action and gets no
// STATE_<name> variables) and returns its entries, a later entry replacing
// an earlier one of the same name, as the runner does.
func ReadStateFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the state file was not read: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("the state file was not read: %w", err)
	}
	if len(data) > MaxStateFile {
		return nil, fmt.Errorf("the state file %s is larger than %d bytes: %w; the main stage writes a few hundred, so it was not written by cargo-oidc", path, MaxStateFile, ErrBadStateFile)
	}
	entries, err := ParseStateFile(data)
	if err != nil {
		return nil, fmt.Errorf("the state file %s: %w", path, err)
	}
	return entries, nil
}

// ParseStateFile parses file-command text as the runner does: NAME=VALUE
// lines and NAME<<DELIMITER heredocs whose value runs up to a line equal to
// DELIMITER. Lines end at "\n"; a "\r" before it is dropped (a file written
// on Windows). Empty lines are skipped. The error wraps ErrBadStateFile and
// never quotes a value.
func ParseStateFile(data []byte) (map[string]string, error) {
	text := strings.ReplaceAll(string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	if strings.HasSuffix(text, "\n") {
		lines = lines[:len(lines)-1]
	}
	out := map[string]string{}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			continue
		}
		eq, hd := strings.Index(line, "="), strings.Index(line, "<<")
		switch {
		case eq > 0 && (hd < 0 || eq < hd):
			out[line[:eq]] = line[eq+1:]
		case hd > 0 && (eq < 0 || hd < eq) && len(line) > hd+2:
			name, delim := line[:hd], line[hd+2:]
			var value []string
			end := -1
			for j := i + 1; j < len(lines); j++ {
				if lines[j] == delim {
					end = j
					break
				}
				value = append(value, lines[j])
			}
			if end < 0 {
				return nil, fmt.Errorf("entry %q on line %d: %w: its end delimiter is missing", name, i+1, ErrBadStateFile)
			}
			out[name] = strings.Join(value, "\n")
			i = end
		default:
			return nil, fmt.Errorf("line %d: %w: it is neither NAME=VALUE nor NAME<<DELIMITER", i+1, ErrBadStateFile)
		}
	}
	return out, nil
}

// StateGetenv returns a getenv that answers STATE_<name> from state, and
// every other variable from getenv: the post stage reads the state the same
// way whether the runner passed it or a state file held it. A STATE_
// variable of the environment is never used.
func StateGetenv(getenv func(string) string, state map[string]string) func(string) string {
	return func(k string) string {
		if name, ok := strings.CutPrefix(k, "STATE_"); ok {
			return state[name]
		}
		return getenv(k)
	}
}

// CompositeInputPrefix starts the variables through which the composite
// action setup/ passes its inputs: CARGO_OIDC_IN_<NAME>, NAME upper-cased
// with dashes as underscores (setup/action.yml sets them).
const CompositeInputPrefix = "CARGO_OIDC_IN_"

// CompositeGetenv returns a getenv that answers each input's INPUT_<NAME>
// from CARGO_OIDC_IN_<NAME> (dashes as underscores), and every other
// variable from getenv. The composite passes inputs under identifier names
// because POSIX shells drop INPUT_REGISTRY-NAME and the like from the
// environment, and no value may travel in a command line. An INPUT_
// variable of the environment is never used.
func CompositeGetenv(getenv func(string) string) func(string) string {
	return func(k string) string {
		if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
			return getenv(CompositeInputPrefix + strings.ReplaceAll(name, "-", "_"))
		}
		return getenv(k)
	}
}

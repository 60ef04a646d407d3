package ghaction

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
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
	if random == nil {
		random = rand.Reader
	}
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
	var b [16]byte
	if _, err := io.ReadFull(c.random, b[:]); err != nil {
		return fmt.Errorf("making a delimiter for %s: %w", f, err)
	}
	delim := "ghadelimiter_" + hex.EncodeToString(b[:])
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

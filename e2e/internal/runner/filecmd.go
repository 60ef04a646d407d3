package runner

import (
	"bytes"
	"fmt"
	"strings"
)

// Entry is one name/value pair read from a file-command file (GITHUB_ENV,
// GITHUB_OUTPUT or GITHUB_STATE), in the order the file holds it.
type Entry struct {
	Name  string
	Value string
}

// FileCommandError reports a file-command file the runner would reject. The
// real runner fails the step with this message; the harness treats it as a
// test failure.
type FileCommandError struct {
	File string // "GITHUB_ENV", "GITHUB_OUTPUT", ...
	Msg  string // the runner's reason, e.g. "matching delimiter not found"
}

// Error returns the file and the runner's reason.
func (e *FileCommandError) Error() string {
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseFileCommand parses the contents of a GITHUB_ENV, GITHUB_OUTPUT or
// GITHUB_STATE file exactly as the Linux runner does: `name=value` lines and
// `name<<DELIM` heredocs whose value runs up to a line equal to DELIM. Lines
// end at "\n" only; a "\r" stays part of the line (and of the value), as on the
// runner for Linux. A leading UTF-8 byte order mark is dropped. file names the
// file for error messages.
//
// The returned error is a *FileCommandError for: a line that is neither form,
// an empty name, an empty delimiter, a heredoc without its end delimiter, and
// a heredoc value line that is the last line of the file without a newline.
func ParseFileCommand(file string, data []byte) ([]Entry, error) {
	text := string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	var entries []Entry
	index := 0
	for {
		line, _, ok := readLine(text, &index)
		if !ok {
			return entries, nil
		}
		if line == "" {
			continue
		}
		eq := strings.Index(line, "=")
		hd := strings.Index(line, "<<")
		switch {
		case eq >= 0 && (hd < 0 || eq < hd):
			name, value := line[:eq], line[eq+1:]
			if name == "" {
				return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid format %q: name must not be empty", line)}
			}
			entries = append(entries, Entry{Name: name, Value: value})
		case hd >= 0 && (eq < 0 || hd < eq):
			name, delim := line[:hd], line[hd+2:]
			if name == "" || delim == "" {
				return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid format %q: name must not be empty and delimiter must not be empty", line)}
			}
			start, end := index, index
			for {
				l, nl, ok := readLine(text, &index)
				if ok && l == delim {
					break
				}
				if !ok {
					return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid value: matching delimiter not found %q", delim)}
				}
				if !nl {
					return entries, &FileCommandError{File: file, Msg: "invalid value: EOF marker missing new line"}
				}
				end = index - 1
			}
			value := ""
			if end > start {
				value = text[start:end]
			}
			entries = append(entries, Entry{Name: name, Value: value})
		default:
			return entries, &FileCommandError{File: file, Msg: fmt.Sprintf("invalid format %q", line)}
		}
	}
}

// readLine reads the line starting at *index. ok is false at the end of text;
// nl reports whether the line ended with "\n".
func readLine(text string, index *int) (line string, nl, ok bool) {
	if *index >= len(text) {
		return "", false, false
	}
	start := *index
	i := strings.IndexByte(text[start:], '\n')
	if i < 0 {
		*index = len(text)
		return text[start:], false, true
	}
	*index = start + i + 1
	return text[start : start+i], true, true
}

// ParsePathFile parses a GITHUB_PATH file the way the runner does: every
// non-empty line (split on "\n", "\r\n" or "\r") is a directory to prepend to
// PATH; a later line comes before an earlier one. The result is in the order
// the lines appear.
func ParsePathFile(data []byte) []string {
	text := string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	var dirs []string
	for _, l := range strings.Split(text, "\n") {
		if l != "" {
			dirs = append(dirs, l)
		}
	}
	return dirs
}

// FormatHeredoc returns name<<delim, value and delim as lines, the way a
// well-behaved action writes an entry. Tests use it to build file contents.
func FormatHeredoc(name, delim, value string) string {
	return name + "<<" + delim + "\n" + value + "\n" + delim + "\n"
}

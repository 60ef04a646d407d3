package ghaction

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

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

package cargoconf

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// entry is one key/value line of a TOML document as the scanner sees it.
type entry struct {
	key       []string // the key, unquoted; several parts for a dotted key
	lineStart int      // offset of the first byte of the line
	valStart  int      // offset of the value's first byte
	valEnd    int      // offset just after the value
	lineEnd   int      // offset just after the line's newline, or len(src)
}

// section is a table header and the key/value lines under it. The first section of a
// document is the root table, with a nil path and no header.
type section struct {
	path    []string // the header's key, unquoted
	array   bool     // [[array of tables]]
	start   int      // offset of the header line (0 for the root)
	hdrEnd  int      // offset just after the header line (0 for the root)
	entries []entry
}

// scanner finds table headers and key/value lines in TOML text without decoding
// values. It skips multi-line strings, arrays and inline tables correctly, so a
// "[header]" inside a string is never taken for a header.
type scanner struct {
	src     []byte
	pos     int
	deepest int // the deepest array or inline table met, 1 for one at the top
}

// errScan is wrapped by every error of the scanner.
var errScan = errors.New("unexpected TOML structure")

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errScan, s.pos, fmt.Sprintf(format, args...))
}

// scan splits src into sections. It expects TOML that BurntSushi/toml has already
// accepted; on anything else it may return an error but never panics.
func scan(src []byte) ([]section, error) {
	return (&scanner{src: src}).sections()
}

// sections is scan's work.
func (s *scanner) sections() ([]section, error) {
	secs := []section{{}}
	for {
		lineStart := s.pos
		s.ws()
		if s.eof() {
			break
		}
		switch c := s.src[s.pos]; {
		case c == '\n':
			s.pos++
			continue
		case c == '\r' && s.at(s.pos+1) == '\n':
			s.pos += 2
			continue
		case c == '#':
			s.comment()
			if err := s.endOfLine(); err != nil {
				return nil, err
			}
			continue
		case c == '[':
			sec := section{start: lineStart}
			s.pos++
			if s.peek() == '[' {
				sec.array = true
				s.pos++
			}
			k, err := s.key()
			if err != nil {
				return nil, err
			}
			sec.path = k
			if !s.consume(']') || (sec.array && !s.consume(']')) {
				return nil, s.errorf("table header not closed")
			}
			s.ws()
			s.comment()
			if err := s.endOfLine(); err != nil {
				return nil, err
			}
			sec.hdrEnd = s.pos
			secs = append(secs, sec)
		default:
			e := entry{lineStart: lineStart}
			k, err := s.key()
			if err != nil {
				return nil, err
			}
			e.key = k
			if !s.consume('=') {
				return nil, s.errorf("expected '=' after a key")
			}
			s.ws()
			e.valStart = s.pos
			if err := s.value(0); err != nil {
				return nil, err
			}
			e.valEnd = s.pos
			s.ws()
			s.comment()
			if err := s.endOfLine(); err != nil {
				return nil, err
			}
			e.lineEnd = s.pos
			last := &secs[len(secs)-1]
			last.entries = append(last.entries, e)
		}
	}
	return secs, nil
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) at(i int) byte {
	if i < 0 || i >= len(s.src) {
		return 0
	}
	return s.src[i]
}

func (s *scanner) peek() byte { return s.at(s.pos) }

func (s *scanner) hasPrefix(p string) bool {
	return len(s.src)-s.pos >= len(p) && string(s.src[s.pos:s.pos+len(p)]) == p
}

// consume skips whitespace, then c; it reports whether c was there.
func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.peek() == c {
		s.pos++
		return true
	}
	return false
}

// ws skips spaces and tabs.
func (s *scanner) ws() {
	for !s.eof() && (s.src[s.pos] == ' ' || s.src[s.pos] == '\t') {
		s.pos++
	}
}

// comment skips a comment up to (not including) the end of the line.
func (s *scanner) comment() {
	if s.peek() != '#' {
		return
	}
	for !s.eof() && s.src[s.pos] != '\n' && !(s.src[s.pos] == '\r' && s.at(s.pos+1) == '\n') {
		s.pos++
	}
}

// newline skips one newline if there is one.
func (s *scanner) newline() bool {
	switch {
	case s.peek() == '\n':
		s.pos++
		return true
	case s.peek() == '\r' && s.at(s.pos+1) == '\n':
		s.pos += 2
		return true
	}
	return false
}

// endOfLine expects a newline or the end of the input.
func (s *scanner) endOfLine() error {
	if s.eof() || s.newline() {
		return nil
	}
	return s.errorf("expected the end of the line, got %q", s.peek())
}

// wsNL skips whitespace, newlines and comments (inside arrays and inline tables).
func (s *scanner) wsNL() {
	for {
		s.ws()
		if s.peek() == '#' {
			s.comment()
		}
		if !s.newline() {
			return
		}
	}
}

// key reads a possibly dotted key and returns its unquoted parts.
func (s *scanner) key() ([]string, error) {
	var parts []string
	for {
		s.ws()
		p, err := s.keyPart()
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		s.ws()
		if s.peek() != '.' {
			return parts, nil
		}
		s.pos++
	}
}

func (s *scanner) keyPart() (string, error) {
	switch s.peek() {
	case '"':
		if s.hasPrefix(`"""`) {
			return "", s.errorf("multi-line string used as a key")
		}
		return s.basicString()
	case '\'':
		if s.hasPrefix(`'''`) {
			return "", s.errorf("multi-line string used as a key")
		}
		start := s.pos + 1
		for s.pos = start; !s.eof() && s.src[s.pos] != '\'' && s.src[s.pos] != '\n'; s.pos++ {
		}
		if s.peek() != '\'' {
			return "", s.errorf("literal string not closed")
		}
		s.pos++
		return string(s.src[start : s.pos-1]), nil
	}
	start := s.pos
	for !s.eof() && isBare(s.src[s.pos]) {
		s.pos++
	}
	if start == s.pos {
		return "", s.errorf("expected a key")
	}
	return string(s.src[start:s.pos]), nil
}

func isBare(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// basicString reads a one-line "basic string" and returns its decoded value.
func (s *scanner) basicString() (string, error) {
	s.pos++ // opening quote
	var b []byte
	for {
		if s.eof() || s.src[s.pos] == '\n' {
			return "", s.errorf("basic string not closed")
		}
		c := s.src[s.pos]
		switch c {
		case '"':
			s.pos++
			return string(b), nil
		case '\\':
			r, n, err := unescape(s.src[s.pos:])
			if err != nil {
				return "", s.errorf("%v", err)
			}
			b = utf8.AppendRune(b, r)
			s.pos += n
		default:
			b = append(b, c)
			s.pos++
		}
	}
}

// unescape decodes the escape sequence at the start of p (which starts with '\').
func unescape(p []byte) (r rune, n int, err error) {
	if len(p) < 2 {
		return 0, 0, errors.New("incomplete escape")
	}
	width := 0
	switch p[1] {
	case 'b':
		return '\b', 2, nil
	case 't':
		return '\t', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'r':
		return '\r', 2, nil
	case 'e':
		return 0x1b, 2, nil
	case '"', '\\':
		return rune(p[1]), 2, nil
	case 'x':
		width = 2
	case 'u':
		width = 4
	case 'U':
		width = 8
	}
	if width == 0 || len(p) < 2+width {
		return 0, 0, errors.New("invalid escape")
	}
	v, err := strconv.ParseUint(string(p[2:2+width]), 16, 32)
	if err != nil || !utf8.ValidRune(rune(v)) {
		return 0, 0, errors.New("invalid escape")
	}
	return rune(v), 2 + width, nil
}

// MaxNesting is how deeply arrays and inline tables may nest in a Cargo file
// this package reads (a table header's brackets count too). Deeper files are
// refused before any decoder runs: the decoder recurses once per level, and
// an 8 MiB file of "[[[[..." took 34 s and a 1 GB stack before crashing.
// Cargo's own TOML parser limits recursion too, so a real Cargo file stays
// far below it.
const MaxNesting = 128

// MaxItems is how many keys, table headers, arrays, inline tables and array
// elements a Cargo file this package reads may hold. Larger files are
// refused before any decoder runs: decoding costs about 10 µs and 1 KB per
// item, so a file of MaxFileSize bytes that is all items would take minutes
// and gigabytes, while a large real Cargo configuration holds a few hundred.
const MaxItems = 20000

// maxDepth bounds the nesting of values in the scanner (which runs on text
// that checkShape already accepted).
const maxDepth = MaxNesting

// shape is what measure found: the deepest nesting and the number of items
// (up to where it stopped), and where it stopped when a limit was passed.
type shape struct {
	depth, items int
	line, col    int // 1-based position of the byte that passed a limit; 0 when none did
	tooDeep      bool
	tooMany      bool
}

// measure scans src for the nesting of arrays, inline tables and table
// headers, and for its number of items, outside strings and comments: every
// [ and { opens a level, every ] and } closes one; every [, {, = and ,
// counts as an item. It knows TOML's four kinds of strings (basic "..." with
// its escapes, literal '...', multi-line """...""" and ”'...”'), so
// nothing inside any of them counts. It stops at the first byte that goes
// deeper than maxNest or past maxItems. It allocates nothing and reads each
// byte at most once, whatever src holds (not necessarily valid TOML or
// UTF-8).
func measure(src []byte, maxNest, maxItems int) shape {
	var sh shape
	cur := 0
	ln, lineStart := 1, 0
	n := len(src)
	stop := func(i int) shape {
		sh.line, sh.col = ln, utf8.RuneCount(src[lineStart:i])+1
		return sh
	}
	for i := 0; i < n; {
		switch c := src[i]; c {
		case '\n':
			ln, lineStart = ln+1, i+1
			i++
		case '#':
			for i < n && src[i] != '\n' {
				i++
			}
		case '"', '\'':
			if i+2 < n && src[i+1] == c && src[i+2] == c {
				// Multi-line: ends at the first run of three or more quotes,
				// of which up to two belong to the string.
				i += 3
				for i < n {
					if src[i] == c && i+2 < n && src[i+1] == c && src[i+2] == c {
						for i < n && src[i] == c {
							i++
						}
						break
					}
					if src[i] == '\n' {
						ln, lineStart = ln+1, i+1
					} else if c == '"' && src[i] == '\\' && i+1 < n && src[i+1] != '\n' {
						i++ // an escaped character (an escaped newline is counted as one)
					}
					i++
				}
				continue
			}
			// One line: ends at the closing quote or at the end of the
			// line (an unclosed string; the decoder refuses the file).
			i++
			for i < n && src[i] != c && src[i] != '\n' {
				if c == '"' && src[i] == '\\' && i+1 < n && src[i+1] != '\n' {
					i++
				}
				i++
			}
			if i < n && src[i] == c {
				i++
			}
		case '[', '{', '=', ',':
			if sh.items++; sh.items > maxItems {
				sh.tooMany = true
				return stop(i)
			}
			if c == '[' || c == '{' {
				if cur++; cur > maxNest {
					sh.depth, sh.tooDeep = cur, true
					return stop(i)
				}
				sh.depth = max(sh.depth, cur)
			}
			i++
		case ']', '}':
			if cur > 0 {
				cur--
			}
			i++
		default:
			i++
		}
	}
	return sh
}

// checkShape refuses src when arrays and inline tables nest deeper than
// MaxNesting or it holds more than MaxItems items, with a *SyntaxError
// naming path, the line and the limit. It runs before any decoder.
func checkShape(src []byte, path string) error {
	sh := measure(src, MaxNesting, MaxItems)
	switch {
	case sh.tooDeep:
		return &SyntaxError{Path: path, Line: sh.line, Column: sh.col, Msg: fmt.Sprintf(
			"arrays and inline tables nest more than %d deep here, the limit (Cargo's own parser refuses deep nesting too)", MaxNesting)}
	case sh.tooMany:
		return &SyntaxError{Path: path, Line: sh.line, Column: sh.col, Msg: fmt.Sprintf(
			"the file holds more than %d keys, tables and array elements (the limit is passed here), far more than a Cargo file holds: check that the path names the right file", MaxItems)}
	}
	return nil
}

// value skips one value of any kind.
func (s *scanner) value(depth int) error {
	if depth > maxDepth {
		return s.errorf("values nested too deeply")
	}
	switch {
	case s.hasPrefix(`"""`):
		return s.multiline(`"""`, true)
	case s.hasPrefix(`'''`):
		return s.multiline(`'''`, false)
	case s.peek() == '"':
		_, err := s.basicString()
		return err
	case s.peek() == '\'':
		_, err := s.keyPart()
		return err
	case s.peek() == '[':
		return s.list(depth, ']', "an array", false)
	case s.peek() == '{':
		return s.list(depth, '}', "an inline table", true)
	}
	return s.scalar()
}

// list skips an array or an inline table (what, keyed: each value after a
// key and '=') whose opening bracket is at s.pos, up to its closing bracket
// end: values separated by commas. depth is value's depth for the list;
// its values are one deeper.
func (s *scanner) list(depth int, end byte, what string, keyed bool) error {
	s.deepest = max(s.deepest, depth+1)
	s.pos++
	for {
		s.wsNL()
		if s.peek() == end {
			s.pos++
			return nil
		}
		if keyed {
			if _, err := s.key(); err != nil {
				return err
			}
			if !s.consume('=') {
				return s.errorf("expected '=' in %s", what)
			}
			s.ws()
		}
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.wsNL()
		if s.peek() == ',' {
			s.pos++
			continue
		}
		if s.peek() != end {
			return s.errorf("expected ',' or '%c' in %s", end, what)
		}
	}
}

// multiline skips a multi-line string delimited by delim. Up to two extra quote
// characters before the closing delimiter belong to the string.
func (s *scanner) multiline(delim string, escapes bool) error {
	s.pos += len(delim)
	for !s.eof() {
		if escapes && s.src[s.pos] == '\\' {
			s.pos += 2
			continue
		}
		if s.hasPrefix(delim) {
			s.pos += len(delim)
			for i := 0; i < 2 && s.peek() == delim[0]; i++ {
				s.pos++
			}
			return nil
		}
		s.pos++
	}
	return s.errorf("multi-line string not closed")
}

// scalar skips a number, boolean, date or time. A date and a time may be separated
// by one space ("1979-05-27 07:32:00").
func (s *scanner) scalar() error {
	start := s.pos
	for !s.eof() && isScalar(s.src[s.pos]) {
		s.pos++
	}
	if s.pos == start {
		return s.errorf("expected a value")
	}
	if s.pos-start == 10 && s.src[start+4] == '-' && s.src[start+7] == '-' &&
		s.peek() == ' ' && isDigit(s.at(s.pos+1)) && isDigit(s.at(s.pos+2)) && s.at(s.pos+3) == ':' {
		s.pos++
		for !s.eof() && isScalar(s.src[s.pos]) {
			s.pos++
		}
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isScalar(c byte) bool { return isBare(c) || c == '.' || c == ':' || c == '+' }

package cargoconf

import (
	"fmt"
	"slices"
	"strings"
)

// sectionEnd returns the offset where section i ends: the start of the next header
// line, or the end of the text.
func sectionEnd(secs []section, i int, n int) int {
	if i+1 < len(secs) {
		return secs[i+1].start
	}
	return n
}

func hasPrefix(p, prefix []string) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

func joinKey(p []string) string {
	parts := make([]string, len(p))
	for i, s := range p {
		parts[i] = tomlKey(s)
	}
	return strings.Join(parts, ".")
}

// checkForm refuses a document in which table, or the key inside it, is written in a
// form our text edits cannot change safely: a dotted key or an inline table defining
// it (or an ancestor), or an array of tables in its place.
func checkForm(secs []section, path string, table []string, key string) error {
	target := append(slices.Clip(table), key)
	for _, sec := range secs {
		if sec.path != nil && sec.array && (hasPrefix(table, sec.path) || hasPrefix(sec.path, table)) {
			return &FormError{Path: path, Key: joinKey(sec.path), Msg: fmt.Sprintf(
				"[[%s]] is an array of tables, but Cargo expects [%s] to be a table; fix the file", joinKey(sec.path), joinKey(table))}
		}
		for _, e := range sec.entries {
			abs := append(slices.Clip(sec.path), e.key...)
			inTable := !sec.array && sec.path != nil && slices.Equal(sec.path, table)
			if inTable && (len(e.key) == 1 || e.key[0] != key) {
				continue // our own key line, or an unrelated key in our table
			}
			if inTable || hasPrefix(abs, table) || hasPrefix(table, abs) {
				where := "at the top of the file"
				if sec.path != nil {
					where = "in [" + joinKey(sec.path) + "]"
				}
				return &FormError{Path: path, Key: joinKey(abs), Msg: fmt.Sprintf(
					"%s is set %s as a dotted key or inline table, which this tool cannot edit safely; rewrite it as a [%s] table with one `key = value` line per key (for example `%s = ...`), then run again",
					joinKey(abs), where, joinKey(table), tomlKey(target[len(target)-1]))}
			}
		}
	}
	return nil
}

// scanFor scans the text of path for an edit of s: it fails when the text
// cannot be scanned or when s's table or key is written in a form the edits
// cannot change (checkForm).
func scanFor(src []byte, path string, s setting) ([]section, error) {
	secs, err := scan(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; this tool cannot edit this file safely", path, err)
	}
	if err := checkForm(secs, path, s.table, s.key); err != nil {
		return nil, err
	}
	return secs, nil
}

// setKey sets table.key = value in the text: in place when the key exists, appended
// to the table when the table exists, or in a new table at the end.
func setKey(src []byte, path string, s setting) ([]byte, error) {
	secs, err := scanFor(src, path, s)
	if err != nil {
		return nil, err
	}
	nl := newline(src)
	value := quote(s.value)
	for _, sec := range secs {
		if sec.array || sec.path == nil || !slices.Equal(sec.path, s.table) {
			continue
		}
		indent := ""
		at := sec.hdrEnd
		for _, e := range sec.entries {
			if len(e.key) == 1 && e.key[0] == s.key {
				return splice(src, e.valStart, e.valEnd, value), nil
			}
			at = e.lineEnd
			indent = leadingSpace(src[e.lineStart:e.valStart])
		}
		line := indent + tomlKey(s.key) + " = " + value
		if at == len(src) && !endsWithNewline(src) {
			return splice(src, at, at, nl+line), nil
		}
		return splice(src, at, at, line+nl), nil
	}
	var b strings.Builder
	b.Write(src)
	if len(src) > 0 {
		if !endsWithNewline(src) {
			b.WriteString(nl)
		}
		if !strings.HasSuffix(b.String(), nl+nl) && strings.TrimSpace(b.String()) != "" {
			b.WriteString(nl)
		}
	}
	b.WriteString("[" + joinKey(s.table) + "]" + nl + tomlKey(s.key) + " = " + value + nl)
	return []byte(b.String()), nil
}

// removeKey deletes the line of table.key; when the table is then empty (no key and
// nothing but blank lines) its header goes too.
func removeKey(src []byte, path string, s setting) ([]byte, error) {
	secs, err := scanFor(src, path, s)
	if err != nil {
		return nil, err
	}
	for i, sec := range secs {
		if sec.array || sec.path == nil || !slices.Equal(sec.path, s.table) {
			continue
		}
		for _, e := range sec.entries {
			if len(e.key) != 1 || e.key[0] != s.key {
				continue
			}
			if len(sec.entries) == 1 {
				end := sectionEnd(secs, i, len(src))
				rest := string(src[sec.hdrEnd:e.lineStart]) + string(src[e.lineEnd:end])
				if strings.TrimSpace(rest) == "" {
					start := sec.start
					if end == len(src) {
						// Drop the blank line that separated the table from the one before.
						nl := newline(src)
						if strings.HasSuffix(string(src[:start]), nl+nl) {
							start -= len(nl)
						}
					}
					return splice(src, start, end, ""), nil
				}
			}
			return splice(src, e.lineStart, e.lineEnd, ""), nil
		}
	}
	return src, nil
}

func endsWithNewline(src []byte) bool { return len(src) > 0 && src[len(src)-1] == '\n' }

func leadingSpace(b []byte) string {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return string(b[:i])
}

// splice returns a new slice: src[:i] + text + src[j:]. src is not modified.
func splice(src []byte, i, j int, text string) []byte {
	out := make([]byte, 0, len(src)-(j-i)+len(text))
	out = append(out, src[:i]...)
	out = append(out, text...)
	return append(out, src[j:]...)
}

package runner

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds a small reader for the subset of YAML that action.yml files
// use: block mappings and sequences, plain, single- and double-quoted scalars
// (also folded over several lines), block scalars (| and >, with - or +), flow sequences
// of scalars, and comments. Anchors, aliases, tags, flow mappings and
// multi-document streams are refused or read as plain text.

// yamlMap is a mapping that keeps its keys in file order.
type yamlMap struct {
	keys   []string
	values map[string]any // string, *yamlMap or []any
}

func (m *yamlMap) get(key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.values[key]
	return v, ok
}

type yamlLine struct {
	num    int    // 1-based line number
	indent int    // leading spaces
	text   string // without indentation and comment, right-trimmed
	raw    string // the whole line as written
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

// parseYAML parses data into a *yamlMap, []any or string (nil for an empty
// document).
func parseYAML(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("yaml: not valid UTF-8")
	}
	src := strings.ReplaceAll(string(data), "\r\n", "\n")
	p := &yamlParser{}
	for i, raw := range strings.Split(src, "\n") {
		if strings.HasPrefix(raw, "\t") {
			return nil, fmt.Errorf("yaml: line %d: tabs are not allowed for indentation", i+1)
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		p.lines = append(p.lines, yamlLine{num: i + 1, indent: indent, raw: raw, text: stripComment(raw[indent:])})
	}
	p.skipBlank()
	if p.pos < len(p.lines) && (p.lines[p.pos].text == "---") {
		p.pos++
		p.skipBlank()
	}
	if p.pos >= len(p.lines) {
		return nil, nil
	}
	v, err := p.parseNode(p.lines[p.pos].indent)
	if err != nil {
		return nil, err
	}
	p.skipBlank()
	if p.pos < len(p.lines) {
		l := p.lines[p.pos]
		return nil, fmt.Errorf("yaml: line %d: unexpected content %q", l.num, l.text)
	}
	return v, nil
}

// stripComment removes a trailing comment that is outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			if quote == '\'' && i+1 < len(s) && s[i+1] == '\'' {
				i++
				continue
			}
			quote = 0
		case quote == 0 && (c == '"' || c == '\'') && (i == 0 || s[i-1] == ' ' || s[i-1] == '[' || s[i-1] == ',' || s[i-1] == ':' || s[i-1] == '-'):
			quote = c
		case quote == 0 && c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " ")
		}
	}
	return strings.TrimRight(s, " ")
}

func (p *yamlParser) skipBlank() {
	for p.pos < len(p.lines) && p.lines[p.pos].text == "" {
		p.pos++
	}
}

func isSeqItem(text string) bool {
	return text == "-" || strings.HasPrefix(text, "- ")
}

// parseNode parses the block node whose first line is at p.pos with the
// given indentation.
func (p *yamlParser) parseNode(indent int) (any, error) {
	l := p.lines[p.pos]
	if isSeqItem(l.text) {
		return p.parseSeq(indent)
	}
	if _, _, ok := splitKey(l.text); ok {
		return p.parseMap(indent)
	}
	// A lone scalar (possibly over several lines).
	return p.scalarWithContinuation(l.text, indent-1)
}

func (p *yamlParser) parseSeq(indent int) ([]any, error) {
	var items []any
	for {
		p.skipBlank()
		if p.pos >= len(p.lines) {
			return items, nil
		}
		l := p.lines[p.pos]
		if l.indent < indent {
			return items, nil
		}
		if l.indent > indent || !isSeqItem(l.text) {
			return nil, fmt.Errorf("yaml: line %d: bad indentation in sequence", l.num)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" {
			p.pos++
			p.skipBlank()
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				v, err := p.parseNode(p.lines[p.pos].indent)
				if err != nil {
					return nil, err
				}
				items = append(items, v)
			} else {
				items = append(items, "")
			}
			continue
		}
		inner := indent + (len(l.text) - len(rest))
		if _, _, ok := splitKey(rest); ok || isSeqItem(rest) {
			// "- key: value" starts a mapping (or "- - x" a sequence)
			// indented as far as its first key.
			p.lines[p.pos] = yamlLine{num: l.num, indent: inner, text: rest, raw: l.raw}
			v, err := p.parseNode(inner)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			continue
		}
		p.pos++
		v, err := p.scalarWithContinuation(rest, indent)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
}

func (p *yamlParser) parseMap(indent int) (*yamlMap, error) {
	m := &yamlMap{values: map[string]any{}}
	for {
		p.skipBlank()
		if p.pos >= len(p.lines) {
			return m, nil
		}
		l := p.lines[p.pos]
		if l.indent < indent {
			return m, nil
		}
		if l.indent > indent {
			return nil, fmt.Errorf("yaml: line %d: bad indentation in mapping", l.num)
		}
		if isSeqItem(l.text) {
			return m, nil // a sequence at the parent's indentation ends this map
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("yaml: line %d: expected \"key: value\", got %q", l.num, l.text)
		}
		kv, err := parseScalar(key, l.num)
		if err != nil {
			return nil, err
		}
		k, ok := kv.(string)
		if !ok {
			return nil, fmt.Errorf("yaml: line %d: a key must be a scalar", l.num)
		}
		if _, dup := m.values[k]; dup {
			return nil, fmt.Errorf("yaml: line %d: duplicate key %q", l.num, k)
		}
		var v any
		switch {
		case rest == "":
			p.pos++
			p.skipBlank()
			v = ""
			if p.pos < len(p.lines) {
				next := p.lines[p.pos]
				if next.indent > indent || (next.indent == indent && isSeqItem(next.text)) {
					v, err = p.parseNode(next.indent)
					if err != nil {
						return nil, err
					}
				}
			}
		case rest[0] == '|' || rest[0] == '>':
			p.pos++
			v, err = p.blockScalar(rest, indent, l.num)
		default:
			p.pos++
			v, err = p.scalarWithContinuation(rest, indent)
		}
		if err != nil {
			return nil, err
		}
		m.keys = append(m.keys, k)
		m.values[k] = v
	}
}

// splitKey splits "key: rest" or "key:" outside quotes.
func splitKey(text string) (key, rest string, ok bool) {
	start := 0
	if text != "" && (text[0] == '"' || text[0] == '\'') {
		q := text[0]
		i := 1
		for ; i < len(text); i++ {
			if q == '"' && text[i] == '\\' {
				i++
				continue
			}
			if text[i] == q {
				if q == '\'' && i+1 < len(text) && text[i+1] == '\'' {
					i++
					continue
				}
				break
			}
		}
		if i >= len(text) {
			return "", "", false
		}
		start = i + 1
	}
	for i := start; i < len(text); i++ {
		if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ') {
			if text[:i] == "" {
				return "", "", false
			}
			return strings.TrimRight(text[:i], " "), strings.TrimLeft(text[i+1:], " "), true
		}
	}
	return "", "", false
}

// scalarWithContinuation reads a scalar that may continue on following lines
// indented more than parent, folding the line breaks into spaces.
func (p *yamlParser) scalarWithContinuation(first string, parent int) (any, error) {
	num := p.lines[max(p.pos-1, 0)].num
	text := first
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.text == "" || l.indent <= parent {
			break
		}
		if _, _, isKey := splitKey(l.text); isKey && first[0] != '"' && first[0] != '\'' {
			return nil, fmt.Errorf("yaml: line %d: bad indentation (a mapping inside a plain scalar)", l.num)
		}
		text += " " + l.text
		p.pos++
	}
	return parseScalar(text, num)
}

func (p *yamlParser) blockScalar(header string, indent, num int) (string, error) {
	style := header[0]
	chomp := byte(0)
	for _, c := range []byte(header[1:]) {
		switch {
		case c == '-' || c == '+':
			chomp = c
		case c >= '1' && c <= '9':
			// explicit indentation indicator: rely on the first line instead
		default:
			return "", fmt.Errorf("yaml: line %d: bad block scalar header %q", num, header)
		}
	}
	var lines []string
	blockIndent := -1
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if strings.TrimSpace(l.raw) == "" {
			lines = append(lines, "")
			p.pos++
			continue
		}
		if l.indent <= indent {
			break
		}
		if blockIndent < 0 {
			blockIndent = l.indent
		}
		if l.indent < blockIndent {
			break
		}
		lines = append(lines, l.raw[blockIndent:])
		p.pos++
	}
	// Trailing blank lines belong to the chomping, not the content.
	trailing := 0
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
		trailing++
	}
	var body string
	if style == '|' {
		body = strings.Join(lines, "\n")
	} else {
		var b strings.Builder
		for i, ln := range lines {
			if i > 0 {
				switch {
				case ln == "" || lines[i-1] == "":
					b.WriteString("\n")
				case strings.HasPrefix(ln, " ") || strings.HasPrefix(lines[i-1], " "):
					b.WriteString("\n")
				default:
					b.WriteString(" ")
				}
			}
			if ln != "" {
				b.WriteString(ln)
			}
		}
		body = b.String()
	}
	if len(lines) == 0 {
		return "", nil
	}
	switch chomp {
	case '-':
		return body, nil
	case '+':
		return body + "\n" + strings.Repeat("\n", trailing), nil
	default:
		return body + "\n", nil
	}
}

// parseScalar turns one scalar's text into a string, or a flow sequence into
// []any.
func parseScalar(text string, num int) (any, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", nil
	}
	switch text[0] {
	case '"':
		s, rest, err := doubleQuoted(text)
		if err != nil || strings.TrimSpace(rest) != "" {
			return nil, fmt.Errorf("yaml: line %d: bad double-quoted string %q", num, text)
		}
		return s, nil
	case '\'':
		s, rest, ok := singleQuoted(text)
		if !ok || strings.TrimSpace(rest) != "" {
			return nil, fmt.Errorf("yaml: line %d: bad single-quoted string %q", num, text)
		}
		return s, nil
	case '[':
		return flowSeq(text, num)
	case '{':
		if text == "{}" {
			return &yamlMap{values: map[string]any{}}, nil
		}
		return nil, fmt.Errorf("yaml: line %d: flow mappings are not supported", num)
	case '&', '*', '!':
		return nil, fmt.Errorf("yaml: line %d: anchors, aliases and tags are not supported", num)
	}
	if text == "~" || text == "null" {
		return "", nil
	}
	return text, nil
}

func flowSeq(text string, num int) ([]any, error) {
	if !strings.HasSuffix(text, "]") {
		return nil, fmt.Errorf("yaml: line %d: unterminated flow sequence", num)
	}
	body := strings.TrimSpace(text[1 : len(text)-1])
	items := []any{}
	for body != "" {
		var item string
		switch body[0] {
		case '"':
			s, rest, err := doubleQuoted(body)
			if err != nil {
				return nil, fmt.Errorf("yaml: line %d: bad double-quoted string in %q", num, text)
			}
			item, body = s, strings.TrimSpace(rest)
		case '\'':
			s, rest, ok := singleQuoted(body)
			if !ok {
				return nil, fmt.Errorf("yaml: line %d: bad single-quoted string in %q", num, text)
			}
			item, body = s, strings.TrimSpace(rest)
		case '[', '{':
			return nil, fmt.Errorf("yaml: line %d: nested flow collections are not supported", num)
		default:
			i := strings.IndexByte(body, ',')
			if i < 0 {
				i = len(body)
			}
			item, body = strings.TrimSpace(body[:i]), body[i:]
		}
		items = append(items, item)
		if body == "" {
			break
		}
		if body[0] != ',' {
			return nil, fmt.Errorf("yaml: line %d: expected ',' in %q", num, text)
		}
		body = strings.TrimSpace(body[1:])
	}
	return items, nil
}

func singleQuoted(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), s[i+1:], true
		}
		b.WriteByte(s[i])
	}
	return "", "", false
}

func doubleQuoted(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", fmt.Errorf("dangling escape")
			}
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '"', '\\', '/', ' ':
				b.WriteByte(e)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+n >= len(s) {
					return "", "", fmt.Errorf("short escape")
				}
				r, perr := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
				if perr != nil {
					return "", "", perr
				}
				b.WriteRune(rune(r))
				i += n
			default:
				return "", "", fmt.Errorf("unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated")
}

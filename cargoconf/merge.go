package cargoconf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Registry is what Merge writes into a Cargo configuration file.
type Registry struct {
	Name               string // registry name, e.g. "artifactory"
	Index              string // "sparse+https://host/artifactory/api/cargo/repo/index/"
	CredentialProvider string // e.g. "cargo:token"; "" = leave unset
	Default            bool   // [registry] default = Name
	ReplaceCratesIO    bool   // [source.crates-io] replace-with = Name
}

// Validate checks the registry's name and index.
func (r Registry) Validate() error {
	if err := ValidateRegistryName(r.Name); err != nil {
		return err
	}
	if r.Index == "" {
		return fmt.Errorf("registry %q has no index URL", r.Name)
	}
	if !utf8.ValidString(r.Index) || !utf8.ValidString(r.CredentialProvider) {
		return fmt.Errorf("registry %q: the index URL and credential provider must be valid UTF-8", r.Name)
	}
	return nil
}

// setting is one key we own: table.key = value.
type setting struct {
	table []string
	key   string
	value string
}

func (s setting) path() []string { return append(append([]string(nil), s.table...), s.key) }

// Merge returns existing (the text of a Cargo config file) with r's settings merged
// in: [registries.<Name>] index and credential-provider, [registry] default when
// r.Default, and [source.crates-io] replace-with = "<Name>" when r.ReplaceCratesIO.
// Everything else stays byte for byte. Merging the same Registry again returns the
// same bytes. path is used only in error messages. existing is never modified.
func Merge(existing []byte, path string, r Registry) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	orig, err := decode(existing, path, true)
	if err != nil {
		return nil, err
	}
	regTable := []string{"registries", r.Name}
	sets := []setting{{regTable, "index", r.Index}}
	if r.CredentialProvider != "" {
		sets = append(sets, setting{regTable, "credential-provider", r.CredentialProvider})
	}
	if r.Default {
		sets = append(sets, setting{[]string{"registry"}, "default", r.Name})
	}
	if err := checkConfig(orig, path, r); err != nil {
		return nil, err
	}
	if r.ReplaceCratesIO {
		cur, ok := lookup(orig, "source", CratesIO, "replace-with")
		if !ok || cur != r.Name && !pointsTo(orig, cur, r.Index) {
			sets = append(sets, setting{[]string{"source", CratesIO}, "replace-with", r.Name})
		}
	}
	return apply(existing, path, orig, sets, nil)
}

// checkConfig looks for settings in the decoded file that contradict r.
func checkConfig(orig map[string]any, path string, r Registry) error {
	if v, ok := lookup(orig, "registries"); ok {
		regs, isMap := v.(map[string]any)
		if !isMap {
			return &ConflictError{Path: path, Msg: "\"registries\" is not a table; Cargo expects [registries.<name>] tables, fix the file"}
		}
		names := make([]string, 0, len(regs))
		for n := range regs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if n != r.Name && EnvName(n) == EnvName(r.Name) {
				return &ConflictError{Path: path, Msg: fmt.Sprintf(
					"registry %q is also defined and Cargo reads the same environment variables (CARGO_REGISTRIES_%s_*) for it and for %q, so the token would be sent to both; choose another registry-name or rename [registries.%s]",
					n, EnvName(n), r.Name, tomlKey(n))}
			}
		}
	}
	if v, ok := lookup(orig, "registries", r.Name, "index"); ok && v != r.Index {
		return &ConflictError{Path: path, Msg: fmt.Sprintf(
			"registry %q is already defined with index %s, but this run uses index %q; choose another name with the registry-name input, or remove [registries.%s] from the file",
			r.Name, describe(v), r.Index, tomlKey(r.Name))}
	}
	for _, k := range []string{"credential-provider"} {
		if v, ok := lookup(orig, "registries", r.Name, k); ok {
			if _, isString := v.(string); !isString {
				return &ConflictError{Path: path, Msg: fmt.Sprintf("[registries.%s] %s is not a string; fix or remove it", tomlKey(r.Name), k)}
			}
		}
	}
	if r.Default {
		if v, ok := lookup(orig, "registry", "default"); ok {
			if _, isString := v.(string); !isString {
				return &ConflictError{Path: path, Msg: "[registry] default is not a string; fix or remove it"}
			}
		}
	}
	if !r.ReplaceCratesIO {
		return nil
	}
	if _, ok := lookup(orig, "source", r.Name); ok && !pointsTo(orig, r.Name, r.Index) {
		return &ConflictError{Path: path, Msg: fmt.Sprintf(
			"[source.%s] is already defined and Cargo would use it instead of registry %q when replacing crates.io; remove [source.%s] or choose another registry-name",
			tomlKey(r.Name), r.Name, tomlKey(r.Name))}
	}
	if cur, ok := lookup(orig, "source", CratesIO, "replace-with"); ok && cur != r.Name && !pointsTo(orig, cur, r.Index) {
		return &ConflictError{Path: path, Msg: fmt.Sprintf(
			"crates.io is already replaced by %s ([source.crates-io] replace-with); to replace it with registry %q remove that replace-with line (or set it to %q), or set replace-crates-io to false",
			describe(cur), r.Name, r.Name)}
	}
	return nil
}

// pointsTo reports whether [source.<name>] is a registry source with the given index.
func pointsTo(orig map[string]any, name any, index string) bool {
	n, ok := name.(string)
	if !ok {
		return false
	}
	v, ok := lookup(orig, "source", n, "registry")
	return ok && v == index
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("a %T", v)
}

// lookup finds a value in a decoded document.
func lookup(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, p := range path {
		t, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = t[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// MergeCredential returns existing (the text of a Cargo credentials file) with the
// token set: [registries.<registry>] token, or [registry] token when cratesIO is true
// (registry is then ignored). Everything else stays byte for byte. Errors never
// contain the token, nor text of the existing file.
func MergeCredential(existing []byte, path string, registry string, token string, cratesIO bool) ([]byte, error) {
	table, err := credTable(registry, cratesIO)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("the token is empty")
	}
	if !utf8.ValidString(token) {
		return nil, errors.New("the token is not valid UTF-8")
	}
	orig, err := decode(existing, path, false)
	if err != nil {
		return nil, err
	}
	if v, ok := lookup(orig, table...); ok {
		if _, isMap := v.(map[string]any); !isMap {
			return nil, &ConflictError{Path: path, Msg: fmt.Sprintf("%s is not a table; fix the file or remove it", strings.Join(table, "."))}
		}
	}
	return apply(existing, path, orig, []setting{{table, "token", token}}, nil)
}

func credTable(registry string, cratesIO bool) ([]string, error) {
	if cratesIO {
		return []string{"registry"}, nil
	}
	if err := ValidateRegistryName(registry); err != nil {
		return nil, err
	}
	return []string{"registries", registry}, nil
}

// RemoveCredentialText returns existing without the token that MergeCredential set:
// the token key is deleted, and so is its table when nothing else (no key, no
// comment) is left in it. It returns existing unchanged when there is no such token.
func RemoveCredentialText(existing []byte, path, registry string, cratesIO bool) ([]byte, error) {
	table, err := credTable(registry, cratesIO)
	if err != nil {
		return nil, err
	}
	orig, err := decode(existing, path, false)
	if err != nil {
		return nil, err
	}
	if _, ok := lookup(orig, append(table, "token")...); !ok {
		return existing, nil
	}
	return apply(existing, path, orig, nil, []setting{{table: table, key: "token"}})
}

// decode parses a TOML document. showMsg says whether the parser's message may be
// shown (not for credentials files, whose text may hold tokens).
func decode(src []byte, path string, showMsg bool) (map[string]any, error) {
	m := map[string]any{}
	if !utf8.Valid(src) {
		return nil, &SyntaxError{Path: path, Msg: "the file is not valid UTF-8"}
	}
	// Before any decoder: it recurses once per level of nesting, and its
	// time and memory grow with the number of items.
	if err := checkShape(src, path); err != nil {
		return nil, err
	}
	if _, err := toml.Decode(string(src), &m); err != nil {
		se := &SyntaxError{Path: path}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			se.Line, se.Column = pe.Position.Line, pe.Position.Col
			if showMsg {
				se.Msg = strings.TrimSuffix(pe.Message, ".")
			}
		} else if showMsg {
			se.Msg = err.Error()
		}
		return nil, se
	}
	return m, nil
}

// apply makes the text edits for sets and removes, then checks the result.
func apply(src []byte, path string, orig map[string]any, sets, removes []setting) ([]byte, error) {
	out := src
	for _, s := range sets {
		if v, ok := lookup(orig, s.path()...); ok && v == s.value {
			continue // already there, in whatever style the user wrote it
		}
		var err error
		if out, err = setKey(out, path, s); err != nil {
			return nil, err
		}
	}
	for _, s := range removes {
		var err error
		if out, err = removeKey(out, path, s); err != nil {
			return nil, err
		}
	}
	if err := verify(out, path, orig, sets, removes); err != nil {
		return nil, err
	}
	return out, nil
}

// verify re-parses the edited text and checks that every original key still has its
// value, that ours have the intended values, and that nothing else appeared.
func verify(out []byte, path string, orig map[string]any, sets, removes []setting) error {
	got := map[string]any{}
	// Our edits add a few items (keys, a header) to what was accepted.
	if sh := measure(out, MaxNesting, MaxItems+16); sh.line > 0 {
		return fmt.Errorf("%s: internal error: the edited file would nest too deeply or hold too many items, so it was left untouched; please report this", path)
	}
	if _, err := toml.Decode(string(out), &got); err != nil {
		return fmt.Errorf("%s: internal error: the edited file would not be valid TOML, so it was left untouched; please report this", path)
	}
	before, after := flatten(orig), flatten(got)
	ours := map[string]any{}
	for _, s := range sets {
		ours[pathKey(s.path())] = s.value
	}
	gone := map[string]any{}
	for _, s := range removes {
		gone[pathKey(s.path())] = nil
	}
	bad := func(what string) error {
		return fmt.Errorf("%s: internal error: the edit would have %s, so the file was left untouched; please report this", path, what)
	}
	for k, v := range before {
		_, mine := ours[k]
		_, removed := gone[k]
		if mine || removed {
			continue
		}
		w, ok := after[k]
		if !ok {
			if strings.HasSuffix(k, "\x00") && anyPrefix(k, ours) {
				continue // an empty table that now holds our key
			}
			return bad("lost a key")
		}
		if !equal(v, w) {
			return bad("changed a value")
		}
	}
	for k, v := range ours {
		if w, ok := after[k]; !ok || !equal(v, w) {
			return bad("missed a setting")
		}
	}
	for k := range gone {
		if _, ok := after[k]; ok {
			return bad("kept a removed key")
		}
	}
	for k := range after {
		if _, ok := before[k]; ok {
			continue
		}
		if _, mine := ours[k]; mine {
			continue
		}
		if strings.HasSuffix(k, "\x00") && anyPrefix(k, gone) {
			continue // a table emptied by a removal
		}
		return bad("added an unexpected key")
	}
	return nil
}

func anyPrefix(tableKey string, keys map[string]any) bool {
	for k := range keys {
		if strings.HasPrefix(k, tableKey) {
			return true
		}
	}
	return false
}

// pathKey joins a key path into one map key. Tables end with the separator.
func pathKey(p []string) string {
	var b strings.Builder
	for _, s := range p {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return strings.TrimSuffix(b.String(), "\x00")
}

// flatten maps every leaf of a decoded document to its value. Empty tables are
// kept as leaves (their key ends with the separator).
func flatten(m map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, t map[string]any)
	walk = func(prefix string, t map[string]any) {
		if len(t) == 0 && prefix != "" {
			out[prefix] = map[string]any{}
		}
		for k, v := range t {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+"\x00", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", m)
	return out
}

// equal is reflect.DeepEqual except that NaN equals NaN.
func equal(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case []any:
		return equalSlice(x, b)
	case []map[string]any:
		return equalSlice(x, b)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// equalSlice reports whether b is a []T of the same length as x whose
// elements are equal to x's, one by one.
func equalSlice[T any](x []T, b any) bool {
	y, ok := b.([]T)
	if !ok || len(x) != len(y) {
		return false
	}
	for i := range x {
		if !equal(x[i], y[i]) {
			return false
		}
	}
	return true
}

// newline returns the line ending the document uses ("\r\n" or "\n").
func newline(src []byte) string {
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// tomlKey renders one key part, quoted when it is not a bare key.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBare(k[i]) {
			return quote(k)
		}
	}
	return k
}

// quote renders s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

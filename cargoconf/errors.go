package cargoconf

import "fmt"

// SyntaxError reports an existing file that is not valid TOML. The file is left
// untouched.
type SyntaxError struct {
	Path   string // the file
	Line   int    // 1-based line of the problem, 0 when unknown
	Column int    // 1-based column of the problem, 0 when unknown
	Msg    string // the parser's description; empty for credentials files, whose text may hold secrets
}

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("%s is not valid TOML", e.Path)
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d, column %d)", e.Line, e.Column)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s + "; fix the file or remove it, then run again"
}

// ConflictError reports an existing file whose settings contradict what was asked,
// for example the registry already defined with a different index. The file is left
// untouched.
type ConflictError struct {
	Path string // the file
	Msg  string // what conflicts and what to do
}

func (e *ConflictError) Error() string { return e.Path + ": " + e.Msg }

// FormError reports one of our keys written in a form the text editor cannot change
// safely, such as a dotted key at the root or an inline table. The file is left
// untouched.
type FormError struct {
	Path string // the file
	Key  string // the key as written, for example "registries.artifactory.index"
	Msg  string // what to change
}

func (e *FormError) Error() string { return e.Path + ": " + e.Msg }

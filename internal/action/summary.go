package action

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// mdCode shows s in a cell of the step summary's Markdown table as inline
// code, character for character, so that no value from an input, a path
// or a service can change the summary's shape or add HTML:
//
//   - a code span, whose fence of backticks is longer than any run of
//     backticks in s, so s cannot close it early; GitHub renders nothing
//     inside one as Markdown or HTML (no tags, links, emphasis, emoji, or
//     mentions), and writes <, > and & out as text (&lt; &gt; &amp;);
//   - every | written as \|, which GitHub's table reads as a character of
//     the cell (also inside code) instead of the cell's end;
//   - a value holding a line break, another control or invisible format
//     character, or bytes that are not UTF-8, shown Go-quoted ("a\nb"), so
//     the row stays on one line and nothing is hidden;
//   - one space inside the fence when s starts or ends with a backtick or
//     a space, which CommonMark would otherwise read as part of the fence
//     or strip.
//
// An empty s is shown as nothing: CommonMark has no empty code span.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && !strconv.IsPrint(r) }) {
		s = strconv.Quote(s)
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	fence := strings.Repeat("`", longestBackticks(s)+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return fence + s + fence
}

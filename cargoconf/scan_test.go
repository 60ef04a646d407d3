package cargoconf

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// deep is a key whose value nests n arrays (closed when closed is true).
func deep(n int, closed bool) string {
	s := "a = " + strings.Repeat("[", n)
	if closed {
		s += strings.Repeat("]", n)
	}
	return s + "\n"
}

// TestNesting: the pre-scan counts brackets outside strings and comments,
// in all four kinds of strings, and stops at the first bracket over the
// limit with its line and column.
func TestNesting(t *testing.T) {
	type test struct {
		in              string
		limit           int
		depth, line, co int
	}
	testenv.Run(t, map[string]test{
		"empty":                               {"", 3, 0, 0, 0},
		"header":                              {"[a]\nb = 1\n", 3, 1, 0, 0},
		"array of tables":                     {"[[a]]\n", 3, 2, 0, 0},
		"arrays and inline tables":            {"a = [{b = [1]}, [2]]\n", 3, 3, 0, 0},
		"over the limit":                      {"x = 1\nab = [[[[1]]]]\n", 3, 4, 2, 9},
		"column in characters":                {"é = [[[[1]]]]\n", 3, 4, 1, 8},
		"basic string":                        {`a = "[[[[\"[[[["` + "\n", 3, 0, 0, 0},
		"basic string with escaped backslash": {`a = "\\" ` + "\nb = [[[[1]]]]\n", 3, 4, 2, 8},
		"literal string":                      {`a = '[[[[\' ` + "\nb = [1]\n", 3, 1, 0, 0},
		"literal string ends at its quote":    {`a = '\' b = [[[[`, 3, 4, 1, 16},
		"multi-line basic":                    {"a = \"\"\"\n[[[[\n\\\"\"\"[[[[\n\"\"\"\nb = [1]\n", 3, 1, 0, 0},
		"multi-line basic with extra quotes":  {"a = \"\"\"x\"\"\"\"\"\nb = [[[[1]]]]\n", 3, 4, 2, 8},
		"multi-line literal":                  {"a = '''\n[[[[\\'''\nb = [[[[1]]]]\n", 3, 4, 3, 8},
		"multi-line literal holds quotes":     {"a = '''it's [[[[ '' '''\n", 3, 0, 0, 0},
		"comment":                             {"# [[[[ \"\na = [1] # ]]]] '''\nb = [[1]]\n", 3, 2, 0, 0},
		"quoted key":                          {`"[[[[" = 1` + "\n", 3, 0, 0, 0},
		"unclosed string stops at the line":   {"a = \"[[\nb = [[[[1]]]]\n", 3, 4, 2, 8},
		"closing more than opened":            {"]]]] a = [[[1]]]\n", 3, 3, 0, 0},
		"crlf lines":                          {"a = 1\r\nb = 2\r\nc = [[[[1]]]]\r\n", 3, 4, 3, 8},
	}, func(t *testing.T, _ string, tc test) {
		sh := measure([]byte(tc.in), tc.limit, 1<<30)
		depth, line, col := sh.depth, sh.line, sh.col
		if depth != tc.depth || line != tc.line || col != tc.co {
			t.Fatalf("measure(%q) = depth %d, line %d, column %d; want %d, %d, %d", tc.in, depth, line, col, tc.depth, tc.line, tc.co)
		}
	})
}

// TestMergeRefusesDeepNesting: every function that reads a Cargo file
// refuses nesting over MaxNesting, and more than MaxItems items, with a
// *SyntaxError that names the file, the line and the limit; it accepts
// both limits reached.
func TestMergeRefusesDeepNesting(t *testing.T) {
	t.Parallel()
	r := Registry{Name: "artifactory", Index: testIndex, CredentialProvider: "cargo:token", Default: true, ReplaceCratesIO: true}
	read := map[string]func([]byte) ([]byte, error){
		"Merge": func(b []byte) ([]byte, error) { return Merge(b, "/w/.cargo/config.toml", r) },
		"MergeCredential": func(b []byte) ([]byte, error) {
			return MergeCredential(b, "/w/.cargo/config.toml", "artifactory", "tok", false)
		},
		"RemoveCredentialText": func(b []byte) ([]byte, error) {
			return RemoveCredentialText(b, "/w/.cargo/config.toml", "artifactory", false)
		},
	}
	deepMsg := fmt.Sprintf("more than %d deep", MaxNesting)
	manyMsg := fmt.Sprintf("more than %d keys, tables and array elements", MaxItems)
	tests := []struct {
		name string
		in   string
		line int // 0: accepted
		want string
	}{
		{"arrays", "[build]\njobs = 1\n" + deep(MaxNesting+1, true), 3, deepMsg},
		{"unclosed arrays", deep(1<<16, false), 1, deepMsg},
		{"inline tables", "x = 1\n\n" + "t = " + strings.Repeat("{ a = ", MaxNesting+1) + "1" + strings.Repeat("}", MaxNesting+1) + "\n", 3, deepMsg},
		{"nesting at the limit", deep(MaxNesting, true), 0, ""},
		{"keys", keys(MaxItems + 1), MaxItems + 1, manyMsg},
		{"array elements", "a = [" + strings.Repeat("1,", MaxItems) + "]\n", 1, manyMsg},
		{"items at the limit", keys(MaxItems), 0, ""},
	}
	for name, f := range read {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := f([]byte(tc.in))
				if tc.line == 0 {
					if err != nil {
						t.Fatalf("refused a file at the limit: %v", err)
					}
					return
				}
				var se *SyntaxError
				if !errors.As(err, &se) || se.Line != tc.line || se.Path != "/w/.cargo/config.toml" {
					t.Fatalf("err %#v, want a *SyntaxError at line %d", err, tc.line)
				}
				for _, w := range []string{"/w/.cargo/config.toml", fmt.Sprintf("line %d", tc.line), tc.want} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err %q lacks %q", err, w)
					}
				}
			})
		}
	}
}

// keys is a document of n distinct keys, one a line.
func keys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "k%d = 1\n", i)
	}
	return b.String()
}

// TestDeepNestingRefusedCheaply: the worst inputs of MaxFileSize bytes (see
// worstShapes) are refused before any decoder runs, at the right line, with
// next to no memory. The memory is measured (the process's heap
// allocations), not the time, so a loaded machine cannot make it flaky;
// BenchmarkNesting gives the time. Not parallel: the heap counters are the
// process's.
func TestDeepNestingRefusedCheaply(t *testing.T) {
	r := Registry{Name: "artifactory", Index: testIndex}
	for _, w := range worstShapes() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Merge(w.in, "config.toml", r)
		runtime.ReadMemStats(&after)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, w.want) || se.Line != w.line {
			t.Fatalf("%s: err %v, want %q at line %d", w.name, err, w.want, w.line)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("%s: refusing it allocated %d bytes, want under 1 MiB", w.name, got)
		}
	}
}

// worstShape is an input of MaxFileSize bytes built to make the shape
// check (and, before it, the decoder) work hardest, and where and why it is
// refused.
type worstShape struct {
	name string
	in   []byte
	line int
	want string
}

// worstShapes are MaxFileSize bytes of "["; as many bytes of brackets, quotes and escapes
// inside the three kinds of multi-line strings and comments, with the deep
// nesting on the last line (the whole file must be read); and MaxFileSize bytes of
// table headers.
func worstShapes() []worstShape {
	open := []byte("a = " + strings.Repeat("[", MaxFileSize-4))
	tail := deep(MaxNesting+1, true)
	third := (MaxFileSize - len(tail)) / 3
	var b strings.Builder
	fill := func(start, line, end string) {
		b.WriteString(start)
		for limit := b.Len() + third - len(start) - len(end); b.Len()+len(line) <= limit; {
			b.WriteString(line)
		}
		b.WriteString(end)
	}
	fill(`s = """`+"\n", `[[{{ \" \\ ''' # ]`+"\n", `"""`+"\n")
	fill(`l = '''`+"\n", `[[{{ " \ "" # ]`+"\n", `'''`+"\n")
	fill("", `# [[{{ " ''' \`+"\n", "")
	b.WriteString(tail)
	hidden := []byte(b.String())
	var tb strings.Builder
	for i := 0; tb.Len() < MaxFileSize-16; i++ {
		fmt.Fprintf(&tb, "[t%d]\n", i)
	}
	deepMsg := fmt.Sprintf("more than %d deep", MaxNesting)
	return []worstShape{
		{"MaxFileSize of [", open, 1, deepMsg},
		{"deep nesting at the end", hidden, bytes.Count(hidden, []byte("\n")), deepMsg},
		{"MaxFileSize of tables", []byte(tb.String()), MaxItems + 1, fmt.Sprintf("more than %d keys", MaxItems)},
	}
}

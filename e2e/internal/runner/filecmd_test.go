package runner

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseFileCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []Entry
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"plain", "A=1\nB=two words\n", []Entry{{"A", "1"}, {"B", "two words"}}, ""},
		{"equals in value", "URL=https://x/?a=b=c\n", []Entry{{"URL", "https://x/?a=b=c"}}, ""},
		{"empty value", "A=\n", []Entry{{"A", ""}}, ""},
		{"no final newline", "A=1", []Entry{{"A", "1"}}, ""},
		{"blank lines", "\n\nA=1\n\n", []Entry{{"A", "1"}}, ""},
		{"heredoc", "M<<EOF\nline 1\nline 2\nEOF\n", []Entry{{"M", "line 1\nline 2"}}, ""},
		{"heredoc empty", "M<<EOF\nEOF\n", []Entry{{"M", ""}}, ""},
		{"heredoc empty line", "M<<EOF\n\nEOF\n", []Entry{{"M", ""}}, ""},
		{"heredoc blank inside", "M<<EOF\na\n\nb\nEOF\n", []Entry{{"M", "a\n\nb"}}, ""},
		{"heredoc delimiter without newline", "M<<EOF\nv\nEOF", []Entry{{"M", "v"}}, ""},
		{"heredoc value with =", "M<<EOF\nA=1\nEOF\nB=2\n", []Entry{{"M", "A=1"}, {"B", "2"}}, ""},
		{"heredoc then plain", "A<<ghadelimiter_1\nx\nghadelimiter_1\nB=y\n", []Entry{{"A", "x"}, {"B", "y"}}, ""},
		{"equals before heredoc", "A=x<<EOF\n", []Entry{{"A", "x<<EOF"}}, ""},
		{"heredoc before equals", "A<<E=F\nv\nE=F\n", []Entry{{"A", "v"}}, ""},
		{"crlf plain keeps CR", "A=1\r\nB=2\r\n", []Entry{{"A", "1\r"}, {"B", "2\r"}}, ""},
		// On Linux the runner splits on "\n" only: the delimiter is "EOF\r",
		// which a CRLF file's end line matches, and the value keeps its CR.
		{"crlf heredoc", "M<<EOF\r\nv\r\nEOF\r\n", []Entry{{"M", "v\r"}}, ""},
		{"crlf delimiter, lf end line", "M<<EOF\r\nv\nEOF\n", nil, "matching delimiter not found"},
		{"lf delimiter, crlf end line", "M<<EOF\nv\r\nEOF\r\n", nil, "matching delimiter not found"},
		{"bom", "\xef\xbb\xbfA=1\n", []Entry{{"A", "1"}}, ""},
		{"missing delimiter", "M<<EOF\nvalue\n", nil, "matching delimiter not found"},
		{"missing delimiter no newline", "M<<EOF\nvalue", nil, "EOF marker missing new line"},
		{"delimiter is a prefix", "M<<EOF\nEOFX\n", nil, "matching delimiter not found"},
		{"empty name", "=1\n", nil, "name must not be empty"},
		{"empty heredoc name", "<<EOF\nx\nEOF\n", nil, "name must not be empty"},
		{"empty delimiter", "M<<\nx\n", nil, "delimiter must not be empty"},
		{"no separator", "JUSTTEXT\n", nil, "invalid format"},
		{"error keeps earlier", "A=1\nBAD\n", []Entry{{"A", "1"}}, "invalid format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFileCommand("GITHUB_ENV", []byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			} else {
				var fe *FileCommandError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.wantErr) || fe.File != "GITHUB_ENV" {
					t.Fatalf("error %v, want a *FileCommandError containing %q", err, tc.wantErr)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzParseFileCommand checks that the parser never panics, that it stops
// at a rejected file, and that any name/value written with a delimiter
// the value does not contain parses back unchanged.
func FuzzParseFileCommand(f *testing.F) {
	f.Add([]byte("A=1\nM<<EOF\nx\nEOF\n"), "NAME", "value\nwith lines", "ghadelimiter_123")
	f.Add([]byte("M<<EOF\r\nv\r\n"), "X", "", "EOF")
	f.Add([]byte("=\n<<\n"), "N=Y", "a=b", "D")
	f.Add([]byte("\xef\xbb\xbf"), "N", "EOF\nEOF", "EOF")
	f.Fuzz(func(t *testing.T, data []byte, name, value, delim string) {
		entries, err := ParseFileCommand("GITHUB_OUTPUT", data)
		if err != nil {
			var fe *FileCommandError
			if !errors.As(err, &fe) {
				t.Fatalf("error of type %T", err)
			}
		}
		for _, e := range entries {
			if e.Name == "" {
				t.Fatalf("entry with an empty name from %q", data)
			}
		}
		// Round trip of a well-formed heredoc entry.
		if name == "" || delim == "" || strings.ContainsAny(name, "\n=<") ||
			strings.Contains(delim, "\n") || strings.Contains(value+"\n", delim) || strings.Contains("\n"+value, "\n"+delim) {
			return
		}
		if strings.Contains(value, "\n"+delim+"\n") || strings.HasPrefix(value, delim+"\n") || value == delim {
			return
		}
		text := FormatHeredoc(name, delim, value) + "AFTER=1\n"
		got, err := ParseFileCommand("GITHUB_OUTPUT", []byte(text))
		if err != nil {
			t.Fatalf("well-formed entry %q: %v", text, err)
		}
		want := []Entry{{name, value}, {"AFTER", "1"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q: got %q, want %q", text, got, want)
		}
	})
}

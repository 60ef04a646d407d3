package action

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/exchange"
	"github.com/cargo-oidc/cargo-oidc/internal/config"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

func TestMdCode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"artifactory", "`artifactory`"},
		{"", ""},
		{"a`b", "``a`b``"},
		{"a``b`", "``` a``b` ```"},
		{"`x", "`` `x ``"},
		{" x ", "`  x  `"},
		{"a|b", "`a\\|b`"},
		{`a\|b`, "`a\\\\|b`"},
		{"<img src=x onerror=alert(1)>&amp;", "`<img src=x onerror=alert(1)>&amp;`"},
		{"a\nb", "`\"a\\nb\"`"},
		{"a\r| x |", "`\"a\\r\\| x \\|\"`"},
		{"a\u202eb", "`\"a\\u202eb\"`"},
		{"a\u00a0b", "`\"a\\u00a0b\"`"},
		{"a\xffb", "`\"a\\xffb\"`"},
	}
	for _, tt := range tests {
		if got := mdCode(tt.in); got != tt.want {
			t.Errorf("mdCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// What GitHub shows is the value, character for character (quoted
		// when it holds what cannot be shown on one line).
		cells, ok := tableCells("| " + mdCode(tt.in) + " |")
		if tt.in == "" {
			continue
		}
		if !ok || len(cells) != 1 {
			t.Errorf("mdCode(%q) = %q splits the cell: %q", tt.in, mdCode(tt.in), cells)
			continue
		}
		if shown, ok := codeSpan(cells[0]); !ok || (shown != tt.in && !strings.HasPrefix(shown, `"`)) {
			t.Errorf("mdCode(%q) renders as %q (code span %v)", tt.in, shown, ok)
		}
	}
}

// hostile holds values that broke the summary: backticks that close the
// code span, | that ends the cell, a line break that ends the row, HTML.
const hostile = "x`</code>|<img src=x onerror=alert(1)>| `\n| Injected | row |\n<script>alert(1)</script>&amp;"

// TestSummaryKeepsItsShape: whatever an input, a path or the service puts
// in a value, the summary stays one table of the same rows, each with two
// cells; each value is shown in one code span as it is; and nothing
// outside a code span is HTML.
func TestSummaryKeepsItsShape(t *testing.T) {
	t.Parallel()
	p := &plan{
		cfg: &config.Config{Provider: config.JFrog, RegistryName: "artifactory", IndexURL: "sparse+https://x/" + hostile + "/",
			ExportEnv: true, CredentialMode: config.ModeToken, TokenScheme: "Bearer"},
		tok:        &exchange.Token{Value: "secret-token", Username: "u" + hostile, ExpiresAt: time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC)},
		configPath: "/github/workspace/" + hostile + "/config.toml",
		credPath:   "/github/runner_temp/``" + hostile + "``",
	}
	got := p.summary()
	testenv.Golden(t, filepath.Join("testdata", "summary-hostile.md"), []byte(got))
	rows := checkTable(t, got, []string{"Provider", "Registry", "Index", "Expires", "Username", "Credential mode", "Exported"})
	for k, v := range map[string]string{"Index": p.cfg.IndexURL, "Username": p.tok.Username} {
		if shown, ok := codeSpan(rows[k]); !ok || shown != `"`+strings.NewReplacer("\n", `\n`).Replace(v)+`"` {
			t.Errorf("%s shown as %q (code span %v), want the value quoted", k, shown, ok)
		}
	}
	if strings.Contains(got, "secret-token") {
		t.Error("the summary shows the token")
	}
}

// TestMainSummaryHostileIndex: the same through the whole step, with an
// index-url that config accepts (url.Parse lets backticks, | and < through).
func TestMainSummaryHostileIndex(t *testing.T) {
	t.Parallel()
	const index = "sparse+https://mirror.example/x`</code>|<img/src=x/onerror=alert(1)>|``/"
	w := newWorld(t, map[string]string{"provider": "jfrog", "provider-name": "github-oidc", "index-url": index})
	w.mustMain()
	rows := checkTable(t, w.read("summary"), []string{"Provider", "Registry", "Index", "Expires", "Username", "Credential mode", "Exported"})
	if shown, ok := codeSpan(rows["Index"]); !ok || shown != index {
		t.Errorf("index shown as %q (code span %v), want %q", shown, ok, index)
	}
}

// checkTable checks that summary is a heading and one two-column table
// with exactly the rows named, in order, no HTML outside code spans, and
// returns each row's value cell.
func checkTable(t *testing.T, summary string, names []string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(summary, "\n"), "\n")
	if len(lines) != 4+len(names) || !strings.HasPrefix(lines[0], "### ") || lines[1] != "" || lines[2] != "| | |" || lines[3] != "|---|---|" {
		t.Fatalf("summary is not a heading and a table of %d rows:\n%s", len(names), summary)
	}
	rows := map[string]string{}
	for i, line := range lines[4:] {
		cells, ok := tableCells(line)
		if !ok || len(cells) != 2 || cells[0] != names[i] {
			t.Errorf("row %d is %q, cells %q; want 2 cells, the first %q", i, line, cells, names[i])
			continue
		}
		rows[cells[0]] = cells[1]
		if strings.ContainsAny(outsideCode(cells[1]), "<>") {
			t.Errorf("row %s has HTML outside code: %q", cells[0], cells[1])
		}
	}
	return rows
}

// tableCells splits a row of a GitHub (cmark-gfm) table into its cells: a
// | is a cell's end unless a backslash stands before it (also inside code
// spans), and \| in a cell is |. ok is false when the line is not a row.
func tableCells(line string) (cells []string, ok bool) {
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || strings.HasSuffix(line, `\|`) || len(line) < 2 {
		return nil, false
	}
	var cell strings.Builder
	for i := 1; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return cells, true
}

// codeSpan returns what CommonMark shows for cell when the whole cell is
// one code span.
func codeSpan(cell string) (string, bool) {
	outside, spans := inline(cell)
	if outside != "" || len(spans) != 1 {
		return "", false
	}
	return spans[0], true
}

// outsideCode is cell without its code spans.
func outsideCode(cell string) string {
	outside, _ := inline(cell)
	return outside
}

// inline splits cell as CommonMark reads code spans: a run of n backticks
// opens one that the next run of exactly n closes (a run with no such
// closer is text); what the span shows is the text between, one space
// stripped from each end when both ends have one.
func inline(cell string) (outside string, spans []string) {
	run := func(i int) int { // the end of the backtick run starting at i
		for i < len(cell) && cell[i] == '`' {
			i++
		}
		return i
	}
	var out strings.Builder
	for i := 0; i < len(cell); {
		if cell[i] != '`' {
			out.WriteByte(cell[i])
			i++
			continue
		}
		j := run(i)
		closer := -1
		for k := j; k < len(cell); {
			if cell[k] != '`' {
				k++
				continue
			}
			m := run(k)
			if m-k == j-i {
				closer = k
				break
			}
			k = m
		}
		if closer < 0 {
			out.WriteString(cell[i:j])
			i = j
			continue
		}
		s := cell[j:closer]
		if len(s) >= 2 && s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "" {
			s = s[1 : len(s)-1]
		}
		spans = append(spans, s)
		i = closer + (j - i)
	}
	return out.String(), spans
}

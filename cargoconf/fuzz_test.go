package cargoconf

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/cargo-oidc/cargo-oidc/internal/fspath"
)

// seeds adds every golden input and a few hand-written documents to f's corpus.
func seeds(f *testing.F) {
	for _, dir := range []string{"merge", "credentials"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.in.toml"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "a = 1", "[a]\nb = 'c'\n", "[[a]]\nb = 1\n[[a]]\nb = 2\n",
		"x = \"\"\"\n[registries.artifactory]\n\"\"\"\n", "[registries]\nartifactory = 1\n",
		"registry = 1\n", "[source]\ncrates-io = { replace-with = \"x\" }\n",
		"[registries.\"artifactory\"]\nindex = \"" + testIndex + "\"\n",
		"t = 1979-05-27 07:32:00\n[registry]\ndefault=\"x\"", "a = [\n#c\n1,\n]\r\n[b]\r\n",
	} {
		f.Add([]byte(s))
	}
}

func FuzzMerge(f *testing.F) {
	seeds(f)
	r := Registry{Name: "artifactory", Index: testIndex, CredentialProvider: "cargo:token", Default: true, ReplaceCratesIO: true}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, err := Merge(in, "config.toml", r)
		if !bytes.Equal(in, orig) {
			t.Fatal("Merge modified its input")
		}
		if err != nil {
			return
		}
		checkKept(t, orig, out, map[string]string{
			"registries\x00artifactory\x00index":               r.Index,
			"registries\x00artifactory\x00credential-provider": r.CredentialProvider,
			"registry\x00default":                              r.Name,
		})
		got := decodeOK(t, out)
		if v, _ := lookup(got, "source", CratesIO, "replace-with"); v != r.Name && !pointsTo(got, v, r.Index) {
			t.Fatalf("crates.io not replaced by ours: %v", v)
		}
		again, err := Merge(out, "config.toml", r)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %v\n%q\n%q", err, out, again)
		}
	})
}

func FuzzMergeCredential(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		const token = "Bearer fuzz\"to\\ken\x01"
		out, err := MergeCredential(in, "credentials.toml", "artifactory", token, false)
		if !bytes.Equal(in, orig) {
			t.Fatal("MergeCredential modified its input")
		}
		if err != nil {
			if strings.Contains(err.Error(), "fuzz") {
				t.Fatalf("error contains the token: %v", err)
			}
			return
		}
		checkKept(t, orig, out, map[string]string{"registries\x00artifactory\x00token": token})
		back, err := RemoveCredentialText(out, "credentials.toml", "artifactory", false)
		if err != nil {
			t.Fatalf("cannot remove what was set: %v", err)
		}
		if v, ok := lookup(decodeOK(t, back), "registries", "artifactory", "token"); ok {
			t.Fatalf("token still there: %v", v)
		}
	})
}

// FuzzScan checks the header scanner against BurntSushi/toml: on any document the
// parser accepts, the scanner finds exactly the tables and keys the parser defines.
func FuzzScan(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		secs, err := scan(in) // must not panic on anything
		var m map[string]any
		md, perr := toml.Decode(string(in), &m)
		if perr != nil {
			return
		}
		if err != nil {
			t.Fatalf("scanner failed on valid TOML: %v", err)
		}
		defined := map[string]bool{}
		for _, k := range md.Keys() {
			defined[pathKey(k)] = true
		}
		found := map[string]bool{}
		var values []string
		for _, sec := range secs {
			if sec.path != nil {
				if !defined[pathKey(sec.path)] {
					t.Fatalf("scanner found header %q that the parser does not define", sec.path)
				}
				for i := 1; i <= len(sec.path); i++ {
					found[pathKey(sec.path[:i])] = true
				}
			}
			for _, e := range sec.entries {
				abs := append(slices.Clip(sec.path), e.key...)
				if !defined[pathKey(abs)] {
					t.Fatalf("scanner found key %q that the parser does not define", abs)
				}
				for i := 1; i <= len(abs); i++ {
					found[pathKey(abs[:i])] = true
				}
				values = append(values, pathKey(abs)+"\x00")
				if e.lineStart > e.valStart || e.valStart >= e.valEnd || e.valEnd > e.lineEnd || e.lineEnd > len(in) {
					t.Fatalf("bad offsets %+v", e)
				}
			}
		}
		for k := range defined {
			if found[k] {
				continue
			}
			inside := false // a key inside an inline table or array value
			for _, v := range values {
				if strings.HasPrefix(k+"\x00", v) {
					inside = true
					break
				}
			}
			if !inside {
				t.Fatalf("parser defines %q but the scanner did not find it", k)
			}
		}
	})
}

// FuzzNesting checks the shape check that runs before the decoder against
// BurntSushi/toml and the scanner. It never panics. On a document the
// parser accepts, the depth it measures is exactly the depth of the arrays,
// inline tables and table headers the scanner finds (so it never lets
// through a document that nests deeper than it says), and never more than
// the depth of the decoded document (so it never refuses a document for
// brackets inside strings or comments). With a small limit it stops
// exactly when the depth passes the limit, at a position inside the input.
func FuzzNesting(f *testing.F) {
	seeds(f)
	for _, s := range []string{
		deep(5, true), deep(5, false), `a = """[\""""` + "\nb = [[1]]\n", `a = '''[[[['''''` + "\nb = [{c = [1]}]\n",
		"[[a.b]]\n[[a.b]]\nc = [[[]]]\n", `a = "[\"[[[["` + "\nb = [1]\n", `a = "\\" # [[[[` + "\nb = {c = {d = {}}}\n", `a = "[\` + "\n\"\nb = [[[1]]]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 3
		sh := measure(in, 1<<30, 1<<30)
		small := measure(in, limit, 1<<30)
		if small.tooDeep != (sh.depth > limit) || (small.tooDeep && (small.line < 1 || small.col < 1 || small.depth != limit+1)) {
			t.Fatalf("limit %d: %+v, without a limit %+v", limit, small, sh)
		}
		if sh.tooDeep || sh.tooMany || sh.line != 0 {
			t.Fatalf("no limit, yet %+v", sh)
		}
		var m map[string]any
		if _, err := toml.Decode(string(in), &m); err != nil {
			return
		}
		if d := valueDepth(m) - 1; sh.depth > d {
			t.Fatalf("measured depth %d, but the decoded document nests %d deep", sh.depth, d)
		}
		s := &scanner{src: in}
		secs, err := s.sections()
		if err != nil {
			return // too deep for the scanner, or FuzzScan's concern
		}
		want := s.deepest
		for _, sec := range secs {
			switch {
			case sec.array:
				want = max(want, 2)
			case sec.path != nil:
				want = max(want, 1)
			}
		}
		if sh.depth != want {
			t.Fatalf("measured depth %d, the scanner found %d", sh.depth, want)
		}
	})
}

// valueDepth is how deeply v nests: 0 for a scalar, 1 more than its
// deepest element for a table or an array.
func valueDepth(v any) int {
	d := 0
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			d = max(d, valueDepth(e))
		}
	case []any:
		for _, e := range t {
			d = max(d, valueDepth(e))
		}
	case []map[string]any:
		for _, e := range t {
			d = max(d, valueDepth(e))
		}
	default:
		return 0
	}
	return d + 1
}

func decodeOK(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if _, err := toml.Decode(string(b), &m); err != nil {
		t.Fatalf("output does not parse: %v\n%q", err, b)
	}
	return m
}

// checkKept asserts that out parses, keeps every key of orig with its value (except
// ours) and holds ours.
func checkKept(t *testing.T, orig, out []byte, ours map[string]string) {
	t.Helper()
	before := flatten(decodeOK(t, orig))
	after := flatten(decodeOK(t, out))
	for k, v := range before {
		if _, mine := ours[k]; mine {
			continue
		}
		w, ok := after[k]
		if !ok && strings.HasSuffix(k, "\x00") {
			continue // an empty table that now holds our keys
		}
		if !ok || !equal(v, w) {
			t.Fatalf("key %q lost or changed", k)
		}
	}
	for k, v := range ours {
		if _, ok := after[k]; !ok {
			// [registry] default may be satisfied already; every other key must be there.
			t.Fatalf("our key %q missing (want %q)\n%s", k, v, out)
		}
	}
}

// FuzzParseFileID checks that ParseFileID never panics, and that whatever it
// accepts is written back by String in the same canonical form.
func FuzzParseFileID(f *testing.F) {
	f.Add("2049:1234:51:" + strings.Repeat("ab", 32))
	f.Add("0:0:0:" + strings.Repeat("00", 32))
	f.Add("1:2:3")
	f.Add("+1:2:3:" + strings.Repeat("AB", 32))
	f.Add("18446744073709551615:1:9223372036854775807:" + strings.Repeat("ff", 32))
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseFileID(s)
		if err != nil {
			return
		}
		again, err := ParseFileID(id.String())
		if err != nil || again != id {
			t.Fatalf("%q -> %v -> %q: %v", s, id, id.String(), err)
		}
	})
}

// FuzzEscapes checks the lexical test on a link's target against a walk of
// the same components: a target escapes exactly when some ".." climbs above
// the root.
func FuzzEscapes(f *testing.F) {
	for _, s := range [][2]string{{"", ".."}, {"a/b", "../../x"}, {"a", "../../x"}, {"a/b", "./.././../c/.."}, {"", "a/../../b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, dir, target string) {
		got := escapes(dir, target)
		clean := filepath.Clean("/r/" + dir + "/" + target)
		_, inside := fspath.Within(clean, "/r")
		if got {
			// Some prefix of the components, cleaned, must leave the root.
			parts := append(fspath.Split(dir), fspath.Split(target)...)
			above := false
			for k := range parts {
				if _, in := fspath.Within(filepath.Clean("/r/"+strings.Join(parts[:k+1], "/")), "/r"); !in {
					above = true
				}
			}
			if !above {
				t.Fatalf("escapes(%q, %q) = true, but it stays inside", dir, target)
			}
		}
		if !got && !inside {
			t.Fatalf("escapes(%q, %q) = false, but it leads to %s", dir, target, clean)
		}
	})
}

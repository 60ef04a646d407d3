package action

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// maxFuncLines bounds a function of the product, from its func keyword to
// its closing brace: a longer one is a list of phases waiting to be named.
const maxFuncLines = 80

// longFuncs are the product functions still over maxFuncLines, each with
// why it stays for now. The list can only shrink: an entry whose function
// is no longer over the limit (or is gone) fails the test until it is
// removed, and a new long function is never added here but split.
var longFuncs = map[string]string{}

// TestProductFunctionsAreShort parses every non-test Go file of the product
// (the main package, internal/..., exchange/..., cargoconf/...) and fails for
// each function over maxFuncLines lines that longFuncs does not list.
func TestProductFunctionsAreShort(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module root is not two folders up: %v", err)
	}
	lengths, err := funcLengths(root, ".", "internal", "exchange", "cargoconf")
	if err != nil {
		t.Fatal(err)
	}
	if len(lengths) < 100 {
		t.Fatalf("only %d functions found: the walk misses the product", len(lengths))
	}
	var long []string
	for name, n := range lengths {
		if n > maxFuncLines {
			long = append(long, name)
		}
	}
	slices.Sort(long)
	for _, name := range long {
		if _, ok := longFuncs[name]; !ok {
			t.Errorf("%s is %d lines, over %d: split it into named steps", name, lengths[name], maxFuncLines)
		}
	}
	for name := range longFuncs {
		if n, ok := lengths[name]; !ok || n <= maxFuncLines {
			t.Errorf("%s is allowed to be long but is %d lines now (0: gone): remove it from longFuncs", name, n)
		}
	}
}

// funcLengths maps each function and method declared in the non-test Go
// files under dirs (relative to root; "." alone is not walked into) to its
// length in lines. A function is named by its package folder, e.g.
// "internal/config.Load", "cargoconf.(*Folders).resolve", "main.run".
func funcLengths(root string, dirs ...string) (map[string]int, error) {
	out := map[string]int{}
	fset := token.NewFileSet()
	add := func(path string) error {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if pkg == "." {
			pkg = "main"
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := pkg + "." + recvName(fn) + fn.Name.Name
			// The longest of the same name (files for other systems).
			out[name] = max(out[name], fset.Position(fn.End()).Line-fset.Position(fn.Pos()).Line+1)
		}
		return nil
	}
	isProduct := func(name string) bool {
		return strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")
	}
	for _, dir := range dirs {
		if dir == "." {
			entries, err := os.ReadDir(root)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if e.Type().IsRegular() && isProduct(e.Name()) {
					if err := add(filepath.Join(root, e.Name())); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !isProduct(d.Name()) {
				return nil
			}
			return add(path)
		})
		if err != nil {
			return nil, fmt.Errorf("walking %s: %w", dir, err)
		}
	}
	return out, nil
}

// recvName is "(*T)." or "T." for a method, "" for a function.
func recvName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return ""
	}
	typ := fn.Recv.List[0].Type
	star := ""
	if s, ok := typ.(*ast.StarExpr); ok {
		star, typ = "*", s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok { // a generic receiver
		typ = ix.X
	}
	if ix, ok := typ.(*ast.IndexListExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	if !ok {
		return "?."
	}
	if star != "" {
		return "(*" + id.Name + ")."
	}
	return id.Name + "."
}

package opatest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/opakit/opa/opatest"
)

// TestGuideQuotesTheExamples: every block of Go in docs/opatest.md is, verbatim, a function of
// example_test.go, every example and test there is quoted in the guide, README.md's test of a
// client is TestYourClient, and the guide mentions
// every exported name of the package (functions, types and the methods of Server), so that
// neither the guide nor the API can change without the other.
func TestGuideQuotesTheExamples(t *testing.T) {
	b, err := os.ReadFile("../docs/opatest.md")
	if err != nil {
		t.Fatal(err)
	}
	guide := string(b)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)\n```").FindAllStringSubmatch(guide, -1)

	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]string{} // source -> name
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			funcs[string(src[fset.Position(fd.Pos()).Offset:fset.Position(fd.End()).Offset])] = fd.Name.Name
		}
	}
	quoted := map[string]bool{}
	for _, bl := range blocks {
		name, ok := funcs[bl[1]]
		if !ok {
			first, _, _ := strings.Cut(bl[1], "\n")
			t.Errorf("docs/opatest.md: a block of Go is not a function of example_test.go: %s …", first)
			continue
		}
		quoted[name] = true
	}
	for _, name := range funcs {
		if !quoted[name] {
			t.Errorf("docs/opatest.md does not quote %s of example_test.go", name)
		}
	}

	// README.md's test of a client is TestYourClient, after its import line.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\nimport \"github.com/opakit/opa/opatest\"\n\n(func .*?)\n```").FindSubmatch(readme)
	if len(m) < 2 || funcs[string(m[1])] != "TestYourClient" {
		t.Error("README.md's Go test is not TestYourClient of example_test.go, verbatim")
	}

	var names []string
	st := reflect.TypeFor[*opatest.Server]()
	for m := range st.Methods() {
		names = append(names, m.Name)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range pf.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.IsExported() {
						names = append(names, ts.Name.Name)
					}
				}
			}
		}
	}
	for _, n := range names {
		if !regexp.MustCompile("`\\*?(opatest\\.)?" + n + "[`(]").MatchString(guide) {
			t.Errorf("docs/opatest.md does not mention %s", n)
		}
	}
}

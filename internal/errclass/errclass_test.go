package errclass_test

import (
	stderrors "errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
)

var classes = map[string]error{
	"NotFound": errclass.NotFound, "Conflict": errclass.Conflict, "Invalid": errclass.Invalid,
	"Unauthorized": errclass.Unauthorized, "Forbidden": errclass.Forbidden,
	"Unavailable": errclass.Unavailable, "Timeout": errclass.Timeout, "Corrupt": errclass.Corrupt,
}

// TestEveryClassMatchesBothErrorsPackages: an error made with Mark, Wrap or Tag, then wrapped by
// either errors package, matches its class and no other with the standard library's errors.Is and
// with cockroachdb's, and keeps its message.
func TestEveryClassMatchesBothErrorsPackages(t *testing.T) {
	base := stderrors.New("disk said no")
	sentinel := errors.New("a package's own sentinel")
	for name, class := range classes {
		made := map[string]error{
			"Mark":      errclass.Mark(class, "thing %q is wrong", "x"),
			"Wrap":      errclass.Wrap(base, class, "reading %s", "x"),
			"Tag":       errclass.Tag(base, class),
			"Tag twice": errclass.Tag(errclass.Tag(base, sentinel), class),
		}
		for how, err := range made {
			wrapped := map[string]error{
				"bare":                 err,
				"fmt %w":               fmt.Errorf("outer: %w", err),
				"cockroachdb Wrap":     errors.Wrap(err, "outer"),
				"cockroachdb WithHint": errors.WithHint(errors.Wrapf(err, "outer"), "try again"),
				"stdlib Join":          stderrors.Join(stderrors.New("other"), err),
			}
			for layer, e := range wrapped {
				t.Run(name+"/"+how+"/"+layer, func(t *testing.T) {
					if !stderrors.Is(e, class) {
						t.Errorf("standard errors.Is(%v, %s) = false", e, name)
					}
					if !errors.Is(e, class) {
						t.Errorf("cockroachdb errors.Is(%v, %s) = false", e, name)
					}
					for other, oc := range classes {
						if other != name && (stderrors.Is(e, oc) || errors.Is(e, oc)) {
							t.Errorf("%v matches %s too", e, other)
						}
					}
					if how == "Tag twice" && (!stderrors.Is(e, sentinel) || !errors.Is(e, sentinel)) {
						t.Errorf("%v lost its first tag", e)
					}
					if how != "Mark" && !stderrors.Is(e, base) {
						t.Errorf("%v lost its cause", e)
					}
				})
			}
		}
	}
	if got := errclass.Mark(errclass.NotFound, "thing %q is wrong", "x").Error(); got != `thing "x" is wrong` {
		t.Errorf("message %q", got)
	}
	if got := errclass.Wrap(base, errclass.Invalid, "reading").Error(); got != "reading: disk said no" {
		t.Errorf("message %q", got)
	}
	if errclass.Tag(nil, errclass.Invalid) != nil || errclass.Wrap(nil, errclass.Invalid, "x") != nil {
		t.Error("a nil error got a class")
	}
	if s := fmt.Sprintf("%+v", errclass.Mark(errclass.Conflict, "dup")); !strings.Contains(s, "dup") || !strings.Contains(s, "errclass_test") {
		t.Errorf("%%+v lost the message or the stack: %s", s)
	}
}

// TestNoDirectMarks: no source file of the module classes an error with errors.Mark, whose mark the
// standard library's errors.Is cannot see; they use errclass.Mark, Wrap or Tag.
func TestNoDirectMarks(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			filepath.ToSlash(filepath.Dir(path)) == "../../internal/errclass" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Mark" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "errors" {
					t.Errorf("%s: errors.Mark; use errclass.Mark, Wrap or Tag so the standard library's errors.Is matches", fset.Position(call.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

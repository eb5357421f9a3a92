package httpapi

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// tagSafe reports whether encoding/json accepts name as a field name in a struct tag (letters,
// digits and the punctuation it allows); otherwise it would ignore the tag.
func tagSafe(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", r):
		case unicode.IsLetter(r), unicode.IsDigit(r):
		default:
			return false
		}
	}
	return true
}

// FuzzFoldName: foldName(a) == foldName(b) exactly when strings.EqualFold(a, b), and exactly when
// Go's JSON decoder puts a value sent under the name b into a struct field tagged a (checked with
// a struct type built at run time).
func FuzzFoldName(f *testing.F) {
	for _, p := range [][2]string{{"key_secret", "KEY_ſECRET"}, {"k", "\u212a"}, {"password", "paſſword"}, {"ß", "ẞ"},
		{"σ", "ς"}, {"Σ", "ς"}, {"i", "İ"}, {"ǅ", "ǆ"}, {"a", "b"}, {"\xff", "\ufffd"}, {"key_secret", "key_secret "}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		same := foldName(a) == foldName(b)
		if want := strings.EqualFold(a, b); same != want {
			t.Fatalf("foldName(%q) == foldName(%q) is %v, EqualFold %v", a, b, same, want)
		}
		if !tagSafe(a) {
			return
		}
		typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:` + strconv.Quote(a))}})
		v := reflect.New(typ)
		key, _ := json.Marshal(b)
		if err := json.Unmarshal([]byte(`{`+string(key)+`:"x"}`), v.Interface()); err != nil {
			t.Fatal(err)
		}
		got := v.Elem().Field(0).String() == "x"
		if got != same && utf8.ValidString(b) { // json.Marshal would have changed an invalid b

			t.Fatalf("field %q got a value sent as %q: %v; foldName says %v", a, b, got, same)
		}
	})
}

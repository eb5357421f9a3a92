// Command sizes prints how much of a WebAssembly module built by Go (without -ldflags=-s, so the
// "name" section is there) each Go package's functions take, for BENCHMARKS.md:
//
//	go run ./wasm/testdata/sizes [-top N] module.wasm
//
// It reads the module's sections (WebAssembly core spec §5.5), attributes each function body of the
// code section to the package of its name (the text before the last "." outside brackets, so
// "crypto_internal_fips140_nistec.__P256Point_.Add" is crypto/internal/fips140/nistec), and prints
// per package the raw bytes and the bytes of those bodies gzip-compressed on their own, plus the
// data section (constants, type information, strings) and the rest. Gzip figures per package are
// an estimate: compressed together, the module is somewhat smaller than the sum.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/cockroachdb/errors"
)

func main() {
	top := flag.Int("top", 25, "packages to list")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sizes [-top N] module.wasm")
		os.Exit(2)
	}
	b, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := report(b, *top); err != nil {
		fmt.Fprintln(os.Stderr, "sizes:", err)
		os.Exit(1)
	}
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) uleb() (uint64, error) {
	var v uint64
	for shift := 0; ; shift += 7 {
		if r.off >= len(r.b) || shift > 63 {
			return 0, errors.New("truncated LEB128")
		}
		c := r.b[r.off]
		r.off++
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

func (r *reader) bytes(n uint64) ([]byte, error) {
	if uint64(len(r.b)-r.off) < n {
		return nil, errors.New("truncated")
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

func gz(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Len()
}

// pkgOf returns the package of a function name as the linker writes it into the name section:
// "/" becomes "_" and "(*T)" becomes "__T_", so "crypto/internal/fips140/nistec.(*P256Point).Add"
// is "crypto_internal_fips140_nistec.__P256Point_.Add". The package is the text before the first
// "." after any domain of the path ("github.com_…").
func pkgOf(name string) string {
	start := 0
	for _, d := range []string{".com_", ".org_", ".in_", ".io_", ".dev_"} {
		if i := strings.Index(name, d); i >= 0 {
			start = i + len(d)
			break
		}
	}
	if i := strings.IndexByte(name[start:], '.'); i >= 0 {
		return name[:start+i]
	}
	return name
}

func report(b []byte, top int) error {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return errors.New("not a WebAssembly module")
	}
	r := &reader{b: b, off: 8}
	var bodies [][]byte
	names := map[uint64]string{}
	imports := uint64(0)
	sections := map[string]int{}
	for r.off < len(b) {
		id := r.b[r.off]
		r.off++
		n, err := r.uleb()
		if err != nil {
			return err
		}
		sec, err := r.bytes(n)
		if err != nil {
			return err
		}
		s := &reader{b: sec}
		switch id {
		case 2: // import: count the function imports, which come first in the function index space
			cnt, _ := s.uleb()
			for i := uint64(0); i < cnt; i++ {
				for j := 0; j < 2; j++ {
					l, _ := s.uleb()
					_, _ = s.bytes(l)
				}
				kind := s.b[s.off]
				s.off++
				if kind == 0 {
					imports++
				}
				_, _ = s.uleb() // a type index for functions; other kinds do not occur in Go modules
			}
			sections["import"] += len(sec)
		case 10: // code
			cnt, _ := s.uleb()
			for i := uint64(0); i < cnt; i++ {
				l, err := s.uleb()
				if err != nil {
					return err
				}
				body, err := s.bytes(l)
				if err != nil {
					return err
				}
				bodies = append(bodies, body)
			}
		case 11:
			sections["data"] += len(sec)
		case 0: // custom: read the function names of the "name" section
			l, _ := s.uleb()
			nm, _ := s.bytes(l)
			if string(nm) != "name" {
				sections["custom "+string(nm)] += len(sec)
				break
			}
			sections["name (debug names, dropped by -s)"] += len(sec)
			for s.off < len(s.b) {
				sub := s.b[s.off]
				s.off++
				sl, _ := s.uleb()
				sb, _ := s.bytes(sl)
				if sub != 1 {
					continue
				}
				ss := &reader{b: sb}
				cnt, _ := ss.uleb()
				for i := uint64(0); i < cnt; i++ {
					idx, _ := ss.uleb()
					l, _ := ss.uleb()
					nb, _ := ss.bytes(l)
					names[idx] = string(nb)
				}
			}
		default:
			sections[fmt.Sprintf("section %d", id)] += len(sec)
		}
	}
	if len(names) == 0 {
		return errors.New("no name section: build without -ldflags=-s")
	}
	code := map[string][]byte{}
	total := 0
	for i, body := range bodies {
		p := pkgOf(names[imports+uint64(i)])
		code[p] = append(code[p], body...)
		total += len(body)
	}
	pkgs := make([]string, 0, len(code))
	for p := range code {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return len(code[pkgs[i]]) > len(code[pkgs[j]]) })
	fmt.Printf("%-56s %10s %10s\n", "code by package (\"/\" written \"_\")", "raw", "gzip -9")
	rest, restN := []byte{}, 0
	for i, p := range pkgs {
		if i < top {
			fmt.Printf("%-56s %10d %10d\n", p, len(code[p]), gz(code[p]))
		} else {
			rest = append(rest, code[p]...)
			restN++
		}
	}
	if restN > 0 {
		fmt.Printf("%-56s %10d %10d\n", fmt.Sprintf("(%d other packages)", restN), len(rest), gz(rest))
	}
	fmt.Printf("%-56s %10d\n", "code, all packages", total)
	keys := make([]string, 0, len(sections))
	for k := range sections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%-56s %10d\n", k, sections[k])
	}
	fmt.Printf("%-56s %10d %10d\n", "module", len(b), gz(b))
	return nil
}

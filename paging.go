package opa

import (
	"slices"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Paging limits. A count above MaxPageCount is invalid input, so a client cannot make the server
// build an arbitrarily large page.
const (
	DefaultPageCount = 100
	MaxPageCount     = 1000
)

// PageRequest is the OPA/ASA paging of a list: Count items after (or, with Prev, before) the object
// whose id is Offset, in id order (reversed when Descending). Zero value: the first 100 items.
//
// Lists are ordered by object id, and Offset is compared with ids rather than looked up, so paging
// stays correct when the object named by Offset is deleted between two pages.
type PageRequest struct {
	Count      int
	Offset     string
	Prev       bool
	Descending bool
}

// Page is one page of a list. Next and Prev are the offsets for the following and preceding pages
// (use Next with Prev=false, Prev with Prev=true); empty when there is no such page.
type Page[T any] struct {
	Items []T
	Next  string
	Prev  string
}

func (r PageRequest) validate() error {
	if r.Count < 0 || r.Count > MaxPageCount {
		return invalidf("count must be between 1 and %d", MaxPageCount)
	}
	if len(r.Offset) > 256 {
		return invalidf("offset is too long")
	}
	return nil
}

// Paginate returns the page of items that req selects, by the rules of PageRequest. id gives each
// item's id; items need not be sorted and are not modified. It returns an ErrInvalid error for a
// count above MaxPageCount or a negative count. Safe for concurrent use. Packages that page a
// full list the engine returned (the HTTP handler) use it so that every list pages alike.
func Paginate[T any](items []T, id func(T) string, req PageRequest) (Page[T], error) {
	return paginate(items, id, req)
}

func paginate[T any](items []T, id func(T) string, req PageRequest) (Page[T], error) {
	if err := req.validate(); err != nil {
		return Page[T]{}, err
	}
	count := req.Count
	if count == 0 {
		count = DefaultPageCount
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b T) int {
		c := strings.Compare(id(a), id(b))
		if req.Descending {
			c = -c
		}
		return c
	})
	// after reports whether item id x comes after the offset in the list's order.
	after := func(x string) bool {
		if req.Descending {
			return x < req.Offset
		}
		return x > req.Offset
	}
	var lo, hi int // the page is sorted[lo:hi]
	switch {
	case req.Offset == "":
		lo, hi = 0, min(count, len(sorted))
		if req.Prev {
			lo, hi = max(0, len(sorted)-count), len(sorted)
		}
	case !req.Prev:
		lo, _ = slices.BinarySearchFunc(sorted, req.Offset, func(it T, off string) int {
			if after(id(it)) {
				return 1
			}
			return -1
		})
		hi = min(lo+count, len(sorted))
	default:
		end, _ := slices.BinarySearchFunc(sorted, req.Offset, func(it T, off string) int {
			if id(it) == off || after(id(it)) {
				return 1
			}
			return -1
		})
		lo, hi = max(0, end-count), end
	}
	p := Page[T]{Items: sorted[lo:hi]}
	if p.Items == nil {
		p.Items = []T{}
	}
	if hi < len(sorted) && hi > lo {
		p.Next = id(sorted[hi-1])
	}
	if lo > 0 && hi > lo {
		p.Prev = id(sorted[lo])
	}
	return p, nil
}

// pageSource is a paged list read from one index of a table: the records whose index equals args,
// in id order, that keep accepts (nil: all). in reports whether a record belongs to the index's
// range (its index fields equal args); the page reads use it for the cursor's own record, which a
// range read after the cursor leaves out.
type pageSource[T any] struct {
	table storage.Table[T]
	index storage.IndexName[T]
	args  []string
	in    func(*T) bool
	keep  func(*T) bool
	// borrow reads the stored records without copies (Table.BorrowRange): for views that copy
	// what they keep of a record.
	borrow bool
}

// rangePage returns the page of src that req selects, with paginate's rules and results (paginate
// over the whole filtered list is its reference), converting each record of the page with view,
// inside tx. id is a record's id.
//
// Cost: O(log N + k) for N records in the table, k the records the reads reach: one range read of
// at most Count+1 matches from the cursor on (Count+1 tells whether a page follows), and, when the
// page has a cursor, a point read of the cursor's record plus a range read in the other direction
// until its first match (does a page precede?). Without keep, k is the page plus two records; with
// keep, the reads also pass over the records keep refuses between the cursor and the page's end.
func rangePage[T, O any](tx storage.ReadTx, src pageSource[T], req PageRequest, id func(*T) string, view func(*T) O) (Page[O], error) {
	if err := req.validate(); err != nil {
		return Page[O]{}, err
	}
	count := req.Count
	if count == 0 {
		count = DefaultPageCount
	}
	read := func(r storage.Range) ([]*T, error) {
		if src.borrow {
			return src.table.BorrowRange(tx, src.index, r, src.keep)
		}
		return src.table.Range(tx, src.index, r, src.keep)
	}
	// The page runs in the list's order (req.Descending) from the cursor, or, with Prev, against
	// it: toward the cursor, so it is read backward and reversed.
	back := req.Prev
	recs, err := read(storage.Range{Args: src.args, After: req.Offset, Limit: count + 1, Descending: req.Descending != back})
	if err != nil {
		return Page[O]{}, err
	}
	more := len(recs) > count // a record lies beyond the page's far end
	recs = recs[:min(len(recs), count)]
	if back {
		slices.Reverse(recs)
	}
	p := Page[O]{Items: make([]O, len(recs))}
	for i, r := range recs {
		p.Items[i] = view(r)
	}
	if len(recs) == 0 {
		return p, nil
	}
	// behind reports whether the list holds a record at or on the other side of the cursor.
	behind := func() (bool, error) {
		if req.Offset == "" {
			return false, nil
		}
		if cur, err := src.table.Borrow(tx, req.Offset); err == nil && src.in(cur) && (src.keep == nil || src.keep(cur)) {
			return true, nil
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return false, err
		}
		rs, err := src.table.BorrowRange(tx, src.index, storage.Range{Args: src.args, After: req.Offset, Limit: 1, Descending: req.Descending == back}, src.keep)
		return len(rs) > 0, err
	}
	var before, after bool // records precede the page's first item, follow its last
	if back {
		before = more
		if after, err = behind(); err != nil {
			return Page[O]{}, err
		}
	} else {
		after = more
		if before, err = behind(); err != nil {
			return Page[O]{}, err
		}
	}
	if after {
		p.Next = id(recs[len(recs)-1])
	}
	if before {
		p.Prev = id(recs[0])
	}
	return p, nil
}

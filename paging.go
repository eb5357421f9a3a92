package opa

import (
	"slices"
	"strings"
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

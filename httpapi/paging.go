package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// pageRequest reads count, offset, prev and descending from the query. A parameter given twice
// counts once (the first value). A count that is not a number, below 1 or above opa.MaxPageCount
// is an ErrInvalid error.
func pageRequest(r *http.Request) (opa.PageRequest, error) {
	q := r.URL.Query()
	var pr opa.PageRequest
	if c := q.Get("count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > opa.MaxPageCount {
			return pr, errclass.Mark(errclass.Invalid, "count must be a number between 1 and %d", opa.MaxPageCount)
		}
		pr.Count = n
	}
	pr.Offset = q.Get("offset")
	var err error
	if pr.Prev, err = queryBool(r, "prev"); err != nil {
		return pr, err
	}
	if pr.Descending, err = queryBool(r, "descending"); err != nil {
		return pr, err
	}
	return pr, nil
}

// writePage writes a page as {"list":[…]} with RFC 8288 Link headers for the next and previous
// pages. The links are absolute and keep the caller's query (filters, count, descending), changing
// only offset and prev. The header is sent only when there is a further page in the direction the
// request walks (a next page; a previous one for prev=true): the provider's list loops stop only
// when it is absent (docs/wire.md#paging).
func writePage[T any](w http.ResponseWriter, r *http.Request, p opa.Page[T]) {
	further := p.Next
	if prev, _ := queryBool(r, "prev"); prev {
		further = p.Prev
	}
	if further == "" {
		p.Next, p.Prev = "", ""
	}
	var links []string
	if p.Next != "" {
		links = append(links, "<"+pageURL(r, p.Next, false)+`>; rel="next"`)
	}
	if p.Prev != "" {
		links = append(links, "<"+pageURL(r, p.Prev, true)+`>; rel="prev"`)
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	items := p.Items
	if items == nil {
		items = []T{}
	}
	encode(w, http.StatusOK, list[T]{List: items})
}

// pageURL is the absolute URL of the request with offset and prev replaced.
func pageURL(r *http.Request, offset string, prev bool) string {
	q := r.URL.Query()
	for k, vs := range q {
		// A filter given twice is kept once, so links do not grow page after page.
		if len(vs) > 1 && allSame(vs) {
			q[k] = vs[:1]
		}
	}
	q.Set("offset", offset)
	if prev {
		q.Set("prev", "true")
	} else {
		q.Del("prev")
	}
	u := url.URL{Scheme: scheme(r), Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

func allSame(vs []string) bool {
	for _, v := range vs[1:] {
		if v != vs[0] {
			return false
		}
	}
	return true
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		return p
	}
	return "http"
}

// paginate pages a whole list with the engine's own paging rules (opa.Paginate), for engine
// operations that return a full slice (a user's service keys: a handful). The engine's paged lists
// return one page themselves, read from an index (O(page)); a list that may grow large belongs
// there. req was validated by pageRequest, so an error cannot occur; should one, the page is
// empty rather than wrong.
func paginate[T any](items []T, id func(T) string, req opa.PageRequest) opa.Page[T] {
	p, err := opa.Paginate(items, id, req)
	if err != nil {
		return opa.Page[T]{Items: []T{}}
	}
	return p
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opakit/opa/internal/errclass"
)

// RecordedRequest is a request the handler served, as listed by GET /_fake/requests.
//
// Headers leave out Authorization, Cookie, Proxy-Authorization and X-Opa-Token; each value is cut
// at 1 KiB and at most 32 values are kept. Query is the raw query with the value of every
// secret-named parameter replaced by REDACTED. A JSON body is re-encoded with the value of every
// secret-named member replaced by "REDACTED" (names are compared the way encoding/json matches
// them to struct fields: case-insensitively, with Unicode simple folding, so "KEY_ſECRET" is
// key_secret). When the redacted body fits in 16 KiB it is Body; otherwise BodyPrefix holds its
// first 16 KiB followed by a "…[truncated …]" marker. A body that is not JSON is never kept.
// BodyBytes is the size of the body as received.
type RecordedRequest struct {
	At               time.Time           `json:"at"`
	Method           string              `json:"method"`
	Path             string              `json:"path"`
	Query            string              `json:"query,omitempty"`
	Headers          map[string][]string `json:"headers,omitempty"`
	HeadersTruncated bool                `json:"headers_truncated,omitempty"`
	Body             json.RawMessage     `json:"body,omitempty"`
	BodyPrefix       string              `json:"body_prefix,omitempty"`
	BodyBytes        int64               `json:"body_bytes,omitempty"`
	Status           int                 `json:"status"`
}

// Bounds of the request log. The log keeps the newest entries within both maxRecorded and
// maxRecordedBytes (the size of the entries' JSON encodings), so it never holds more than
// about 8 MiB however large or many the requests are.
const (
	maxRecorded      = 1000
	maxRecordedBytes = 8 << 20
	maxRecordedBody  = 16 << 10 // per body, after redaction
	maxRecordedQuery = 4 << 10
	maxHeaderValue   = 1 << 10
	maxHeaderValues  = 32
)

// recorder keeps the newest requests, oldest first. It is safe for concurrent use.
type recorder struct {
	mu    sync.Mutex
	reqs  []recordedEntry
	bytes int // sum of the entries' sizes
}

type recordedEntry struct {
	rec  RecordedRequest
	size int
}

func (rc *recorder) clear() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs, rc.bytes = nil, 0
}

// page returns up to limit recorded requests from the offset-th oldest on. Its cost is O(limit).
func (rc *recorder) page(offset, limit int) []RecordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if offset >= len(rc.reqs) {
		return []RecordedRequest{}
	}
	end := min(len(rc.reqs), offset+limit)
	out := make([]RecordedRequest, 0, end-offset)
	for _, e := range rc.reqs[offset:end] {
		out = append(out, e.rec)
	}
	return out
}

func (rc *recorder) add(rec RecordedRequest) {
	b, _ := json.Marshal(rec)
	size := len(b) + 1
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = append(rc.reqs, recordedEntry{rec: rec, size: size})
	rc.bytes += size
	drop := 0
	for len(rc.reqs)-drop > maxRecorded || rc.bytes > maxRecordedBytes {
		rc.bytes -= rc.reqs[drop].size
		drop++
	}
	if drop > 0 {
		// Move the survivors down so the backing array does not keep the dropped entries alive.
		n := copy(rc.reqs, rc.reqs[drop:])
		clear(rc.reqs[n:])
		rc.reqs = rc.reqs[:n]
	}
}

// statusWriter remembers the status a handler wrote, and the request body it read.
type statusWriter struct {
	http.ResponseWriter
	status    int
	body      []byte
	bodyBytes int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// start reads the request body (already capped at maxBody by ServeHTTP) so that it can be
// recorded, and gives the handler a body that replays it, ending with the read's error if any (a
// body over the cap still fails the handler's read).
func (rc *recorder) start(w http.ResponseWriter, r *http.Request) *statusWriter {
	sw := &statusWriter{ResponseWriter: w}
	if r.Body == nil || r.Body == http.NoBody {
		return sw
	}
	if r.ContentLength > maxBody {
		sw.bodyBytes = r.ContentLength // refused unread by ServeHTTP
		return sw
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(0, r.ContentLength)+bytes.MinRead)) // one allocation when the length is known
	_, err := buf.ReadFrom(r.Body)
	body := buf.Bytes()
	sw.body, sw.bodyBytes = body, int64(len(body))
	r.Body = &replayBody{r: bytes.NewReader(body), err: err}
	return sw
}

// replayBody returns the bytes read, then err (io.EOF when the read succeeded).
type replayBody struct {
	r   *bytes.Reader
	err error
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }

func (rc *recorder) finish(sw *statusWriter, r *http.Request) {
	rec := RecordedRequest{At: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Status: sw.status, BodyBytes: sw.bodyBytes}
	rec.Query = redactQuery(r.URL.RawQuery, maxRecordedQuery)
	n := 0
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Cookie", "Proxy-Authorization", "X-Opa-Token":
			continue
		}
		for _, v := range vs {
			if n == maxHeaderValues {
				rec.HeadersTruncated = true
				break
			}
			if rec.Headers == nil {
				rec.Headers = map[string][]string{}
			}
			if len(v) > maxHeaderValue {
				v, rec.HeadersTruncated = cutUTF8(v, maxHeaderValue)+"…[truncated]", true
			}
			rec.Headers[k] = append(rec.Headers[k], v)
			n++
		}
	}
	if len(sw.body) > 0 {
		if out, whole, ok := redactJSON(sw.body, maxRecordedBody); ok && whole {
			rec.Body = out
		} else if ok {
			rec.BodyPrefix = cutUTF8(string(out), maxRecordedBody) + "…[truncated: the body had " + strconv.Itoa(len(sw.body)) + " bytes]"
		}
	}
	sw.body = nil
	rc.add(rec)
}

// cutUTF8 returns at most n bytes of s, dropping a rune cut in two.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// listRequests answers GET /_fake/requests[?offset=N&limit=M]: the recorded requests, oldest
// first, from the offset-th (default 0) on, at most limit (1-1000, default 1000) of them. The
// answer is at most about maxRecordedBytes.
func (h *Handler) listRequests(w http.ResponseWriter, r *http.Request) error {
	offset, err := intParam(r, "offset", 0, 0, maxRecorded)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", maxRecorded, 1, maxRecorded)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, list[RecordedRequest]{List: h.ctl.Requests(offset, limit)})
	return nil
}

// intParam reads an integer query parameter between lo and hi (def when absent).
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errclass.Mark(errclass.Invalid, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

func (h *Handler) clearRequests(w http.ResponseWriter, r *http.Request) error {
	h.ctl.ClearRequests()
	noContent(w)
	return nil
}

package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/opatest"
)

// Without WithControls the /_fake/ paths do not exist.
func TestControlsDisabled(t *testing.T) {
	srv := opatest.NewServer(t)
	ts := httptest.NewServer(httpapi.New(srv.Handler.Engine()))
	defer ts.Close()
	for _, p := range []string{"/_fake/clock", "/_fake/requests", "/_fake/faults"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: status %d", p, resp.StatusCode)
		}
	}
}

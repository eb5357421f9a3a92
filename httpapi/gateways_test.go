package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/opatest"
)

// demoGatewayID is the demo fixture's gateway (the seed's gateway1, which the demo connection uses).
const demoGatewayID = "5a3af768-063f-4a12-a056-8ef24e555555"

// tfGateway is the provider's Gateway struct (oktapam/client/gateway.go): plain values, so a
// missing key decodes to its zero value.
type tfGateway struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	AccessAddress     string            `json:"access_address"`
	DefaultAddress    string            `json:"default_address"`
	Description       string            `json:"description"`
	CloudProvider     string            `json:"cloud_provider"`
	RefuseConnections bool              `json:"refuse_connections"`
	Labels            map[string]string `json:"labels"`
}

var demoGateway = tfGateway{ID: demoGatewayID, Name: "gateway1", AccessAddress: "gw1.corp.example.com",
	DefaultAddress: "10.0.0.5", Description: "The gateway of corp.example.com", CloudProvider: "aws",
	Labels: map[string]string{"env": "test", "site": "corp"}}

// wantGateways checks a gateway list body as the provider decodes it.
func wantGateways(want ...tfGateway) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var l struct {
			List []tfGateway `json:"list"`
		}
		r.json(t, &l)
		if want == nil {
			want = []tfGateway{}
		}
		if l.List == nil {
			t.Errorf("list is %s, want an array", r.body)
		}
		if diff := cmp.Diff(want, l.List); diff != "" {
			t.Errorf("gateways (-want +got):\n%s", diff)
		}
		if link := r.header.Get("Link"); link != "" {
			t.Errorf("a one-page list carries Link %q", link)
		}
		// Every field is present, so the SDK and the provider read the same thing.
		var raw struct {
			List []map[string]json.RawMessage `json:"list"`
		}
		r.json(t, &raw)
		for _, g := range raw.List {
			for _, k := range []string{"id", "name", "access_address", "default_address", "description", "cloud_provider", "refuse_connections", "labels"} {
				if _, ok := g[k]; !ok {
					t.Errorf("gateway %s has no %q", g["id"], k)
				}
			}
			if string(g["labels"]) == "null" {
				t.Errorf("gateway %s: labels null, want an object", g["id"])
			}
		}
	}
}

func wantGateway(want tfGateway) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var g tfGateway
		r.json(t, &g)
		if diff := cmp.Diff(want, g); diff != "" {
			t.Errorf("gateway (-want +got):\n%s", diff)
		}
	}
}

// TestGatewaysRoutes: GET …/gateways lists the fixture's gateways with the provider's fields,
// contains filters on the name (case-insensitively) before paging, and GET …/gateways/{id}
// reads one; each documented error.
func TestGatewaysRoutes(t *testing.T) {
	e := newEnv(t)
	steps := []step{
		{"list", "all", "GET", "/gateways", nil, 200, wantGateways(demoGateway)},
		{"list as resource admin", "resource", "GET", "/gateways", nil, 200, wantGateways(demoGateway)},
		{"list as security admin", "security", "GET", "/gateways", nil, 200, wantGateways(demoGateway)},
		{"list as delegated resource admin", "delegated", "GET", "/gateways", nil, 200, wantGateways(demoGateway)},
		{"list contains", "all", "GET", "/gateways?contains=TEWAY1", nil, 200, wantGateways(demoGateway)},
		{"list contains twice (the provider's loop)", "all", "GET", "/gateways?contains=way&contains=way", nil, 200, wantGateways(demoGateway)},
		{"list contains nothing", "all", "GET", "/gateways?contains=nope", nil, 200, wantGateways()},
		{"list SDK paging", "all", "GET", "/gateways?count=1&descending=true", nil, 200, wantGateways(demoGateway)},
		{"list bad count", "all", "GET", "/gateways?count=0", nil, 400, nil},
		{"list bad descending", "all", "GET", "/gateways?descending=maybe", nil, 400, nil},
		{"list as end user", "end_user", "GET", "/gateways", nil, 401, wantMissingRole},
		{"list unauthenticated", "", "GET", "/gateways", nil, 401, nil},
		{"get", "all", "GET", "/gateways/" + demoGatewayID, nil, 200, wantGateway(demoGateway)},
		{"get unknown", "all", "GET", "/gateways/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"get not a uuid", "all", "GET", "/gateways/gateway1", nil, 404, nil},
		{"get as end user", "end_user", "GET", "/gateways/" + demoGatewayID, nil, 401, wantMissingRole},
	}
	runSteps(t, e, steps)
}

// wantMissingRole checks the 401 missing-role answer (docs/wire.md#errors).
func wantMissingRole(t *testing.T, r response) {
	var body struct {
		Type string `json:"type"`
	}
	r.json(t, &body)
	if body.Type != "authorization_error" {
		t.Errorf("type %q, want authorization_error: %s", body.Type, r.body)
	}
}

// TestClientWireGateways (issue 17 B): the provider's ListGateways loop, with contains as the data
// source sends it, walks 130 fixture gateways page by page, gets each match once, and stops on
// the page without a Link header; the AD tests' gateways[0].id is a gateway the list names.
func TestClientWireGateways(t *testing.T) {
	doc := demoWith(t, func(doc map[string]any) {
		team := doc["teams"].([]any)[0].(map[string]any)
		gws := team["gateways"].([]any)
		for i := range 130 {
			name := fmt.Sprintf("edge-%03d", i)
			if i%4 == 0 {
				name = fmt.Sprintf("core-%03d", i)
			}
			gws = append(gws, map[string]any{"name": name, "labels": map[string]any{"n": fmt.Sprint(i)}})
		}
		team["gateways"] = gws
	})
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(doc))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	e.login()
	items, pages := e.handWrittenList("all", "/gateways", map[string]string{"contains": "edge"})
	if len(items) != 97 { // 130 minus the 33 core gateways
		t.Fatalf("contains=edge: %d gateways, want 97", len(items))
	}
	if diff := cmp.Diff([]int{97}, pages); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	seen := map[string]bool{}
	for _, g := range items {
		id := g["id"].(string)
		if seen[id] || !strings.HasPrefix(g["name"].(string), "edge-") {
			t.Fatalf("gateway %v twice or not an edge gateway", g)
		}
		seen[id] = true
	}
	all, pages := e.handWrittenList("all", "/gateways", nil)
	if len(all) != 131 || len(pages) != 2 || pages[0] != 100 {
		t.Fatalf("all gateways: %d on pages %v, want 131 on pages of 100 and 31", len(all), pages)
	}
	// The SDK's count and offset walk the same list.
	var walked int
	path := "/gateways?count=50&contains=core"
	for range 10 {
		r := e.must(200, "resource", "GET", path, nil)
		var l struct {
			List []tfGateway `json:"list"`
		}
		r.json(t, &l)
		walked += len(l.List)
		next := links(r.header.Get("Link"))["next"]
		if next == "" {
			break
		}
		path = next
	}
	if walked != 33 {
		t.Fatalf("SDK walk of contains=core: %d gateways, want 33", walked)
	}
}

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

// tfSetupToken is the provider's GatewaySetupToken (oktapam/client/gateway_setup_token.go).
type tfSetupToken struct {
	ID               *string `json:"id,omitempty"`
	Description      *string `json:"description"`
	RegistrationType *string `json:"registration_type"`
	CreatedAt        *string `json:"created_at,omitempty"`
	Details          *struct {
		Labels map[string]string `json:"labels,omitempty"`
	} `json:"details,omitempty"`
	Token *string `json:"token,omitempty"`
}

// tfSetupTokenBody is what the provider's CreateGatewaySetupToken sends.
func tfSetupTokenBody(description string, labels map[string]string) string {
	b, _ := json.Marshal(map[string]any{"description": description, "registration_type": "gateway-agent",
		"details": map[string]any{"labels": labels}})
	return string(b)
}

func wantSetupToken(description string, labels map[string]string, withValue bool) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var tok tfSetupToken
		r.json(t, &tok)
		if tok.ID == nil || *tok.ID == "" || tok.CreatedAt == nil || tok.Description == nil || *tok.Description != description ||
			tok.RegistrationType == nil || *tok.RegistrationType != "gateway-agent" || tok.Details == nil {
			t.Fatalf("setup token %s", r.body)
		}
		if diff := cmp.Diff(labels, tok.Details.Labels); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
		if withValue != (tok.Token != nil && *tok.Token != "") {
			t.Errorf("token in %s, want a value: %v", r.body, withValue)
		}
		// The SDK picks the GatewayAgent variant of details by its "Type" key.
		var sdk struct {
			Details map[string]any `json:"details"`
		}
		r.json(t, &sdk)
		if sdk.Details["Type"] != "gateway-agent" {
			t.Errorf("details.Type %v, want gateway-agent", sdk.Details["Type"])
		}
	}
}

// TestGatewaySetupTokenRoutes: create (201, with the value), get (without), the token route (with),
// list (without, paged), delete (204); each documented error.
func TestGatewaySetupTokenRoutes(t *testing.T) {
	e := newEnv(t)
	labels := map[string]string{"key-a": "value-a", "key-b": "value-b"}
	r := e.must(201, "resource", "POST", "/gateway_setup_tokens", tfSetupTokenBody("Acceptance Test Setup Token: x1", labels))
	wantSetupToken("Acceptance Test Setup Token: x1", labels, true)(t, r)
	var created tfSetupToken
	r.json(t, &created)
	id := *created.ID
	steps := []step{
		{"get", "all", "GET", "/gateway_setup_tokens/" + id, nil, 200, wantSetupToken("Acceptance Test Setup Token: x1", labels, false)},
		{"get as delegated resource admin", "delegated", "GET", "/gateway_setup_tokens/" + id, nil, 200, nil},
		{"token", "all", "GET", "/gateway_setup_tokens/" + id + "/token", nil, 200, func(t *testing.T, r response) {
			wantSetupToken("Acceptance Test Setup Token: x1", labels, true)(t, r)
			var v tfSetupToken
			r.json(t, &v)
			if *v.Token != *created.Token {
				t.Errorf("token route %q, create answered %q", *v.Token, *created.Token)
			}
		}},
		{"list", "all", "GET", "/gateway_setup_tokens", nil, 200, func(t *testing.T, r response) {
			var l struct {
				List []tfSetupToken `json:"list"`
			}
			r.json(t, &l)
			if len(l.List) != 1 || *l.List[0].ID != id || l.List[0].Token != nil {
				t.Errorf("list %s: want the token without its value", r.body)
			}
		}},
		{"list bad count", "all", "GET", "/gateway_setup_tokens?count=-1", nil, 400, nil},
		{"create SDK body", "all", "POST", "/gateway_setup_tokens",
			`{"id":"","name":"sdk-token","description":null,"details":{"labels":{"env":"x"}},"registration_type":"gateway-agent"}`, 201,
			func(t *testing.T, r response) {
				wantSetupToken("", map[string]string{"env": "x"}, true)(t, r)
				if !strings.Contains(string(r.body), `"name":"sdk-token"`) {
					t.Errorf("name missing: %s", r.body)
				}
			}},
		{"create with details.Type", "all", "POST", "/gateway_setup_tokens", `{"description":"t","registration_type":"gateway-agent","details":{"Type":"gateway-agent","labels":{}}}`, 201, nil},
		{"create bad registration type", "all", "POST", "/gateway_setup_tokens", `{"description":"d","registration_type":"server","details":{"labels":{}}}`, 400, nil},
		{"create bad details.Type", "all", "POST", "/gateway_setup_tokens", `{"description":"d","details":{"Type":"orchestrator"}}`, 400, nil},
		{"create with an orchestrator", "all", "POST", "/gateway_setup_tokens", `{"description":"d","details":{"infrastructure_orchestrator":{"id":"x"}}}`, 400, nil},
		{"create bad label", "all", "POST", "/gateway_setup_tokens", `{"description":"d","details":{"labels":{"a=b":"c"}}}`, 400, nil},
		{"create labels not strings", "all", "POST", "/gateway_setup_tokens", `{"description":"d","details":{"labels":{"a":1}}}`, 400, nil},
		{"create no body", "all", "POST", "/gateway_setup_tokens", nil, 400, nil},
		{"create malformed", "all", "POST", "/gateway_setup_tokens", `{"description":`, 400, nil},
		{"create as security admin", "security", "POST", "/gateway_setup_tokens", tfSetupTokenBody("s", nil), 401, wantMissingRole},
		{"get as security admin", "security", "GET", "/gateway_setup_tokens/" + id, nil, 401, wantMissingRole},
		{"token as end user", "end_user", "GET", "/gateway_setup_tokens/" + id + "/token", nil, 401, wantMissingRole},
		{"get unknown", "all", "GET", "/gateway_setup_tokens/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"token unknown", "all", "GET", "/gateway_setup_tokens/00000000-0000-4000-8000-000000000000/token", nil, 404, nil},
		{"delete unknown", "all", "DELETE", "/gateway_setup_tokens/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"delete as security admin", "security", "DELETE", "/gateway_setup_tokens/" + id, nil, 401, wantMissingRole},
		{"delete", "resource", "DELETE", "/gateway_setup_tokens/" + id, nil, 204, nil},
		{"get after delete", "all", "GET", "/gateway_setup_tokens/" + id, nil, 404, nil},
		{"token after delete", "all", "GET", "/gateway_setup_tokens/" + id + "/token", nil, 404, nil},
		{"delete twice", "all", "DELETE", "/gateway_setup_tokens/" + id, nil, 404, nil},
	}
	runSteps(t, e, steps)
}

// TestClientWireGatewaySetupTokens (issue 17 B): the provider's TestAccGatewaySetupToken and its
// data source tests, request by request as its client sends them: create two tokens, read each
// back (GET, then the token route, as GetGatewaySetupToken does), list with the client-side
// description filter and fetch every value, then destroy and check that none is left. The
// resource and the data source must read the same attributes (checkResourcesEqual).
func TestClientWireGatewaySetupTokens(t *testing.T) {
	e := newEnv(t)
	labels := map[string]string{}
	for i := range 10 {
		labels[fmt.Sprintf("key-%c%d", 'a'+i, i)] = fmt.Sprintf("value-%d", i)
	}
	// read is the provider's GetGatewaySetupToken: the token, then its value.
	read := func(id string) tfSetupToken {
		var tok tfSetupToken
		e.must(200, "all", "GET", "/gateway_setup_tokens/"+id, nil).json(t, &tok)
		var v struct {
			Token *string `json:"token,omitempty"`
		}
		e.must(200, "all", "GET", "/gateway_setup_tokens/"+id+"/token", nil).json(t, &v)
		tok.Token = v.Token
		return tok
	}
	var ids []string
	for _, d := range []string{"Acceptance Test Setup Token Set ab12: 1", "Acceptance Test Setup Token Set ab12: 2"} {
		var c tfSetupToken
		e.must(201, "all", "POST", "/gateway_setup_tokens", tfSetupTokenBody(d, labels)).json(t, &c)
		got := read(*c.ID)
		if *got.Token == "" || *got.Description != d || cmp.Diff(labels, got.Details.Labels) != "" {
			t.Fatalf("read back %+v", got)
		}
		ids = append(ids, *c.ID)
	}
	// An unrelated token the filter leaves out.
	e.must(201, "all", "POST", "/gateway_setup_tokens", tfSetupTokenBody("someone else's", nil))

	// ListGatewaySetupTokens: walk the pages, filter by description, then fetch each value.
	items, _ := e.handWrittenList("all", "/gateway_setup_tokens", nil)
	var matched []map[string]any
	for _, it := range items {
		if strings.Contains(it["description"].(string), "ab12") {
			matched = append(matched, it)
		}
	}
	if len(matched) != 2 {
		t.Fatalf("description filter: %d tokens, want 2", len(matched))
	}
	// checkResourcesEqual: the data source reads what the resource read.
	byList := read(matched[0]["id"].(string))
	direct := read(matched[0]["id"].(string))
	if diff := cmp.Diff(direct, byList); diff != "" {
		t.Fatalf("resource and data source differ (-resource +data source):\n%s", diff)
	}
	for _, id := range ids {
		e.must(204, "all", "DELETE", "/gateway_setup_tokens/"+id, nil)
		if r := e.do("all", "GET", "/gateway_setup_tokens/"+id, nil); r.status != 404 {
			t.Fatalf("read after destroy: %d, want 404 (the provider drops the resource)", r.status)
		}
	}
	items, _ = e.handWrittenList("all", "/gateway_setup_tokens", nil)
	for _, it := range items {
		if strings.Contains(it["description"].(string), "ab12") {
			t.Fatalf("CheckDestroy: token %v still listed", it)
		}
	}
}

// TestGatewayInstanceRoutes: the SDK-only PUT and DELETE …/gateways/{id} and …/status, with the
// SDK's bodies (GatewayAgent, GatewayStatusReport); each documented error.
func TestGatewayInstanceRoutes(t *testing.T) {
	doc := demoWith(t, func(doc map[string]any) {
		team := doc["teams"].([]any)[0].(map[string]any)
		team["gateways"] = append(team["gateways"].([]any), map[string]any{"id": "6b4b0879-174a-4b23-b167-9f035f666666", "name": "spare"})
	})
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(doc))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	e.login()
	const spare = "/gateways/6b4b0879-174a-4b23-b167-9f035f666666"
	relabeled := demoGateway
	relabeled.Labels = map[string]string{"env": "prod"}
	steps := []step{
		{"status", "security", "GET", "/gateways/" + demoGatewayID + "/status", nil, 200, func(t *testing.T, r response) {
			var got map[string]any
			r.json(t, &got)
			want := map[string]any{"active_connections": 2.0, "gateway_id": demoGatewayID, "status": "ACTIVE",
				"total_storage_bytes": 10737418240.0, "used_storage_bytes": 1073741824.0}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status report (-want +got):\n%s", diff)
			}
		}},
		{"status never reported", "all", "GET", spare + "/status", nil, 200, func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"status":null`) || !strings.Contains(string(r.body), `"active_connections":0`) {
				t.Errorf("status report of a silent gateway: %s", r.body)
			}
		}},
		{"status unknown", "all", "GET", "/gateways/00000000-0000-4000-8000-000000000000/status", nil, 404, nil},
		{"status as end user", "end_user", "GET", "/gateways/" + demoGatewayID + "/status", nil, 401, wantMissingRole},
		{"update labels", "delegated", "PUT", "/gateways/" + demoGatewayID, `{"labels":{"env":"prod"}}`, 204, nil},
		{"read back", "all", "GET", "/gateways/" + demoGatewayID, nil, 200, wantGateway(relabeled)},
		{"update without labels changes nothing", "all", "PUT", "/gateways/" + demoGatewayID, `{"infrastructure_orchestrator":null}`, 204, nil},
		{"read back unchanged", "all", "GET", "/gateways/" + demoGatewayID, nil, 200, wantGateway(relabeled)},
		{"update bad label", "all", "PUT", "/gateways/" + demoGatewayID, `{"labels":{"a=b":"c"}}`, 400, nil},
		{"update orchestrator", "all", "PUT", "/gateways/" + demoGatewayID, `{"infrastructure_orchestrator":{"id":"x"}}`, 400, nil},
		{"update labels not an object", "all", "PUT", "/gateways/" + demoGatewayID, `{"labels":["a"]}`, 400, nil},
		{"update no body", "all", "PUT", "/gateways/" + demoGatewayID, nil, 400, nil},
		{"update unknown", "all", "PUT", "/gateways/00000000-0000-4000-8000-000000000000", `{"labels":{}}`, 404, nil},
		{"update as security admin", "security", "PUT", "/gateways/" + demoGatewayID, `{"labels":{}}`, 401, wantMissingRole},
		{"read back after refusals", "all", "GET", "/gateways/" + demoGatewayID, nil, 200, wantGateway(relabeled)},
		{"delete in use", "all", "DELETE", "/gateways/" + demoGatewayID, nil, 409, nil},
		{"delete as security admin", "security", "DELETE", spare, nil, 401, wantMissingRole},
		{"delete", "resource", "DELETE", spare, nil, 204, nil},
		{"get after delete", "all", "GET", spare, nil, 404, nil},
		{"delete twice", "all", "DELETE", spare, nil, 404, nil},
		{"list after delete", "all", "GET", "/gateways", nil, 200, wantGateways(relabeled)},
	}
	runSteps(t, e, steps)
}

// TestConnectionGatewayName: an ASA connection's gateway_name is its gateway's name, as the seed's
// GET shows for a create request that sent none; a gateway_id the team has no gateway of keeps
// the gateway_name sent.
func TestConnectionGatewayName(t *testing.T) {
	e := newEnv(t)
	name := func(id string) string {
		var c struct {
			GatewayName string `json:"gateway_name"`
		}
		e.must(200, "all", "GET", "/integrations/ad_connections/"+id, nil).json(t, &c)
		return c.GatewayName
	}
	create := func(domain, gatewayID, gatewayName string) string {
		body := newConnBody(domain)
		body["gateway_id"] = gatewayID
		delete(body, "gateway_name")
		if gatewayName != "" {
			body["gateway_name"] = gatewayName
		}
		var c struct {
			ID string `json:"id"`
		}
		e.must(201, "all", "POST", "/integrations/ad_connections", body).json(t, &c) // the seed's create answer has no gateway_name
		return c.ID
	}
	if got := name(create("gwname1.example.com", demoGatewayID, "")); got != "gateway1" {
		t.Errorf("no gateway_name sent: %q, want gateway1", got)
	}
	if got := name(create("gwname2.example.com", strings.ToUpper(demoGatewayID), "stale")); got != "gateway1" {
		t.Errorf("a stale gateway_name sent: %q, want the gateway's gateway1", got)
	}
	unknown := create("gwname3.example.com", "6b4b0879-174a-4b23-b167-9f035f666666", "elsewhere")
	if got := name(unknown); got != "elsewhere" {
		t.Errorf("unknown gateway: %q, want the name sent", got)
	}
	// An update onto the demo gateway takes its name.
	body := newConnBody("gwname3.example.com")
	body["gateway_id"] = demoGatewayID
	body["gateway_name"] = ""
	e.must(204, "all", "PUT", "/integrations/ad_connections/"+unknown, body)
	if got := name(unknown); got != "gateway1" {
		t.Errorf("after moving to the demo gateway: %q, want gateway1", got)
	}
}

// TestControlsRegisterGateway: a gateway agent started with a setup token made over the API
// (POST /_fake/gateways standing in for its enrollment) joins the team with the token's labels
// and is listed; a wrong, foreign or deleted token is 401 and registers nothing; the request log
// does not keep the value.
func TestControlsRegisterGateway(t *testing.T) {
	e := newEnv(t)
	var tok tfSetupToken
	e.must(201, "resource", "POST", "/gateway_setup_tokens", tfSetupTokenBody("edge agents", map[string]string{"env": "edge"})).json(t, &tok)
	r := e.must(201, "", "POST", "/_fake/gateways", map[string]any{"setup_token": *tok.Token, "name": "edge-1",
		"access_address": "edge-1.example.com", "cloud_provider": "gce", "labels": map[string]string{"host": "e1", "env": "dev"}})
	var g tfGateway
	r.json(t, &g)
	want := tfGateway{ID: g.ID, Name: "edge-1", AccessAddress: "edge-1.example.com", CloudProvider: "gce",
		Labels: map[string]string{"host": "e1", "env": "edge"}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Fatalf("registered gateway (-want +got):\n%s", diff)
	}
	e.must(200, "all", "GET", "/gateways?contains=edge", nil)
	wantGateways(want)(t, e.must(200, "all", "GET", "/gateways?contains=edge", nil))

	steps := []step{
		{"taken name", "", "POST", "/_fake/gateways", map[string]any{"setup_token": *tok.Token, "name": "EDGE-1"}, 409, nil},
		{"no name", "", "POST", "/_fake/gateways", map[string]any{"setup_token": *tok.Token}, 400, nil},
		{"no token", "", "POST", "/_fake/gateways", map[string]any{"name": "edge-2"}, 400, nil},
		{"garbage token", "", "POST", "/_fake/gateways", map[string]any{"setup_token": "not-a-token", "name": "edge-2"}, 401, nil},
		{"tampered token", "", "POST", "/_fake/gateways", map[string]any{"setup_token": *tok.Token + "AA", "name": "edge-2"}, 401, nil},
		{"delete the token", "resource", "DELETE", "/gateway_setup_tokens/" + *tok.ID, nil, 204, nil},
		{"deleted token", "", "POST", "/_fake/gateways", map[string]any{"setup_token": *tok.Token, "name": "edge-2"}, 401, func(t *testing.T, r response) {
			if strings.Contains(string(r.body), *tok.Token) {
				t.Errorf("the answer repeats the token: %s", r.body)
			}
		}},
		{"the gateway stays", "all", "GET", "/gateways/" + g.ID, nil, 200, wantGateway(want)},
		{"nothing else registered", "all", "GET", "/gateways?contains=edge", nil, 200, wantGateways(want)},
		{"the log keeps no value", "", "GET", "/_fake/requests", nil, 200, func(t *testing.T, r response) {
			if strings.Contains(string(r.body), *tok.Token) {
				t.Errorf("the request log holds the setup token")
			}
		}},
	}
	runSteps(t, e, steps)
}

// TestGatewayTeamIsolation: another team's administrator, signed in to their own team, reaches
// neither the demo team's gateways nor its setup tokens by id, and lists none of them.
func TestGatewayTeamIsolation(t *testing.T) {
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(matrixFixture(t)))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	e.login()
	var st struct {
		BearerToken string `json:"bearer_token"`
	}
	e.must(200, "", "POST", "/v1/teams/other/service_token",
		map[string]string{"key_id": "8e2f3a4b-5c6d-4e7f-8091-a2b3c4d5e6f7", "key_secret": "other-admin-secret"}).json(t, &st)
	e.tokens["other"] = st.BearerToken
	var tok tfSetupToken
	e.must(201, "all", "POST", "/gateway_setup_tokens", tfSetupTokenBody("demo's", nil)).json(t, &tok)
	base := "/v1/teams/other"
	runSteps(t, e, []step{
		{"gateway by id", "other", "GET", base + "/gateways/" + demoGatewayID, nil, 404, nil},
		{"gateway status by id", "other", "GET", base + "/gateways/" + demoGatewayID + "/status", nil, 404, nil},
		{"gateway update by id", "other", "PUT", base + "/gateways/" + demoGatewayID, `{"labels":{}}`, 404, nil},
		{"gateway delete by id", "other", "DELETE", base + "/gateways/" + demoGatewayID, nil, 404, nil},
		{"gateway list", "other", "GET", base + "/gateways", nil, 200, wantGateways()},
		{"token by id", "other", "GET", base + "/gateway_setup_tokens/" + *tok.ID, nil, 404, nil},
		{"token value by id", "other", "GET", base + "/gateway_setup_tokens/" + *tok.ID + "/token", nil, 404, nil},
		{"token delete by id", "other", "DELETE", base + "/gateway_setup_tokens/" + *tok.ID, nil, 404, nil},
		{"token list", "other", "GET", base + "/gateway_setup_tokens", nil, 200, func(t *testing.T, r response) {
			if strings.Contains(string(r.body), *tok.ID) {
				t.Errorf("another team lists demo's token: %s", r.body)
			}
		}},
		{"demo's gateway unchanged", "all", "GET", "/gateways/" + demoGatewayID, nil, 200, wantGateway(demoGateway)},
		{"demo's token still there", "all", "GET", "/gateway_setup_tokens/" + *tok.ID, nil, 200, nil},
	})
}

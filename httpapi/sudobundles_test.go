package httpapi_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The bodies Okta's provider sends for oktapam_sudo_command_bundle (resource_sudo_command_bundle.go
// through the SDK's SudoCommandBundle.ToMap): "id": "" on create, null for every unset option, []
// for unset env lists, and "args_type": "" for a command without one.
const (
	tfBundleCreate = `{"add_env":[],"id":"","name":"test-sudo-command-bundle-x1","no_exec":null,"no_passwd":null,"run_as":null,"set_env":null,` +
		`"structured_commands":[{"args_type":"any","command_type":"executable","command":"/bin/run.sh"}],"sub_env":[]}`
	tfBundleDirectory = `{"add_env":[],"id":"{id}","name":"test-sudo-command-bundle-x1","no_exec":null,"no_passwd":null,"run_as":null,"set_env":null,` +
		`"structured_commands":[{"args_type":"","command_type":"directory","command":"/bin/"}],"sub_env":[]}`
	tfBundleCustom = `{"add_env":["PATH"],"id":"{id}","name":"test-sudo-command-bundle-x1","no_exec":false,"no_passwd":true,"run_as":"%wheel","set_env":null,` +
		`"structured_commands":[{"args_type":"custom","args":"test.txt","command_type":"executable","command":"/bin/touch"}],"sub_env":["LD_PRELOAD"]}`
)

// sdkBundle decodes a bundle the way the SDK's SudoCommandBundle does (pointers, RFC 3339 times).
type sdkBundle struct {
	ID                 *string    `json:"id"`
	Name               string     `json:"name"`
	Description        *string    `json:"description"`
	RunAs              *string    `json:"run_as"`
	NoPasswd           *bool      `json:"no_passwd"`
	NoExec             *bool      `json:"no_exec"`
	SetEnv             *bool      `json:"set_env"`
	AddEnv             []string   `json:"add_env"`
	SubEnv             []string   `json:"sub_env"`
	CreatedAt          *time.Time `json:"created_at"`
	CreatedBy          *string    `json:"created_by"`
	UpdatedAt          *time.Time `json:"updated_at"`
	StructuredCommands []struct {
		Args            *string `json:"args"`
		ArgsType        *string `json:"args_type"`
		CommandType     string  `json:"command_type"`
		Command         string  `json:"command"`
		RenderedCommand *string `json:"rendered_command"`
	} `json:"structured_commands"`
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// wantBundle checks a bundle answer: its name, its one command (type, command, args_type, args,
// rendered form) and which options are set, as the SDK decodes them.
func wantBundle(name, typ, command, argsType, args, rendered string, noPasswd *bool) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		var b sdkBundle
		r.json(t, &b)
		if b.ID == nil || !uuidV4.MatchString(*b.ID) || b.Name != name || b.CreatedAt == nil || b.UpdatedAt == nil || b.CreatedBy == nil {
			t.Fatalf("bundle %s", r.body)
		}
		if len(b.StructuredCommands) != 1 {
			t.Fatalf("commands: %s", r.body)
		}
		c := b.StructuredCommands[0]
		str := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		got := []string{c.CommandType, c.Command, str(c.ArgsType), str(c.Args), str(c.RenderedCommand)}
		if d := cmp.Diff([]string{typ, command, argsType, args, rendered}, got); d != "" {
			t.Errorf("command (-want +got):\n%s", d)
		}
		if d := cmp.Diff(noPasswd, b.NoPasswd); d != "" {
			t.Errorf("no_passwd (-want +got):\n%s", d)
		}
		if noPasswd == nil && strings.Contains(string(r.body), "no_passwd") {
			t.Errorf("an unset option is sent: %s", r.body)
		}
	}
}

// TestSudoCommandBundlesRoutes drives the provider's create, read, the two ForceNew-free updates
// of its acceptance test, list and delete, with the documented errors, each leaving the bundle as
// it was.
func TestSudoCommandBundlesRoutes(t *testing.T) {
	e := newEnv(t)
	yes := true
	var id string
	runSteps(t, e, []step{
		{"create", "resource", "POST", "/sudo_command_bundles", tfBundleCreate, 201, func(t *testing.T, r response) {
			wantBundle("test-sudo-command-bundle-x1", "executable", "/bin/run.sh", "any", "", "/bin/run.sh", nil)(t, r)
			var b sdkBundle
			r.json(t, &b)
			id = *b.ID
		}},
	})
	bad := func(name, body string) step {
		return step{name, "all", "POST", "/sudo_command_bundles", body, 400, nil}
	}
	cmd := func(c string) string {
		return `{"name":"b","structured_commands":[` + c + `]}`
	}
	path := "/sudo_command_bundles/" + id
	body := func(s string) string { return strings.ReplaceAll(s, "{id}", id) }
	runSteps(t, e, []step{
		{"get as security admin", "security", "GET", path, nil, 200, wantBundle("test-sudo-command-bundle-x1", "executable", "/bin/run.sh", "any", "", "/bin/run.sh", nil)},
		{"get as delegated security admin", "delegated", "GET", path, nil, 200, nil},
		{"get as end user", "end_user", "GET", path, nil, 401, nil},
		{"get unknown", "all", "GET", "/sudo_command_bundles/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"create duplicate name", "all", "POST", "/sudo_command_bundles", strings.Replace(tfBundleCreate, "test-sudo", "TEST-sudo", 1), 409, nil},
		bad("bad name", `{"name":"a b","structured_commands":[{"command":"/x","command_type":"raw"}]}`),
		bad("no commands", `{"name":"b","structured_commands":[]}`),
		bad("directory without slash", cmd(`{"command":"/bin","command_type":"directory"}`)),
		bad("relative executable", cmd(`{"command":"run.sh","command_type":"executable"}`)),
		bad("args on raw", cmd(`{"command":"ls","command_type":"raw","args":"-l"}`)),
		bad("custom without args", cmd(`{"command":"/bin/ls","command_type":"executable","args_type":"custom"}`)),
		bad("args without custom", cmd(`{"command":"/bin/ls","command_type":"executable","args_type":"any","args":"-l"}`)),
		bad("unknown command type", cmd(`{"command":"/bin/ls","command_type":"binary"}`)),
		bad("unknown args type", cmd(`{"command":"/bin/ls","command_type":"executable","args_type":"some"}`)),
		bad("two lines", cmd(`{"command":"ls\nrm -rf /","command_type":"raw"}`)),
		bad("bad run_as", `{"name":"b","run_as":"root; ALL","structured_commands":[{"command":"/x","command_type":"raw"}]}`),
		bad("bad env", `{"name":"b","add_env":["A=B"],"structured_commands":[{"command":"/x","command_type":"raw"}]}`),
		bad("wrong type", `{"name":"b","no_passwd":"yes","structured_commands":[{"command":"/x","command_type":"raw"}]}`),
		{"create without body", "all", "POST", "/sudo_command_bundles", nil, 400, nil},
		{"create as security admin", "security", "POST", "/sudo_command_bundles", strings.Replace(tfBundleCreate, "x1", "x2", 1), 401, nil},
		{"update to a directory", "resource", "PUT", path, body(tfBundleDirectory), 204, nil},
		{"directory read back", "all", "GET", path, nil, 200, wantBundle("test-sudo-command-bundle-x1", "directory", "/bin/", "", "", "/bin/", nil)},
		{"update with custom args", "all", "PUT", path, body(tfBundleCustom), 204, nil},
		{"custom read back", "all", "GET", path, nil, 200, func(t *testing.T, r response) {
			wantBundle("test-sudo-command-bundle-x1", "executable", "/bin/touch", "custom", "test.txt", "/bin/touch test.txt", &yes)(t, r)
			var b sdkBundle
			r.json(t, &b)
			if b.RunAs == nil || *b.RunAs != "%wheel" || b.NoExec == nil || *b.NoExec || b.SetEnv != nil ||
				!cmp.Equal(b.AddEnv, []string{"PATH"}) || !cmp.Equal(b.SubEnv, []string{"LD_PRELOAD"}) {
				t.Errorf("options: %s", r.body)
			}
		}},
		{"update bad", "all", "PUT", path, cmd(`{"command":"/bin","command_type":"directory"}`), 400, nil},
		{"update to a taken name", "all", "PUT", path, `{"name":"RESTART-web","structured_commands":[{"command":"/x","command_type":"raw"}]}`, 409, nil},
		{"update as security admin", "security", "PUT", path, body(tfBundleDirectory), 401, nil},
		{"update unknown", "all", "PUT", "/sudo_command_bundles/00000000-0000-4000-8000-000000000000", body(tfBundleDirectory), 404, nil},
		{"unchanged by the refusals", "all", "GET", path, nil, 200, wantBundle("test-sudo-command-bundle-x1", "executable", "/bin/touch", "custom", "test.txt", "/bin/touch test.txt", &yes)},
		{"list", "security", "GET", "/sudo_command_bundles", nil, 200, wantNameSet("restart-web", "test-sudo-command-bundle-x1")},
		{"list contains", "all", "GET", "/sudo_command_bundles?contains=RESTART", nil, 200, wantNames("restart-web")},
		{"list as end user", "end_user", "GET", "/sudo_command_bundles", nil, 401, nil},
		{"list bad count", "all", "GET", "/sudo_command_bundles?count=0", nil, 400, nil},
		{"delete as security admin", "security", "DELETE", path, nil, 401, nil},
		{"delete", "resource", "DELETE", path, nil, 204, nil},
		{"gone", "all", "GET", path, nil, 404, nil},
		{"gone from the list", "all", "GET", "/sudo_command_bundles", nil, 200, wantNames("restart-web")},
		{"delete again", "all", "DELETE", path, nil, 404, nil},
	})
}

// TestSudoCommandBundlesPaging: the SDK list wrapper reads only the offset of the rel="next" link,
// which must appear once, and stops when no Link is sent.
func TestSudoCommandBundlesPaging(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"b1", "b2", "b3", "b4"} {
		e.must(201, "all", "POST", "/sudo_command_bundles", `{"name":"`+n+`","structured_commands":[{"command":"/x","command_type":"raw"}]}`)
	}
	seen := map[string]bool{}
	offset := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the list does not end")
		}
		q := "?count=2"
		if offset != "" {
			q += "&offset=" + url.QueryEscape(offset)
		}
		r := e.must(200, "all", "GET", "/sudo_command_bundles"+q, nil)
		var l struct {
			List []sdkBundle `json:"list"`
		}
		r.json(t, &l)
		for _, b := range l.List {
			if seen[b.Name] {
				t.Fatalf("%s listed twice", b.Name)
			}
			seen[b.Name] = true
		}
		link := r.header.Get("Link")
		if link == "" {
			break
		}
		m := regexp.MustCompile(`<([^>]+)>; rel="next"`).FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("a Link without rel=next: %q", link)
		}
		u, err := url.Parse(m[1])
		if err != nil || len(u.Query()["offset"]) != 1 {
			t.Fatalf("next link %q", m[1])
		}
		offset = u.Query().Get("offset")
	}
	if len(seen) != 5 { // the four and the demo fixture's restart-web
		t.Fatalf("listed %v", seen)
	}
}

// TestSudoCommandBundleInPolicy: a v1 policy names an existing bundle of the team only; a read
// names it; the bundle cannot be deleted while a policy grants it, and can once the policy is gone.
func TestSudoCommandBundleInPolicy(t *testing.T) {
	e := newEnv(t)
	group := e.srv.Loaded().Team("demo").GroupIDs["engineers"]
	bundle := e.srv.Loaded().Team("demo").SudoBundles["restart-web"]
	e.must(400, "security", "POST", "/security_policy", v1PolicyBody(group, "00000000-0000-4000-8000-000000000000"))
	var created struct {
		ID string `json:"id"`
	}
	e.must(200, "security", "POST", "/security_policy", v1PolicyBody(group, bundle)).json(t, &created)
	if got := e.must(200, "security", "GET", "/security_policy/"+created.ID, nil); !strings.Contains(string(got.body),
		`{"id":"`+bundle+`","name":"restart-web","type":"sudo_command_bundle","missing":false}`) {
		t.Fatalf("the bundle is not named: %s", got.body)
	}
	e.must(409, "all", "DELETE", "/sudo_command_bundles/"+bundle, nil)
	e.must(200, "all", "GET", "/sudo_command_bundles/"+bundle, nil)
	e.must(204, "security", "DELETE", "/security_policy/"+created.ID, nil)
	e.must(204, "all", "DELETE", "/sudo_command_bundles/"+bundle, nil)
}

// sudoBundleSeeds are sudo command bundle bodies for the fuzz targets: the provider's, and near
// misses.
var sudoBundleSeeds = []string{
	strings.ReplaceAll(tfBundleCreate, "x1", "fuzz"),
	strings.ReplaceAll(tfBundleCustom, "{id}", ""),
	`{"name":"n","structured_commands":[{"command":"/bin/","command_type":"directory","args_type":"none"}]}`,
	`{"name":"n","run_as":"#0","structured_commands":null}`,
}

func FuzzSudoBundleCreate(f *testing.F) { fuzzRoute(f, "SudoBundleCreate") }
func FuzzSudoBundleUpdate(f *testing.F) { fuzzRoute(f, "SudoBundleUpdate") }

package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage/filestore"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretLeaks runs a full scenario through the HTTP API over the durable file store with
// debug logging (engine and handler) — token exchanges (including wrong secrets), connections
// created and updated with service account passwords, force sync, reveal with checkout, check-in
// (rotation), admin rotation, a failed rotation, a Universal Directory reveal — then scans every
// log line, every non-reveal response body, the audit trail and every file of the data directory
// for every plaintext secret used, in plain, base64, base64url and hex forms. It must find none.
func TestNoSecretLeaks(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	store, err := filestore.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fx, err := fixture.Parse(opa.DemoFixture)
	if err != nil {
		t.Fatal(err)
	}
	sealKey := bytes.Repeat([]byte{0x5e}, 32)
	clock := opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, loaded, err := fixture.Build(ctx, fx, fixture.Options{Clock: clock, Store: store,
		EngineOptions: []opa.Option{opa.WithLogger(logger), opa.WithKey(sealKey)}})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(e, httpapi.WithLogger(logger))

	secrets := map[string]string{"seal key": string(sealKey)}
	for _, tm := range fx.Teams {
		for _, c := range tm.Connections {
			secrets["fixture service account password "+c.Domain] = c.ServiceAccountPassword
		}
	}
	for _, k := range loaded.Team("demo").ServiceKeys {
		secrets["service key secret "+k.Username] = k.KeySecret
	}
	dir := loaded.Directories["corp.example.com"]
	collectPasswords := func() {
		for _, dn := range []string{
			"CN=svc-sql,OU=ServiceAccounts,DC=corp,DC=example,DC=com", "CN=svc-backup,OU=ServiceAccounts,DC=corp,DC=example,DC=com",
			"CN=adm.jane.doe,OU=Admins,DC=corp,DC=example,DC=com", "CN=adm.john.smith,OU=Admins,DC=corp,DC=example,DC=com",
		} {
			if pw, ok := dir.Password(dn); ok && pw != "" {
				secrets["directory password of "+dn+" = "+pw[:2]+"…"] = pw
			}
		}
	}
	collectPasswords()

	var bodies []string // every non-reveal response body
	call := func(want int, tok, method, path string, body any) []byte {
		t.Helper()
		var raw []byte
		switch b := body.(type) {
		case nil:
		case string:
			raw = []byte(b)
		default:
			raw, _ = json.Marshal(b)
		}
		req := httptest.NewRequest(method, "http://opa.test"+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !strings.HasSuffix(path, "/reveal_credentials") {
			bodies = append(bodies, path+" "+rec.Body.String())
		}
		if want != 0 && rec.Code != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, rec.Code, want, rec.Body.Bytes())
		}
		return rec.Body.Bytes()
	}
	token := func(k [2]string) string {
		var out struct {
			BearerToken string `json:"bearer_token"`
		}
		b := call(0, "", "POST", "/v1/teams/demo/service_token", map[string]string{"key_id": k[0], "key_secret": k[1]})
		_ = json.Unmarshal(b, &out)
		if out.BearerToken == "" {
			t.Fatalf("no token: %s", b)
		}
		// The token is in this body by necessity; drop it from the scanned bodies.
		bodies = bodies[:len(bodies)-1]
		secrets["bearer token "+k[0][:8]] = out.BearerToken
		return out.BearerToken
	}
	admin, user := token(roleKeys["all"]), token(roleKeys["end_user"])
	call(401, "", "POST", "/v1/teams/demo/service_token", map[string]string{"key_id": roleKeys["all"][0], "key_secret": "Wrong-Guess-Secret-1"})
	secrets["wrong guessed secret"] = "Wrong-Guess-Secret-1"
	call(401, "Bearer-Forged-Token-123", "GET", "/v1/teams/demo/current_user", nil)
	secrets["forged bearer token"] = "Bearer-Forged-Token-123"

	lt := loaded.Team("demo")
	conn, rg := lt.Connections["corp.example.com"], lt.ResourceGroups["infra"]
	svcPrj, admPrj := lt.Projects["infra/service-accounts"], lt.Projects["infra/domain-admins"]

	// Connections with service account passwords: a new one (unreachable domain) and an update.
	const newConnPw, updPw = "New-Conn-Svc-Pw-7f3a!", "Updated-Svc-Pw-9c1e!"
	secrets["new connection password"], secrets["updated connection password"] = newConnPw, updPw
	nb := newConnBody("hygiene.example.com")
	nb["service_account_password"] = newConnPw
	call(201, admin, "POST", "/v1/teams/demo/integrations/ad_connections", nb)
	nb["service_account_password"] = "x" // invalid create: the error path must not echo it either
	nb["domain"] = ""
	call(400, admin, "POST", "/v1/teams/demo/integrations/ad_connections", nb)
	var cur map[string]any
	_ = json.Unmarshal(call(200, admin, "GET", "/v1/teams/demo/integrations/ad_connections/"+conn, nil), &cur)
	cur["service_account_password"] = updPw
	call(0, admin, "PUT", "/v1/teams/demo/integrations/ad_connections/"+conn, cur)

	// Sync, then the end user reveals a shared account (checkout), checks it in (rotation).
	ra := "/v1/teams/demo/resource_assignment/active_directory/" + conn
	call(0, admin, "PUT", ra+"/force_sync", nil)
	var accts struct {
		List []struct {
			Account struct {
				ID string `json:"id"`
			} `json:"account"`
		} `json:"list"`
	}
	_ = json.Unmarshal(call(200, user, "GET", "/v1/teams/demo/active_directory/"+conn+"/accounts?account_name=svc-sql", nil), &accts)
	if len(accts.List) != 1 {
		t.Fatalf("svc-sql not visible to the end user")
	}
	acct := accts.List[0].Account.ID
	eu := "/v1/teams/demo/active_directory/" + conn + "/accounts/" + acct
	var uams struct {
		List []map[string]any `json:"list"`
	}
	_ = json.Unmarshal(call(200, user, "GET", eu+"/user_access_methods?privilege_type=reveal_password", nil), &uams)
	if len(uams.List) == 0 {
		t.Fatal("no reveal access method")
	}
	priv, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := priv.PublicJWK()
	privJWK, _ := priv.PrivateJWK()
	var pj map[string]any
	_ = json.Unmarshal(privJWK, &pj)
	secrets["reveal private key d"] = pj["d"].(string)
	var rv struct {
		PasswordJWE string `json:"password_jwe"`
	}
	_ = json.Unmarshal(call(200, user, "POST", eu+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": uams.List[0]}), &rv)
	pw, err := revealjwe.Decrypt(rv.PasswordJWE, priv)
	if err != nil || len(pw) == 0 {
		t.Fatalf("decrypting the revealed password: %v", err)
	}
	secrets["revealed password"] = string(pw)
	collectPasswords()
	call(0, user, "GET", "/v1/teams/demo/checked_out_resources", nil)
	call(204, user, "POST", "/v1/teams/demo/checkin_resource", map[string]string{"resource_id": acct, "resource_type": "active_directory_account_password_login"})
	collectPasswords()

	// Admin rotations: one that fails (agent timeout) and ones that succeed.
	prj := "/v1/teams/demo/resource_groups/" + rg + "/projects/"
	dir.SetAgentTimeout(true)
	call(504, admin, "POST", prj+svcPrj+"/rotate_resource", map[string]string{"resource_id": acct, "resource_type": "active_directory_account_password_login"})
	dir.SetAgentTimeout(false)
	call(204, admin, "POST", prj+svcPrj+"/rotate_resource", map[string]string{"resource_id": acct, "resource_type": "active_directory_account_password_login"})
	var admins struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	_ = json.Unmarshal(call(200, admin, "GET", prj+admPrj+"/active_directory_accounts", nil), &admins)
	for _, a := range admins.List {
		call(204, admin, "POST", prj+admPrj+"/rotate_resource", map[string]string{"resource_id": a.ID, "resource_type": "active_directory_account_password_login"})
	}
	collectPasswords()
	call(200, admin, "GET", ra+"/accounts", nil)
	call(200, admin, "GET", "/v1/teams/demo/all_active_directory_accounts", nil)
	call(200, admin, "GET", "/v1/teams/demo/integrations/ad_connections", nil)

	// A gateway setup token: its value is in the create and …/token answers by necessity (both
	// dropped from the scanned bodies), and nowhere else: not in the GET or the list, the log,
	// the audit trail or the data files.
	var st struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	_ = json.Unmarshal(call(201, admin, "POST", "/v1/teams/demo/gateway_setup_tokens",
		map[string]any{"description": "hygiene", "registration_type": "gateway-agent", "details": map[string]any{"labels": map[string]string{"env": "test"}}}), &st)
	bodies = bodies[:len(bodies)-1]
	call(200, admin, "GET", "/v1/teams/demo/gateway_setup_tokens/"+st.ID+"/token", nil)
	bodies = bodies[:len(bodies)-1]
	if st.Token == "" {
		t.Fatal("no setup token value")
	}
	secrets["gateway setup token"] = st.Token
	if raw, err := base64.StdEncoding.DecodeString(st.Token); err == nil {
		var claims struct {
			Secret string `json:"secret"`
		}
		_ = json.Unmarshal(raw, &claims)
		secrets["gateway setup token secret"] = claims.Secret
	}
	call(200, admin, "GET", "/v1/teams/demo/gateway_setup_tokens/"+st.ID, nil)
	call(200, admin, "GET", "/v1/teams/demo/gateway_setup_tokens", nil)

	// The audit trail.
	p, err := e.Authenticate(ctx, "demo", admin)
	if err != nil {
		t.Fatal(err)
	}
	events, err := e.AuditEvents(ctx, p, opa.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := json.Marshal(events)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	_ = filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			files[filepath.Base(path)] = string(b)
		}
		return nil
	})

	haystacks := map[string]string{"log": logs.String(), "audit trail": string(audit)}
	for i, b := range bodies {
		haystacks["response "+strings.SplitN(b, " ", 2)[0]+" #"+string(rune('0'+i%10))] += b
	}
	for name, b := range files {
		haystacks["data file "+name] = b
	}
	checks := 0
	for sname, s := range secrets {
		if len(s) < 6 {
			t.Fatalf("secret %s too short to scan for", sname)
		}
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)), hex.EncodeToString([]byte(s))}
		for hname, hay := range haystacks {
			for _, f := range forms {
				checks++
				if strings.Contains(hay, f) {
					t.Errorf("%s found in %s", sname, hname)
				}
			}
		}
	}
	lines := strings.Count(logs.String(), "\n")
	if lines == 0 {
		t.Error("the scenario logged nothing at debug level; the log scan proves nothing")
	}
	t.Logf("%d secrets x 4 encodings scanned in %d log lines, %d response bodies, %d audit events (%d bytes), %d data files: %d checks, 0 found",
		len(secrets), lines, len(bodies), len(events), len(audit), len(files), checks)
}

package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
)

// apiMatrixIDs adds the path values of the team-level API routes (groups, users, service users
// and keys) to the matrix's ids: a group, a service user (so both the users and the service_users
// paths reach a real record), a user id and that service user's key.
func apiMatrixIDs(ids map[string]string, lt *fixture.LoadedTeam) {
	ids["group_name"] = "engineers"
	ids["user_name"] = "resource-bot"
	ids["user_id"] = lt.UserIDs["jane.doe"]
	ids["key_id"] = roleKeys["resource"][0]
	ids["project_name"] = "asa-servers"
	ids["gateway_id"] = lt.Gateways["gateway1"]
}

// apiMatrixState adds what the fixture cannot hold to the demo team (a gateway setup token,
// whose value is random) and its id to ids.
func apiMatrixState(t *testing.T, e *opa.Engine, ids map[string]string) {
	t.Helper()
	team, err := e.Team(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.CreateGatewaySetupToken(context.Background(), opa.SystemPrincipal(team), opa.GatewaySetupTokenInput{Description: "matrix"})
	if err != nil {
		t.Fatal(err)
	}
	ids["gateway_setup_token_id"] = tok.ID
	cert, err := e.CreateCertificate(context.Background(), opa.SystemPrincipal(team), opa.CertificateInput{
		DisplayName: "matrix", CommonName: "matrix", Type: opa.CertificateTypeSigningRequest})
	if err != nil {
		t.Fatal(err)
	}
	ids["certificate_id"] = cert.ID
}

// expectAPI is the authorization policy of the team-level API routes (groups.go, users.go,
// serviceuser.go in the root package): reading users and groups needs an admin role, team-wide
// or delegated; changing them, and anything about service keys, needs pam_admin. ok is false for
// the other routes.
func expectAPI(r route, role string) (o outcome, ok bool) {
	rest, found := strings.CutPrefix(r.pattern, "/v1/teams/{team_name}/")
	if !found {
		return 0, false
	}
	first, _, _ := strings.Cut(rest, "/")
	if o, ok := expectResourceGroup(r, role); ok {
		return o, true
	}
	switch first {
	case "groups", "users", "users_by_id", "service_users":
	case "projects":
		return expectASAProject(r, role), true
	case "sudo_command_bundles":
		return expectSudoBundle(r, role), true
	case "certificates":
		return expectCertificate(r, role), true
	case "gateways", "gateway_setup_tokens":
		return expectGateway(r, first, role), true
	default:
		return 0, false
	}
	keys := strings.Contains(rest, "/keys")
	switch {
	case role == "all":
		return allowed, true
	case role == "end_user":
		return denied, true
	case r.method == "GET" && !keys:
		return allowed, true
	default:
		return denied, true
	}
}

// expectASAProject: ASA projects and their groups are read by team-wide resource and security
// admins and changed by resource admins (asaproject.go, projectgroup.go).
func expectASAProject(r route, role string) outcome {
	switch {
	case role == "all" || role == "resource":
		return allowed
	case role == "security" && r.method == "GET":
		return allowed
	default:
		return denied
	}
}

// expectGateway: gateways are read by resource and security admins (team-wide) and by delegated
// resource admins of any resource group; changing them and everything about setup tokens needs a
// resource admin role, team-wide or delegated (gateway.go, gatewaysetuptoken.go).
func expectGateway(r route, first, role string) outcome {
	switch role {
	case "all", "resource", "delegated", "other_delegate":
		return allowed
	case "security":
		if first == "gateways" && r.method == "GET" {
			return allowed
		}
	}
	return denied
}

// expectSudoBundle: resource admins manage sudo command bundles; security admins, team-wide or
// delegated in any resource group, read them to grant them in policies (sudobundle.go).
func expectSudoBundle(r route, role string) outcome {
	switch {
	case role == "all" || role == "resource":
		return allowed
	case r.method == "GET" && (role == "security" || role == "delegated" || role == "other_delegate"):
		return allowed
	default:
		return denied
	}
}

// expectCertificate: AD smart-card certificates are managed by resource admins and read by
// team-wide resource and security admins, like AD connections (certificate.go).
func expectCertificate(r route, role string) outcome {
	switch {
	case role == "all" || role == "resource":
		return allowed
	case r.method == "GET" && role == "security":
		return allowed
	default:
		return denied
	}
}

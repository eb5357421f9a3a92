package httpapi_test

import "strings"

// expectResourceGroup is the authorization policy of the resource group and resource-group project
// CRUD routes (resourcegroup.go, project.go in the root package): reading needs resource_admin or
// security_admin, team-wide or delegated for the resource group (the list shows a delegated admin
// its own groups); creating, changing and deleting resource groups needs a team-wide
// resource_admin (it decides who administers them); changing projects needs resource_admin,
// team-wide or delegated for the resource group. ok is false for the other routes.
func expectResourceGroup(r route, role string) (o outcome, ok bool) {
	rest, _ := strings.CutPrefix(r.pattern, "/v1/teams/{team_name}/")
	switch rest {
	case "resource_groups", "resource_groups/{resource_group_id}",
		"resource_groups/{resource_group_id}/projects", "resource_groups/{resource_group_id}/projects/{project_id}":
	default:
		return 0, false
	}
	read := r.method == "GET"
	groupWrite := !read && !strings.Contains(rest, "/projects")
	switch role {
	case "all", "resource":
		return allowed, true
	case "security":
		if read {
			return allowed, true
		}
		return denied, true
	case "delegated": // delegated resource and security admin of the matrix's resource group
		if groupWrite {
			return denied, true
		}
		return allowed, true
	case "other_delegate": // a delegated admin of another resource group
		if read && rest == "resource_groups" {
			return allowed, true
		}
		return denied, true
	default:
		return denied, true
	}
}

package httpapi

import "github.com/opakit/opa"

// routes registers every route. Paths and methods are the real API's; docs/wire.md gives the
// source of each, by section (named in the comments below). The handlers live in one file per noun.
//
// Decisions where no source gives the wire (docs/wire.md marks them "decided here"):
//   - sync job results and test requests: …/{job}/results, …/{job}/results/{result_id} and
//     POST …/{job}/test_requests (201 with the result); schedule and state also accept PUT.
//   - rule_settings is configured with POST (the SDK) or PUT; both answer 204.
//   - creates answer 201 (AD connection, sync jobs, account rules — the SDK decodes a rule
//     although the seed says "No Content"); updates, deletes, schedule, state, deactivate, status,
//     force_sync, check-in, rotate and checkout settings PUTs answer 204 with an empty body (password
//     settings PUTs answer 200 with the stored policy, which the SDK decodes); the Okta
//     groups/modify answers 200 with an empty body; sync_status is a bare JSON string.
//   - ErrUnavailable is 503 service_offline on /v1 and 502 "There are no connected agents." on
//     /api/v1; ErrTimeout is 504 on both.
//   - lists whose engine operation returns a whole slice are paged here with the engine's rules
//     (ids ascending, offset compared with ids); the rules list and user access methods are
//     not paged (their SDK operations take no paging parameters).
func (h *Handler) routes() {
	m := h.mux
	const team = "/v1/teams/{team_name}"

	// Authentication (docs/wire.md#auth).
	m.Handle("POST "+team+"/service_token", h.limitTokens(h.public(serviceToken)))
	m.Handle("GET "+team+"/current_user", h.v1(currentUser))

	// Groups and their members, addressed by name (docs/wire.md#groups).
	const grp = team + "/groups/{group_name}"
	m.Handle("GET "+team+"/groups", h.v1(listGroups))
	m.Handle("POST "+team+"/groups", h.v1(createGroup))
	m.Handle("GET "+grp, h.v1(getGroup))
	m.Handle("PUT "+grp, h.v1(updateGroup))
	m.Handle("DELETE "+grp, h.v1(deleteGroup))
	m.Handle("GET "+grp+"/users", h.v1(listGroupUsers))
	m.Handle("POST "+grp+"/users", h.v1(addGroupUser))
	m.Handle("DELETE "+grp+"/users/{user_name}", h.v1(removeGroupUser))

	// Users, service users and their keys, addressed by name (docs/wire.md#users).
	const svc = team + "/service_users/{user_name}"
	m.Handle("GET "+team+"/users", h.v1(listUsers))
	m.Handle("GET "+team+"/users/{user_name}", h.v1(getUser))
	m.Handle("PUT "+team+"/users/{user_name}", h.v1(updateUser))
	m.Handle("GET "+team+"/users_by_id/{user_id}", h.v1(getUserByID))
	m.Handle("GET "+team+"/service_users", h.v1(listServiceUsers))
	m.Handle("POST "+team+"/service_users", h.v1(createServiceUser))
	m.Handle("GET "+svc, h.v1(getServiceUser))
	m.Handle("PUT "+svc, h.v1(updateServiceUser))
	m.Handle("GET "+svc+"/keys", h.v1(listServiceKeys))
	m.Handle("POST "+svc+"/keys", h.v1(createServiceKey))
	m.Handle("DELETE "+svc+"/keys/{key_id}", h.v1(deleteServiceKey))

	// ASA projects and their groups, addressed by name (docs/wire.md#asa-projects).
	const asa = team + "/projects/{project_name}"
	m.Handle("GET "+team+"/projects", h.v1(listASAProjects))
	m.Handle("POST "+team+"/projects", h.v1(createASAProject))
	m.Handle("GET "+asa, h.v1(getASAProject))
	m.Handle("PUT "+asa, h.v1(updateASAProject))
	m.Handle("DELETE "+asa, h.v1(deleteASAProject))
	m.Handle("GET "+asa+"/groups", h.v1(listProjectGroups))
	m.Handle("POST "+asa+"/groups", h.v1(assignProjectGroup))
	m.Handle("GET "+asa+"/groups/{group_name}", h.v1(getProjectGroup))
	m.Handle("PUT "+asa+"/groups/{group_name}", h.v1(updateProjectGroup))
	m.Handle("DELETE "+asa+"/groups/{group_name}", h.v1(removeProjectGroup))

	// Gateways and gateway setup tokens (docs/wire.md#gateways).
	const gw = team + "/gateways/{gateway_id}"
	m.Handle("GET "+team+"/gateways", h.v1(listGateways))
	m.Handle("GET "+gw, h.v1(getGateway))
	m.Handle("PUT "+gw, h.v1(updateGateway))
	m.Handle("DELETE "+gw, h.v1(deleteGateway))
	m.Handle("GET "+gw+"/status", h.v1(gatewayStatus))
	const gst = team + "/gateway_setup_tokens"
	m.Handle("GET "+gst, h.v1(listSetupTokens))
	m.Handle("POST "+gst, h.v1(createSetupToken))
	m.Handle("GET "+gst+"/{gateway_setup_token_id}", h.v1(getSetupToken))
	m.Handle("GET "+gst+"/{gateway_setup_token_id}/token", h.v1(getSetupTokenValue))
	m.Handle("DELETE "+gst+"/{gateway_setup_token_id}", h.v1(deleteSetupToken))

	// OPA Active Directory connections (docs/wire.md#connections).
	m.Handle("GET "+team+"/connections/active_directory", h.v1(listOPAConnections))
	m.Handle("GET "+team+"/connections/active_directory/{ad_connection_id}", h.v1(getOPAConnection))
	m.Handle("PUT "+team+"/connections/active_directory/{ad_connection_id}/status", h.v1(updateConnectionStatus))

	// ASA AD connections (docs/wire.md#connections).
	m.Handle("GET "+team+"/integrations/ad_connections", h.v1(listADConnections))
	m.Handle("POST "+team+"/integrations/ad_connections", h.v1(createADConnection))
	m.Handle("GET "+team+"/integrations/ad_connections/{ad_connection_id}", h.v1(getADConnection))
	m.Handle("PUT "+team+"/integrations/ad_connections/{ad_connection_id}", h.v1(updateADConnection))
	m.Handle("DELETE "+team+"/integrations/ad_connections/{ad_connection_id}", h.v1(deleteADConnection))

	// OPA account force sync and sync status (docs/wire.md#accounts).
	const ra = team + "/resource_assignment/active_directory/{ad_connection_id}"
	m.Handle("PUT "+ra+"/force_sync", h.v1(forceSync))
	m.Handle("GET "+ra+"/sync_status", h.v1(syncStatus))

	// OPA AD accounts, admin views, matching and rules (docs/wire.md#accounts, #matching, #rules).
	m.Handle("GET "+ra+"/accounts", h.v1(discoveredAccounts))
	m.Handle("GET "+ra+"/accounts/{ad_account_id}", h.v1(getAccount))
	m.Handle("GET "+ra+"/accounts/{ad_account_id}/match", h.v1(getAccountMatch))
	m.Handle("PUT "+ra+"/accounts/{ad_account_id}/match", h.v1(updateAccountMatch))
	m.Handle("GET "+ra+"/rule_settings", h.v1(getRuleSettings))
	m.Handle("POST "+ra+"/rule_settings", h.v1(configureRuleSettings))
	m.Handle("PUT "+ra+"/rule_settings", h.v1(configureRuleSettings))
	m.Handle("GET "+ra+"/rules", h.v1(listRules))
	m.Handle("POST "+ra+"/rules", h.v1(createRule))
	m.Handle("POST "+ra+"/rules/reorder", h.v1(reorderRules))
	m.Handle("GET "+ra+"/rules/{ad_account_rule_id}", h.v1(getRule))
	m.Handle("PUT "+ra+"/rules/{ad_account_rule_id}", h.v1(updateRule))
	m.Handle("DELETE "+ra+"/rules/{ad_account_rule_id}", h.v1(deleteRule))
	m.Handle("GET "+team+"/all_active_directory_accounts", h.v1(allAccounts))
	const rg = team + "/resource_groups/{resource_group_id}"
	const prj = rg + "/projects/{project_id}"

	// Resource groups and their projects (docs/wire.md#resource-groups, #resource-group-projects).
	m.Handle("GET "+team+"/resource_groups", h.v1(listResourceGroups))
	m.Handle("POST "+team+"/resource_groups", h.v1(createResourceGroup))
	m.Handle("GET "+rg, h.v1(getResourceGroup))
	m.Handle("PUT "+rg, h.v1(updateResourceGroup))
	m.Handle("DELETE "+rg, h.v1(deleteResourceGroup))
	m.Handle("GET "+rg+"/projects", h.v1(listRGProjects))
	m.Handle("POST "+rg+"/projects", h.v1(createRGProject))
	m.Handle("GET "+prj, h.v1(getRGProject))
	m.Handle("PUT "+prj, h.v1(updateRGProject))
	m.Handle("DELETE "+prj, h.v1(deleteRGProject))
	m.Handle("GET "+rg+"/all_active_directory_accounts", h.v1(resourceGroupAccounts))
	m.Handle("GET "+prj+"/active_directory_accounts", h.v1(projectAccounts))
	m.Handle("GET "+prj+"/active_directory_accounts/{ad_account_id}", h.v1(projectAccount))

	// OPA AD accounts, end-user views (docs/wire.md#accounts, #reveal, #rotation).
	const ad = team + "/active_directory"
	m.Handle("GET "+ad, h.v1(listDomains))
	m.Handle("GET "+ad+"/{ad_connection_id}", h.v1(getDomain))
	m.Handle("GET "+ad+"/{ad_connection_id}/accounts", h.v1(listEndUserAccounts))
	m.Handle("GET "+ad+"/{ad_connection_id}/accounts/{ad_account_id}", h.v1(getEndUserAccount))
	m.Handle("GET "+ad+"/{ad_connection_id}/accounts/{ad_account_id}/user_access_methods", h.v1(listAccountUAMs))
	m.Handle("POST "+ad+"/{ad_connection_id}/accounts/{ad_account_id}/reveal_credentials", h.v1(revealAccountPassword))
	m.Handle("POST "+ad+"/{ad_connection_id}/accounts/{ad_account_id}/rotate_password", h.v1(rotateAccountPassword))

	// Checkout, check-in and rotation (docs/wire.md#checkout, #rotation).
	m.Handle("POST "+team+"/checkin_resource", h.v1(checkinSelf))
	m.Handle("GET "+team+"/checked_out_resources", h.v1(checkedOutSelf))
	m.Handle("POST "+prj+"/checkin_resource", h.v1(checkinAdmin))
	m.Handle("POST "+prj+"/rotate_resource", h.v1(rotateResource))
	m.Handle("GET "+prj+"/checked_out_resources", h.v1(checkedOutProject))

	// Project checkout and password settings (docs/wire.md#project-settings). Checkout PUTs answer
	// 204, password settings PUTs 200 with the stored policy.
	m.Handle("GET "+prj+"/active_directory_checkout_settings", h.v1(getCheckoutSettings(opa.SettingsAD)))
	m.Handle("PUT "+prj+"/active_directory_checkout_settings", h.v1(putCheckoutSettings(opa.SettingsAD)))
	m.Handle("GET "+prj+"/active_directory_password_settings", h.v1(getPasswordSettings(opa.SettingsAD)))
	m.Handle("PUT "+prj+"/active_directory_password_settings", h.v1(putPasswordSettings(opa.SettingsAD)))
	m.Handle("GET "+prj+"/okta_universal_directory_checkout_settings", h.v1(getCheckoutSettings(opa.SettingsUD)))
	m.Handle("PUT "+prj+"/okta_universal_directory_checkout_settings", h.v1(putCheckoutSettings(opa.SettingsUD)))
	m.Handle("GET "+prj+"/okta_universal_directory_password_settings", h.v1(getPasswordSettings(opa.SettingsUD)))
	m.Handle("PUT "+prj+"/okta_universal_directory_password_settings", h.v1(putPasswordSettings(opa.SettingsUD)))
	m.Handle("GET "+prj+"/server_checkout_settings", h.v1(getServerCheckoutSettings))
	m.Handle("PUT "+prj+"/server_checkout_settings", h.v1(putServerCheckoutSettings))
	m.Handle("GET "+prj+"/server_password_settings", h.v1(getServerPasswordSettings))
	m.Handle("PUT "+prj+"/server_password_settings", h.v1(putServerPasswordSettings))

	// Okta Universal Directory accounts (docs/wire.md#ud-accounts).
	const ud = team + "/okta_universal_directory_accounts"
	m.Handle("GET "+team+"/all_okta_universal_directory_accounts", h.v1(allUDAccounts))
	m.Handle("GET "+rg+"/all_okta_universal_directory_accounts", h.v1(resourceGroupUDAccounts))
	m.Handle("GET "+prj+"/okta_universal_directory_accounts", h.v1(projectUDAccounts))
	m.Handle("GET "+prj+"/okta_universal_directory_accounts/{okta_universal_directory_account_id}", h.v1(projectUDAccount))
	m.Handle("GET "+ud, h.v1(endUserUDAccounts))
	m.Handle("GET "+ud+"/{okta_universal_directory_account_id}", h.v1(endUserUDAccount))
	m.Handle("GET "+ud+"/{okta_universal_directory_account_id}/user_access_methods", h.v1(udAccountUAMs))
	m.Handle("POST "+ud+"/{okta_universal_directory_account_id}/reveal_credentials", h.v1(revealUDAccountPassword))
	m.Handle("POST "+ud+"/{okta_universal_directory_account_id}/rotate_password", h.v1(rotateUDAccountPassword))
	m.Handle("GET "+team+"/vault/jwks.json", h.v1(vaultJWKS))

	// ASA server sync jobs (docs/wire.md#sync-jobs).
	const ts = team + "/integrations/ad_connections/{ad_connection_id}/task_settings"
	m.Handle("GET "+ts, h.v1(listServerSyncJobs))
	m.Handle("POST "+ts, h.v1(createServerSyncJob))
	m.Handle("GET "+ts+"/{task_settings_id}", h.v1(getServerSyncJob))
	m.Handle("PUT "+ts+"/{task_settings_id}", h.v1(updateServerSyncJob))
	m.Handle("DELETE "+ts+"/{task_settings_id}", h.v1(deleteServerSyncJob))
	m.Handle("POST "+ts+"/{task_settings_id}/deactivate", h.v1(deactivateServerSyncJob))
	m.Handle("POST "+ts+"/{task_settings_id}/schedule", h.v1(scheduleServerSyncJob))
	m.Handle("PUT "+ts+"/{task_settings_id}/schedule", h.v1(scheduleServerSyncJob))
	m.Handle("GET "+ts+"/{task_settings_id}/results", h.v1(listServerSyncResults))
	m.Handle("GET "+ts+"/{task_settings_id}/results/{result_id}", h.v1(getServerSyncResult))
	m.Handle("POST "+ts+"/{task_settings_id}/test_requests", h.v1(testServerSyncJob))

	// ASA user sync jobs (docs/wire.md#sync-jobs).
	const us = team + "/integrations/ad_connections/{ad_connection_id}/user_sync_task_settings"
	m.Handle("GET "+us, h.v1(listUserSyncJobs))
	m.Handle("POST "+us, h.v1(createUserSyncJob))
	m.Handle("GET "+us+"/{user_sync_task_settings_id}", h.v1(getUserSyncJob))
	m.Handle("PUT "+us+"/{user_sync_task_settings_id}", h.v1(updateUserSyncJob))
	m.Handle("DELETE "+us+"/{user_sync_task_settings_id}", h.v1(deleteUserSyncJob))
	m.Handle("POST "+us+"/{user_sync_task_settings_id}/schedule", h.v1(scheduleUserSyncJob))
	m.Handle("PUT "+us+"/{user_sync_task_settings_id}/schedule", h.v1(scheduleUserSyncJob))
	m.Handle("POST "+us+"/{user_sync_task_settings_id}/state", h.v1(setUserSyncJobState))
	m.Handle("PUT "+us+"/{user_sync_task_settings_id}/state", h.v1(setUserSyncJobState))
	m.Handle("GET "+us+"/{user_sync_task_settings_id}/results", h.v1(listUserSyncResults))
	m.Handle("GET "+us+"/{user_sync_task_settings_id}/results/{result_id}", h.v1(getUserSyncResult))
	m.Handle("POST "+us+"/{user_sync_task_settings_id}/test_requests", h.v1(testUserSyncJob))

	// Security policies, v1 and v2 clients alike (docs/wire.md#security-policies).
	const sp = team + "/security_policy"
	m.Handle("GET "+sp, h.v1(listSecurityPolicies))
	m.Handle("POST "+sp, h.v1(createSecurityPolicy))
	m.Handle("GET "+sp+"/{security_policy_id}", h.v1(getSecurityPolicy))
	m.Handle("PUT "+sp+"/{security_policy_id}", h.v1(updateSecurityPolicy))
	m.Handle("DELETE "+sp+"/{security_policy_id}", h.v1(deleteSecurityPolicy))

	// Sudo command bundles (docs/wire.md#sudo-command-bundles).
	const sudo = team + "/sudo_command_bundles"
	m.Handle("GET "+sudo, h.v1(listSudoBundles))
	m.Handle("POST "+sudo, h.v1(createSudoBundle))
	m.Handle("GET "+sudo+"/{sudo_command_bundle_id}", h.v1(getSudoBundle))
	m.Handle("PUT "+sudo+"/{sudo_command_bundle_id}", h.v1(updateSudoBundle))
	m.Handle("DELETE "+sudo+"/{sudo_command_bundle_id}", h.v1(deleteSudoBundle))

	// AD smart-card certificates (docs/wire.md#certificates).
	const cert = team + "/certificates/{certificate_id}"
	m.Handle("POST "+team+"/certificates/json", h.v1(createCertificate))
	m.Handle("GET "+cert, h.v1(getCertificate))
	m.Handle("PUT "+cert, h.v1(updateCertificate))
	m.Handle("DELETE "+cert, h.v1(deleteCertificate))
	m.Handle("POST "+cert+"/upload", h.v1(uploadCertificate))

	// Okta Directories Integration (docs/wire.md#directories-api).
	m.Handle("POST /api/v1/directories/{appInstanceId}/groups/modify", h.okta(modifyDirectoryGroup))

	// Test-fixture controls (docs/wire.md#controls).
	if h.ctl != nil {
		h.controlRoutes()
	}

	// Anything else under the API prefixes gets the API's own 404 body.
	m.Handle("/v1/", h.public(notFoundRoute))
	m.Handle("/api/v1/", h.okta(notFoundRoute2))
}

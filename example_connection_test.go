package opa_test

import (
	"context"
	"fmt"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage/memstore"
)

// exampleDomain returns an engine whose AD domain corp.example.com is an in-memory directory.
func exampleDomain() (*opa.Engine, opa.Principal, *memdir.Dir, string) {
	ctx := context.Background()
	dir := memdir.New(memdir.WithServiceAccount("svc_opa", "s3cret!"))
	root, _ := dir.AddDomain("corp.example.com")
	servers, _ := dir.AddOU(root, "Servers")
	users, _ := dir.AddOU(root, "Users")
	groups, _ := dir.AddOU(root, "Groups")
	ops, _ := dir.AddGroup(groups, "Ops")
	_, _ = dir.AddComputer(servers, memdir.Computer{Name: "WEB1", DNSHostName: "web1.corp.example.com", OperatingSystem: "Windows Server 2022"})
	_, _ = dir.AddComputer(servers, memdir.Computer{Name: "DB1", DNSHostName: "db1.corp.example.com", OperatingSystem: "Ubuntu 24.04"})
	_, _ = dir.AddUser(users, memdir.User{SAMAccountName: "jdoe", UserPrincipalName: "jdoe@corp.example.com", GivenName: "Jane", SN: "Doe", MemberOf: []string{ops}})
	_, _ = dir.AddUser(users, memdir.User{SAMAccountName: "adm.jdoe", UserPrincipalName: "adm.jdoe@corp.example.com"})
	resolver := memdir.NewResolver()
	resolver.Set("acme", "corp.example.com", dir)

	clock := opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, _ := opa.New(memstore.New(), opa.WithClock(clock), opa.WithSeed(1), opa.WithDirectoryResolver(resolver))
	team, _ := e.CreateTeam(ctx, "acme")
	return e, opa.SystemPrincipal(team), dir, root
}

// Create an AD connection and a server sync job; the job runs at the next Tick after activation
// and assigns each computer to the project of its highest-priority matching rule.
func ExampleEngine_CreateServerSyncJob() {
	ctx := context.Background()
	e, admin, _, root := exampleDomain()
	rg, _ := e.CreateResourceGroup(ctx, admin, "infra", "")
	web, _ := e.CreateProject(ctx, admin, rg.ID, "web")
	linux, _ := e.CreateProject(ctx, admin, rg.ID, "linux")
	conn, err := e.CreateADConnection(ctx, admin, opa.ADConnectionInput{
		Name: "corp", GatewayID: "5a3af768-063f-4a12-a056-8ef24e555555", Domain: "corp.example.com", ServiceAccountUsername: "svc_opa", ServiceAccountPassword: "s3cret!",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	job, err := e.CreateServerSyncJob(ctx, admin, conn.ID, opa.ServerSyncJobInput{
		Name: "servers", Frequency: 24, StartHourUTC: ptr(3), IsActive: true,
		RuleAssignments: []opa.RuleAssignment{
			{BaseDN: "OU=Servers," + root, LDAPQueryFilter: "(operatingSystem=Ubuntu*)", ProjectID: linux.ID, Priority: 1},
			{BaseDN: "OU=Servers," + root, LDAPQueryFilter: "(objectClass=computer)", ProjectID: web.ID, Priority: 2},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = e.Tick(ctx)
	servers, _ := e.Servers(ctx, admin, conn.ID)
	for _, s := range servers {
		project := map[string]string{web.ID: "web", linux.ID: "linux"}[s.ProjectID]
		fmt.Println(s.Hostname, "->", project)
	}
	job, _ = e.ServerSyncJob(ctx, admin, conn.ID, job.ID)
	fmt.Println(job.RecentTaskResult.TaskState, job.RecentTaskResult.Status.Summary)
	// Unordered output:
	// web1.corp.example.com -> web
	// db1.corp.example.com -> linux
	// done 2 servers found: 2 added, 0 updated, 0 removed
}

// A user sync job imports directory users as AD accounts; a force sync re-reads them and reports
// its status.
func ExampleEngine_ForceSync() {
	ctx := context.Background()
	e, admin, _, root := exampleDomain()
	conn, _ := e.CreateADConnection(ctx, admin, opa.ADConnectionInput{GatewayID: "5a3af768-063f-4a12-a056-8ef24e555555", Name: "corp", Domain: "corp.example.com",
		ServiceAccountUsername: "svc_opa", ServiceAccountPassword: "s3cret!"})
	job, _ := e.CreateUserSyncJob(ctx, admin, conn.ID, opa.UserSyncJobInput{Name: "users", BaseDN: "OU=Users," + root, IsActive: true})
	_ = e.Tick(ctx)
	job, _ = e.UserSyncJob(ctx, admin, conn.ID, job.ID)
	fmt.Println(job.LDAPQueryFilter, "|", job.RecentTaskResult.Status.Summary)

	if err := e.ForceSync(ctx, admin, conn.ID); err != nil {
		fmt.Println(err)
	}
	status, _ := e.SyncStatus(ctx, admin, conn.ID)
	fmt.Println(status)
	// Output:
	// (objectclass=user) | 2 accounts found: 2 added, 0 updated, 0 removed
	// SYNC_COMPLETED
}

// Add a user to an AD group through the connection's Okta app instance id, as the Directories
// Integration API does; ids may be objectGUIDs, objectSids or DNs.
func ExampleEngine_ModifyDirectoryGroup() {
	ctx := context.Background()
	e, admin, dir, root := exampleDomain()
	conn, _ := e.CreateADConnection(ctx, admin, opa.ADConnectionInput{GatewayID: "5a3af768-063f-4a12-a056-8ef24e555555", Name: "corp", Domain: "corp.example.com", AppInstanceID: "0oa1corp",
		ServiceAccountUsername: "svc_opa", ServiceAccountPassword: "s3cret!"})
	group, _ := dir.Entry("CN=Ops,OU=Groups," + root)
	err := e.ModifyDirectoryGroup(ctx, admin, "0oa1corp", opa.AgentAction{
		ID:         group.Get("objectGUID"),
		Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: []string{"CN=adm.jdoe,OU=Users," + root}},
	})
	fmt.Println(err, conn.Domain)
	group, _ = dir.Entry("CN=Ops,OU=Groups," + root)
	fmt.Println(len(group.GetAll("member")), "members")
	// Output:
	// <nil> corp.example.com
	// 2 members
}

package opa_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/opakit/opa"
)

// BenchmarkModifyDirectoryGroupIDs measures groups/modify over the 20,000 entries of benchDir
// (10,000 users, 10,000 computers), adding 10 users to a group, with the group and the users
// named by DN, objectSid, objectGUID, an assigned Okta id and a derived Okta id, in one run so the
// forms compare as ratios. Every form but the DN searches the domain (memdir has no attribute
// index); a derived id searches it once per kind per request, whatever the number of values.
func BenchmarkModifyDirectoryGroupIDs(b *testing.B) {
	ctx := context.Background()
	d, root := benchDir(b)
	group, err := d.AddGroup(root, "Bench Group")
	must(b, err)
	be := newBenchEngine(b, d, root)
	c, err := be.e.OPAConnection(ctx, be.sys, be.connID)
	must(b, err)
	var dns []string
	for i := 0; i < 10; i++ {
		dns = append(dns, fmt.Sprintf("CN=User %d,OU=u%d,OU=Users,%s", i*997, i*997%10, root))
	}
	forms := map[string]func(dn string, group bool, i int) string{
		"dn": func(dn string, _ bool, _ int) string { return dn },
		"sid": func(dn string, _ bool, _ int) string {
			en, err := d.Entry(dn)
			must(b, err)
			return en.Get("objectSid")
		},
		"guid": func(dn string, _ bool, _ int) string {
			en, err := d.Entry(dn)
			must(b, err)
			return en.Get("objectGUID")
		},
		"okta_derived": func(dn string, _ bool, _ int) string {
			id, err := be.e.DirectoryOktaID(ctx, be.sys, be.connID, dn)
			must(b, err)
			return id
		},
		"okta_assigned": func(dn string, isGroup bool, i int) string {
			id := fmt.Sprintf("00u%017d", i)
			if isGroup {
				id = fmt.Sprintf("00g%017d", i)
			}
			must(b, be.e.AssignDirectoryOktaID(ctx, be.sys, be.connID, id, dn))
			return id
		},
	}
	for _, name := range []string{"dn", "sid", "guid", "okta_derived", "okta_assigned"} {
		form := forms[name]
		gid := form(group, true, 0)
		var values []string
		for i, dn := range dns {
			values = append(values, form(dn, false, i))
		}
		b.Run(name, func(b *testing.B) {
			a := opa.AgentAction{ID: gid, Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: values}}
			for b.Loop() {
				must(b, be.e.ModifyDirectoryGroup(ctx, be.sys, c.AppInstanceID, a))
			}
		})
	}
}

package opa_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// BenchmarkListGateways compares a page of ListGateways (one range read from the cursor) with the
// sort-everything reference in the same run: read the team's gateways, filter, Paginate. Both
// serve a page of 100 from the middle of the list, without and with a contains filter that keeps
// half the gateways. Compare the ratio of the two at each size, not the absolute times.
func BenchmarkListGateways(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 10000} {
		e, err := opa.New(memstore.New(), opa.WithSeed(7))
		must(b, err)
		team, err := e.CreateTeam(ctx, "acme")
		must(b, err)
		sys := opa.SystemPrincipal(team)
		var ids []string
		for i := range n {
			name := fmt.Sprintf("edge-%05d", i)
			if i%2 == 1 {
				name = fmt.Sprintf("core-%05d", i)
			}
			g, err := e.AddGateway(ctx, sys, opa.GatewayInput{Name: name, Labels: map[string]string{"n": fmt.Sprint(i)}})
			must(b, err)
			ids = append(ids, g.ID)
		}
		mid := sortedMiddle(ids)
		for _, contains := range []string{"", "edge"} {
			req := opa.PageRequest{Count: 100, Offset: mid}
			b.Run(fmt.Sprintf("n=%d/contains=%q/rangePage", n, contains), func(b *testing.B) {
				for b.Loop() {
					p, err := e.ListGateways(ctx, sys, opa.GatewayFilter{Contains: contains}, req)
					if err != nil || len(p.Items) != 100 {
						b.Fatalf("%d items, %v", len(p.Items), err)
					}
				}
			})
			b.Run(fmt.Sprintf("n=%d/contains=%q/sort-all", n, contains), func(b *testing.B) {
				for b.Loop() {
					var all []opa.Gateway
					err := e.Store().View(ctx, func(tx storage.ReadTx) error {
						gs, err := storage.Gateways.BorrowList(tx, storage.GatewaysByTeam, team.ID)
						for _, g := range gs {
							if contains == "" || strings.Contains(g.Name, contains) {
								all = append(all, opa.Gateway{ID: g.ID, Name: g.Name, Labels: maps.Clone(g.Labels)})
							}
						}
						return err
					})
					p, perr := opa.Paginate(all, func(g opa.Gateway) string { return g.ID }, req)
					if err != nil || perr != nil || len(p.Items) != 100 {
						b.Fatalf("%d items, %v %v", len(p.Items), err, perr)
					}
				}
			})
		}
	}
}

// sortedMiddle returns the id in the middle of ids in id order.
func sortedMiddle(ids []string) string {
	s := slices.Sorted(slices.Values(ids))
	return s[len(s)/2]
}

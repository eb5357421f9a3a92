package replicas_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/pgtest"
	"github.com/opakit/opa/internal/replicas"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
)

// BenchmarkReplicas measures reveal and checkout throughput of 1 and of 3 replicas (engines with
// a pgstore pool each, pool_max_conns=8) on one PostgreSQL database, driven by the same 24
// clients spread over the replicas. Each client is an end user of its own with a SHARED account
// of its own, so the figures are the engines' and the database's cost, not contention:
//
//   - reveal: the holder of a checkout reveals its account again (one SERIALIZABLE transaction:
//     the policy decision and an audit event; then the JWE, ECDH-ES P-256, in the replica);
//   - checkout: a full cycle, reveal with checkout, check-in and the check-in's rotation (the
//     rotation lease, the directory's SetPassword, the sealed password and the audit trail).
//
// It reports operations per second, the benchmark process's CPU time per operation (the replicas'
// share), the PostgreSQL server's (its postmaster and backends, from /proc; when the tests
// started the cluster) and the serialization retries per operation. Run it alone:
//
//	OPA_POSTGRES=1 go test -run '^$' -bench Replicas -benchtime 2000x -count 3 ./internal/replicas/
func BenchmarkReplicas(b *testing.B) {
	pg := pgtest.Require(b, cluster)
	const clients = 24
	fx, err := replicas.FixtureWith(clients)
	if err != nil {
		b.Fatal(err)
	}
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := key.PublicJWK()
	if err != nil {
		b.Fatal(err)
	}
	dsn := poolDSN(b, pg.DSN, "8")
	for _, n := range []int{1, 3} {
		ns := pg.Namespace(b)
		var stores []storage.Storage
		var pgs []*pgstore.Store
		retries := func() (r uint64) {
			for _, s := range pgs {
				r += s.Stats().Retries
			}
			return r
		}
		for range n {
			s, err := pgstore.Open(ctx, dsn, pgstore.WithNamespace(ns))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			stores = append(stores, s)
			pgs = append(pgs, s)
		}
		c, err := replicas.New(ctx, stores, opa.SystemClock{}, fx, true, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		type client struct {
			e   *opa.Engine
			p   opa.Principal
			acc string
			uam opa.UserAccessMethod
		}
		accounts, err := c.Accounts(ctx)
		if err != nil {
			b.Fatal(err)
		}
		byName := map[string]string{}
		for _, a := range accounts {
			byName[a.Name] = a.ID
		}
		cls := make([]client, clients)
		for i := range cls {
			cl := &cls[i]
			cl.e = c.Engines[i%n]
			if cl.p, err = c.Principal(ctx, replicas.EndUsers()[3+i]); err != nil {
				b.Fatal(err)
			}
			cl.acc = byName[fmt.Sprintf("svc-bench-%03d", i)]
			ms, err := cl.e.ADAccountUAMs(ctx, cl.p, c.ConnID, cl.acc, opa.PrivilegeRevealPassword)
			if err != nil || len(ms) == 0 {
				b.Fatalf("client %d: access methods %v %v", i, ms, err)
			}
			cl.uam = ms[0]
		}
		reveal := func(cl *client) error {
			_, err := cl.e.RevealADAccountPassword(ctx, cl.p, c.ConnID, cl.acc, opa.RevealRequest{PublicKey: pub, UserAccessMethod: cl.uam})
			return err
		}
		checkin := func(cl *client) error {
			return cl.e.CheckInResource(ctx, cl.p, opa.CheckinRequest{ResourceID: cl.acc, ResourceType: opa.ResourceTypeADAccount})
		}
		// run runs b.N operations over the clients and reports their rate and CPU cost.
		run := func(b *testing.B, unit string, op func(*client) error) {
			var next atomic.Int64
			var wg sync.WaitGroup
			cpu0, pg0, r0 := cpuTime(), serverCPU(pg.Dir), retries()
			b.ResetTimer()
			start := time.Now()
			for i := range cls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := op(&cls[i]); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(retries()-r0)/float64(b.N), "retries/op")
			if pg0 >= 0 {
				b.ReportMetric(float64((serverCPU(pg.Dir)-pg0).Microseconds())/float64(b.N), "pg-cpu-µs/op")
			}
			b.ReportMetric(0, "ns/op")
		}
		b.Run(fmt.Sprintf("op=reveal/replicas=%d", n), func(b *testing.B) {
			for i := range cls { // each client holds its account's checkout
				if err := reveal(&cls[i]); err != nil {
					b.Fatal(err)
				}
			}
			run(b, "reveals", reveal)
			for i := range cls {
				if err := checkin(&cls[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("op=checkout/replicas=%d", n), func(b *testing.B) {
			run(b, "cycles", func(cl *client) error {
				if err := reveal(cl); err != nil {
					return err
				}
				return checkin(cl)
			})
		})
	}
}

// serverCPU returns the CPU time used so far by the PostgreSQL server whose data directory is
// dir: its postmaster and every process it started (the backends), from /proc; -1 when unknown
// (a server the tests did not start).
func serverCPU(dir string) time.Duration {
	if dir == "" {
		return -1
	}
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")) // scripts/pg-cluster.sh: DIR/data
	if err != nil {
		return -1
	}
	pid := strings.SplitN(string(b), "\n", 2)[0]
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range procs {
		st, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: fields after the command's closing parenthesis.
		i := strings.LastIndexByte(string(st), ')')
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 13 || (f[1] != pid && strings.TrimSuffix(filepath.Base(filepath.Dir(p)), "/") != pid) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// poolDSN sets pool_max_conns in a URL or key=value DSN.
func poolDSN(b *testing.B, dsn, n string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			b.Fatal(err)
		}
		q := u.Query()
		q.Set("pool_max_conns", n)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " pool_max_conns=" + n
}

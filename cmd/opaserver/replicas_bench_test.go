package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opakit/opa/internal/pgtest"
)

// BenchmarkServerReplicas measures opaserver replicas behind a load balancer: 1 and 3 server
// processes with -postgres on one schema, and 24 HTTP clients that send each request to the next
// replica in turn (round robin, what a balancer without affinity does). Two operations:
//
//   - list: GET the team's AD connections with a bearer token (the token was issued by one
//     replica; every replica accepts it, since tokens are in the store): authentication, the role
//     check and one read transaction;
//   - token: the service token exchange (POST …/service_token): a write transaction per request.
//
// It reports requests per second and the CPU time per request of the server processes and of
// PostgreSQL (from /proc). Run it alone:
//
//	OPA_POSTGRES=1 go test -run '^$' -bench ServerReplicas -benchtime 4000x -count 3 ./cmd/opaserver/
func BenchmarkServerReplicas(b *testing.B) {
	pg := pgtest.Require(b, pgCluster)
	bin := buildServer(b)
	keyFile := filepath.Join(b.TempDir(), "kek")
	if err := os.WriteFile(keyFile, bytes.Repeat([]byte{9}, 32), 0o600); err != nil {
		b.Fatal(err)
	}
	const clients = 24
	for _, n := range []int{1, 3} {
		ns := pg.Namespace(b)
		var bases []string
		var pids []int
		var first banner
		for range n {
			cmd, bn, _ := start(b, bin, "-postgres", pg.DSN, "-postgres-schema", ns, "-key-file", keyFile)
			bases = append(bases, bn.base)
			pids = append(pids, cmd.Process.Pid)
			first = bn
		}
		tok := exchange(b, first)
		httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		exchangeBody := fmt.Sprintf(`{"key_id":%q,"key_secret":%q}`, first.keyID, first.secret)
		ops := map[string]func(base string) (*http.Request, error){
			"list": func(base string) (*http.Request, error) {
				req, err := http.NewRequest("GET", base+"/v1/teams/demo/integrations/ad_connections", nil)
				if err == nil {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				return req, err
			},
			"token": func(base string) (*http.Request, error) {
				req, err := http.NewRequest("POST", base+"/v1/teams/demo/service_token", strings.NewReader(exchangeBody))
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
				}
				return req, err
			},
		}
		for _, op := range []string{"list", "token"} {
			b.Run(fmt.Sprintf("op=%s/replicas=%d", op, n), func(b *testing.B) {
				var next, rr atomic.Int64
				srv0, pg0 := procCPU(pids...), pgCPU(pg.Dir)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for range clients {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							req, err := ops[op](bases[int(rr.Add(1))%len(bases)])
							if err != nil {
								b.Error(err)
								return
							}
							resp, err := httpc.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != 200 {
								b.Errorf("%s: %d", op, resp.StatusCode)
								return
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64((procCPU(pids...)-srv0).Microseconds())/float64(b.N), "server-cpu-µs/op")
				if pg0 >= 0 {
					b.ReportMetric(float64((pgCPU(pg.Dir)-pg0).Microseconds())/float64(b.N), "pg-cpu-µs/op")
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// procCPU returns the CPU time used so far by the processes (user and system, from /proc).
func procCPU(pids ...int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		ticks += statTicks(strconv.Itoa(pid))
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// pgCPU returns the CPU time used so far by the PostgreSQL server started in dir
// (scripts/pg-cluster.sh: DIR/data) and every process it started; -1 when unknown.
func pgCPU(dir string) time.Duration {
	if dir == "" {
		return -1
	}
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return -1
	}
	pid := strings.SplitN(string(b), "\n", 2)[0]
	ticks := statTicks(pid)
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		if f := statFields(p); len(f) > 12 && f[1] == pid {
			ticks += parseTicks(f)
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// statFields returns the fields of a /proc/PID/stat file after the command's parenthesis.
func statFields(path string) []string {
	st, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(st, ')')
	return strings.Fields(string(st[i+1:]))
}

func statTicks(pid string) int64 {
	if f := statFields("/proc/" + pid + "/stat"); len(f) > 12 {
		return parseTicks(f)
	}
	return 0
}

func parseTicks(f []string) int64 {
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

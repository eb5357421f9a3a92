package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// failAfter bounds how long a test waits for the server to cut a connection before it fails.
// It is a deadline for a broken server, not a timing threshold: with the short limits given, a
// working server cuts the connection in about a second.
const failAfter = 30 * time.Second

// TestSlowBodyCutOff: 20 clients that send a request head and then its 30-byte body at one byte a
// second are cut off by the read timeout before they get through the body, on a route that parses
// the body and on one that does not.
func TestSlowBodyCutOff(t *testing.T) {
	bin := buildServer(t)
	cmd, b, stderr := start(t, bin, "-read-timeout", "1s")
	addr := strings.TrimPrefix(b.base, "http://")
	paths := []string{"/v1/teams/demo/service_token", "/v1/teams/demo/current_user", "/no/such/path"}
	const clients, bodyLen = 20, 30
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := paths[i%len(paths)]
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n")
			closed := make(chan struct{})
			go func() { // the server's answer, if any, then its close
				_, _ = io.Copy(io.Discard, conn)
				close(closed)
			}()
			for sent := 0; sent < bodyLen; sent++ {
				select {
				case <-closed:
					return // cut off before the body was through
				case <-time.After(time.Second):
				}
				if _, err := conn.Write([]byte("{")); err != nil {
					return // cut off
				}
			}
			errs <- "a client sent its whole body at 1 byte/s to " + path + " without being cut off"
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	stop(t, cmd, stderr)
}

// TestIdleConnectionsClosed: 50 keep-alive connections that made one request each and then sit
// idle are closed by the server after the idle timeout.
func TestIdleConnectionsClosed(t *testing.T) {
	bin := buildServer(t)
	cmd, b, stderr := start(t, bin, "-idle-timeout", "500ms")
	addr := strings.TrimPrefix(b.base, "http://")
	const conns = 50
	closed := make(chan error, conns)
	for range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		if _, err := io.WriteString(conn, "GET /v1/teams/demo/current_user HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			t.Fatal("the server closed a keep-alive connection right after its first answer")
		}
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(failAfter))
			_, err := br.ReadByte() // the server's close: io.EOF; a timeout means it never closed
			closed <- err
		}()
	}
	for range conns {
		if err := <-closed; err != io.EOF {
			t.Fatalf("an idle keep-alive connection was not closed by the server: %v", err)
		}
	}
	stop(t, cmd, stderr)
}

// TestHeaderAndBodyCaps: a request head over -max-header-bytes (default 64 KiB) is refused with
// 431, a declared body over 1 MiB with 400 on every route, including those that never read a body,
// before a byte of it is sent, and the connection is then closed.
func TestHeaderAndBodyCaps(t *testing.T) {
	bin := buildServer(t)
	cmd, b, stderr := start(t, bin)
	req, _ := http.NewRequest("GET", b.base+"/v1/teams/demo/current_user", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB header: status %d", resp.StatusCode)
	}
	// A declared 2 MiB body: the answer comes before a byte of it is sent.
	tok := exchange(t, b)
	addr := strings.TrimPrefix(b.base, "http://")
	for _, path := range []string{"/v1/teams/demo/current_user", "/v1/teams/demo/integrations/ad_connections", "/no/such/path"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(failAfter))
		head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n"
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("2 MiB body to %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = conn.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "larger than 1048576 bytes") || !resp.Close {
			t.Errorf("2 MiB body to %s: %d (close %v) %s", path, resp.StatusCode, resp.Close, body)
		}
	}
	stop(t, cmd, stderr)
}

// TestFaultLatencyOutlivesWriteTimeout: an injected latency longer than -write-timeout still gets
// its answer.
func TestFaultLatencyOutlivesWriteTimeout(t *testing.T) {
	bin := buildServer(t)
	cmd, b, stderr := start(t, bin, "-write-timeout", "300ms")
	resp, err := http.Post(b.base+"/_fake/faults", "application/json", strings.NewReader(`{"path":"/v1/teams/demo/current_user","status":503,"latency_ms":800}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("adding the fault: %d", resp.StatusCode)
	}
	resp, err = http.Get(b.base + "/v1/teams/demo/current_user")
	if err != nil {
		t.Fatalf("the delayed answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("the delayed answer: %d", resp.StatusCode)
	}
	stop(t, cmd, stderr)
}

package main

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestHelpExitsZero: -h and -help print the usage with every flag to stdout and exit 0; an unknown
// flag exits 1 with the usage on stderr.
func TestHelpExitsZero(t *testing.T) {
	bin := buildServer(t)
	for _, arg := range []string{"-h", "-help", "--help"} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, arg)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v; stderr %s", arg, err, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{"Usage: opaserver", "-data", "-controls", "-read-timeout", "-idle-timeout", "-max-header-bytes"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the usage lacks %q:\n%s", arg, want, out)
			}
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-no-such-flag")
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "Usage: opaserver") {
		t.Fatalf("unknown flag: %v; stderr %s", err, stderr.String())
	}
}

// TestControlsDefault: the unauthenticated /_fake/ controls are on in memory, off with -data unless
// -controls is given, and the banner says which.
func TestControlsDefault(t *testing.T) {
	bin := buildServer(t)
	cases := []struct {
		name string
		args []string
		on   bool
	}{
		{"memory", nil, true},
		{"memory, -controls=false", []string{"-controls=false"}, false},
		{"data", []string{"-data", t.TempDir()}, false},
		{"data, -controls", []string{"-data", t.TempDir(), "-controls"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd, b, stderr := start(t, bin, c.args...)
			var line string
			for _, l := range b.lines {
				if strings.HasPrefix(l, "controls:") {
					line = l
				}
			}
			resp, err := http.Get(b.base + "/_fake/clock")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c.on {
				if resp.StatusCode != 200 || !strings.Contains(line, "ON") || !strings.Contains(line, "UNAUTHENTICATED") {
					t.Errorf("controls on: GET /_fake/clock %d, banner %q", resp.StatusCode, line)
				}
			} else if resp.StatusCode != 404 || !strings.Contains(line, "off") {
				t.Errorf("controls off: GET /_fake/clock %d, banner %q", resp.StatusCode, line)
			}
			stop(t, cmd, stderr)
		})
	}
}

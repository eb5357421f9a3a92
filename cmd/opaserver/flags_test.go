package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
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
		for _, want := range []string{"Usage: opaserver", "-data", "-controls", "-read-timeout", "-idle-timeout", "-max-header-bytes", "-cors-origin", "-reveal-package", "-v"} {
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

// TestCORSOriginFlag: -cors-origin takes repeated flags and comma-separated lists, and refuses
// what is not an origin.
func TestCORSOriginFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	f, err := parseFlags([]string{"-cors-origin", "http://localhost:5173, https://app.example.com", "-cors-origin", "*"}, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.corsOrigins.String(); got != "http://localhost:5173,https://app.example.com,*" || f.cors == nil {
		t.Fatalf("origins %q, policy %v", got, f.cors)
	}
	if f, err := parseFlags(nil, &out, &errOut); err != nil || f.cors != nil {
		t.Fatalf("default: %v, policy %v", err, f.cors)
	}
	if _, err := parseFlags([]string{"-cors-origin", "localhost:5173"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "-cors-origin") {
		t.Fatalf("a bad origin: %v", err)
	}
}

// TestBannerNamesBothKeys: the banner gives the admin key and the end user's key (the one a
// security policy covers), and says which is for what.
func TestBannerNamesBothKeys(t *testing.T) {
	fx, err := fixture.Parse(opa.DemoFixture)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printBanner(&b, "http://h:1", fx, flags{controls: true}, "note")
	out := b.String()
	for _, want := range []string{
		"key id:     6f2c1c0e-5b7a-4d8e-9a51-0c3f7f1b2a10\n",
		"service user automation (pam_admin, resource_admin, security_admin): the admin API",
		"so it reveals nothing",
		"end user:   enduser-bot, key id 5a1b3c7d-9e2f-4b6a-8c0d-2e4f6a8b0c50, key secret enduser-bot-secret\n",
		"signs in to the /ui/ demo",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}
	fx.Teams[0].Policies = nil
	b.Reset()
	printBanner(&b, "http://h:1", fx, flags{}, "note")
	if !strings.Contains(b.String(), "end user:   none") {
		t.Errorf("without policies:\n%s", b.String())
	}
}

// TestReadmeListsEveryFlag: README.md names every flag -h prints.
func TestReadmeListsEveryFlag(t *testing.T) {
	var usage, errOut bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &usage, &errOut); err != errHelp {
		t.Fatalf("-h: %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?m)^  -(\S+)`).FindAllStringSubmatch(usage.String(), -1)
	if len(names) < 10 {
		t.Fatalf("parsed %d flags from the usage:\n%s", len(names), usage.String())
	}
	for _, n := range names {
		if !strings.Contains(string(readme), "`-"+n[1]+"`") {
			t.Errorf("README.md does not list -%s", n[1])
		}
	}
}

// TestGenerateFlag: -generate N adds N generated users, accounts and computers to the demo team,
// and the server lists the generated users; a bad value is refused before anything starts.
func TestGenerateFlag(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want fixture.Generate
	}{
		{"30", fixture.Generate{Seed: 1, Users: 30, Accounts: 30, Computers: 30}},
		{"users=5,accounts=7,seed=9", fixture.Generate{Seed: 9, Users: 5, Accounts: 7}},
	} {
		f, err := parseFlags([]string{"-generate", tc.arg}, &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || f.generate == nil || *f.generate != tc.want {
			t.Errorf("-generate %s: %+v, %v; want %+v", tc.arg, f.generate, err, tc.want)
		}
	}
	for _, bad := range []string{"many", "users=x", "disks=3"} {
		if _, err := parseFlags([]string{"-generate", bad}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("-generate %s accepted", bad)
		}
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-generate", "users=2000000"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "teams[0].generate.users: must be 0-1000000") {
		t.Fatalf("too many users: %v", err)
	}

	bin := buildServer(t)
	cmd, b, stderr := start(t, bin, "-generate", "30")
	tok := exchange(t, b)
	// The demo's connection syncs at load time: the 30 generated accounts are discovered.
	status, body := get(t, b.base+"/v1/teams/demo/resource_assignment/active_directory/"+connectionIDs(t, b)[0]+"/accounts?count=1000", tok)
	if n := strings.Count(string(body), ",OU=Generated,DC=corp"); status != 200 || n != 30 {
		t.Fatalf("accounts: %d, %d generated, want 30: %.300s", status, n, body)
	}
	stop(t, cmd, stderr)
}

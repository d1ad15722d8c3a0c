package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latch-idp/latch/internal/testenv"
)

// mainEnv makes the test binary run latch's own main (signal handling
// included), so a test can send a real process SIGTERM.
const mainEnv = "LATCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) != "" {
		os.Args = append([]string{"latch"}, strings.Fields(os.Getenv(mainEnv))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSIGTERMDrainsARequestInFlight runs `latch serve --dev` as its own
// process, begins a token request whose body is still arriving, and sends
// the process SIGTERM: it stops accepting connections, answers the request
// in full once its body arrives, and then exits with status 0.
func TestSIGTERMDrainsARequestInFlight(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	var out, errOut syncBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LATCH_SECRET=", "LATCH_DATABASE_URL=", "LATCH_REDIS_URL=",
		mainEnv+"=serve --dev --listen "+addr+" --issuer http://"+addr+" --metrics-listen 127.0.0.1:0 --hibp off")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	creds := regexp.MustCompile(`--client-id (\S+) --client-secret (\S+)`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil || !listens(addr); m = creds.FindStringSubmatch(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("latch did not start:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	body, rest := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/oauth2/token", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(m[1]), url.QueryEscape(m[2]))
	type answer struct {
		status int
		body   map[string]any
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		a := answer{status: resp.StatusCode}
		a.err = json.NewDecoder(resp.Body).Decode(&a.body)
		answered <- a
	}()
	io.WriteString(rest, "grant_type=client_")
	time.Sleep(200 * time.Millisecond) // the request is in flight
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); listens(addr); {
		if time.Now().After(deadline) {
			t.Fatal("latch still accepts connections after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-exited:
		t.Fatalf("latch exited before answering the request in flight: %v\n%s", waitErr, errOut.String())
	default:
	}
	io.WriteString(rest, "credentials")
	rest.Close()
	if a := <-answered; a.err != nil || a.status != http.StatusOK || a.body["access_token"] == nil {
		t.Fatalf("the request in flight: %d %v %v", a.status, a.body, a.err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("latch after SIGTERM: %v\n%s", waitErr, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("latch did not exit after draining:\n%s", errOut.String())
	}
}

// listens reports whether something accepts connections on addr.
func listens(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

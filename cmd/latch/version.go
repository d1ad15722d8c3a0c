package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Set at build time: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123"
// (the Makefile and the Dockerfile do). Without them, the VCS settings Go
// records in the binary are used.
var (
	version = ""
	commit  = ""
)

// buildVersion returns the version and commit this binary was built from.
func buildVersion() (v, c string) {
	v, c = version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if commit == "" && dirty && c != "" {
			c += "-dirty"
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

func versionCmd(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and Go version (also latch --version)",
		Example: "  latch version\n  latch --version",
		Args:    exactly(),
		GroupID: "other",
		RunE: func(*cobra.Command, []string) error {
			printVersion(e.stdout)
			return nil
		},
	}
}

func healthcheckCmd(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL]",
		Short: "Exit 0 when a running latch's /readyz answers 200",
		Long: `Ask a running latch's /readyz once: exit 0 when it answers 200 (PostgreSQL
and Redis reachable), else print one line and exit 1. It is the container
image's HEALTHCHECK, since a distroless image has no curl.`,
		Example: `  latch healthcheck
  latch healthcheck --url http://127.0.0.1:8080/readyz`,
		Args:    exactly(),
		GroupID: "run",
	}
	url := cmd.Flags().String("url", "", "readiness URL to ask (default: /readyz on LATCH_LISTEN over loopback)")
	cmd.RunE = func(*cobra.Command, []string) error {
		if *url == "" {
			*url = healthcheckURL()
		}
		return healthcheck(*url, e.stdout)
	}
	return cmd
}

func printVersion(w io.Writer) {
	v, c := buildVersion()
	fmt.Fprintf(w, "latch %s\ncommit %s\n%s %s/%s\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// healthcheckURL is /readyz on the address LATCH_LISTEN names, reached
// over loopback when it names no host (":8080").
func healthcheckURL() string {
	listen := os.Getenv("LATCH_LISTEN")
	if listen == "" {
		listen = ":8080"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + "/readyz"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}

// healthcheck asks url once and succeeds when it answers 200; it is what
// a container HEALTHCHECK runs, so a distroless image needs no curl.
func healthcheck(url string, stdout io.Writer) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return fmt.Errorf("%s: not reachable: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: ready %s\n", url, strings.TrimSpace(string(body)))
	return nil
}

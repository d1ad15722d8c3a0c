// Command latch is the latch OAuth 2.0 / OpenID Connect server and its
// administration commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `latch — OAuth 2.0 and OpenID Connect authorization server

Usage:
  latch serve [--dev] [flags]      run the server (latch serve --help lists every setting)
  latch migrate                    apply pending migrations to LATCH_DATABASE_URL
  latch clients create [-f FILE]   register a client from RFC 7591 JSON (stdin or FILE)
  latch clients list|get ID|delete ID|rotate-secret ID
  latch clients registration-token create [--expires-in 24h] [--max-uses 1]|list|delete ID
  latch users create --email E (--password P | --password-stdin) [--role admin] [--password-must-change]
  latch users list|get ID-OR-EMAIL|set-role ID-OR-EMAIL ROLE|disable ID-OR-EMAIL|enable ID-OR-EMAIL|reset-mfa ID-OR-EMAIL
  latch keys list|rotate
  latch resources create [-f FILE] register an API resource from JSON (stdin or FILE)
  latch resources list|get RESOURCE|delete RESOURCE
  latch healthcheck [--url URL]    exit 0 when a running latch's /readyz answers 200
  latch version                    version, commit and Go version (also latch --version)

Administration commands work on LATCH_DATABASE_URL directly; those that
create secrets or revoke sessions also need LATCH_SECRET and LATCH_REDIS_URL.
Add --json for machine-readable output.

Server mode: latch --server URL (--token T | --client-id ID --client-secret S)
COMMAND sends clients, resources, users and keys commands to a running
latch's admin API (also LATCH_SERVER, LATCH_TOKEN, LATCH_CLIENT_ID,
LATCH_CLIENT_SECRET) and prints its answers as JSON.
`

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "latch:", err)
		}
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

// run dispatches a command line; it is what tests call.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch args[0] {
	case "version", "--version":
		printVersion(stdout)
		return nil
	case "healthcheck":
		fs := newFlagSet("healthcheck", stderr)
		url := fs.String("url", healthcheckURL(), "readiness URL to ask (default: /readyz on LATCH_LISTEN over loopback)")
		if _, err := parseInterspersed(fs, args[1:]); err != nil {
			return err
		}
		return healthcheck(*url, stdout)
	}
	env := &cliEnv{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	rf, args, err := parseRemoteFlags(args, stderr)
	if err != nil {
		return err
	}
	if rf.server != "" && len(args) > 0 && args[0] != "serve" && args[0] != "migrate" {
		r, err := newRemote(env, rf)
		if err != nil {
			return err
		}
		return r.run(args)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "migrate":
		return env.migrate(args[1:])
	case "clients":
		return env.clients(args[1:])
	case "users":
		return env.users(args[1:])
	case "keys":
		return env.keys(args[1:])
	case "resources":
		return env.resources(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

// cliEnv carries what administration commands share.
type cliEnv struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func (e *cliEnv) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

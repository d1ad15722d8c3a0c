// Command latch is the latch OAuth 2.0 / OpenID Connect server and its
// administration commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

const rootLong = `latch — OAuth 2.0 and OpenID Connect authorization server.

Administration commands (clients, users, keys, resources) work on
LATCH_DATABASE_URL directly; those that create secrets or revoke sessions
also need LATCH_SECRET and LATCH_REDIS_URL. Add --json for machine-readable
output.

Server mode: with --server URL and --token T (or --client-id ID and
--client-secret S of a client granted latch:admin), they go to a running
latch's admin API instead, and print its answers as JSON.

Every command answers --help without any configuration.`

func init() {
	// Commands are listed in the order they are added: the common first.
	cobra.EnableCommandSorting = false
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "latch:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// exitCode is 0 for success, 2 for a mistake in how latch was called and 1
// for everything else.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

// run runs a command line; it is what tests call.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRoot(&cliEnv{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr})
	// Never nil: cobra reads os.Args when given no arguments at all.
	root.SetArgs(append([]string{}, args...))
	return root.ExecuteContext(ctx)
}

// newRoot builds the whole command tree. Nothing in it reads the
// environment or opens anything until a command runs, so --help, help
// COMMAND and shell completion need no configuration.
func newRoot(e *cliEnv) *cobra.Command {
	root := &cobra.Command{
		Use:           "latch",
		Short:         "OAuth 2.0 and OpenID Connect authorization server",
		Long:          rootLong,
		Args:          subcommandArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v, _ := cmd.Flags().GetBool("version"); v {
				printVersion(e.stdout)
				return nil
			}
			fmt.Fprint(e.stderr, cmd.UsageString())
			return usagef(cmd, "no command given")
		},
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(flagError)
	root.SetUsageTemplate(usageTemplate)
	root.Flags().Bool("version", false, "print the version, commit and Go version (as latch version)")
	pf := root.PersistentFlags()
	pf.String("server", "", "URL of a running latch: administration commands use its admin API (env LATCH_SERVER)")
	pf.String("token", "", "bearer token for the admin API (env LATCH_TOKEN)")
	pf.String("client-id", "", "client granted latch:admin, to get an admin API token with (env LATCH_CLIENT_ID)")
	pf.String("client-secret", "", "that client's secret (env LATCH_CLIENT_SECRET)")

	root.AddGroup(
		&cobra.Group{ID: "run", Title: "Run latch:"},
		&cobra.Group{ID: "admin", Title: "Administer latch (on LATCH_DATABASE_URL, or on a running latch with --server):"},
		&cobra.Group{ID: "other", Title: "Other commands:"},
	)
	root.AddCommand(e.serveCmd(), migrateCmd(e), healthcheckCmd(e), versionCmd(e))
	for _, c := range []*cobra.Command{e.clientsCmd(), e.usersCmd(), e.keysCmd(), e.resourcesCmd()} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	root.SetHelpCommand(helpCmd())
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	root.InitDefaultHelpCmd()
	initCompletion(root)
	return root
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

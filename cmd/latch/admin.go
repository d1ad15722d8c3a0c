package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage/postgres"
)

// admin makes cmd an administration command: it runs local against
// LATCH_DATABASE_URL, or remote against the running latch that --server (or
// LATCH_SERVER) names.
func (e *cliEnv) admin(cmd *cobra.Command, local func(cmd *cobra.Command, args []string) error, remote func(r *remote, args []string) error) *cobra.Command {
	cmd.Flags().Bool("json", false, "print JSON (always, with --server)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f := remoteFlags{server: flagOrEnv(cmd, "server", "LATCH_SERVER"), token: flagOrEnv(cmd, "token", "LATCH_TOKEN"),
			clientID: flagOrEnv(cmd, "client-id", "LATCH_CLIENT_ID"), clientSecret: flagOrEnv(cmd, "client-secret", "LATCH_CLIENT_SECRET")}
		if f.server == "" {
			return local(cmd, args)
		}
		r, err := newRemote(e, f)
		if err != nil {
			return err
		}
		return remote(r, args)
	}
	return cmd
}

// hideJSON hides --json from the help of a command whose output it does
// not change (most print JSON anyway); it is still accepted.
func hideJSON(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().Lookup("json").Hidden = true
	return cmd
}

func wantJSON(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

// fileFlag is -f FILE, the JSON input of a create command.
func fileFlag(cmd *cobra.Command, dst *string, what string) {
	cmd.Flags().StringVarP(dst, "file", "f", "", "read the "+what+" JSON from this file instead of stdin")
	_ = cmd.MarkFlagFilename("file", "json")
}

// createCmd is `create [-f FILE]`: the JSON of what, from FILE or stdin,
// goes to local, or with --server to the admin API's base.
func (e *cliEnv) createCmd(doc *cobra.Command, base, what string, local func(file string) error) *cobra.Command {
	var file string
	cmd := hideJSON(e.admin(doc, func(*cobra.Command, []string) error { return local(file) },
		func(r *remote, _ []string) error { return r.create(base, what, file) }))
	fileFlag(cmd, &file, what)
	return cmd
}

// listCmd is `PARENT list`, of what: local, or with --server every page of
// the admin API's base.
func (e *cliEnv) listCmd(parent, what, base string, local func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return e.admin(&cobra.Command{
		Use:     "list",
		Short:   "List " + what + " (a table, or JSON with --json)",
		Example: fmt.Sprintf("  %[1]s list\n  %[1]s list --json", parent),
		Args:    exactly(),
	}, local, func(r *remote, _ []string) error { return r.list(base) })
}

// getCmd is `get ID`, which always prints JSON.
func (e *cliEnv) getCmd(doc *cobra.Command, base string, local func(id string) error) *cobra.Command {
	return hideJSON(e.admin(doc, func(_ *cobra.Command, args []string) error { return local(args[0]) },
		func(r *remote, args []string) error { return r.get(base, args[0]) }))
}

// deleteCmd is `delete ID`.
func (e *cliEnv) deleteCmd(doc *cobra.Command, base string, local func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return e.admin(doc, local, func(r *remote, args []string) error { return r.delete(base, args[0]) })
}

// printList prints items as JSON, each as view makes it, with --json;
// else as a table: header, then one row each (tab-separated cells).
func printList[T, V any](e *cliEnv, cmd *cobra.Command, items []T, view func(T) V, header string, row func(T) string) error {
	if wantJSON(cmd) {
		out := make([]V, 0, len(items))
		for _, it := range items {
			out = append(out, view(it))
		}
		return e.printJSON(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

// withStore opens LATCH_DATABASE_URL for fn and closes it after.
func (e *cliEnv) withStore(readOnly bool, fn func(st *postgres.Store) error) error {
	st, err := e.openStore(readOnly)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

// openStore connects to LATCH_DATABASE_URL. It never changes the schema:
// read-only commands (list, get) just read, and the others first check that
// no migration is pending, so that a new binary never writes to an old
// schema.
func (e *cliEnv) openStore(readOnly bool) (*postgres.Store, error) {
	dsn := os.Getenv("LATCH_DATABASE_URL")
	if dsn == "" {
		return nil, errors.New("LATCH_DATABASE_URL: is required for this command")
	}
	st, err := postgres.New(e.ctx, dsn, postgres.Options{})
	if err != nil {
		return nil, dbError(dsn, err)
	}
	if readOnly {
		return st, nil
	}
	pending, err := st.Pending(e.ctx)
	if err != nil {
		st.Close()
		return nil, dbError(dsn, err)
	}
	if len(pending) > 0 {
		st.Close()
		return nil, fmt.Errorf("the database schema is behind this latch (%d migrations pending, first %s): run `latch migrate`, then try again", len(pending), pending[0])
	}
	return st, nil
}

// dbError is a database error on one line, naming the host of dsn and never
// its password.
func dbError(dsn string, err error) error {
	host := "the database"
	if u, perr := url.Parse(dsn); perr == nil && u.Host != "" {
		host = u.Host
	}
	// pgx tries each address (and with and without TLS) and reports every
	// attempt; the last says enough.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		err = ce.Unwrap()
		if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
			all := j.Unwrap()
			err = all[len(all)-1]
		}
		err = fmt.Errorf("cannot connect: %w", err)
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if u, perr := url.Parse(dsn); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return fmt.Errorf("LATCH_DATABASE_URL: %s: %s", host, msg)
}

// box reads LATCH_SECRET (or LATCH_SECRET_FILE).
func (e *cliEnv) box() (*secret.Box, error) {
	v := os.Getenv("LATCH_SECRET")
	if f := os.Getenv("LATCH_SECRET_FILE"); v == "" && f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("LATCH_SECRET_FILE: cannot read %s", f)
		}
		v = strings.TrimSpace(string(b))
	}
	var secrets [][]byte
	if err := parseSecrets(v, &secrets); err != nil {
		return nil, fmt.Errorf("LATCH_SECRET: %v", err)
	}
	if len(secrets) == 0 {
		return nil, errors.New("LATCH_SECRET: is required for this command (client secrets and keys are keyed with it)")
	}
	return secret.New(secrets...)
}

// readJSON decodes one JSON object of what from file, or from stdin when
// file is empty; unknown fields are an error, so a typo is not ignored.
func (e *cliEnv) readJSON(file, what string, v any) error {
	var in io.Reader = e.stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("cannot open %s: %v", file, errors.Unwrap(err))
		}
		defer f.Close()
		in = f
	}
	dec := json.NewDecoder(io.LimitReader(in, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s is not valid JSON: %v", what, err)
	}
	return nil
}

func migrateCmd(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending migrations to LATCH_DATABASE_URL",
		Long: `Apply the pending migrations to the database LATCH_DATABASE_URL names, under
an advisory lock (latch serve also does it at start). Administration
commands that write refuse to run while a migration is pending.`,
		Example: "  LATCH_DATABASE_URL=postgres://latch@db.example.com/latch latch migrate",
		Args:    exactly(),
		GroupID: "run",
		RunE: func(*cobra.Command, []string) error {
			dsn := os.Getenv("LATCH_DATABASE_URL")
			if dsn == "" {
				return errors.New("LATCH_DATABASE_URL: is required")
			}
			if err := postgres.Migrate(e.ctx, dsn, discardLogger()); err != nil {
				return dbError(dsn, err)
			}
			fmt.Fprintln(e.stdout, "migrations applied")
			return nil
		},
	}
}

// readLine reads one line (a password from stdin).
func readLine(r io.Reader) (string, error) {
	s := bufio.NewScanner(io.LimitReader(r, 64<<10))
	if !s.Scan() {
		if err := s.Err(); err != nil {
			return "", err
		}
		return "", errors.New("nothing on stdin")
	}
	return strings.TrimRight(s.Text(), "\r"), nil
}

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

// parseInterspersed parses flags that may come before, between or after
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseFlags parses args with fs. --help prints fs's usage; a bad flag is
// one line with a hint, not the whole flag list.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return err
	case err != nil:
		return fmt.Errorf("%w: %v; run '%s --help'", errUsage, err, fs.Name())
	}
	return nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("latch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// openStore connects to LATCH_DATABASE_URL for the subcommand sub. It
// never changes the schema: read-only subcommands (list, get) just read,
// and the others first check that no migration is pending, so that a new
// binary never writes to an old schema.
func (e *cliEnv) openStore(sub string) (*postgres.Store, error) {
	dsn := os.Getenv("LATCH_DATABASE_URL")
	if dsn == "" {
		return nil, errors.New("LATCH_DATABASE_URL: is required for this command")
	}
	st, err := postgres.New(e.ctx, dsn, postgres.Options{})
	if err != nil {
		return nil, dbError(dsn, err)
	}
	if sub == "list" || sub == "get" {
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

func (e *cliEnv) migrate(args []string) error {
	fs := newFlagSet("migrate", e.stderr)
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	dsn := os.Getenv("LATCH_DATABASE_URL")
	if dsn == "" {
		return errors.New("LATCH_DATABASE_URL: is required")
	}
	if err := postgres.Migrate(e.ctx, dsn, discardLogger()); err != nil {
		return dbError(dsn, err)
	}
	fmt.Fprintln(e.stdout, "migrations applied")
	return nil
}

func (e *cliEnv) clients(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: latch clients create|list|get|delete|rotate-secret|registration-token", errUsage)
	}
	if args[0] == "registration-token" {
		return e.registrationTokens(args[1:])
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("clients "+sub, e.stderr)
	file := fs.String("f", "", "read the client metadata JSON from this file instead of stdin")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "create", "list", "get", "delete", "rotate-secret":
	default:
		return fmt.Errorf("%w: unknown subcommand clients %s", errUsage, sub)
	}
	if sub != "create" && sub != "list" && len(pos) != 1 {
		return fmt.Errorf("%w: latch clients %s CLIENT_ID", errUsage, sub)
	}
	st, err := e.openStore(sub)
	if err != nil {
		return err
	}
	defer st.Close()
	load := func(id string) (storage.Client, error) {
		c, err := st.GetClient(e.ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return c, fmt.Errorf("no client %q", id)
		}
		return c, err
	}
	switch sub {
	case "create":
		var m clients.Metadata
		if err := e.readJSON(*file, "client metadata", &m); err != nil {
			return err
		}
		box, err := e.box()
		if err != nil {
			return err
		}
		c, sec, err := clients.New(m, box)
		if err != nil {
			return fmt.Errorf("client metadata: %w", err)
		}
		if err := st.CreateClient(e.ctx, c); errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("a client with client_id %q already exists", c.ID)
		} else if err != nil {
			return err
		}
		out := clients.ToMetadata(c)
		out.ClientSecret = sec
		if sec != "" {
			zero := int64(0)
			out.SecretExpiresAt = &zero
		}
		return e.printJSON(out)
	case "list":
		cs, err := st.ListClients(e.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]clients.Metadata, 0, len(cs))
			for _, c := range cs {
				out = append(out, clients.ToMetadata(c))
			}
			return e.printJSON(out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tAUTH\tFIRST_PARTY\tGRANTS")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", c.ID, c.Name, c.TokenEndpointAuthMethod, c.FirstParty, strings.Join(c.GrantTypes, ","))
		}
		return tw.Flush()
	case "get":
		c, err := load(pos[0])
		if err != nil {
			return err
		}
		return e.printJSON(clients.ToMetadata(c))
	case "delete":
		if err := st.DeleteClient(e.ctx, pos[0]); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no client %q", pos[0])
		} else if err != nil {
			return err
		}
		if *asJSON {
			return e.printJSON(map[string]string{"deleted": pos[0]})
		}
		fmt.Fprintf(e.stdout, "deleted client %s\n", pos[0])
		return nil
	case "rotate-secret":
		c, err := load(pos[0])
		if err != nil {
			return err
		}
		if c.Public() {
			return fmt.Errorf("client %q is public (token_endpoint_auth_method none): it has no secret", c.ID)
		}
		if c.TokenEndpointAuthMethod == storage.AuthMethodPrivateKeyJWT {
			return fmt.Errorf("client %q authenticates with private_key_jwt: it has no secret", c.ID)
		}
		box, err := e.box()
		if err != nil {
			return err
		}
		var sec string
		sec, c.SecretHash = clients.NewSecret(box)
		c.UpdatedAt = time.Now().UTC()
		if err := st.UpdateClient(e.ctx, c); err != nil {
			return err
		}
		return e.printJSON(map[string]string{"client_id": c.ID, "client_secret": sec})
	}
	return nil
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

package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/keys"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func lookupEnv(name string) string { return os.Getenv(name) }

func (e *cliEnv) keys(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: latch keys list|rotate", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, e.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	var c server.Config
	cf := bindServe(fs, &c)
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if err := cf.resolve(); err != nil {
		return err
	}
	box, err := e.box()
	if err != nil {
		return err
	}
	st, err := e.openStore(sub)
	if err != nil {
		return err
	}
	defer st.Close()
	m := keys.NewManager(st, box, server.KeyOptions(&c, discardLogger()))
	if err := m.Reload(e.ctx); err != nil {
		return err
	}
	switch sub {
	case "list":
	case "rotate":
		created, err := m.Rotate(e.ctx)
		if err != nil {
			return err
		}
		if !*asJSON {
			for _, k := range created {
				fmt.Fprintf(e.stdout, "new %s key %s signs from %s\n", k.Algorithm, k.ID, k.ActiveAt.Format(time.RFC3339))
			}
		}
		if err := m.Reload(e.ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: unknown subcommand keys %s", errUsage, sub)
	}
	infos := m.List()
	if *asJSON {
		return e.printJSON(infos)
	}
	if sub == "rotate" {
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVE_AT")
	for _, k := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339), k.ActiveAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/storage/postgres"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func lookupEnv(name string) string { return os.Getenv(name) }

const keysLong = `List and rotate the signing keys of ID tokens and access tokens. A new key
is published in the JWKS before it signs, and old keys stay published until
the tokens they signed have expired. The keys are sealed with LATCH_SECRET;
the LATCH_* settings of latch serve that shape keys (algorithms, lifetimes,
rotation) apply here too.`

func (e *cliEnv) keysCmd() *cobra.Command {
	cmd := group("keys", "List and rotate signing keys", keysLong)
	list := e.keysLeaf(&cobra.Command{
		Use:     "list",
		Short:   "List signing keys and their state (a table, or JSON with --json)",
		Example: "  latch keys list\n  latch keys list --json",
		Args:    exactly(),
	}, func(r *remote, _ []string) error { return r.list("/keys") })
	rotate := e.keysLeaf(&cobra.Command{
		Use:     "rotate",
		Short:   "Create new signing keys now; they sign once published",
		Example: "  latch keys rotate\n  latch keys rotate --id-token-alg ES256",
		Args:    exactly(),
	}, func(r *remote, _ []string) error { return r.print(http.MethodPost, "/keys/rotate", nil) })
	cmd.AddCommand(list, rotate)
	return cmd
}

// keysLeaf takes the serve settings as flags too; those about keys show
// in its help.
func (e *cliEnv) keysLeaf(cmd *cobra.Command, remote func(*remote, []string) error) *cobra.Command {
	var c server.Config
	cf := bindServe(cmd.Flags(), &c)
	cf.only("LATCH_ID_TOKEN_ALG", "LATCH_ACCESS_TOKEN_ALG", "LATCH_ACCESS_TOKEN_TTL", "LATCH_ID_TOKEN_TTL", "LATCH_KEY_ROTATION")
	cf.complete(cmd)
	return e.admin(cmd, func(cmd *cobra.Command, _ []string) error {
		if err := cf.resolve(); err != nil {
			return err
		}
		return e.keys(cmd, &c)
	}, remote)
}

func (e *cliEnv) keys(cmd *cobra.Command, c *server.Config) error {
	box, err := e.box()
	if err != nil {
		return err
	}
	rotate := cmd.Name() == "rotate"
	return e.withStore(!rotate, func(st *postgres.Store) error {
		m := keys.NewManager(st, box, server.KeyOptions(c, discardLogger()))
		if err := m.Reload(e.ctx); err != nil {
			return err
		}
		if rotate {
			created, err := m.Rotate(e.ctx)
			if err != nil {
				return err
			}
			if !wantJSON(cmd) {
				for _, k := range created {
					fmt.Fprintf(e.stdout, "new %s key %s signs from %s\n", k.Algorithm, k.ID, k.ActiveAt.Format(time.RFC3339))
				}
			}
			if err := m.Reload(e.ctx); err != nil {
				return err
			}
		}
		infos := m.List()
		if wantJSON(cmd) {
			return e.printJSON(infos)
		}
		if rotate {
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVE_AT")
		for _, k := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339), k.ActiveAt.Format(time.RFC3339))
		}
		return tw.Flush()
	})
}

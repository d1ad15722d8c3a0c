package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

const registrationTokenLong = `Initial access tokens for dynamic client registration (RFC 7591), with
LATCH_CLIENT_REGISTRATION=token: an app presents one to register itself. A
token is printed once, when it is created, and stored as a keyed hash, so
create needs LATCH_SECRET.`

func (e *cliEnv) registrationTokenCmd() *cobra.Command {
	cmd := group("registration-token", "Initial access tokens for dynamic client registration", registrationTokenLong)
	var ttl time.Duration
	var maxUses int
	create := hideJSON(e.admin(&cobra.Command{
		Use:   "create [--expires-in DURATION] [--max-uses N]",
		Short: "Create a registration token, printed once as JSON",
		Example: `  latch clients registration-token create
  latch clients registration-token create --expires-in 2h --max-uses 3`,
		Args: exactly(),
	}, func(cmd *cobra.Command, _ []string) error {
		if ttl <= 0 || ttl > 365*24*time.Hour || maxUses < 0 {
			return usagef(cmd, "--expires-in must be between 1s and 8760h, --max-uses at least 0")
		}
		return e.createRegistrationToken(ttl, maxUses)
	}, func(r *remote, _ []string) error {
		return r.print(http.MethodPost, "/registration-tokens", map[string]any{"expires_in": ttl.String(), "max_uses": maxUses})
	}))
	create.Flags().DurationVar(&ttl, "expires-in", 24*time.Hour, "how long the token may be used")
	create.Flags().IntVar(&maxUses, "max-uses", 1, "how many clients it may register; 0: any number")
	list := e.listCmd("latch clients registration-token", "registration tokens (never the tokens themselves)", "/registration-tokens", e.listRegistrationTokens)
	del := hideJSON(e.admin(&cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a registration token: it registers no more clients",
		Example: "  latch clients registration-token delete 3f2a9c",
		Args:    exactly("ID"),
	}, func(_ *cobra.Command, args []string) error { return e.deleteRegistrationToken(args[0]) },
		func(r *remote, args []string) error {
			return r.call(http.MethodDelete, "/registration-tokens/"+url.PathEscape(args[0]), nil, "", nil)
		}))
	cmd.AddCommand(create, list, del)
	return cmd
}

func (e *cliEnv) createRegistrationToken(ttl time.Duration, maxUses int) error {
	return e.withStore(false, func(st *postgres.Store) error {
		box, err := e.box()
		if err != nil {
			return err
		}
		t, token := registration.NewInitialAccessToken(box, maxUses, ttl)
		fx := storage.Effects{Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: "initial_access_token_created", Detail: map[string]string{"id": t.ID, "by": "cli"}}}}
		if err := st.CreateInitialAccessToken(e.ctx, t, fx); err != nil {
			return err
		}
		out := registration.Describe(t)
		out.Token, out.CreatedAt = token, time.Now().Unix()
		return e.printJSON(out)
	})
}

func (e *cliEnv) listRegistrationTokens(cmd *cobra.Command, _ []string) error {
	return e.withStore(true, func(st *postgres.Store) error {
		ts, err := st.ListInitialAccessTokens(e.ctx)
		if err != nil {
			return err
		}
		return printList(e, cmd, ts, registration.Describe, "ID\tUSES\tMAX_USES\tEXPIRES", func(t storage.InitialAccessToken) string {
			return fmt.Sprintf("%s\t%d\t%d\t%s", t.ID, t.Uses, t.MaxUses, t.ExpiresAt.Format(time.RFC3339))
		})
	})
}

func (e *cliEnv) deleteRegistrationToken(id string) error {
	return e.withStore(false, func(st *postgres.Store) error {
		fx := storage.Effects{Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: "initial_access_token_deleted", Detail: map[string]string{"id": id, "by": "cli"}}}}
		if err := st.DeleteInitialAccessToken(e.ctx, id, fx); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no registration token %q", id)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted registration token %s\n", id)
		return nil
	})
}

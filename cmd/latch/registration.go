package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/storage"
)

// registrationTokens manages initial access tokens for dynamic client
// registration: latch clients registration-token create|list|delete.
func (e *cliEnv) registrationTokens(args []string) error {
	const usage = "latch clients registration-token create [--expires-in 24h] [--max-uses 1] | list | delete ID"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("clients registration-token "+sub, e.stderr)
	ttl := fs.Duration("expires-in", 24*time.Hour, "how long the token may be used")
	maxUses := fs.Int("max-uses", 1, "how many clients it may register; 0: any number")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case (sub == "create" || sub == "list") && len(pos) == 0:
	case sub == "delete" && len(pos) == 1:
	default:
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	if *ttl <= 0 || *ttl > 365*24*time.Hour || *maxUses < 0 {
		return fmt.Errorf("%w: --expires-in must be between 1s and 8760h, --max-uses at least 0", errUsage)
	}
	st, err := e.openStore(sub)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		box, err := e.box()
		if err != nil {
			return err
		}
		t, token := registration.NewInitialAccessToken(box, *maxUses, *ttl)
		fx := storage.Effects{Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: "initial_access_token_created", Detail: map[string]string{"id": t.ID, "by": "cli"}}}}
		if err := st.CreateInitialAccessToken(e.ctx, t, fx); err != nil {
			return err
		}
		out := registration.Describe(t)
		out.Token, out.CreatedAt = token, time.Now().Unix()
		return e.printJSON(out)
	case "list":
		ts, err := st.ListInitialAccessTokens(e.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]registration.TokenInfo, 0, len(ts))
			for _, t := range ts {
				out = append(out, registration.Describe(t))
			}
			return e.printJSON(out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSES\tMAX_USES\tEXPIRES")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.ID, t.Uses, t.MaxUses, t.ExpiresAt.Format(time.RFC3339))
		}
		return tw.Flush()
	default: // delete
		fx := storage.Effects{Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: "initial_access_token_deleted", Detail: map[string]string{"id": pos[0], "by": "cli"}}}}
		if err := st.DeleteInitialAccessToken(e.ctx, pos[0], fx); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no registration token %q", pos[0])
		} else if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted registration token %s\n", pos[0])
		return nil
	}
}

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

const clientsLong = `Register and manage OAuth clients, the applications that ask latch for
tokens. Client metadata uses the RFC 7591 names (client_name,
redirect_uris, grant_types, token_endpoint_auth_method, ...); a client's
secret is printed once, when it is created or rotated, and stored as a
keyed hash, so these commands need LATCH_SECRET.`

func (e *cliEnv) clientsCmd() *cobra.Command {
	cmd := group("clients", "Register and manage OAuth clients", clientsLong)
	create := e.createCmd(&cobra.Command{
		Use:   "create [-f FILE]",
		Short: "Register a client from RFC 7591 metadata JSON (stdin or FILE)",
		Long: `Register a client from RFC 7591 client metadata JSON, read from FILE or
stdin, and print it as JSON, with its client_secret (shown this once) when
it is confidential.`,
		Example: `  latch clients create -f client.json
  echo '{"client_name":"Web","redirect_uris":["https://app.example.com/cb"]}' | latch clients create
  echo '{"client_id":"spa","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}' | latch clients create`,
		Args: exactly(),
	}, "/clients", "client metadata", e.createClient)
	list := e.listCmd("latch clients", "clients", "/clients", e.listClients)
	get := e.getCmd(&cobra.Command{
		Use:     "get CLIENT_ID",
		Short:   "Print a client's metadata as JSON (never its secret)",
		Example: "  latch clients get my-app",
		Args:    exactly("CLIENT_ID"),
	}, "/clients", func(id string) error {
		return e.withStore(true, func(st *postgres.Store) error {
			c, err := loadClient(e, st, id)
			if err != nil {
				return err
			}
			return e.printJSON(clients.ToMetadata(c))
		})
	})
	del := e.deleteCmd(&cobra.Command{
		Use:     "delete CLIENT_ID",
		Short:   "Delete a client",
		Example: "  latch clients delete my-app",
		Args:    exactly("CLIENT_ID"),
	}, "/clients", e.deleteClient)
	rotate := hideJSON(e.admin(&cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a confidential client a new secret, printed once; the old one stops working",
		Example: `  latch clients rotate-secret my-app
  latch clients rotate-secret my-app | jq -r .client_secret`,
		Args: exactly("CLIENT_ID"),
	}, func(_ *cobra.Command, args []string) error { return e.rotateSecret(args[0]) },
		func(r *remote, args []string) error { return r.action("/clients", args[0], "/rotate-secret") }))
	cmd.AddCommand(create, list, get, del, rotate, e.registrationTokenCmd())
	return cmd
}

func loadClient(e *cliEnv, st *postgres.Store, id string) (storage.Client, error) {
	c, err := st.GetClient(e.ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return c, fmt.Errorf("no client %q", id)
	}
	return c, err
}

func (e *cliEnv) createClient(file string) error {
	return e.withStore(false, func(st *postgres.Store) error {
		var m clients.Metadata
		if err := e.readJSON(file, "client metadata", &m); err != nil {
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
	})
}

func (e *cliEnv) listClients(cmd *cobra.Command, _ []string) error {
	return e.withStore(true, func(st *postgres.Store) error {
		cs, err := st.ListClients(e.ctx)
		if err != nil {
			return err
		}
		return printList(e, cmd, cs, clients.ToMetadata, "CLIENT_ID\tNAME\tAUTH\tFIRST_PARTY\tGRANTS", func(c storage.Client) string {
			return fmt.Sprintf("%s\t%s\t%s\t%t\t%s", c.ID, c.Name, c.TokenEndpointAuthMethod, c.FirstParty, strings.Join(c.GrantTypes, ","))
		})
	})
}

func (e *cliEnv) deleteClient(cmd *cobra.Command, args []string) error {
	return e.withStore(false, func(st *postgres.Store) error {
		if err := st.DeleteClient(e.ctx, args[0]); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no client %q", args[0])
		} else if err != nil {
			return err
		}
		if wantJSON(cmd) {
			return e.printJSON(map[string]string{"deleted": args[0]})
		}
		fmt.Fprintf(e.stdout, "deleted client %s\n", args[0])
		return nil
	})
}

func (e *cliEnv) rotateSecret(id string) error {
	return e.withStore(false, func(st *postgres.Store) error {
		c, err := loadClient(e, st, id)
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
	})
}

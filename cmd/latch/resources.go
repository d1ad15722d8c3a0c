package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

const resourcesLong = `Register and manage API resources (RFC 8707): the APIs latch issues access
tokens for, each with its identifier (the tokens' audience), the scopes it
owns and optionally its own access token lifetime. A resource is named by
its identifier.`

func (e *cliEnv) resourcesCmd() *cobra.Command {
	cmd := group("resources", "Register and manage API resources (token audiences)", resourcesLong)
	create := e.createCmd(&cobra.Command{
		Use:   "create [-f FILE]",
		Short: "Register an API resource from JSON (stdin or FILE) and print it back",
		Example: `  latch resources create -f api.json
  echo '{"resource":"https://api.example.com","name":"Example API","scopes":["api:read"],"access_token_ttl":"10m"}' | latch resources create`,
		Args: exactly(),
	}, "/resources", "resource", e.createResource)
	list := e.listCmd("latch resources", "API resources", "/resources", e.listResources)
	get := e.getCmd(&cobra.Command{
		Use:     "get RESOURCE",
		Short:   "Print an API resource as JSON",
		Example: "  latch resources get https://api.example.com",
		Args:    exactly("RESOURCE"),
	}, "/resources", func(id string) error {
		return e.withStore(true, func(st *postgres.Store) error {
			r, err := st.GetResource(e.ctx, id)
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("no resource %q", id)
			} else if err != nil {
				return err
			}
			return e.printJSON(resources.ToMetadata(r))
		})
	})
	del := e.deleteCmd(&cobra.Command{
		Use:     "delete RESOURCE",
		Short:   "Delete an API resource",
		Example: "  latch resources delete https://api.example.com",
		Args:    exactly("RESOURCE"),
	}, "/resources", e.deleteResource)
	cmd.AddCommand(create, list, get, del)
	return cmd
}

func (e *cliEnv) createResource(file string) error {
	return e.withStore(false, func(st *postgres.Store) error {
		var m resources.Metadata
		if err := e.readJSON(file, "resource", &m); err != nil {
			return err
		}
		r, err := resources.New(m)
		if err != nil {
			return fmt.Errorf("resource: %w", err)
		}
		if err := st.CreateResource(e.ctx, r, resourceAudit("resource_created", r.ID)); errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("the resource %q exists already, or another resource owns one of its scopes", r.ID)
		} else if err != nil {
			return err
		}
		created, err := st.GetResource(e.ctx, r.ID)
		if err != nil {
			return err
		}
		return e.printJSON(resources.ToMetadata(created))
	})
}

func (e *cliEnv) listResources(cmd *cobra.Command, _ []string) error {
	return e.withStore(true, func(st *postgres.Store) error {
		rs, err := st.ListResources(e.ctx)
		if err != nil {
			return err
		}
		return printList(e, cmd, rs, resources.ToMetadata, "RESOURCE\tNAME\tSCOPES\tACCESS_TOKEN_TTL", func(r storage.Resource) string {
			ttl := "default"
			if r.AccessTokenTTL > 0 {
				ttl = r.AccessTokenTTL.String()
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s", r.ID, r.Name, strings.Join(r.Scopes, " "), ttl)
		})
	})
}

func (e *cliEnv) deleteResource(cmd *cobra.Command, args []string) error {
	return e.withStore(false, func(st *postgres.Store) error {
		if err := st.DeleteResource(e.ctx, args[0], resourceAudit("resource_deleted", args[0])); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no resource %q", args[0])
		} else if err != nil {
			return err
		}
		if wantJSON(cmd) {
			return e.printJSON(map[string]string{"deleted": args[0]})
		}
		fmt.Fprintf(e.stdout, "deleted resource %s\n", args[0])
		return nil
	})
}

// resourceAudit records a change the CLI made to a resource.
func resourceAudit(kind, id string) storage.Effects {
	return storage.Effects{Audit: []storage.AuditEvent{{
		At: time.Now().UTC(), Kind: kind, Detail: map[string]string{"resource": id, "by": "cli"},
	}}}
}

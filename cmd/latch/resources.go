package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
)

// resources manages API resources: latch resources create|list|get|delete.
func (e *cliEnv) resources(args []string) error {
	const usage = "latch resources create [-f FILE] | list | get RESOURCE | delete RESOURCE"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("resources "+sub, e.stderr)
	file := fs.String("f", "", "read the resource JSON from this file instead of stdin")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "create", "list":
		if len(pos) != 0 {
			return fmt.Errorf("%w: %s", errUsage, usage)
		}
	case "get", "delete":
		if len(pos) != 1 {
			return fmt.Errorf("%w: latch resources %s RESOURCE", errUsage, sub)
		}
	default:
		return fmt.Errorf("%w: unknown subcommand resources %s (%s)", errUsage, sub, usage)
	}
	st, err := e.openStore(sub)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		var m resources.Metadata
		if err := e.readJSON(*file, "resource", &m); err != nil {
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
	case "list":
		rs, err := st.ListResources(e.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]resources.Metadata, 0, len(rs))
			for _, r := range rs {
				out = append(out, resources.ToMetadata(r))
			}
			return e.printJSON(out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RESOURCE\tNAME\tSCOPES\tACCESS_TOKEN_TTL")
		for _, r := range rs {
			ttl := "default"
			if r.AccessTokenTTL > 0 {
				ttl = r.AccessTokenTTL.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Name, strings.Join(r.Scopes, " "), ttl)
		}
		return tw.Flush()
	case "get":
		r, err := st.GetResource(e.ctx, pos[0])
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no resource %q", pos[0])
		} else if err != nil {
			return err
		}
		return e.printJSON(resources.ToMetadata(r))
	default: // delete
		if err := st.DeleteResource(e.ctx, pos[0], resourceAudit("resource_deleted", pos[0])); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no resource %q", pos[0])
		} else if err != nil {
			return err
		}
		if *asJSON {
			return e.printJSON(map[string]string{"deleted": pos[0]})
		}
		fmt.Fprintf(e.stdout, "deleted resource %s\n", pos[0])
		return nil
	}
}

// resourceAudit records a change the CLI made to a resource.
func resourceAudit(kind, id string) storage.Effects {
	return storage.Effects{Audit: []storage.AuditEvent{{
		At: time.Now().UTC(), Kind: kind, Detail: map[string]string{"resource": id, "by": "cli"},
	}}}
}

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

// A resource's scopes are rows of resource_scopes, kept in the order given.
const resourceColumns = `r.id, r.name, r.access_token_ttl_ms, r.introspection_clients, r.created_at, r.updated_at,
	coalesce((SELECT array_agg(scope ORDER BY position) FROM resource_scopes WHERE resource_id = r.id), '{}')`

func scanResource(row pgx.Row) (storage.Resource, error) {
	var r storage.Resource
	var ttl int64
	err := row.Scan(&r.ID, &r.Name, &ttl, &r.IntrospectionClients, &r.CreatedAt, &r.UpdatedAt, &r.Scopes)
	r.AccessTokenTTL = time.Duration(ttl) * time.Millisecond
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, err
}

const (
	createResourceSQL = `INSERT INTO resources (id, name, access_token_ttl_ms, introspection_clients, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)`
	insertResourceScopesSQL = `INSERT INTO resource_scopes (scope, resource_id, position)
		SELECT scope, $1, position FROM unnest($2::text[]) WITH ORDINALITY AS s(scope, position)`
)

// CreateResource stores r with its scopes, atomically with fx.
func (s *Store) CreateResource(ctx context.Context, r storage.Resource, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createResourceSQL, r.ID, r.Name, r.AccessTokenTTL.Milliseconds(), nonNil(r.IntrospectionClients), now()); err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, insertResourceScopesSQL, r.ID, nonNil(r.Scopes)); err != nil {
			return translate(err)
		}
		return s.writeEffects(ctx, tx, fx)
	})
	if err != nil {
		return fmt.Errorf("postgres: create resource: %w", err)
	}
	return nil
}

const getResourceSQL = `SELECT ` + resourceColumns + ` FROM resources r WHERE r.id = $1`

// GetResource returns the resource; storage.ErrNotFound when there is none.
func (s *Store) GetResource(ctx context.Context, id string) (storage.Resource, error) {
	r, err := scanResource(s.db(ctx).QueryRow(ctx, getResourceSQL, id))
	if err != nil {
		return storage.Resource{}, fmt.Errorf("postgres: get resource: %w", translate(err))
	}
	return r, nil
}

const listResourcesSQL = `SELECT ` + resourceColumns + ` FROM resources r ORDER BY r.created_at, r.id`

// ListResources returns every resource, oldest first.
func (s *Store) ListResources(ctx context.Context) ([]storage.Resource, error) {
	rows, err := s.db(ctx).Query(ctx, listResourcesSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: list resources: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Resource, error) { return scanResource(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list resources: %w", translate(err))
	}
	return out, nil
}

const (
	updateResourceSQL = `UPDATE resources SET name = $2, access_token_ttl_ms = $3, updated_at = $4,
		introspection_clients = $5
		WHERE id = $1`
	deleteResourceScopesSQL = `DELETE FROM resource_scopes WHERE resource_id = $1`
)

// UpdateResource replaces the resource's name, lifetime, introspection
// clients and scopes,
// atomically with fx.
func (s *Store) UpdateResource(ctx context.Context, r storage.Resource, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, updateResourceSQL, r.ID, r.Name, r.AccessTokenTTL.Milliseconds(), now(), nonNil(r.IntrospectionClients))
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		if _, err := tx.Exec(ctx, deleteResourceScopesSQL, r.ID); err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, insertResourceScopesSQL, r.ID, nonNil(r.Scopes)); err != nil {
			return translate(err)
		}
		return s.writeEffects(ctx, tx, fx)
	})
	if err != nil {
		return fmt.Errorf("postgres: update resource: %w", err)
	}
	return nil
}

const deleteResourceSQL = `DELETE FROM resources WHERE id = $1`

// DeleteResource deletes the resource and its scopes, atomically with fx.
func (s *Store) DeleteResource(ctx context.Context, id string, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteResourceSQL, id)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		return s.writeEffects(ctx, tx, fx)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete resource: %w", err)
	}
	return nil
}

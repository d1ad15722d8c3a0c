package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

const clientColumns = `id, name, secret_hash, redirect_uris, grant_types, response_types, scopes,
	token_endpoint_auth_method, post_logout_redirect_uris, first_party, created_at, updated_at,
	jwks, jwks_uri, token_endpoint_auth_signing_alg, registration_token_hash, minimum_acr,
	backchannel_logout_uri, backchannel_logout_session_required, dpop_bound_access_tokens,
	id_token_signed_response_alg`

func scanClient(row pgx.Row) (storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.RedirectURIs, &c.GrantTypes, &c.ResponseTypes, &c.Scopes,
		&c.TokenEndpointAuthMethod, &c.PostLogoutRedirectURIs, &c.FirstParty, &c.CreatedAt, &c.UpdatedAt,
		&c.JWKS, &c.JWKSURI, &c.TokenEndpointAuthSigningAlg, &c.RegistrationTokenHash, &c.MinimumACR,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.DPoPBoundAccessTokens,
		&c.IDTokenSignedResponseAlg)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

const createClientSQL = `INSERT INTO clients (` + clientColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`

// CreateClient inserts c; created and updated times default to now.
// storage.ErrAlreadyExists when the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	t := now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	_, err := s.db(ctx).Exec(ctx, createClientSQL, c.ID, c.Name, c.SecretHash, nonNil(c.RedirectURIs),
		nonNil(c.GrantTypes), nonNil(c.ResponseTypes), nonNil(c.Scopes), c.TokenEndpointAuthMethod,
		nonNil(c.PostLogoutRedirectURIs), c.FirstParty, c.CreatedAt, c.UpdatedAt,
		c.JWKS, c.JWKSURI, c.TokenEndpointAuthSigningAlg, c.RegistrationTokenHash, c.MinimumACR,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.DPoPBoundAccessTokens, c.IDTokenSignedResponseAlg)
	if err != nil {
		return fmt.Errorf("postgres: create client: %w", translate(err))
	}
	return nil
}

const getClientSQL = `SELECT ` + clientColumns + ` FROM clients WHERE id = $1`

// GetClient returns the client; storage.ErrNotFound when there is none.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := scanClient(s.db(ctx).QueryRow(ctx, getClientSQL, id))
	if err != nil {
		return storage.Client{}, fmt.Errorf("postgres: get client: %w", translate(err))
	}
	return c, nil
}

const listClientsSQL = `SELECT ` + clientColumns + ` FROM clients ORDER BY created_at, id`

// ListClients returns every client, oldest first.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.db(ctx).Query(ctx, listClientsSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Client, error) { return scanClient(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", translate(err))
	}
	return out, nil
}

const updateClientSQL = `UPDATE clients SET name = $2, secret_hash = $3, redirect_uris = $4, grant_types = $5,
	response_types = $6, scopes = $7, token_endpoint_auth_method = $8, post_logout_redirect_uris = $9,
	first_party = $10, updated_at = $11, jwks = $12, jwks_uri = $13, token_endpoint_auth_signing_alg = $14,
	registration_token_hash = $15, minimum_acr = $16, backchannel_logout_uri = $17,
	backchannel_logout_session_required = $18, dpop_bound_access_tokens = $19,
	id_token_signed_response_alg = $20
	WHERE id = $1`

// UpdateClient replaces every field of the client but its creation time.
func (s *Store) UpdateClient(ctx context.Context, c storage.Client) error {
	tag, err := s.db(ctx).Exec(ctx, updateClientSQL, c.ID, c.Name, c.SecretHash, nonNil(c.RedirectURIs),
		nonNil(c.GrantTypes), nonNil(c.ResponseTypes), nonNil(c.Scopes), c.TokenEndpointAuthMethod,
		nonNil(c.PostLogoutRedirectURIs), c.FirstParty, now(), c.JWKS, c.JWKSURI, c.TokenEndpointAuthSigningAlg,
		c.RegistrationTokenHash, c.MinimumACR, c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.DPoPBoundAccessTokens,
		c.IDTokenSignedResponseAlg)
	if err != nil {
		return fmt.Errorf("postgres: update client: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update client: %w", storage.ErrNotFound)
	}
	return nil
}

const deleteClientSQL = `DELETE FROM clients WHERE id = $1`

// DeleteClient deletes the client; its consents and refresh tokens go with
// it (ON DELETE CASCADE).
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, deleteClientSQL, id)
	if err != nil {
		return fmt.Errorf("postgres: delete client: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete client: %w", storage.ErrNotFound)
	}
	return nil
}

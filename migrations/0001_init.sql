-- latch's durable schema. Short-lived state (codes, access tokens, flow
-- state, browser sessions) lives in Redis and never here. The mail queue is
-- River's tables, created by River's own migrations in the same run.

CREATE TABLE clients (
	id                         text PRIMARY KEY CHECK (id <> ''),
	name                       text NOT NULL DEFAULT '',
	-- keyed hash of the secret; NULL for public clients
	secret_hash                bytea,
	redirect_uris              text[] NOT NULL DEFAULT '{}',
	grant_types                text[] NOT NULL DEFAULT '{}',
	response_types             text[] NOT NULL DEFAULT '{}',
	scopes                     text[] NOT NULL DEFAULT '{}',
	token_endpoint_auth_method text NOT NULL
		CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
	post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
	first_party                boolean NOT NULL DEFAULT false,
	created_at                 timestamptz NOT NULL DEFAULT now(),
	updated_at                 timestamptz NOT NULL DEFAULT now(),
	-- A public client has no secret, a confidential one always has one.
	CONSTRAINT clients_secret_matches_auth_method
		CHECK ((token_endpoint_auth_method = 'none') = (secret_hash IS NULL))
);

CREATE TABLE users (
	id                   text PRIMARY KEY CHECK (id <> ''),
	email                text NOT NULL CHECK (email <> ''),
	name                 text NOT NULL DEFAULT '',
	role                 text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
	-- PHC string (Argon2id); empty when the user has no password
	password_hash        text NOT NULL DEFAULT '',
	password_must_change boolean NOT NULL DEFAULT false,
	disabled             boolean NOT NULL DEFAULT false,
	email_verified       boolean NOT NULL DEFAULT false,
	-- sealed with the system secret; NULL while TOTP is off
	totp_secret          bytea,
	created_at           timestamptz NOT NULL DEFAULT now(),
	updated_at           timestamptz NOT NULL DEFAULT now(),
	last_login_at        timestamptz
);

-- Emails are stored as typed but compared case-insensitively, so that
-- Alice@example.com and alice@example.com are one account.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE backup_codes (
	user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       bytea NOT NULL,
	used_at    timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, hash)
);

CREATE TABLE consents (
	user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client_id  text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scopes     text[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, client_id)
);

CREATE INDEX consents_client_id_idx ON consents (client_id);

-- One row per refresh token ever issued. A rotated token is deactivated, not
-- deleted, and kept until it expires, so that its reuse is recognised and
-- revokes the family (every token sharing request_id).
CREATE TABLE refresh_tokens (
	signature        text PRIMARY KEY,
	request_id       text NOT NULL,
	client_id        text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	-- the session's subject. Not a foreign key: a grant's subject need not
	-- be a local user row (and a user is disabled, not deleted).
	user_id          text,
	access_signature text NOT NULL DEFAULT '',
	active           boolean NOT NULL DEFAULT true,
	rotated_at       timestamptz,
	revoked_at       timestamptz,
	created_at       timestamptz NOT NULL DEFAULT now(),
	-- NULL when the token never expires
	expires_at       timestamptz,
	-- the serialized fosite request and session (storage.MarshalRequest)
	request          bytea NOT NULL,
	-- A revoked or rotated token is never active again.
	CONSTRAINT refresh_tokens_inactive_when_ended
		CHECK (NOT active OR (rotated_at IS NULL AND revoked_at IS NULL))
);

CREATE INDEX refresh_tokens_request_id_idx ON refresh_tokens (request_id);
CREATE INDEX refresh_tokens_user_client_idx ON refresh_tokens (user_id, client_id);
CREATE INDEX refresh_tokens_client_id_idx ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE signing_keys (
	id          text PRIMARY KEY CHECK (id <> ''),
	algorithm   text NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
	-- sealed with the system secret
	private_key bytea NOT NULL,
	-- the public JWK; kept as bytes so that it is returned exactly as given
	public_key  bytea NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	active_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX signing_keys_created_at_idx ON signing_keys (created_at DESC);

-- Security events. user_id and client_id are not foreign keys: the trail
-- outlives what it talks about.
CREATE TABLE audit_log (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at         timestamptz NOT NULL DEFAULT now(),
	kind       text NOT NULL CHECK (kind <> ''),
	user_id    text,
	client_id  text,
	ip         text NOT NULL DEFAULT '',
	user_agent text NOT NULL DEFAULT '',
	detail     jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_user_id_idx ON audit_log (user_id, id DESC) WHERE user_id IS NOT NULL;

-- Dynamic client registration (RFC 7591, RFC 7592): a client that
-- registered itself keeps the keyed hash of its registration access token;
-- initial access tokens let an administrator hand out registrations.
ALTER TABLE clients ADD COLUMN registration_token_hash bytea;

CREATE TABLE initial_access_tokens (
	id text PRIMARY KEY,
	hash bytea NOT NULL UNIQUE,
	max_uses int NOT NULL DEFAULT 1 CHECK (max_uses >= 0),
	uses int NOT NULL DEFAULT 0 CHECK (uses >= 0),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL
);

-- WebAuthn credentials (passkeys and security keys). The credential ID is
-- the authenticator's, unique across all users: a discoverable sign-in
-- finds its passkey, and so its user, by it.
CREATE TABLE passkeys (
	id               bytea PRIMARY KEY,
	user_id          text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name             text NOT NULL,
	public_key       bytea NOT NULL,
	aaguid           bytea NOT NULL DEFAULT '\x',
	attestation_type text NOT NULL DEFAULT '',
	transports       text[] NOT NULL DEFAULT '{}',
	sign_count       bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
	backup_eligible  boolean NOT NULL,
	backup_state     boolean NOT NULL,
	created_at       timestamptz NOT NULL DEFAULT now(),
	last_used_at     timestamptz
);

CREATE INDEX passkeys_user_id_idx ON passkeys (user_id, created_at);

-- The authentication context class a client's sign-ins must reach
-- (phr, phrh: a passkey); '' for none.
ALTER TABLE clients ADD COLUMN minimum_acr text NOT NULL DEFAULT '';

-- Clients may authenticate with private_key_jwt (RFC 7523): they register
-- their public keys, inline or by URL, and have no secret.
ALTER TABLE clients
	ADD COLUMN jwks text NOT NULL DEFAULT '',
	ADD COLUMN jwks_uri text NOT NULL DEFAULT '',
	ADD COLUMN token_endpoint_auth_signing_alg text NOT NULL DEFAULT ''
		CHECK (token_endpoint_auth_signing_alg IN ('', 'RS256', 'ES256')),
	DROP CONSTRAINT clients_token_endpoint_auth_method_check,
	ADD CONSTRAINT clients_token_endpoint_auth_method_check
		CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt')),
	DROP CONSTRAINT clients_secret_matches_auth_method,
	-- Exactly the clients that authenticate with a secret have one.
	ADD CONSTRAINT clients_secret_matches_auth_method
		CHECK ((token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post')) = (secret_hash IS NOT NULL)),
	-- Exactly the private_key_jwt clients have keys, from one source.
	ADD CONSTRAINT clients_keys_match_auth_method
		CHECK ((token_endpoint_auth_method = 'private_key_jwt') = ((jwks <> '') <> (jwks_uri <> '')));

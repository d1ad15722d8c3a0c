-- OpenID Connect Dynamic Client Registration: the algorithm a client's ID
-- tokens (and logout tokens) are signed with; '' for LATCH_ID_TOKEN_ALG.
ALTER TABLE clients
	ADD COLUMN id_token_signed_response_alg text NOT NULL DEFAULT ''
		CHECK (id_token_signed_response_alg IN ('', 'RS256', 'ES256'));

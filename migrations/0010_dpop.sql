-- RFC 9449 (DPoP): a client registered with dpop_bound_access_tokens gets
-- only sender-constrained access tokens; a token request without a proof is
-- refused.
ALTER TABLE clients
	ADD COLUMN dpop_bound_access_tokens boolean NOT NULL DEFAULT false;

-- OpenID Connect Back-Channel Logout 1.0: where a client is told that a
-- user's session ended, and whether it needs the session's sid.
ALTER TABLE clients
	ADD COLUMN backchannel_logout_uri text NOT NULL DEFAULT '',
	ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT false;

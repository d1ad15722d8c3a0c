-- API resources (RFC 8707): the audiences of access tokens. A scope belongs
-- to one resource at most, which the primary key of resource_scopes keeps.
CREATE TABLE resources (
	id text PRIMARY KEY,
	name text NOT NULL DEFAULT '',
	access_token_ttl_ms bigint NOT NULL DEFAULT 0 CHECK (access_token_ttl_ms >= 0),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE resource_scopes (
	scope text PRIMARY KEY,
	resource_id text NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
	position int NOT NULL
);

CREATE INDEX resource_scopes_resource_id ON resource_scopes (resource_id);

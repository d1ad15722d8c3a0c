-- The clients an API resource introspects with (RFC 7662): each may
-- introspect the access tokens whose audience is that resource.
ALTER TABLE resources ADD COLUMN introspection_clients text[] NOT NULL DEFAULT '{}';

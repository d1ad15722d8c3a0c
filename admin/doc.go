// Package admin serves latch's admin REST API under /admin/...: clients,
// API resources, users, signing keys, the audit log and registration
// initial access tokens, as JSON.
//
// Every call needs a bearer access token for the admin API (a built-in
// resource owning the scope latch:admin), checked in process by package
// rs: a user's token whose user is, at the time of the call, an active
// administrator, or a client's own token (client_credentials) of a client
// granted latch:admin. Account rules go through the accounts service,
// like the pages and the CLI; every write is recorded in the audit log
// with the acting administrator, in the same transaction as the change.
// Updates need If-Match with the resource's ETag, so that two
// administrators never overwrite each other unseen. The route table
// (routes.go) is the one description of the API: it mounts the handlers
// and renders the OpenAPI document served at /admin/openapi.json.
//
// The package never returns a stored secret or hash, and never logs a
// token or a secret.
package admin

// Package postgres is latch's durable store on PostgreSQL (pgx v5): clients,
// users, backup codes, consents, refresh-token families, signing keys, the
// audit log, and the mail queue (River's tables, written in the same
// transaction as the change that calls for a mail).
//
// Migrate (and (*Store).Migrate) applies the embedded schema of package
// migrations and River's migrations under one advisory lock; `latch migrate`
// and `latch serve` call it.
//
// It implements storage.Store and fosite's refresh-token storage, including
// fosite's storage.Transactional: fosite carries its transaction in ctx, and
// every method here runs inside that transaction when ctx holds one. That
// ctx-carried transaction never leaves this package.
//
// Errors are translated here, at the edge: no rows → not found, SQLSTATE
// 23505 → storage.ErrAlreadyExists, 40001/40P01 →
// fosite.ErrSerializationFailure. It must never log or return a secret,
// token or password hash.
package postgres

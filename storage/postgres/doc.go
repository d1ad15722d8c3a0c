// Package postgres is latch's durable store on PostgreSQL (pgx v5): clients,
// users, backup codes, consents, refresh-token families, signing keys, the
// audit log, and the mail queue (River's tables, written in the same
// transaction as the change that calls for a mail).
//
// Migrate (and (*Store).Migrate) applies the embedded schema of package
// migrations and River's migrations under one advisory lock; `latch migrate`
// and `latch serve` call it.
//
// It implements storage.Store, with its transactions: BeginTx puts one in
// ctx, and every method here runs inside the transaction ctx holds. What a
// transaction is never leaves this package.
//
// Errors are translated here, at the edge: no rows → storage.ErrNotFound,
// SQLSTATE 23505 → storage.ErrAlreadyExists, 23503 → storage.ErrNotFound,
// 40001/40P01 → storage.ErrConflict. It must never log or return a secret,
// token or password hash.
package postgres

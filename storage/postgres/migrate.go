package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/latch-idp/latch/migrations"
)

// migrateLockKey names the advisory lock that serializes migrations. The
// value is arbitrary but fixed forever ("latch" in ASCII, then 1).
const migrateLockKey int64 = 0x6c61746368_0001

// Migrate applies pending migrations to databaseURL: latch's own
// (migrations/) and River's (the mail queue). See (*Store).Migrate.
func Migrate(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return errors.New("postgres: invalid database URL")
	}
	cfg.MaxConns = 2
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: open pool: %w", err)
	}
	defer pool.Close()
	return migrate(ctx, pool, logger)
}

// Migrate applies pending migrations on the store's database, under a
// session advisory lock held on one connection for the whole run: replicas
// starting at once wait for the first, then find nothing to do. latch's own
// migrations run in one transaction (a failure leaves the schema as it
// was); River's run after them, one transaction per version, because some
// of them add an enum value that a later statement uses, which PostgreSQL
// refuses within one transaction.
func (s *Store) Migrate(ctx context.Context) error {
	return migrate(ctx, s.pool, s.logger)
}

const (
	migrateLockSQL       = `SELECT pg_advisory_lock($1)`
	migrateUnlockSQL     = `SELECT pg_advisory_unlock($1)`
	createMigrationsSQL  = `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
	appliedMigrationsSQL = `SELECT version FROM schema_migrations`
	recordMigrationSQL   = `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`
)

func migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	all, err := migrations.All()
	if err != nil {
		return err
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("postgres: river migrator: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, migrateLockSQL, migrateLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), migrateUnlockSQL, migrateLockKey); uerr != nil {
			// Closing the session releases its locks; the pool then
			// drops the closed connection.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	if err := applyOwn(ctx, conn.Conn(), all, logger); err != nil {
		return err
	}
	// River applies each of its pending migrations in a transaction of its
	// own, on the pool, while this session holds the lock.
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("postgres: migrate: river: %w", err)
	}
	for _, v := range res.Versions {
		logger.InfoContext(ctx, "applied river migration", "version", v.Version, "name", v.Name)
	}
	return nil
}

// applyOwn applies latch's pending migrations in one transaction.
func applyOwn(ctx context.Context, conn *pgx.Conn, all []migrations.Migration, logger *slog.Logger) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, createMigrationsSQL); err != nil {
		return fmt.Errorf("postgres: migrate: schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, appliedMigrationsSQL)
	if err != nil {
		return fmt.Errorf("postgres: migrate: read applied: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("postgres: migrate: read applied: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[int(v)] = true
	}
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		// Exec without arguments uses the simple protocol, which runs a
		// script of several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("postgres: migrate: apply %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, recordMigrationSQL, m.Version, m.Name); err != nil {
			return fmt.Errorf("postgres: migrate: record %s: %w", m.Name, err)
		}
		logger.InfoContext(ctx, "applied migration", "name", m.Name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}

const ownMigrationsTableSQL = `SELECT to_regclass('schema_migrations') IS NOT NULL`

// Pending names the migrations not yet applied to the store's database,
// latch's own and River's, without applying anything: commands that must
// not change the schema use it to tell the operator to run `latch migrate`.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	all, err := migrations.All()
	if err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	var exists bool
	if err := s.pool.QueryRow(ctx, ownMigrationsTableSQL).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: read applied migrations: %w", err)
	}
	if exists {
		rows, err := s.pool.Query(ctx, appliedMigrationsSQL)
		if err != nil {
			return nil, fmt.Errorf("postgres: read applied migrations: %w", err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return nil, fmt.Errorf("postgres: read applied migrations: %w", err)
		}
		for _, v := range versions {
			applied[int(v)] = true
		}
	}
	var pending []string
	for _, m := range all {
		if !applied[m.Version] {
			pending = append(pending, m.Name)
		}
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(s.pool), &rivermigrate.Config{Logger: s.logger})
	if err != nil {
		return nil, fmt.Errorf("postgres: river migrator: %w", err)
	}
	res, err := migrator.Validate(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("postgres: river migrations: %w", err)
	}
	if !res.OK {
		pending = append(pending, "river")
	}
	return pending, nil
}

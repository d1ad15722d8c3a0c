package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/latch-idp/latch/storage"
)

var _ storage.Store = (*Store)(nil)

// Options tune a Store.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Tracer traces every query (OpenTelemetry); nil traces none.
	Tracer pgx.QueryTracer
}

// Store is the PostgreSQL durable store. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx] // insert-only: the mail worker runs elsewhere
	logger *slog.Logger
}

// New connects to databaseURL and checks that the database answers. It does
// not migrate: call Migrate (latch serve and latch migrate do).
func New(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The parse error may quote the URL, password included: drop it.
		return nil, errors.New("postgres: invalid database URL")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// An unreachable database shows as an outage within seconds,
		// rather than whenever the caller's deadline ends the dial; the
		// URL's connect_timeout overrides it.
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s, err := newStore(pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func newStore(pool *pgxpool.Pool, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// With neither queues nor workers the client only inserts jobs; the
	// mail worker builds its own working client on Pool().
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("postgres: river client: %w", err)
	}
	return &Store{pool: pool, river: rc, logger: logger}, nil
}

// Pool returns the connection pool, for the mail worker's River client.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that PostgreSQL answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// db is what both the pool and a transaction offer; a method runs its
// queries on whichever ctx calls for.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

type txKey struct{}

// db returns the transaction ctx carries (BeginTx), else the pool.
func (s *Store) db(ctx context.Context) db {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return s.pool
}

// inTx runs fn in a transaction, or in a savepoint of the transaction ctx
// carries, so that a method's own atomicity holds either way. fn's error is
// returned as is.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.db(ctx).Begin(ctx)
	if err != nil {
		return translate(err)
	}
	if err := fn(tx); err != nil {
		// The rollback error adds nothing to fn's; a broken connection
		// is discarded by the pool.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return translate(tx.Commit(ctx))
}

// BeginTx starts a transaction and returns a ctx that carries it; every
// method called with that ctx runs inside it. Called with a ctx that
// already carries one, it starts a savepoint.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	tx, err := s.db(ctx).Begin(ctx)
	if err != nil {
		return ctx, fmt.Errorf("postgres: begin: %w", translate(err))
	}
	return context.WithValue(ctx, txKey{}, tx), nil
}

// Commit commits the transaction ctx carries.
func (s *Store) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return errors.New("postgres: commit: no transaction in context")
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", translate(err))
	}
	return nil
}

// Rollback rolls back the transaction ctx carries. Rolling back a
// transaction that already ended (a caller may roll back after a failed
// commit)
// is not an error.
func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return errors.New("postgres: rollback: no transaction in context")
	}
	if err := tx.Rollback(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: rollback: %w", translate(err))
	}
	return nil
}

// SQLSTATEs translated at the edge.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// translate maps driver errors onto the storage contract. The original error
// stays in the chain (it names the constraint, never the values).
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %w", storage.ErrAlreadyExists, err)
		case codeForeignKeyViolation:
			// The row refers to a client or user that does not exist.
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		case codeSerializationFailure, codeDeadlockDetected:
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		}
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) || pgconn.Timeout(err) || storage.Unavailable(err) {
		return storage.MarkUnavailable(err)
	}
	return err
}

// connectTimeout bounds one connection attempt to PostgreSQL.
const connectTimeout = 2 * time.Second

// now is the store's clock for timestamps it assigns. PostgreSQL keeps
// microseconds; truncating here makes the returned value equal the stored one.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func fromNullString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nonNil keeps text[] columns NOT NULL: pgx encodes a nil slice as NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

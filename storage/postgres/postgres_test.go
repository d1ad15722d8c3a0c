package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/migrations"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
	"github.com/latch-idp/latch/storage/storagetest"
)

// newStore returns a store on a fresh, migrated database of the test's own.
func newStore(t testing.TB, opts postgres.Options) *postgres.Store {
	t.Helper()
	url := testenv.PostgresURL(t)
	s, err := postgres.New(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// mailOutbox reads the mail jobs River holds, checking that they went to
// the mail queue with their retry budget.

const outboxSQL = `SELECT args, queue, max_attempts FROM river_job WHERE kind = 'mail' ORDER BY id`

func mailOutbox(ctx context.Context, s *postgres.Store) ([]storage.MailJob, error) {
	rows, err := s.Pool().Query(ctx, outboxSQL)
	if err != nil {
		return nil, err
	}
	var out []storage.MailJob
	for rows.Next() {
		var (
			args        []byte
			queue       string
			maxAttempts int
			m           storage.MailJob
		)
		if err := rows.Scan(&args, &queue, &maxAttempts); err != nil {
			return nil, err
		}
		if queue != "mail" || maxAttempts != 10 {
			return nil, fmt.Errorf("mail job in queue %q with %d attempts, want mail with 10", queue, maxAttempts)
		}
		if err := json.Unmarshal(args, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Backend {
		s := newStore(t, postgres.Options{})
		return storagetest.Backend{Store: s, MailOutbox: func(ctx context.Context) ([]storage.MailJob, error) {
			return mailOutbox(ctx, s)
		}}
	}, storagetest.Options{Transactions: true})
}

func appliedVersions(t *testing.T, s *postgres.Store) []int {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrateIsIdempotent(t *testing.T) {
	s := newStore(t, postgres.Options{})
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if got := appliedVersions(t, s); len(got) != len(all) {
		t.Fatalf("schema_migrations = %v, want %d versions once each", got, len(all))
	}
	var riverTable bool
	if err := s.Pool().QueryRow(t.Context(), `SELECT to_regclass('river_job') IS NOT NULL`).Scan(&riverTable); err != nil || !riverTable {
		t.Fatalf("River's tables missing after Migrate (err %v)", err)
	}
}

func TestMigrateInParallelIsSafe(t *testing.T) {
	url := testenv.PostgresURL(t)
	const replicas = 4
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = postgres.Migrate(t.Context(), url, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Migrate: %v", i, err)
		}
	}
	s, err := postgres.New(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, _ := migrations.All()
	if got := appliedVersions(t, s); len(got) != len(all) {
		t.Fatalf("schema_migrations = %v after parallel runs, want %d versions once each", got, len(all))
	}
}

func TestNewKeepsTheURLPasswordOutOfErrors(t *testing.T) {
	for _, url := range []string{
		"postgres://latch:s3cr3t-pw@127.0.0.1:1/latch?sslmode=disable&connect_timeout=2",
		"postgres://latch:s3cr3t-pw@[bad",
	} {
		_, err := postgres.New(t.Context(), url, postgres.Options{})
		if err == nil {
			t.Fatalf("New(%q) succeeded", url)
		}
		if strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("New error reveals the password: %v", err)
		}
		if err := postgres.Migrate(t.Context(), url, nil); err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("Migrate error = %v, want an error without the password", err)
		}
	}
}

// TestReplicasRotatingAtOnceCreateOneKey runs CreateSigningKeyUnlessNewer
// from several stores (replicas, each with its own pool) at once, round
// after round: every round must create exactly one key.
func TestReplicasRotatingAtOnceCreateOneKey(t *testing.T) {
	url := testenv.PostgresURL(t)
	const replicas, rounds = 6, 15
	stores := make([]*postgres.Store, replicas)
	for i := range stores {
		s, err := postgres.New(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	if err := stores[0].Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Hour)
	for round := range rounds {
		var (
			wg      sync.WaitGroup
			created atomic.Int32
			start   = make(chan struct{})
		)
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				k := storage.SigningKey{ID: fmt.Sprintf("k-%d-%d", round, i), Algorithm: "ES256", PrivateKey: []byte("x"), PublicKey: []byte("{}")}
				ok, err := s.CreateSigningKeyUnlessNewer(t.Context(), k, since)
				if err != nil {
					t.Errorf("CreateSigningKeyUnlessNewer: %v", err)
				}
				if ok {
					created.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if created.Load() != 1 {
			t.Fatalf("round %d: %d replicas created a key, want 1", round, created.Load())
		}
		keys, err := stores[0].ListSigningKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		since = keys[0].CreatedAt
	}
}

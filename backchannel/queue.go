package backchannel

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Queue is the River queue of logout deliveries.
const Queue = "backchannel"

// MaxAttempts bounds the deliveries of one logout; with Backoff they span
// about an hour, then the logout is given up with a warning.
const MaxAttempts = 10

// Backoff is the wait before attempt n+1: 2ⁿ seconds, at most 15 minutes.
func Backoff(attempt int) time.Duration {
	return min(time.Duration(1<<min(attempt, 20))*time.Second, 15*time.Minute)
}

type worker struct {
	river.WorkerDefaults[Job]
	d   *Deliverer
	log *slog.Logger
}

func (w *worker) Work(ctx context.Context, job *river.Job[Job]) error {
	err := w.d.Deliver(ctx, job.Args)
	if err != nil {
		lvl := slog.LevelInfo
		if job.Attempt >= job.MaxAttempts {
			lvl = slog.LevelWarn
		}
		w.log.Log(ctx, lvl, "back-channel logout not delivered", "client_id", job.Args.ClientID, "attempt", job.Attempt, "of", job.MaxAttempts, "err", err)
	}
	return err
}

func (w *worker) NextRetry(job *river.Job[Job]) time.Time {
	return time.Now().Add(Backoff(job.Attempt))
}

func (w *worker) Timeout(*river.Job[Job]) time.Duration { return 2 * Timeout }

// PostgresQueue delivers logouts from PostgreSQL through River: queued
// jobs survive restarts, and several replicas share them.
type PostgresQueue struct {
	client *river.Client[pgx.Tx]
}

// NewPostgresQueue returns a queue on pool delivering with d; pollInterval
// zero means River's default.
func NewPostgresQueue(pool *pgxpool.Pool, d *Deliverer, log *slog.Logger, pollInterval time.Duration) (*PostgresQueue, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{d: d, log: log}); err != nil {
		return nil, fmt.Errorf("backchannel: register worker: %w", err)
	}
	cooldown := time.Duration(0)
	if pollInterval > 0 {
		cooldown = min(pollInterval, river.FetchCooldownDefault)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		FetchCooldown:     cooldown,
		FetchPollInterval: pollInterval,
		Queues:            map[string]river.QueueConfig{Queue: {MaxWorkers: 4}},
		Workers:           workers,
		MaxAttempts:       MaxAttempts,
		JobTimeout:        2 * Timeout,
		Logger:            log,
		// Delivered jobs say only who was told; keep given-up ones a day
		// for the operator.
		CompletedJobRetentionPeriod: 10 * time.Minute,
		DiscardedJobRetentionPeriod: 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("backchannel: River client: %w", err)
	}
	return &PostgresQueue{client: client}, nil
}

// Enqueue queues jobs.
func (q *PostgresQueue) Enqueue(ctx context.Context, jobs []Job) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = river.InsertManyParams{Args: j, InsertOpts: &river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}}
	}
	if _, err := q.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("backchannel: enqueue: %w", err)
	}
	return nil
}

// Start begins delivering.
func (q *PostgresQueue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop stops fetching and waits for the deliveries in progress until ctx
// ends.
func (q *PostgresQueue) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

// MemoryQueue delivers in this process only, for --dev without
// PostgreSQL: logouts not yet delivered are lost when latch stops.
type MemoryQueue struct {
	d   *Deliverer
	log *slog.Logger
	wg  sync.WaitGroup
	ctx context.Context
	end context.CancelFunc
}

// NewMemoryQueue returns an in-process queue delivering with d.
func NewMemoryQueue(d *Deliverer, log *slog.Logger) *MemoryQueue {
	ctx, end := context.WithCancel(context.Background())
	return &MemoryQueue{d: d, log: log, ctx: ctx, end: end}
}

// Enqueue delivers each job in the background, retrying as the
// PostgreSQL queue does.
func (q *MemoryQueue) Enqueue(_ context.Context, jobs []Job) error {
	for _, j := range jobs {
		q.wg.Go(func() {
			for attempt := 1; ; attempt++ {
				err := q.d.Deliver(q.ctx, j)
				if err == nil {
					return
				}
				if attempt >= MaxAttempts {
					q.log.Warn("back-channel logout not delivered", "client_id", j.ClientID, "attempt", attempt, "err", err)
					return
				}
				select {
				case <-q.ctx.Done():
					return
				case <-time.After(Backoff(attempt)):
				}
			}
		})
	}
	return nil
}

// Start does nothing: deliveries start as they are queued.
func (q *MemoryQueue) Start(context.Context) error { return nil }

// Stop abandons the retries and waits for deliveries in progress.
func (q *MemoryQueue) Stop(context.Context) error {
	q.end()
	q.wg.Wait()
	return nil
}

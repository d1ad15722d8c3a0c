package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
)

// Queue is the River queue that mail jobs go to.
const Queue = "mail"

// InsertOpts are the options every mail job is inserted with (storage
// backends that insert through their own River client use them too).
func InsertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}
}

// JobWorker is the River worker for storage.MailJob: it renders the job and
// sends it. A failed send returns the error, so River retries it with
// Backoff; a permanent failure cancels the job; every failure and the final
// give-up are logged, with the recipient's domain only.
type JobWorker struct {
	river.WorkerDefaults[storage.MailJob]
	delivery delivery
	backoff  Backoff
	timeout  time.Duration
}

var _ river.Worker[storage.MailJob] = (*JobWorker)(nil)

// NewJobWorker returns a worker; backoff nil means River's own schedule.
func NewJobWorker(r *Renderer, s Sender, logger *slog.Logger, backoff Backoff) *JobWorker {
	return &JobWorker{delivery: delivery{renderer: r, sender: s, logger: logger}, backoff: backoff}
}

// Work implements river.Worker.
func (w *JobWorker) Work(ctx context.Context, job *river.Job[storage.MailJob]) error {
	err, final := w.delivery.deliver(ctx, job.Args, job.Attempt, job.MaxAttempts)
	if err != nil && final && errors.Is(err, ErrPermanent) {
		return river.JobCancel(err)
	}
	// On the last attempt River discards the job after this error.
	return err
}

// NextRetry implements river.Worker.
func (w *JobWorker) NextRetry(job *river.Job[storage.MailJob]) time.Time {
	if w.backoff == nil {
		return time.Time{}
	}
	return time.Now().Add(w.backoff(job.Attempt))
}

// Timeout implements river.Worker: a little more than the sender's own
// bound, so the sender's clearer error wins.
func (w *JobWorker) Timeout(*river.Job[storage.MailJob]) time.Duration { return w.timeout }

// PostgresConfig configures a PostgresQueue.
type PostgresConfig struct {
	Renderer *Renderer
	Sender   Sender
	Logger   *slog.Logger
	// Metrics counts delivery attempts; may be nil.
	Metrics *telemetry.Metrics
	// Workers is how many emails are sent at once; zero means 4.
	Workers int
	// Backoff between attempts; nil means River's (attempt⁴ seconds).
	Backoff Backoff
	// PollInterval is how often the queue looks for due jobs besides the
	// notifications River listens to; zero means River's default (1 s).
	PollInterval time.Duration
	// SendTimeout bounds one attempt; zero means DefaultSMTPTimeout plus
	// a margin.
	SendTimeout time.Duration
}

// PostgresQueue sends the mail jobs that storage/postgres inserts in the
// same transaction as the change that calls for them, through a River
// client on the "mail" queue. Several replicas may run one each: River
// hands every job to one of them.
//
// River's tables are created by storage/postgres's migrations.
type PostgresQueue struct {
	client *river.Client[pgx.Tx]
	pool   *pgxpool.Pool
}

// NewPostgresQueue returns a queue on pool; Start begins sending.
func NewPostgresQueue(pool *pgxpool.Pool, cfg PostgresConfig) (*PostgresQueue, error) {
	if cfg.Renderer == nil || cfg.Sender == nil || cfg.Logger == nil {
		return nil, errors.New("mail: PostgresConfig needs a Renderer, a Sender and a Logger")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSMTPTimeout + 10*time.Second
	}
	w := NewJobWorker(cfg.Renderer, cfg.Sender, cfg.Logger, cfg.Backoff)
	w.timeout = cfg.SendTimeout
	w.delivery.metrics = cfg.Metrics
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("mail: register worker: %w", err)
	}
	// River fetches at most once per cooldown; a shorter poll interval
	// (tests) shortens it too.
	cooldown := time.Duration(0)
	if cfg.PollInterval > 0 {
		cooldown = min(cfg.PollInterval, river.FetchCooldownDefault)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		FetchCooldown:     cooldown,
		Queues:            map[string]river.QueueConfig{Queue: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		MaxAttempts:       MaxAttempts,
		FetchPollInterval: cfg.PollInterval,
		JobTimeout:        cfg.SendTimeout,
		Logger:            cfg.Logger,
		// Job rows hold the links, and so live tokens: keep sent ones
		// briefly. Given-up ones stay a day for the operator.
		CompletedJobRetentionPeriod: 10 * time.Minute,
		CancelledJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("mail: River client: %w", err)
	}
	return &PostgresQueue{client: client, pool: pool}, nil
}

// backlogQuery counts the emails not yet sent or given up, and finds when
// the oldest of them was queued.
const backlogQuery = `SELECT count(*), min(created_at) FROM river_job
WHERE queue = $1 AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`

// Backlog says how many emails wait to be sent or retried, across every
// replica, and since when the oldest has waited.
func (q *PostgresQueue) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var oldest *time.Time
	if err := q.pool.QueryRow(ctx, backlogQuery, Queue).Scan(&b.Depth, &oldest); err != nil {
		return Backlog{}, fmt.Errorf("mail: read backlog: %w", err)
	}
	if oldest != nil {
		b.Oldest = *oldest
	}
	return b, nil
}

// Start begins sending. Cancelling ctx stops at once, abandoning sends in
// progress (River retries them later); prefer Stop.
func (q *PostgresQueue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("mail: start queue: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the sends in progress until ctx
// ends. Jobs not yet sent stay in PostgreSQL for the next start.
func (q *PostgresQueue) Stop(ctx context.Context) error {
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("mail: stop queue: %w", err)
	}
	return nil
}

// EnqueueTx inserts job in tx: it is sent only if tx commits.
func (q *PostgresQueue) EnqueueTx(ctx context.Context, tx pgx.Tx, job storage.MailJob) error {
	if err := Validate(job); err != nil {
		return err
	}
	if _, err := q.client.InsertTx(ctx, tx, job, InsertOpts()); err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	return nil
}

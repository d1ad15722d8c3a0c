package mail

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
)

// MemoryConfig configures a MemoryQueue.
type MemoryConfig struct {
	// Backoff between attempts; nil means DefaultBackoff.
	Backoff Backoff
	// MaxAttempts; zero means MaxAttempts.
	MaxAttempts int
	// Metrics counts delivery attempts; may be nil.
	Metrics *telemetry.Metrics
}

// MemoryQueue is the in-process queue of `latch serve --dev`: Enqueue
// plugs into storage/memory's Options.Mail hook, and one goroutine sends,
// with the same retry, backoff and give-up rules as the PostgreSQL queue.
// Its jobs live in memory only: they are lost when the process ends.
type MemoryQueue struct {
	delivery    delivery
	backoff     Backoff
	maxAttempts int

	mu          sync.Mutex
	pending     []*memoryJob
	wake        chan struct{}      // buffered 1: "pending changed"
	stop        context.CancelFunc // ends the loop
	cancelSends context.CancelFunc // cuts the send in progress short
	done        chan struct{}
}

type memoryJob struct {
	job     storage.MailJob
	attempt int // attempts made so far
	due     time.Time
	queued  time.Time
}

// NewMemoryQueue returns a queue; Start begins sending. Jobs enqueued
// before Start wait for it.
func NewMemoryQueue(r *Renderer, s Sender, logger *slog.Logger, cfg MemoryConfig) *MemoryQueue {
	q := &MemoryQueue{
		delivery:    delivery{renderer: r, sender: s, logger: logger, metrics: cfg.Metrics},
		backoff:     cfg.Backoff,
		maxAttempts: cfg.MaxAttempts,
		wake:        make(chan struct{}, 1),
	}
	if q.backoff == nil {
		q.backoff = DefaultBackoff
	}
	if q.maxAttempts <= 0 {
		q.maxAttempts = MaxAttempts
	}
	return q
}

// Enqueue adds job to the queue. It never blocks on sending; an invalid job
// is logged and dropped (it could never be sent).
func (q *MemoryQueue) Enqueue(job storage.MailJob) {
	if err := Validate(job); err != nil {
		q.delivery.logger.Error("mail: dropping an email that cannot be sent",
			slog.String("template", job.Template),
			slog.String("recipient_domain", domainOf(job.To)),
			slog.String("error", redact(err, job.To).Error()))
		return
	}
	q.mu.Lock()
	q.pending = append(q.pending, &memoryJob{job: job, queued: time.Now()})
	q.mu.Unlock()
	q.signal()
}

func (q *MemoryQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Start begins sending in a goroutine until Stop or until ctx ends.
func (q *MemoryQueue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stop != nil {
		return errors.New("mail: memory queue already started")
	}
	// The send in progress at Stop may finish; only Stop's own deadline
	// (or ctx) cuts it short.
	loopCtx, stop := context.WithCancel(ctx)
	sendCtx, cancelSends := context.WithCancel(ctx)
	q.stop, q.cancelSends = stop, cancelSends
	done := make(chan struct{})
	q.done = done
	go func() {
		defer close(done)
		defer cancelSends()
		q.run(loopCtx, sendCtx)
	}()
	return nil
}

// Stop stops sending and waits for the send in progress until ctx ends.
// Jobs not yet sent stay queued for a later Start.
func (q *MemoryQueue) Stop(ctx context.Context) error {
	q.mu.Lock()
	stop, cancelSends, done := q.stop, q.cancelSends, q.done
	q.stop, q.cancelSends, q.done = nil, nil, nil
	q.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cancelSends()
		<-done
		return ctx.Err()
	}
}

// Len returns how many emails wait to be sent or retried.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Backlog says how many emails wait to be sent or retried, and since when
// the oldest has waited.
func (q *MemoryQueue) Backlog(context.Context) (Backlog, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := Backlog{Depth: len(q.pending)}
	for _, j := range q.pending {
		if b.Oldest.IsZero() || j.queued.Before(b.Oldest) {
			b.Oldest = j.queued
		}
	}
	return b, nil
}

func (q *MemoryQueue) run(ctx, sendCtx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		j, next := q.takeDue(time.Now())
		if j != nil {
			q.attempt(sendCtx, j)
			continue
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
	}
}

// takeDue removes and returns the first job that is due, oldest first, or
// else returns when the next one will be.
func (q *MemoryQueue) takeDue(now time.Time) (*memoryJob, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	for i, j := range q.pending {
		if !j.due.After(now) {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return j, time.Time{}
		}
		if next.IsZero() || j.due.Before(next) {
			next = j.due
		}
	}
	return nil, next
}

func (q *MemoryQueue) attempt(ctx context.Context, j *memoryJob) {
	j.attempt++
	err, final := q.delivery.deliver(ctx, j.job, j.attempt, q.maxAttempts)
	if err == nil || final {
		return
	}
	j.due = time.Now().Add(q.backoff(j.attempt))
	q.mu.Lock()
	q.pending = append(q.pending, j)
	q.mu.Unlock()
}

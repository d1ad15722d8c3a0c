package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
)

// logBuffer collects the JSON log lines of a test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo})), b
}

// checkLogsClean pins that logs carry the recipient's domain only, and no
// link (links hold tokens).
func checkLogsClean(t *testing.T, logs string, jobs ...storage.MailJob) {
	t.Helper()
	for _, j := range jobs {
		local := j.To[:strings.IndexByte(j.To, '@')+1]
		if strings.Contains(logs, local) {
			t.Errorf("logs contain the recipient %q:\n%s", j.To, logs)
		}
		if l := j.Data["link"]; l != "" && strings.Contains(logs, l) {
			t.Errorf("logs contain the link:\n%s", logs)
		}
	}
}

func fastBackoff(int) time.Duration { return 5 * time.Millisecond }

type pgEnv struct {
	pool   *pgxpool.Pool
	insert *river.Client[pgx.Tx] // an insert-only client, as storage/postgres has
}

func newPGEnv(t *testing.T) pgEnv {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// Only River's tables: the mail package needs nothing of latch's
	// schema (in production storage/postgres's Migrate creates both).
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(t.Context(), rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	insert, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return pgEnv{pool: pool, insert: insert}
}

// enqueue inserts jobs in one transaction, committed or rolled back.
func (e pgEnv) enqueue(t *testing.T, commit bool, jobs ...storage.MailJob) {
	t.Helper()
	ctx := t.Context()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, j := range jobs {
		if _, err := e.insert.InsertTx(ctx, tx, j, InsertOpts()); err != nil {
			t.Fatal(err)
		}
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func (e pgEnv) queue(t *testing.T, sender Sender, logger *slog.Logger) *PostgresQueue {
	t.Helper()
	q, err := NewPostgresQueue(e.pool, PostgresConfig{
		Renderer:     newTestRenderer(t),
		Sender:       sender,
		Logger:       logger,
		Backoff:      fastBackoff,
		PollInterval: 20 * time.Millisecond,
		SendTimeout:  5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func (e pgEnv) start(t *testing.T, q *PostgresQueue) {
	t.Helper()
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
}

// waitJobState polls until the only job for recipient is in state.
func (e pgEnv) waitJobState(t *testing.T, to, state string) (attempt int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		err := e.pool.QueryRow(t.Context(), `SELECT state, attempt FROM river_job WHERE args->>'to' = $1`, to).Scan(&got, &attempt)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if got == state {
			return attempt
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job for %s is %q, want %q", to, got, state)
	return 0
}

func TestPostgresQueueDeliversEveryTemplate(t *testing.T) {
	env := newPGEnv(t)
	ts := startServer(t, serverOptions{tls: startTLS, user: "latch", password: "pw"})
	logger, logs := newLogger()
	cases := templateCases()
	var jobs []storage.MailJob
	for _, c := range cases {
		jobs = append(jobs, c.job)
	}
	env.enqueue(t, true, jobs...)
	env.start(t, env.queue(t, ts.sender(t), logger))

	ts.waitFor(t, len(cases))
	for _, c := range cases {
		m, ok := ts.messageTo(c.job.To)
		if !ok {
			t.Fatalf("%s: nothing arrived for %s", c.job.Template, c.job.To)
		}
		checkDelivered(t, c, parseMail(t, m.data))
	}
	checkLogsClean(t, logs.String(), jobs...)
}

func TestPostgresQueueRetriesAFailedSendUntilItArrives(t *testing.T) {
	env := newPGEnv(t)
	ts := startServer(t, serverOptions{rejectFirst: 2}) // 451 twice, then accept
	logger, logs := newLogger()
	job := templateCases()[1].job
	env.enqueue(t, true, job)
	env.start(t, env.queue(t, ts.sender(t), logger))

	m := ts.waitFor(t, 1)
	checkDelivered(t, templateCases()[1], parseMail(t, m[0].data))
	if attempt := env.waitJobState(t, job.To, "completed"); attempt != 3 {
		t.Errorf("delivered at attempt %d, want 3", attempt)
	}
	l := logs.String()
	if strings.Count(l, "mail: send failed; will retry") != 2 || !strings.Contains(l, `"recipient_domain":"example.org"`) {
		t.Errorf("want two logged failures with the recipient domain:\n%s", l)
	}
	checkLogsClean(t, l, job)
}

func TestPostgresQueueGivesUpAfterMaxAttempts(t *testing.T) {
	env := newPGEnv(t)
	ts := startServer(t, serverOptions{rejectAlways: map[string]bool{"busy@example.com": true}})
	logger, logs := newLogger()
	job := storage.MailJob{To: "busy@example.com", Template: TemplatePasswordReset, Data: map[string]string{"link": "https://id.example.com/reset?token=secret-token", "expires": "30 minutes"}}
	env.enqueue(t, true, job)
	env.start(t, env.queue(t, ts.sender(t), logger))

	if attempt := env.waitJobState(t, job.To, "discarded"); attempt != MaxAttempts {
		t.Errorf("discarded at attempt %d, want %d", attempt, MaxAttempts)
	}
	if n := ts.rcptAttempts(job.To); n != MaxAttempts {
		t.Errorf("the server saw %d attempts, want %d", n, MaxAttempts)
	}
	l := logs.String()
	if strings.Count(l, "mail: send failed; will retry") != MaxAttempts-1 || strings.Count(l, "mail: giving up after the last attempt") != 1 {
		t.Errorf("want %d logged retries and one give-up:\n%s", MaxAttempts-1, l)
	}
	// The server's reply quotes the recipient: the log must not.
	checkLogsClean(t, l, job)
	var errs string
	if err := env.pool.QueryRow(t.Context(), `SELECT errors::text FROM river_job`).Scan(&errs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errs, "busy@") {
		t.Errorf("the job's errors hold the recipient: %s", errs)
	}
}

func TestPostgresQueueCancelsAJobThatCannotSucceed(t *testing.T) {
	env := newPGEnv(t)
	ts := startServer(t, serverOptions{rejectPermanently: map[string]bool{"gone@example.com": true}})
	logger, logs := newLogger()
	gone := storage.MailJob{To: "gone@example.com", Template: TemplateTOTPEnabled, Data: map[string]string{"at": "now"}}
	// Inserted behind Validate's back, as a buggy caller could.
	broken := storage.MailJob{To: "broken@example.com", Template: "no_such_template"}
	env.enqueue(t, true, gone, broken)
	env.start(t, env.queue(t, ts.sender(t), logger))

	env.waitJobState(t, gone.To, "cancelled")
	env.waitJobState(t, broken.To, "cancelled")
	if n := ts.rcptAttempts(gone.To); n != 1 {
		t.Errorf("a refused recipient was tried %d times, want 1", n)
	}
	if strings.Count(logs.String(), "mail: giving up: the email cannot be delivered") != 2 {
		t.Errorf("want two logged give-ups:\n%s", logs.String())
	}
}

func TestPostgresQueueDeliversAfterRestartWhatWasEnqueuedWhileStopped(t *testing.T) {
	env := newPGEnv(t)
	ts := startServer(t, serverOptions{})
	logger, _ := newLogger()
	q := env.queue(t, ts.sender(t), logger)
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	job := templateCases()[0].job
	env.enqueue(t, true, job)
	time.Sleep(100 * time.Millisecond)
	if n := len(ts.messages()); n != 0 {
		t.Fatalf("%d messages sent by a stopped queue", n)
	}
	// A new process: a new queue on the same database.
	env.start(t, env.queue(t, ts.sender(t), logger))
	m := ts.waitFor(t, 1)
	checkDelivered(t, templateCases()[0], parseMail(t, m[0].data))
}

func TestPostgresQueueNeverSendsARolledBackJob(t *testing.T) {
	env := newPGEnv(t)
	ts := startServer(t, serverOptions{})
	logger, _ := newLogger()
	env.start(t, env.queue(t, ts.sender(t), logger))

	rolledBack := storage.MailJob{To: "never@example.com", Template: TemplateTOTPDisabled, Data: map[string]string{"at": "now"}}
	env.enqueue(t, false, rolledBack)
	committed := storage.MailJob{To: "after@example.com", Template: TemplateTOTPDisabled, Data: map[string]string{"at": "now"}}
	env.enqueue(t, true, committed)
	// Jobs are worked in insertion order: once the later one has arrived,
	// the rolled-back one would have too.
	ts.waitFor(t, 1)
	time.Sleep(100 * time.Millisecond)
	if _, ok := ts.messageTo(rolledBack.To); ok {
		t.Fatal("a job whose transaction rolled back was sent")
	}
	if _, ok := ts.messageTo(committed.To); !ok {
		t.Fatal("the committed job did not arrive")
	}
}

func TestPostgresQueueEnqueueTxValidatesAndRespectsTheTransaction(t *testing.T) {
	env := newPGEnv(t)
	ts := startServer(t, serverOptions{})
	logger, _ := newLogger()
	q := env.queue(t, ts.sender(t), logger)
	ctx := t.Context()
	tx, err := env.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := q.EnqueueTx(ctx, tx, storage.MailJob{To: "a@example.com", Template: TemplateVerify}); err == nil {
		t.Fatal("EnqueueTx accepted a job without its link")
	}
	tx.Rollback(ctx)
	tx, err = env.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	job := templateCases()[0].job
	if err := q.EnqueueTx(ctx, tx, job); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	env.start(t, q)
	ts.waitFor(t, 1)
	var queue string
	var maxAttempts int
	if err := env.pool.QueryRow(ctx, `SELECT queue, max_attempts FROM river_job`).Scan(&queue, &maxAttempts); err != nil {
		t.Fatal(err)
	}
	if queue != Queue || maxAttempts != MaxAttempts {
		t.Errorf("job in queue %q with %d attempts", queue, maxAttempts)
	}
}

func TestPostgresQueueWaitsForAnSMTPServerThatIsDown(t *testing.T) {
	env := newPGEnv(t)
	// Nothing listens at the server's address yet: every send is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down := &testServer{addr: addr}
	logger, logs := newLogger()
	job := templateCases()[0].job
	env.enqueue(t, true, job)
	env.start(t, env.queue(t, down.sender(t), logger))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "mail: send failed; will retry"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed send while the server was down:\n%s", logs.String())
		}
	}
	// The server comes up at that address: the job waiting in the queue
	// goes out.
	up := startServer(t, serverOptions{listen: addr})
	m := up.waitFor(t, 1)
	checkDelivered(t, templateCases()[0], parseMail(t, m[0].data))
}

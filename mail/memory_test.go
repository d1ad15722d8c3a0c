package mail

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

func startMemoryQueue(t *testing.T, s Sender, cfg MemoryConfig) (*MemoryQueue, *logBuffer) {
	t.Helper()
	logger, logs := newLogger()
	q := NewMemoryQueue(newTestRenderer(t), s, logger, cfg)
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return q, logs
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMemoryQueueDeliversEveryTemplateAndRetries(t *testing.T) {
	ts := startServer(t, serverOptions{tls: startTLS, rejectFirst: 1})
	q, logs := startMemoryQueue(t, ts.sender(t), MemoryConfig{Backoff: fastBackoff})
	cases := templateCases()
	var jobs []storage.MailJob
	for _, c := range cases {
		q.Enqueue(c.job)
		jobs = append(jobs, c.job)
	}
	ts.waitFor(t, len(cases))
	for _, c := range cases {
		m, ok := ts.messageTo(c.job.To)
		if !ok {
			t.Fatalf("%s: nothing arrived for %s", c.job.Template, c.job.To)
		}
		checkDelivered(t, c, parseMail(t, m.data))
	}
	// The first transaction was refused with 451: that email was retried.
	if ts.rcptAttempts(cases[0].job.To) != 1 || len(ts.messages()) != len(cases) {
		t.Errorf("want every email once")
	}
	if !strings.Contains(logs.String(), "mail: send failed; will retry") {
		t.Errorf("the failure was not logged:\n%s", logs.String())
	}
	checkLogsClean(t, logs.String(), jobs...)
	waitUntil(t, "the queue is empty", func() bool { return q.Len() == 0 })
}

func TestMemoryQueueGivesUpAfterMaxAttempts(t *testing.T) {
	ts := startServer(t, serverOptions{rejectAlways: map[string]bool{"busy@example.com": true}})
	q, logs := startMemoryQueue(t, ts.sender(t), MemoryConfig{Backoff: fastBackoff, MaxAttempts: 3})
	job := storage.MailJob{To: "busy@example.com", Template: TemplateVerify, Data: map[string]string{"link": "https://id.example.com/v?token=tok3n"}}
	q.Enqueue(job)
	waitUntil(t, "the job is given up", func() bool { return strings.Contains(logs.String(), "giving up after the last attempt") })
	if n := ts.rcptAttempts(job.To); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if q.Len() != 0 {
		t.Errorf("a given-up job is still queued")
	}
	checkLogsClean(t, logs.String(), job)
}

// blockingSender blocks every send until released or cancelled.
type blockingSender struct {
	release chan struct{}
	sent    atomic.Int32
}

func (s *blockingSender) Describe() string { return "blocking" }
func (s *blockingSender) Send(ctx context.Context, _ Message) error {
	select {
	case <-s.release:
		s.sent.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestMemoryQueueNeverBlocksTheCaller(t *testing.T) {
	s := &blockingSender{release: make(chan struct{})}
	q, _ := startMemoryQueue(t, s, MemoryConfig{Backoff: fastBackoff})
	job := templateCases()[3].job
	start := time.Now()
	for range 1000 {
		q.Enqueue(job)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("1000 Enqueue calls took %v while the sender was stuck", d)
	}
	close(s.release)
	waitUntil(t, "every email is sent", func() bool { return s.sent.Load() == 1000 })
}

func TestMemoryQueueKeepsJobsAcrossStopAndStart(t *testing.T) {
	ts := startServer(t, serverOptions{})
	logger, _ := newLogger()
	q := NewMemoryQueue(newTestRenderer(t), ts.sender(t), logger, MemoryConfig{})
	q.Enqueue(templateCases()[0].job) // before Start: waits
	time.Sleep(50 * time.Millisecond)
	if len(ts.messages()) != 0 || q.Len() != 1 {
		t.Fatal("sent before Start")
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts.waitFor(t, 1)
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	q.Enqueue(templateCases()[1].job)
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(t.Context())
	ts.waitFor(t, 2)
}

func TestMemoryQueueStopCutsAStuckSendAtItsDeadline(t *testing.T) {
	s := &blockingSender{release: make(chan struct{})}
	logger, _ := newLogger()
	q := NewMemoryQueue(newTestRenderer(t), s, logger, MemoryConfig{Backoff: fastBackoff})
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	q.Enqueue(templateCases()[0].job)
	waitUntil(t, "the send starts", func() bool { return q.Len() == 0 })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := q.Stop(ctx); err == nil {
		t.Fatal("Stop returned nil while the send was stuck past its deadline")
	}
	if q.Len() != 1 {
		t.Errorf("the interrupted email is not queued for a retry")
	}
}

func TestMemoryQueueDropsAnInvalidJobLoudly(t *testing.T) {
	s := &blockingSender{release: make(chan struct{})}
	q, logs := startMemoryQueue(t, s, MemoryConfig{})
	q.Enqueue(storage.MailJob{To: "someone@example.com", Template: "nope"})
	if q.Len() != 0 || !strings.Contains(logs.String(), `unknown template \"nope\"`) {
		t.Errorf("queued %d; logs:\n%s", q.Len(), logs.String())
	}
}

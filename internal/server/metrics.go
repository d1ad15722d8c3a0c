package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/mail"
)

// stats reports, at each scrape, the state of what the server holds: the
// PostgreSQL and Redis connection pools, the mail backlog and the age of
// the signing keys. It reads them when asked rather than copying them on a
// timer, so a scrape sees the state of that moment.
type stats struct {
	pool    *pgxpool.Pool // nil in --dev
	rdb     redis.UniversalClient
	backlog interface {
		Backlog(context.Context) (mail.Backlog, error)
	}
	keys *keys.Manager
	log  *slog.Logger
}

var (
	descDBConns = prometheus.NewDesc("latch_db_pool_connections",
		"PostgreSQL pool connections by state (acquired, idle, constructing).", []string{"state"}, nil)
	descDBMax = prometheus.NewDesc("latch_db_pool_max_connections",
		"Largest size of the PostgreSQL pool.", nil, nil)
	descDBAcquires = prometheus.NewDesc("latch_db_pool_acquires_total",
		"Connections taken from the PostgreSQL pool.", nil, nil)
	descDBWaits = prometheus.NewDesc("latch_db_pool_empty_acquires_total",
		"Acquisitions that had to wait for a PostgreSQL connection.", nil, nil)
	descDBWait = prometheus.NewDesc("latch_db_pool_acquire_wait_seconds_total",
		"Time spent waiting for PostgreSQL connections.", nil, nil)
	descRedisConns = prometheus.NewDesc("latch_redis_pool_connections",
		"Redis pool connections by state (idle, total).", []string{"state"}, nil)
	descRedisHits = prometheus.NewDesc("latch_redis_pool_hits_total",
		"Times a free Redis connection was found in the pool.", nil, nil)
	descRedisMisses = prometheus.NewDesc("latch_redis_pool_misses_total",
		"Times no free Redis connection was in the pool.", nil, nil)
	descRedisTimeouts = prometheus.NewDesc("latch_redis_pool_timeouts_total",
		"Times waiting for a Redis connection timed out.", nil, nil)
	descMailDepth = prometheus.NewDesc("latch_mail_queue_depth",
		"Emails waiting to be sent or retried.", nil, nil)
	descMailAge = prometheus.NewDesc("latch_mail_queue_oldest_age_seconds",
		"How long the oldest waiting email has waited (0 when none waits).", nil, nil)
	descKeyAge = prometheus.NewDesc("latch_signing_key_age_seconds",
		"How long the key signing with each algorithm has been signing.", []string{"alg"}, nil)
)

var _ prometheus.Collector = (*stats)(nil)

func (s *stats) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDBConns, descDBMax, descDBAcquires, descDBWaits, descDBWait,
		descRedisConns, descRedisHits, descRedisMisses, descRedisTimeouts, descMailDepth, descMailAge, descKeyAge} {
		ch <- d
	}
}

func (s *stats) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	if s.pool != nil {
		st := s.pool.Stat()
		gauge(descDBConns, float64(st.AcquiredConns()), "acquired")
		gauge(descDBConns, float64(st.IdleConns()), "idle")
		gauge(descDBConns, float64(st.ConstructingConns()), "constructing")
		gauge(descDBMax, float64(st.MaxConns()))
		counter(descDBAcquires, float64(st.AcquireCount()))
		counter(descDBWaits, float64(st.EmptyAcquireCount()))
		counter(descDBWait, st.AcquireDuration().Seconds())
	}
	if rs := s.rdb.PoolStats(); rs != nil {
		gauge(descRedisConns, float64(rs.IdleConns), "idle")
		gauge(descRedisConns, float64(rs.TotalConns), "total")
		counter(descRedisHits, float64(rs.Hits))
		counter(descRedisMisses, float64(rs.Misses))
		counter(descRedisTimeouts, float64(rs.Timeouts))
	}
	// A scrape must not hang on a slow database: the backlog is left out
	// of this scrape (and the failure logged) rather than the whole scrape
	// failing.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if b, err := s.backlog.Backlog(ctx); err != nil {
		s.log.Warn("metrics: read the mail backlog", "err", err)
	} else {
		gauge(descMailDepth, float64(b.Depth))
		age := 0.0
		if !b.Oldest.IsZero() {
			age = max(time.Since(b.Oldest).Seconds(), 0)
		}
		gauge(descMailAge, age)
	}
	newest := map[string]time.Time{}
	for _, k := range s.keys.List() {
		if k.State == keys.StateSigning && k.ActiveAt.After(newest[k.Algorithm]) {
			newest[k.Algorithm] = k.ActiveAt
		}
	}
	for alg, at := range newest {
		gauge(descKeyAge, time.Since(at).Seconds(), alg)
	}
}

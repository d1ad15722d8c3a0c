// Package testenv gives tests their own PostgreSQL database and Redis
// database on the throwaway servers that `make test` starts (or on
// TEST_DATABASE_URL / TEST_REDIS_URL). A missing server fails the test: it
// never skips.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// PostgresURL creates an empty database for the test and returns its URL.
// The database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "latch_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// RedisURL returns the URL of a Redis database of the test's own, empty,
// flushed again when the test ends.
func RedisURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_REDIS_URL")
	if base == "" {
		t.Fatal("TEST_REDIS_URL is not set: run the tests with `make test`, which starts Redis")
	}
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("parse TEST_REDIS_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := redis.NewClient(opts)
	defer admin.Close()
	// Database 0 holds the allocation counter; tests get 1..N in turn.
	n, err := admin.Incr(ctx, "latch:testenv:next-db").Result()
	if err != nil {
		t.Fatalf("reach TEST_REDIS_URL: %v", err)
	}
	max, err := admin.ConfigGet(ctx, "databases").Result()
	if err != nil {
		t.Fatalf("read Redis databases setting: %v", err)
	}
	total, err := strconv.Atoi(max["databases"])
	if err != nil || total < 2 {
		t.Fatalf("TEST_REDIS_URL: Redis must have several databases, it has %q", max["databases"])
	}
	db := 1 + int(n-1)%(total-1)
	u, _ := url.Parse(base)
	u.Path = "/" + strconv.Itoa(db)
	opts.DB = db
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("flush test Redis database: %v", err)
	}
	t.Cleanup(func() {
		c := redis.NewClient(opts)
		defer c.Close()
		c.FlushDB(context.Background())
	})
	return u.String()
}

// Redis returns a client of the test's own Redis database.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

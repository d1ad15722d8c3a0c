package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// prepare creates an empty database on TEST_DATABASE_URL's server and picks
// an empty Redis database on TEST_REDIS_URL's, the way internal/testenv
// does for tests (so a bench against shared servers never meets a test's
// data), and prints their URLs, one a line: PostgreSQL, then Redis.
func prepare(out io.Writer) error {
	pgBase, redisBase := os.Getenv("TEST_DATABASE_URL"), os.Getenv("TEST_REDIS_URL")
	if pgBase == "" || redisBase == "" {
		return errors.New("prepare: TEST_DATABASE_URL and TEST_REDIS_URL must be set (scripts/bench.sh sets them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, pgBase)
	if err != nil {
		return fmt.Errorf("connect to TEST_DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "latch_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create the bench database: %w", err)
	}
	pu, err := url.Parse(pgBase)
	if err != nil {
		return fmt.Errorf("parse TEST_DATABASE_URL: %w", err)
	}
	pu.Path = "/" + name

	opts, err := redis.ParseURL(redisBase)
	if err != nil {
		return fmt.Errorf("parse TEST_REDIS_URL: %w", err)
	}
	admin := redis.NewClient(opts)
	defer admin.Close()
	// internal/testenv's allocation: database 0 holds the counter.
	n, err := admin.Incr(ctx, "latch:testenv:next-db").Result()
	if err != nil {
		return fmt.Errorf("reach TEST_REDIS_URL: %w", err)
	}
	cfg, err := admin.ConfigGet(ctx, "databases").Result()
	if err != nil {
		return fmt.Errorf("read Redis databases setting: %w", err)
	}
	total, err := strconv.Atoi(cfg["databases"])
	if err != nil || total < 2 {
		return fmt.Errorf("TEST_REDIS_URL: Redis must have several databases, it has %q", cfg["databases"])
	}
	opts.DB = 1 + int(n-1)%(total-1)
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush the bench Redis database: %w", err)
	}
	ru, _ := url.Parse(redisBase)
	ru.Path = "/" + strconv.Itoa(opts.DB)

	_, err = fmt.Fprintf(out, "%s\n%s\n", pu, ru)
	return err
}

// cleanup drops the database and flushes the Redis database that prepare
// made: cleanup POSTGRES_URL REDIS_URL.
func cleanup(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: bench cleanup POSTGRES_URL REDIS_URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if pu, err := url.Parse(args[0]); err != nil {
		errs = append(errs, err)
	} else {
		name := strings.TrimPrefix(pu.Path, "/")
		pu.Path = "/postgres"
		if base := os.Getenv("TEST_DATABASE_URL"); base != "" {
			pu, _ = url.Parse(base)
		}
		if conn, err := pgx.Connect(ctx, pu.String()); err != nil {
			errs = append(errs, err)
		} else {
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if opts, err := redis.ParseURL(args[1]); err != nil {
		errs = append(errs, err)
	} else {
		c := redis.NewClient(opts)
		defer c.Close()
		if err := c.FlushDB(ctx).Err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

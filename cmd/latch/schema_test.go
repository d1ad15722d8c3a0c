package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/internal/testenv"
)

// tableCount is how many tables the database at dsn has in public.
func tableCount(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReadOnlyCommandsNeverMigrate(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	t.Setenv("LATCH_DATABASE_URL", dsn)
	t.Setenv("LATCH_SECRET", testSecret)
	for _, args := range [][]string{{"clients", "list"}, {"users", "list"}, {"resources", "list"}, {"clients", "get", "nope"}} {
		cli(t, "", args...) // they may fail on an empty database; they must not create one
	}
	if n := tableCount(t, dsn); n != 0 {
		t.Fatalf("read-only commands created %d tables", n)
	}
}

func TestWriteCommandsOnAnOldSchemaSayRunMigrate(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	t.Setenv("LATCH_DATABASE_URL", dsn)
	t.Setenv("LATCH_SECRET", testSecret)
	_, _, err := cli(t, `{"client_name":"x","redirect_uris":["https://app.example.com/cb"]}`, "clients", "create")
	if err == nil || !strings.Contains(err.Error(), "run `latch migrate`") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line telling to run latch migrate, got %v", err)
	}
	if n := tableCount(t, dsn); n != 0 {
		t.Fatalf("a write command on an old schema created %d tables", n)
	}
	mustCLI(t, "", "migrate")
	mustCLI(t, `{"client_name":"x","redirect_uris":["https://app.example.com/cb"]}`, "clients", "create")
}

func TestConnectionErrorIsOneLineWithHostWithoutPassword(t *testing.T) {
	t.Setenv("LATCH_DATABASE_URL", "postgres://latch:s3cret-pa55word@127.0.0.1:1/latch?connect_timeout=2")
	t.Setenv("LATCH_SECRET", testSecret)
	for _, args := range [][]string{{"clients", "list"}, {"migrate"}, {"users", "disable", "a@example.com"}} {
		_, _, err := cli(t, "", args...)
		if err == nil {
			t.Fatalf("latch %v: want a connection error", args)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "s3cret-pa55word") {
			t.Errorf("latch %v: want one line naming the host without the password, got %q", args, msg)
		}
	}
}

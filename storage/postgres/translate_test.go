package postgres

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
)

// TestTranslateServerErrors raises each SQLSTATE from a real server and
// checks what the edge of the package turns it into.
func TestTranslateServerErrors(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	raise := func(code string) error {
		_, err := conn.Exec(t.Context(), `DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '`+code+`'; END $$`)
		if err == nil {
			t.Fatalf("RAISE %s did not fail", code)
		}
		return err
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"no-rows", conn.QueryRow(t.Context(), `SELECT 1 WHERE false`).Scan(new(int)), storage.ErrNotFound},
		{"unique-violation", raise("23505"), storage.ErrAlreadyExists},
		{"foreign-key-violation", raise("23503"), storage.ErrNotFound},
		{"serialization-failure", raise("40001"), storage.ErrConflict},
		{"deadlock", raise("40P01"), storage.ErrConflict},
	}
	for _, c := range cases {
		t.Run("case="+c.name, func(t *testing.T) {
			if got := translate(c.err); !errors.Is(got, c.want) {
				t.Errorf("translate(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
	t.Run("case=other-errors-pass-through", func(t *testing.T) {
		err := raise("22012")
		if got := translate(err); got != err {
			t.Errorf("translate(%v) = %v, want it unchanged", err, got)
		}
	})
	t.Run("case=nil", func(t *testing.T) {
		if translate(nil) != nil {
			t.Error("translate(nil) != nil")
		}
	})
}

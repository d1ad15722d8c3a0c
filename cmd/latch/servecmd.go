package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/telemetry"
)

// cmdServe parses the serve command line and runs the server until ctx ends.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c server.Config
	fs := newFlagSet("serve", stderr)
	fs.BoolVar(&c.Dev, "dev", false, "development mode: in-memory storage and an in-process Redis; nothing persists")
	cf := bindServe(fs, &c)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: latch serve [--dev] [flags]\n\nEvery flag can also be set with the LATCH_* variable named beside it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	err := cf.resolve()
	if c.Dev && os.Getenv("LATCH_REGISTRATION") == "" && fs.Lookup("registration").Value.String() == "closed" {
		c.Registration = "open"
	}
	if c.Dev {
		// The demo single-page app (examples/spa) calls the token
		// endpoint from its own origin.
		c.CORSOrigins = server.DevCORSOrigins(c.CORSOrigins)
	}
	if err = errors.Join(err, c.Validate()); err != nil {
		return err
	}
	log := newLogger(&c, stderr)
	redis.SetLogger(redisLogger{log})
	srv, err := server.New(ctx, c, stdout, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.ListenAndServe(ctx)
}

func newLogger(c *server.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.Dev {
		return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts)))
}

// redisLogger sends go-redis's own messages (Sentinel failovers, pool
// trouble) to latch's log instead of stderr. go-redis has one logger per
// process, so the command sets it, not the server.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...interface{}) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/telemetry"
)

// serveSettings is the serve command line, parsed and validated.
type serveSettings struct {
	c server.Config
}

// parseServe reads flags and LATCH_* variables into a validated Config;
// every problem is reported at once, one line each.
func parseServe(args []string, stderr io.Writer) (*serveSettings, error) {
	var s serveSettings
	c := &s.c
	fs := newFlagSet("serve", stderr)
	fs.BoolVar(&c.Dev, "dev", false, "development mode: in-memory storage and an in-process Redis; nothing persists")
	cf := bindServe(fs, c)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: latch serve [--dev] [flags]\n\nEvery flag can also be set with the LATCH_* variable named beside it.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	err := cf.resolve()
	if c.Dev {
		devDefaults(c, cf)
	}
	if err := errors.Join(append([]error{err}, unreported(c.Validate(), cf.failed)...)...); err != nil {
		return nil, err
	}
	return &s, nil
}

// cmdServe parses the serve command line and runs the server until ctx ends.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	c := s.c
	if c.Dev {
		seed, created, err := loadDevSeed(devSeedFile)
		if err != nil {
			return err
		}
		c.DevSeed = seed
		if created {
			fmt.Fprintf(stdout, "latch: created %s (mode 0600): the demo credentials below are derived from it and stay the same across restarts; delete it for new ones\n", devSeedFile)
		} else {
			fmt.Fprintf(stdout, "latch: reusing %s: the demo credentials below are those of earlier runs; delete it for new ones\n", devSeedFile)
		}
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

// devDefaults are the settings --dev changes unless the operator set them:
// it listens on loopback only (it prints an admin password), opens
// self-service registration, leaves the public breached-password API alone,
// and lets the demo single-page app (examples/spa) call the token endpoint
// from its own origin.
func devDefaults(c *server.Config, cf *configFlags) {
	if !cf.explicit("LATCH_LISTEN") {
		c.Listen = "127.0.0.1:8080"
	}
	if !cf.explicit("LATCH_REGISTRATION") {
		c.Registration = "open"
	}
	if !cf.explicit("LATCH_HIBP") {
		c.HIBP = false
	}
	c.CORSOrigins = server.DevCORSOrigins(c.CORSOrigins)
}

// unreported drops the problems Validate found with variables that could
// not even be parsed: those were reported already, one message each.
func unreported(err error, failed map[string]bool) []error {
	if err == nil {
		return nil
	}
	all := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	}
	var out []error
	for _, e := range all {
		env, _, _ := strings.Cut(e.Error(), ":")
		if !failed[env] {
			out = append(out, e)
		}
	}
	return out
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

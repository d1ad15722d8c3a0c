package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/telemetry"
)

const serveLong = `Run latch: the OAuth 2.0 and OpenID Connect endpoints, the sign-in and
account pages, the admin API and console.

Every flag below is also the LATCH_* variable named beside it: a flag wins
over its variable, a variable over the default. LATCH_SECRET and
LATCH_ADMIN_PASSWORD may also be read from the file that LATCH_SECRET_FILE /
LATCH_ADMIN_PASSWORD_FILE names. Every problem with the settings is reported
at once, one line each, and latch does not start.

--dev runs with in-memory storage and an in-process Redis, bootstraps an
admin and demo clients and prints their credentials: nothing persists.`

const serveExample = `  latch serve --dev
  LATCH_DATABASE_URL=postgres://latch@db/latch LATCH_REDIS_URL=redis://cache:6379/0 \
    LATCH_SECRET_FILE=/run/secrets/latch LATCH_SMTP_URL=smtps://mail.example.com latch serve \
    --issuer https://id.example.com --access-token-ttl 10m`

// serveSettings is the serve command line: --dev and every setting.
type serveSettings struct {
	c  server.Config
	cf *configFlags
}

// declareServe declares --dev and every setting on fs.
func declareServe(fs *pflag.FlagSet) *serveSettings {
	s := &serveSettings{}
	fs.BoolVar(&s.c.Dev, "dev", false, "development mode: in-memory storage and an in-process Redis; nothing persists")
	s.cf = bindServe(fs, &s.c)
	return s
}

// check reads the parsed flags and LATCH_* variables into a validated
// Config; every problem is reported at once, one line each.
func (s *serveSettings) check() error {
	err := s.cf.resolve()
	if s.c.Dev {
		devDefaults(&s.c, s.cf)
	}
	return errors.Join(append([]error{err}, unreported(s.c.Validate(), s.cf.failed)...)...)
}

func (e *cliEnv) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "serve [--dev]",
		Short:   "Run the server (every setting is a flag and a LATCH_* variable)",
		Long:    serveLong,
		Example: serveExample,
		Args:    exactly(),
		GroupID: "run",
	}
	s := declareServe(cmd.Flags())
	s.cf.complete(cmd)
	cmd.RunE = func(*cobra.Command, []string) error {
		if err := s.check(); err != nil {
			return err
		}
		return serve(e.ctx, s.c, e.stdout, e.stderr)
	}
	return cmd
}

// serve runs the server until ctx ends.
func serve(ctx context.Context, c server.Config, stdout, stderr io.Writer) error {
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
// lets back-channel logout reach the applications developed beside it on
// this machine, and lets the demo single-page app (examples/spa) call the
// token endpoint from its own origin.
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
	if !cf.explicit("LATCH_BACKCHANNEL_ALLOW_PRIVATE") {
		c.BackchannelAllowPrivate = true
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

package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	fjwt "github.com/ory/fosite/token/jwt"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/account"
	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/admin"
	"github.com/latch-idp/latch/backchannel"
	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/clients/metadoc"
	"github.com/latch-idp/latch/consent"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/mail"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/provider"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
	"github.com/latch-idp/latch/storage/postgres"
	redisstore "github.com/latch-idp/latch/storage/redis"
	"github.com/latch-idp/latch/telemetry"
	"github.com/latch-idp/latch/web"
)

// Server is one running latch: stores, background workers and the router.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	out      io.Writer
	store    storage.Store
	rdb      redis.UniversalClient
	keys     *keys.Manager
	provider *provider.Handler
	handler  http.Handler
	tel      *telemetry.Telemetry
	tracing  *telemetry.Tracing
	mail     interface {
		Start(context.Context) error
		Stop(context.Context) error
		Backlog(context.Context) (mail.Backlog, error)
	}
	// logouts delivers back-channel logout tokens.
	logouts interface {
		Enqueue(context.Context, []backchannel.Job) error
		Start(context.Context) error
		Stop(context.Context) error
	}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func()

	// revocation ends what a user holds, for provider, the pages and the
	// account service alike.
	revocation *accounts.Revocation
	// accounts runs the work pages defer past their answers; Close waits
	// for it.
	accounts *accounts.Service
}

// New builds every part from the configuration and starts the background
// work (key rotation, mail delivery, cleanup). It does not validate cfg (see
// Config.Validate): tests build servers with lifetimes no operator may set.
// out receives what an operator reads at the console (the dev fixtures,
// emails when no SMTP server is set); log the structured log.
func New(ctx context.Context, cfg Config, out io.Writer, log *slog.Logger) (_ *Server, err error) {
	c := &cfg
	s := &Server{cfg: c, log: log, out: out}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.tracing, err = telemetry.NewTracing(ctx); err != nil {
		return nil, err
	}
	// The first closer runs last: spans of the closing work still go out.
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.tracing.Shutdown(ctx); err != nil {
			log.Warn("tracing: flush spans at shutdown", "err", err)
		}
	})
	if c.Dev {
		fmt.Fprintln(out, "latch: DEVELOPMENT MODE — in-memory storage and an in-process Redis: nothing persists when latch stops")
	}
	if len(c.Secrets) == 0 {
		// Only --dev gets here (Validate requires a secret otherwise).
		b := make([]byte, 48)
		rand.Read(b)
		c.Secrets = [][]byte{[]byte(base64.RawURLEncoding.EncodeToString(b))}
	}
	box, err := secret.New(c.Secrets...)
	if err != nil {
		return nil, fmt.Errorf("LATCH_SECRET: %w", err)
	}

	overrides, err := brand.OpenTemplates(c.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("LATCH_TEMPLATES_DIR: %w", err)
	}
	look := brand.Look{Brand: c.Brand, Templates: overrides}
	look.Brand.Name = c.Brand.ProductName()
	renderer, err := mail.NewRenderer(c.Issuer, c.SMTPFrom, mail.Pages{Account: account.Path, Forgot: login.PathForgot}, look)
	var override *brand.OverrideError
	if errors.As(err, &override) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("LATCH_SMTP_FROM: %w", err)
	}
	sender, err := mail.NewSender(mail.SMTPConfig{URL: c.SMTPURL}, out)
	if err != nil {
		return nil, fmt.Errorf("LATCH_SMTP_URL: %w", err)
	}
	if c.SMTPURL == "" {
		fmt.Fprintln(out, "latch: LATCH_SMTP_URL is not set: emails are printed to stdout")
	}

	s.tel = telemetry.New(log)
	metrics := s.tel.Metrics()
	var pool *pgxpool.Pool
	if c.Dev {
		q := mail.NewMemoryQueue(renderer, sender, log, mail.MemoryConfig{Metrics: metrics})
		s.mail = q
		s.store = memory.New(memory.Options{Mail: q.Enqueue})
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return nil, fmt.Errorf("start in-process Redis: %w", err)
		}
		s.closers = append(s.closers, mr.Close)
		s.rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	} else {
		err := untilReachable(ctx, log, "PostgreSQL", func() error { return postgres.Migrate(ctx, c.DatabaseURL, log) })
		if err != nil {
			return nil, fmt.Errorf("LATCH_DATABASE_URL: %w", err)
		}
		pgOpts := postgres.Options{Logger: log}
		if s.tracing.Enabled() {
			pgOpts.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(s.tracing.Provider()))
		}
		pg, err := postgres.New(ctx, c.DatabaseURL, pgOpts)
		if err != nil {
			return nil, fmt.Errorf("LATCH_DATABASE_URL: %w", err)
		}
		s.store, pool = pg, pg.Pool()
		q, err := mail.NewPostgresQueue(pool, mail.PostgresConfig{Renderer: renderer, Sender: sender, Logger: log, Metrics: metrics})
		if err != nil {
			return nil, err
		}
		s.mail = q
		if s.rdb, err = OpenRedis(c.RedisURL); err != nil {
			return nil, err
		}
	}
	s.closers = append(s.closers, func() { s.rdb.Close() }, s.store.Close)
	if s.tracing.Enabled() {
		// Commands without their arguments: those carry sessions, codes
		// and tokens.
		if err := redisotel.InstrumentTracing(s.rdb, redisotel.WithTracerProvider(s.tracing.Provider()), redisotel.WithDBStatement(false)); err != nil {
			return nil, fmt.Errorf("tracing: instrument Redis: %w", err)
		}
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.rdb.Ping(pingCtx).Err(); err != nil {
		return nil, fmt.Errorf("LATCH_REDIS_URL: Redis does not answer: %v", err)
	}

	s.keys = keys.NewManager(s.store, box, KeyOptions(c, log))
	if err := s.keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}

	site, err := web.NewSite(c.Issuer, box, log, look)
	if err != nil {
		return nil, err
	}
	pages, err := provider.NewPages(site)
	if err != nil {
		return nil, err
	}
	secure := strings.HasPrefix(c.Issuer, "https://")
	flows := flow.NewStore(s.rdb, 30*time.Minute, flow.Pages{Login: login.PathLogin, Consent: consent.Path, Resume: provider.PathResume})
	logouts := backchannel.NewDeliverer(c.Issuer, s.keys.Signer(c.IDTokenAlg), signersByAlg[backchannel.Signer](s.keys), c.BackchannelAllowPrivate)
	if pool == nil {
		s.logouts = backchannel.NewMemoryQueue(logouts, log)
	} else if s.logouts, err = backchannel.NewPostgresQueue(pool, logouts, log, 0); err != nil {
		return nil, err
	}
	notifier := &backchannel.Notifier{Clients: s.store, Enqueue: s.logouts.Enqueue, Log: log}
	sessionOpts := session.Options{Idle: c.SessionIdleTTL, Absolute: c.SessionTTL, Secure: secure, Ended: notifier.Ended}
	sessions := session.NewStore(s.rdb, sessionOpts)
	volatile := redisstore.New(s.rdb, provider.RequestClientID)
	s.revocation = NewRevocation(s.store, s.rdb, sessionOpts)
	docs, err := clientDocuments(c, out, log)
	if err != nil {
		return nil, err
	}
	s.provider, err = provider.New(provider.Config{
		Passkeys:           passkey.On(c.Issuer, c.WebAuthnRPID),
		Issuer:             c.Issuer,
		AccessTokenTTL:     c.AccessTokenTTL,
		IDTokenTTL:         c.IDTokenTTL,
		RefreshTokenTTL:    c.RefreshTokenTTL,
		RefreshIdleTTL:     c.RefreshIdleTTL,
		RefreshGracePeriod: c.RefreshGracePeriod,
		ReuseRevokes:       c.RefreshReuse,
		DeviceCodeTTL:      c.DeviceCodeTTL,
		DPoPProofWindow:    c.DPoPProofWindow,
		DPoPNonce:          c.DPoPNonce,
		IDTokenAlg:         c.IDTokenAlg,
		AccessTokenAlg:     c.AccessTokenAlg,
		ClientCacheTTL:     2 * time.Second,
		CORSOrigins:        c.CORSOrigins,

		RegistrationEndpoint: registration.Endpoint(c.ClientRegistration, c.Issuer),
		AdminAPI:             admin.APIURL(c.Issuer),
	}, provider.Deps{
		Store: s.store, Volatile: volatile, Flows: flows, Sessions: sessions,
		Signers:  provider.Signers{Access: s.keys.Signer(c.AccessTokenAlg), ID: s.keys.Signer(c.IDTokenAlg), IDByAlg: signersByAlg[fjwt.Signer](s.keys)},
		Verifier: s.keys, Revocation: s.revocation, ClientDocuments: docs,
		Box: box, Pages: pages, JWKS: &keys.Handler{Keys: s.keys}, Log: log, Metrics: metrics,
		// Guesses of device user codes: per address as many as failed
		// sign-ins, and userCodeGuesses over all addresses, never forgiven
		// by a right code (anyone can get one).
		UserCodeAttempts: accounts.NewAttempts(
			ratelimit.New(s.rdb, "device-code", cmp.Or(c.UserCodeGuesses, userCodeGuesses), c.LoginLimitWindow).KeepFailures().WithMetrics(metrics),
			ratelimit.New(s.rdb, "device-code-ip", c.LoginLimitIP, c.LoginLimitWindow).KeepFailures().WithMetrics(metrics), log),
	})
	if err != nil {
		return nil, err
	}

	hasher := password.NewHasher(password.Params{Memory: uint32(c.Argon2Memory), Iterations: uint32(c.Argon2Iterations), Parallelism: uint8(c.Argon2Parallelism)}, c.HashConcurrency, c.HashWait)
	policy := password.DefaultPolicy()
	policy.MinLength = c.PasswordMinLength
	checker := password.Checker{Policy: policy, Breach: password.NewBreach(password.BreachOptions{
		URL: c.HIBPURL, Enabled: c.HIBP, FailClosed: !c.HIBPFailOpen, Timeout: 2 * time.Second,
		Redis: s.rdb, Client: &http.Client{Timeout: 3 * time.Second}, Logger: log, Metrics: metrics,
	})}
	totp := mfa.NewTOTP(s.rdb, box, look.Brand.Name)
	issuer := strings.TrimRight(c.Issuer, "/")
	accts, err := accounts.New(accounts.Config{
		Store: s.store, Hasher: hasher, Checker: checker, Revoker: s.revocation, Box: box,
		VerifyURL: issuer + login.PathVerify, ResetURL: issuer + login.PathReset, EmailChangeURL: issuer + account.PathEmailConfirm, Log: log,
	})
	if err != nil {
		return nil, err
	}
	passkeys, err := passkey.New(passkey.Config{
		Issuer: issuer, RPID: c.WebAuthnRPID, Origins: c.WebAuthnOrigins, Store: s.store, Redis: s.rdb, Log: log,
		Name: look.Brand.Name,
	})
	if err != nil {
		return nil, err
	}
	if off := passkeys.Off(); off != "" {
		log.Info("latch: " + off)
	}
	loginH, err := login.New(login.Config{
		Site: site, Store: s.store, Redis: s.rdb, Flows: flows, Sessions: sessions,
		Accounts: accts, TOTP: totp, Passkeys: passkeys, Box: box,
		AccountLimit: ratelimit.New(s.rdb, "login-account", c.LoginLimitAccount, c.LoginLimitWindow).WithMetrics(metrics),
		IPLimit:      ratelimit.New(s.rdb, "login-ip", c.LoginLimitIP, c.LoginLimitWindow).WithMetrics(metrics),
		Issuer:       c.Issuer, Home: account.Path, Registration: c.Registration == "open", Log: log,
		Metrics: metrics,
	})
	if err != nil {
		return nil, err
	}
	consentH, err := consent.New(consent.Config{Site: site, Store: s.store, Flows: flows, Sessions: sessions, Issuer: issuer, Log: log})
	if err != nil {
		return nil, err
	}
	accountH, err := account.New(account.Config{
		Site: site, Store: s.store, Sessions: sessions, Accounts: accts, TOTP: totp, Passkeys: passkeys, Box: box,
		Limit: ratelimit.New(s.rdb, "account", c.LoginLimitAccount, c.LoginLimitWindow).WithMetrics(metrics),
		Log:   log,
	})
	if err != nil {
		return nil, err
	}

	s.tel.Registry().MustRegister(&stats{pool: pool, rdb: s.rdb, backlog: s.mail, keys: s.keys, log: log})
	// Each HTTP-facing package mounts its own routes: a new one is built
	// above and added here.
	reg := registration.New(registration.Config{
		Mode: c.ClientRegistration, Issuer: c.Issuer, Store: s.store, Box: box, Clients: s.provider,
		Limit: ratelimit.New(s.rdb, "client-registration", registrationsPerHour, time.Hour).WithLockout(time.Hour, time.Hour).WithMetrics(metrics),
		Log:   log,
	})
	adminH, err := admin.New(ctx, admin.Config{
		Issuer: c.Issuer, Store: s.store, Accounts: accts, Keys: s.keys, Box: box, Caches: s.provider, Log: log,
		Site: site, Sessions: sessions,
	})
	if err != nil {
		return nil, err
	}
	if unused := overrides.Unused(); len(unused) > 0 {
		return nil, fmt.Errorf("LATCH_TEMPLATES_DIR: %s replaces no built-in template (see README, \"Branding\")", strings.Join(unused, ", "))
	}
	s.handler = s.routes(site, s.provider, loginH, consentH, accountH, reg, adminH)

	s.accounts = accts
	if c.AdminEmail != "" {
		created, err := accts.Bootstrap(ctx, c.AdminEmail, c.AdminPassword)
		if err != nil {
			return nil, fmt.Errorf("LATCH_ADMIN_PASSWORD: %w", err)
		}
		if created {
			log.Info("bootstrapped admin", "email", c.AdminEmail)
		}
	}
	if c.Dev {
		if err := s.devFixtures(ctx, accts, box); err != nil {
			return nil, err
		}
	}

	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancelBG
	if err := s.mail.Start(bg); err != nil {
		return nil, fmt.Errorf("mail worker: %w", err)
	}
	if err := s.logouts.Start(bg); err != nil {
		return nil, fmt.Errorf("back-channel logout worker: %w", err)
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.keys.Run(bg) }()
	go func() { defer s.wg.Done(); s.cleanup(bg) }()
	return s, nil
}

// userCodeGuesses is how many wrong device user codes all addresses
// together may enter within LATCH_LOGIN_LIMIT_WINDOW before the page locks
// (each further one doubles the lock): at 20^8 codes, 1000 guesses find
// one of a thousand live codes with a chance of 1 in 25,000.
const userCodeGuesses = 1000

// registrationsPerHour bounds dynamic client registrations per client IP.
const registrationsPerHour = 20

// clientDocuments is the resolver of clients identified by the URL of a
// metadata document, or nil when LATCH_CLIENT_METADATA_HOSTS is empty.
func clientDocuments(c *Config, out io.Writer, log *slog.Logger) (provider.ClientDocuments, error) {
	hosts, err := metadoc.ParseHosts(c.ClientMetadataHosts)
	if err != nil {
		return nil, fmt.Errorf("LATCH_CLIENT_METADATA_HOSTS: %w", err)
	}
	if !hosts.Enabled() {
		return nil, nil
	}
	if hosts.Any() {
		fmt.Fprintln(out, "latch: LATCH_CLIENT_METADATA_HOSTS=*: any public host may serve client metadata documents")
	}
	return metadoc.New(metadoc.Options{Hosts: hosts, Transport: c.ClientMetadataTransport, Log: log}), nil
}

// cleanup deletes expired refresh tokens now and then; rotated ones are
// kept until they expire so that a reuse is still recognised.
func (s *Server) cleanup(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.store.DeleteExpiredRefreshTokens(ctx, time.Now().UTC()); err != nil {
				s.log.Warn("delete expired refresh tokens", "err", err)
			} else if n > 0 {
				s.log.Info("deleted expired refresh tokens", "count", n)
			}
		}
	}
}

// signersByAlg is a signer of every algorithm latch signs with, for the
// ID and logout tokens of clients that registered
// id_token_signed_response_alg, as the interface T its user takes.
func signersByAlg[T any](m *keys.Manager) map[string]T {
	out := map[string]T{}
	for _, alg := range keys.Algorithms() {
		out[alg] = any(m.Signer(alg)).(T)
	}
	return out
}

// Handler is latch's whole HTTP surface, for a server of the caller's own
// (httptest in the tests).
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on the configured address and serves until ctx
// ends, then drains in-flight requests.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("LATCH_LISTEN: %v", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln, and the metrics (and the profiler, with LATCH_PPROF)
// on their own listener
// when one is configured, until ctx ends; then it drains in-flight requests
// for up to 20 seconds. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(s.out, "latch: serving %s on %s\n", s.cfg.Issuer, ln.Addr())
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	servers := []*http.Server{hs}
	if s.cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", s.cfg.MetricsListen)
		if err != nil {
			hs.Close()
			return fmt.Errorf("LATCH_METRICS_LISTEN: %v", err)
		}
		ms := &http.Server{Handler: s.tel.Handler(s.cfg.Pprof), ReadHeaderTimeout: 10 * time.Second, ErrorLog: hs.ErrorLog}
		servers = append(servers, ms)
		fmt.Fprintf(s.out, "latch: metrics on %s\n", mln.Addr())
		if s.cfg.Pprof {
			fmt.Fprintf(s.out, "latch: profiler on http://%s/debug/pprof/\n", mln.Addr())
		}
		go func() { errc <- ms.Serve(mln) }()
	}
	select {
	case err := <-errc:
		for _, srv := range servers {
			srv.Close()
		}
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(sctx))
	}
	return errors.Join(errs...)
}

// Close stops background work and releases connections.
func (s *Server) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.accounts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.accounts.Wait(ctx); err != nil {
			s.log.Warn("shutting down: deferred account work unfinished", "err", err)
		}
		cancel()
	}
	if s.mail != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.mail.Stop(ctx)
		cancel()
	}
	if s.logouts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.logouts.Stop(ctx)
		cancel()
	}
	s.wg.Wait()
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// startWait bounds how long latch waits at start for a store that cannot
// be reached yet (PostgreSQL starting beside it, or restarting).
const startWait = time.Minute

// untilReachable runs f until it succeeds or fails for a reason other than
// an unreachable store, retrying with a growing pause for up to startWait
// and saying once per try what it waits for.
func untilReachable(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	deadline := time.Now().Add(startWait)
	pause := 250 * time.Millisecond
	for {
		err := f()
		if err == nil || !storage.Unavailable(err) || time.Now().Add(pause).After(deadline) {
			return err
		}
		log.Warn("waiting for "+what, "err", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

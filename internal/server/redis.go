package server

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latch-idp/latch/storage"
	"github.com/redis/go-redis/v9"
)

// OpenRedis opens LATCH_REDIS_URL, for the server and the CLI alike.
//
// A plain redis:// or rediss:// URL is one server. A URL with master_name
// is go-redis's failover form: the host and every addr= are Sentinels, asked
// which server is the master of that name now, so a failover needs no
// restart. The URL's credentials are the Sentinels'; the master's are the
// username= and password= parameters.
//
// Redis Cluster is refused: latch reads a code with its used-marker in one
// MGET and writes a session with its per-user index in one MULTI, and
// Cluster rejects both when the keys hash to different slots.
//
// Errors name the variable and never echo the URL, which may hold a
// password.
func OpenRedis(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes the URL, or pieces of it (a password with a '/'
		// becomes part of the host), in its error: say nothing of it.
		return nil, errors.New("LATCH_REDIS_URL: not a valid URL (percent-encode special characters in a password)")
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		if q.Get("master_name") == "" {
			return nil, errors.New("LATCH_REDIS_URL: master_name is empty")
		}
		opts, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, redisURLError(u, "not a valid Sentinel URL", err)
		}
		t := redisTimeouts(q)
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = t.dial(opts.DialTimeout), t.read(opts.ReadTimeout), t.write(opts.WriteTimeout), t.pool(opts.PoolTimeout)
		opts.MaxRetries = t.retries(opts.MaxRetries)
		opts.Protocol = protocol(q, opts.Protocol)
		return withOutageMarks(redis.NewFailoverClient(opts)), nil
	case q.Has("addr"):
		return nil, errors.New("LATCH_REDIS_URL: several addresses without master_name look like Redis Cluster, which latch does not support (its multi-key operations span hash slots); give one server, or Sentinels with master_name=")
	default:
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, redisURLError(u, "not a valid redis:// or rediss:// URL", err)
		}
		t := redisTimeouts(q)
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = t.dial(opts.DialTimeout), t.read(opts.ReadTimeout), t.write(opts.WriteTimeout), t.pool(opts.PoolTimeout)
		opts.MaxRetries = t.retries(opts.MaxRetries)
		opts.Protocol = protocol(q, opts.Protocol)
		return withOutageMarks(redis.NewClient(opts)), nil
	}
}

// protocol is the RESP version latch speaks: 2 unless the URL asks for
// another with protocol=. latch uses nothing RESP3 adds (push
// notifications, client-side caching), and with RESP3 go-redis checks
// every reply for pending push notifications, which a profile of the
// introspection endpoint showed as 5% of its CPU.
func protocol(q url.Values, parsed int) int {
	if q.Has("protocol") {
		return parsed
	}
	return 2
}

// redisURLError reports what go-redis found wrong with the URL, with any
// password in it blanked out (go-redis's messages quote option values).
func redisURLError(u *url.URL, what string, err error) error {
	msg := err.Error()
	var secrets []string
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
	}
	for _, p := range u.Query()["password"] {
		secrets = append(secrets, p, url.QueryEscape(p))
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	msg = strings.TrimPrefix(msg, "redis: ")
	msg = strings.Join(strings.Fields(msg), " ")
	return errors.New("LATCH_REDIS_URL: " + what + ": " + msg)
}

// latch asks Redis for small things that take well under a millisecond,
// on the path of every request: an outage must show within a fraction of a
// second (a 503, /readyz not ready), not after go-redis's defaults of
// seconds and three retries. A URL parameter (dial_timeout, read_timeout,
// write_timeout, pool_timeout, max_retries) overrides its default.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 300 * time.Millisecond
	redisPoolTimeout = 500 * time.Millisecond
	redisMaxRetries  = 1 // one more try, on a fresh connection after a restart
)

// redisTimeouts knows which of the defaults the URL overrides.
type redisTimeouts url.Values

func (t redisTimeouts) pick(key string, given, ours time.Duration) time.Duration {
	if url.Values(t).Has(key) {
		return given
	}
	return ours
}
func (t redisTimeouts) dial(d time.Duration) time.Duration {
	return t.pick("dial_timeout", d, redisDialTimeout)
}
func (t redisTimeouts) read(d time.Duration) time.Duration {
	return t.pick("read_timeout", d, redisIOTimeout)
}
func (t redisTimeouts) write(d time.Duration) time.Duration {
	return t.pick("write_timeout", d, redisIOTimeout)
}
func (t redisTimeouts) pool(d time.Duration) time.Duration {
	return t.pick("pool_timeout", d, redisPoolTimeout)
}
func (t redisTimeouts) retries(n int) int {
	if url.Values(t).Has("max_retries") {
		return n
	}
	return redisMaxRetries
}

// withOutageMarks marks every error of rdb that is not Redis's own answer
// (a missing key, a refused command) with storage.ErrUnavailable, so that
// each package that uses Redis reports an outage as one (a 503), however
// go-redis words it (a pool timeout, a closed connection).
func withOutageMarks(rdb redis.UniversalClient) redis.UniversalClient {
	rdb.AddHook(outageMarks{})
	return rdb
}

type outageMarks struct{}

func (outageMarks) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		return c, markRedis(err)
	}
}

func (outageMarks) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := markRedis(next(ctx, cmd))
		if err != nil && cmd.Err() != nil {
			cmd.SetErr(markRedis(cmd.Err()))
		}
		return err
	}
}

func (outageMarks) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := markRedis(next(ctx, cmds))
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				cmd.SetErr(markRedis(cmd.Err()))
			}
		}
		return err
	}
}

// markRedis marks err unless it is Redis's answer: redis.Nil, or an error
// reply such as a failed transaction. Replies that say the server cannot
// serve now (loading, a replica without its master) are outages too.
func markRedis(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	var reply redis.Error
	if errors.As(err, &reply) && !slices.ContainsFunc([]string{"LOADING", "MASTERDOWN", "READONLY", "TRYAGAIN"}, func(p string) bool {
		return strings.HasPrefix(reply.Error(), p)
	}) {
		return err
	}
	return storage.MarkUnavailable(err)
}

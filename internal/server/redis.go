package server

import (
	"errors"
	"net/url"
	"strings"

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
		return redis.NewFailoverClient(opts), nil
	case q.Has("addr"):
		return nil, errors.New("LATCH_REDIS_URL: several addresses without master_name look like Redis Cluster, which latch does not support (its multi-key operations span hash slots); give one server, or Sentinels with master_name=")
	default:
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, redisURLError(u, "not a valid redis:// or rediss:// URL", err)
		}
		return redis.NewClient(opts), nil
	}
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

package main

import (
	"io"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/web"
)

// FuzzServeSetting gives one serve setting a value, as a flag (which is
// how the LATCH_* variable reaches it too), and validates the whole
// configuration as `latch serve --dev` does: no panic; an accepted
// configuration holds values its consumers can take as they are (Argon2
// parameters that fit their types, non-negative durations, proxies that
// parse); a refusal names the setting; and no error repeats a secret or a
// URL's password.
func FuzzServeSetting(f *testing.F) {
	for _, s := range []struct {
		env, v string
	}{
		{"LATCH_ACCESS_TOKEN_TTL", "15m"}, {"LATCH_ACCESS_TOKEN_TTL", "-1h"}, {"LATCH_KEY_ROTATION", "9223372036854775807ns"},
		{"LATCH_ARGON2_PARALLELISM", "256"}, {"LATCH_ARGON2_MEMORY", "4294967296"}, {"LATCH_ARGON2_ITERATIONS", "99999999999"},
		{"LATCH_TRUSTED_PROXIES", "10.0.0.0/8, ::1, 192.0.2.1"}, {"LATCH_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"LATCH_RATE_LIMIT_IPV6_PREFIX", "56"}, {"LATCH_RATE_LIMIT_IPV6_PREFIX", "129"},
		{"LATCH_ISSUER", "https://id.example.com/"}, {"LATCH_ISSUER", "http://[::1"}, {"LATCH_CORS_ORIGINS", "https://a.example,null"},
		{"LATCH_REDIS_URL", "redis://:hunter2hunter2@localhost:6379/0?master_name=m"}, {"LATCH_REDIS_URL", "rediss://u:p@[::1]:x/"},
		{"LATCH_SECRET", "short-secret-value"}, {"LATCH_CLIENT_METADATA_HOSTS", "*,a.example,https://b.example"},
		{"LATCH_LOG_LEVEL", "DEBUG"}, {"LATCH_HIBP", "maybe"}, {"LATCH_ADMIN_EMAIL", "admin"},
	} {
		f.Add(s.env, s.v)
	}
	f.Fuzz(func(t *testing.T, env, value string) {
		var c server.Config
		c.Dev = true
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cf := bindServe(fs, &c)
		// A name that is no setting picks one, so mutations reach them all.
		s := cf.defs[len(env)%len(cf.defs)]
		for _, d := range cf.defs {
			if d.env == env {
				s = d
			}
		}
		env, name := s.env, s.flag
		if err := fs.Parse([]string{"--" + name + "=" + value}); err != nil {
			t.Fatalf("--%s=%q: %v", name, value, err)
		}
		err := cf.resolve()
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			checkRefusal(t, env, value, err)
			return
		}
		checkAccepted(t, &c)
	})
}

func checkRefusal(t *testing.T, env, value string, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, env) {
		t.Fatalf("%s=%q: the error does not name the setting: %v", env, value, err)
	}
	if isSecretSetting(env) && len(value) >= 8 && strings.Contains(msg, value) && env != "LATCH_DATABASE_URL" && env != "LATCH_SMTP_URL" {
		t.Fatalf("%s=%q: the error repeats the value: %v", env, value, err)
	}
	if u, perr := url.Parse(value); perr == nil && u.User != nil && isSecretSetting(env) {
		if pw, ok := u.User.Password(); ok && len(pw) >= 8 && strings.Contains(msg, pw) {
			t.Fatalf("%s=%q: the error repeats the password: %v", env, value, err)
		}
	}
}

func checkAccepted(t *testing.T, c *server.Config) {
	t.Helper()
	if c.Argon2Memory > math.MaxUint32 || c.Argon2Iterations > math.MaxUint32 || c.Argon2Parallelism > math.MaxUint8 || c.Argon2Parallelism < 1 {
		t.Fatalf("accepted Argon2 parameters m=%d t=%d p=%d, which do not fit the hasher", c.Argon2Memory, c.Argon2Iterations, c.Argon2Parallelism)
	}
	for _, d := range []int64{int64(c.AccessTokenTTL), int64(c.IDTokenTTL), int64(c.RefreshTokenTTL), int64(c.RefreshIdleTTL),
		int64(c.SessionTTL), int64(c.SessionIdleTTL), int64(c.KeyRotation), int64(c.HashWait), int64(c.LoginLimitWindow)} {
		if d < 0 {
			t.Fatalf("accepted a negative duration: %+v", c)
		}
	}
	if _, err := web.ParseProxies(c.TrustedProxies); err != nil {
		t.Fatalf("accepted trusted proxies %q: %v", c.TrustedProxies, err)
	}
	if u, err := url.Parse(c.Issuer); err != nil || !u.IsAbs() || u.Host == "" {
		t.Fatalf("accepted issuer %q", c.Issuer)
	}
}

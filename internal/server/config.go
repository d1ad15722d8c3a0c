package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/clients/metadoc"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/web"
)

// Config is latch's whole configuration. cmd/latch/config.go fills it from
// the LATCH_* variables and the flags of `latch serve`, where each setting
// is declared once with its default and meaning; errors about a setting
// name its variable, as an operator knows it by that name.
type Config struct {
	Dev bool
	// DevSeed, in development mode, derives the demo credentials (admin
	// and user passwords, demo client secrets) so they survive restarts;
	// empty: random ones each start.
	DevSeed []byte

	Issuer        string
	Listen        string
	MetricsListen string
	// Pprof serves Go's profiler on the metrics listener (LATCH_PPROF).
	Pprof       bool
	DatabaseURL string
	RedisURL    string
	Secrets     [][]byte
	CORSOrigins []string

	AccessTokenTTL     time.Duration
	RefreshTokenTTL    time.Duration
	RefreshIdleTTL     time.Duration
	IDTokenTTL         time.Duration
	RefreshGracePeriod time.Duration
	RefreshReuse       string
	// DeviceCodeTTL is how long a device code and its user code live (RFC
	// 8628); provider's default when zero.
	DeviceCodeTTL time.Duration
	// DPoPProofWindow is how far a DPoP proof's iat may lie from the
	// server's clock (LATCH_DPOP_PROOF_WINDOW); DPoPNonce makes every proof
	// carry a server nonce (LATCH_DPOP_NONCE).
	DPoPProofWindow time.Duration
	DPoPNonce       bool
	// UserCodeGuesses bounds wrong user codes over all addresses within
	// LoginLimitWindow (userCodeGuesses when zero); tests lower it.
	UserCodeGuesses int
	KeyRotation     time.Duration
	// KeyRefresh is how often each replica reloads the signing keys (the
	// keys package's default when zero); tests shorten it.
	KeyRefresh     time.Duration
	IDTokenAlg     string
	AccessTokenAlg string

	SessionIdleTTL time.Duration
	SessionTTL     time.Duration

	HIBPURL      string
	HIBP         bool
	HIBPFailOpen bool

	PasswordMinLength int
	Argon2Memory      int
	Argon2Iterations  int
	Argon2Parallelism int
	HashConcurrency   int
	HashWait          time.Duration

	LoginLimitAccount int
	LoginLimitIP      int
	LoginLimitWindow  time.Duration

	SMTPURL  string
	SMTPFrom string
	// SMTPStdout allows printing emails to stdout without --dev
	// (LATCH_SMTP=stdout): they carry reset and confirmation links, which
	// must not reach production logs by accident.
	SMTPStdout bool

	AdminEmail    string
	AdminPassword string
	Registration  string

	// TrustedProxies are CIDRs of reverse proxies whose forwarding headers
	// are believed (LATCH_TRUSTED_PROXIES); empty: none.
	TrustedProxies []string
	// BackchannelAllowPrivate lets back-channel logout deliveries reach
	// private, loopback and link-local addresses
	// (LATCH_BACKCHANNEL_ALLOW_PRIVATE); off, they reach public ones only.
	BackchannelAllowPrivate bool
	// IPv6Prefix is the IPv6 network per-address limits count as one
	// client (LATCH_RATE_LIMIT_IPV6_PREFIX); 0 means web.DefaultIPv6Prefix.
	IPv6Prefix int
	// ClientRegistration is dynamic client registration: closed, token or
	// open (package registration).
	ClientRegistration string
	// ClientMetadataHosts may serve Client ID Metadata Documents: host
	// names, or "*" for any public host; empty turns the feature off.
	ClientMetadataHosts []string
	// ClientMetadataTransport replaces the transport that fetches those
	// documents, which connects only to public addresses. For tests only,
	// whose documents are served on loopback: no variable or flag sets it.
	ClientMetadataTransport http.RoundTripper
	// WebAuthnRPID and WebAuthnOrigins override the passkeys' relying
	// party ID and origins, derived from Issuer by default (package
	// passkey).
	WebAuthnRPID    string
	WebAuthnOrigins []string

	// Brand is the product name, logo, colour and support link of every
	// page and email (LATCH_BRAND_*); TemplatesDir a directory of
	// template overrides (LATCH_TEMPLATES_DIR; empty: none).
	Brand        brand.Brand
	TemplatesDir string

	LogLevel string
}

// Validate checks what single settings cannot: required values, the
// bounds an operator must stay within, and combinations. Every problem is
// reported, one line each, named by its LATCH_* variable. It also
// normalizes: the issuer and CORS origins lose a trailing slash, and the
// idle lifetime of refresh tokens is capped by their absolute one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(env, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, a...)))
	}
	u, err := url.Parse(c.Issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		bad("LATCH_ISSUER", "%q is not an absolute URL", c.Issuer)
	case u.RawQuery != "" || u.Fragment != "":
		bad("LATCH_ISSUER", "must not have a query or fragment")
	case u.Scheme == "http" && !c.Dev && !isLoopback(u.Hostname()):
		bad("LATCH_ISSUER", "must be https (plain http only for a loopback host)")
	case u.Scheme != "http" && u.Scheme != "https":
		bad("LATCH_ISSUER", "must be an https URL")
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if !c.Dev {
		if c.DatabaseURL == "" {
			bad("LATCH_DATABASE_URL", "is required (or run `latch serve --dev` for in-memory storage)")
		}
		if c.RedisURL == "" {
			bad("LATCH_REDIS_URL", "is required (or run `latch serve --dev` for an in-process Redis)")
		}
		if c.SMTPURL == "" && !c.SMTPStdout {
			bad("LATCH_SMTP_URL", "is required (or set LATCH_SMTP=stdout to print emails, with their links, to stdout)")
		}
		if len(c.Secrets) == 0 {
			bad("LATCH_SECRET", "is required: at least 32 random bytes, e.g. `openssl rand -base64 48`")
		}
	}
	if c.RedisURL != "" {
		// Parse only: clients connect lazily, so this reaches no server.
		if rdb, err := OpenRedis(c.RedisURL); err != nil {
			errs = append(errs, err)
		} else {
			rdb.Close()
		}
	}
	if c.AccessTokenTTL < time.Minute {
		bad("LATCH_ACCESS_TOKEN_TTL", "must be at least 1m")
	}
	if c.IDTokenTTL < time.Minute {
		bad("LATCH_ID_TOKEN_TTL", "must be at least 1m")
	}
	if c.RefreshTokenTTL < time.Minute {
		bad("LATCH_REFRESH_TOKEN_TTL", "must be at least 1m")
	}
	if c.RefreshIdleTTL > c.RefreshTokenTTL {
		c.RefreshIdleTTL = c.RefreshTokenTTL
	}
	if c.RefreshGracePeriod > time.Minute {
		bad("LATCH_REFRESH_GRACE_PERIOD", "must be at most 1m: a longer grace period lets a stolen refresh token pass as legitimate")
	}
	if c.DeviceCodeTTL != 0 && (c.DeviceCodeTTL < time.Minute || c.DeviceCodeTTL > time.Hour) {
		bad("LATCH_DEVICE_CODE_TTL", "must be between 1m and 1h")
	}
	if c.DPoPProofWindow != 0 && (c.DPoPProofWindow < 5*time.Second || c.DPoPProofWindow > 5*time.Minute) {
		bad("LATCH_DPOP_PROOF_WINDOW", "must be between 5s and 5m")
	}
	if c.KeyRotation != 0 && c.KeyRotation < time.Hour {
		bad("LATCH_KEY_ROTATION", "must be 0 (never) or at least 1h")
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		bad("LATCH_ADMIN_EMAIL", "and LATCH_ADMIN_PASSWORD must be set together")
	}
	if c.Pprof && c.MetricsListen == "" {
		bad("LATCH_PPROF", "needs LATCH_METRICS_LISTEN: the profiler is served on the metrics listener only")
	}
	if c.AdminEmail != "" && !strings.Contains(c.AdminEmail, "@") {
		bad("LATCH_ADMIN_EMAIL", "%q is not an email address", c.AdminEmail)
	}
	if _, err := web.ParseProxies(c.TrustedProxies); err != nil {
		bad("LATCH_TRUSTED_PROXIES", "%v", err)
	}
	if _, err := metadoc.ParseHosts(c.ClientMetadataHosts); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			bad("LATCH_CLIENT_METADATA_HOSTS", "%s", line)
		}
	}
	if err := passkey.CheckSettings(c.Issuer, c.WebAuthnRPID, c.WebAuthnOrigins); err != nil && c.Issuer != "" {
		name := "LATCH_WEBAUTHN_RP_ID"
		if strings.HasPrefix(err.Error(), "origin") {
			name = "LATCH_WEBAUTHN_ORIGINS"
		}
		bad(name, "%v", err)
	}
	c.validateBrand(bad)
	for i, o := range c.CORSOrigins {
		// Browsers send an origin without a trailing slash.
		o = strings.TrimRight(o, "/")
		c.CORSOrigins[i] = o
		ou, err := url.Parse(o)
		if err != nil || ou.Scheme == "" || ou.Host == "" || (ou.Path != "" && ou.Path != "/") {
			bad("LATCH_CORS_ORIGINS", "%q is not an origin like https://app.example.com", o)
		}
	}
	return errors.Join(errs...)
}

// validateBrand checks the LATCH_BRAND_* settings and that the template
// directory can be read (its files are parsed when the server is built).
func (c *Config) validateBrand(bad func(env, format string, a ...any)) {
	if err := brand.CheckName(c.Brand.ProductName()); err != nil {
		bad("LATCH_BRAND_NAME", "%v", err)
	}
	if c.Brand.LogoURL != "" {
		if err := brand.CheckLogo(c.Issuer, c.Brand.LogoURL); err != nil {
			bad("LATCH_BRAND_LOGO_URL", "%v", err)
		}
	}
	if c.Brand.Color != "" {
		if _, err := brand.CheckColor(c.Brand.Color); err != nil {
			bad("LATCH_BRAND_COLOR", "%v", err)
		}
	}
	if c.Brand.SupportURL != "" {
		if err := brand.CheckSupport(c.Brand.SupportURL); err != nil {
			bad("LATCH_BRAND_SUPPORT_URL", "%v", err)
		}
	}
	if _, err := brand.OpenTemplates(c.TemplatesDir); err != nil {
		bad("LATCH_TEMPLATES_DIR", "%v", err)
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// KeyOptions are the key manager's settings for a configuration, for the
// server and `latch keys` alike.
func KeyOptions(c *Config, log *slog.Logger) keys.Options {
	// A key of every algorithm: a client may choose its ID tokens' among
	// them (id_token_signed_response_alg).
	algs := keys.AlgorithmsFirst(c.IDTokenAlg)
	retain := c.AccessTokenTTL
	if c.IDTokenTTL > retain {
		retain = c.IDTokenTTL
	}
	return keys.Options{
		Algorithms: algs,
		Refresh:    c.KeyRefresh,
		Rotation:   c.KeyRotation,
		Retain:     retain + time.Minute,
		Logger:     log,
	}
}

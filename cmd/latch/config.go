package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/secret"
)

// configFlags binds every setting of server.Config to a flag. A flag only
// holds the text it was given: resolve takes the flag when it was given,
// else the LATCH_* variable, else the default, and records what cannot be
// parsed, so that it is reported at once with what Config.Validate finds.
type configFlags struct {
	fs   *pflag.FlagSet
	errs []error
	defs []setting
	// failed names the variables resolve could not apply.
	failed map[string]bool
}

type setting struct {
	env, flag, def, usage string
	parse                 parser
}

// parser reads one setting's text into Config; typ is what --help shows
// for its value, values what it may be, when it is one of a few.
type parser struct {
	typ    string
	values []string
	apply  func(string) error
}

// settingValue is a setting's flag: any text is accepted when parsing
// flags, and checked by resolve.
type settingValue struct{ text, typ string }

func (v *settingValue) String() string     { return v.text }
func (v *settingValue) Set(s string) error { v.text = s; return nil }
func (v *settingValue) Type() string       { return v.typ }

func newConfigFlags(fs *pflag.FlagSet) *configFlags {
	return &configFlags{fs: fs}
}

func (cf *configFlags) add(env, def, usage string, p parser) {
	name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(env, "LATCH_"), "_", "-"))
	cf.fs.Var(&settingValue{text: def, typ: p.typ}, name, fmt.Sprintf("%s (env %s)", usage, env))
	cf.defs = append(cf.defs, setting{env: env, flag: name, def: def, usage: usage, parse: p})
}

func isSecretSetting(env string) bool {
	return env == "LATCH_SECRET" || env == "LATCH_ADMIN_PASSWORD" || env == "LATCH_DATABASE_URL" || env == "LATCH_REDIS_URL" || env == "LATCH_SMTP_URL"
}

// value is the text of s: its flag, else its variable (for secrets the
// file LATCH_*_FILE names first), else its default.
func (cf *configFlags) value(s setting) string {
	if f := cf.fs.Lookup(s.flag); f.Changed {
		return f.Value.String()
	}
	if path, ok := os.LookupEnv(s.env + "_FILE"); ok && isSecretSetting(s.env) {
		b, err := os.ReadFile(path)
		if err != nil {
			cf.errs = append(cf.errs, fmt.Errorf("%s_FILE: cannot read %s: %v", s.env, path, errors.Unwrap(err)))
		}
		return strings.TrimSpace(string(b))
	}
	if v, ok := os.LookupEnv(s.env); ok {
		return v
	}
	return s.def
}

// resolve applies every setting; call after the flags are parsed. The
// variables that could not be applied are left in cf.failed.
func (cf *configFlags) resolve() error {
	cf.failed = map[string]bool{}
	for _, s := range cf.defs {
		if err := s.parse.apply(cf.value(s)); err != nil {
			cf.errs = append(cf.errs, fmt.Errorf("%s: %v", s.env, err))
			cf.failed[s.env] = true
		}
	}
	return errors.Join(cf.errs...)
}

// explicit reports whether the operator set env, by variable or by flag.
func (cf *configFlags) explicit(env string) bool {
	if _, ok := os.LookupEnv(env); ok {
		return true
	}
	name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(env, "LATCH_"), "_", "-"))
	return cf.fs.Changed(name)
}

// complete offers the values of the settings that have a few, in shell
// completion of cmd's flags.
func (cf *configFlags) complete(cmd *cobra.Command) {
	for _, s := range cf.defs {
		if len(s.parse.values) > 0 {
			_ = cmd.RegisterFlagCompletionFunc(s.flag, fixed(s.parse.values...))
		}
	}
}

// only hides every setting but these from --help (they are still accepted).
func (cf *configFlags) only(envs ...string) {
	for _, s := range cf.defs {
		if !slices.Contains(envs, s.env) {
			cf.fs.Lookup(s.flag).Hidden = true
		}
	}
}

func str(dst *string) parser {
	return parser{typ: "string", apply: func(v string) error { *dst = strings.TrimSpace(v); return nil }}
}

func dur(dst *time.Duration) parser {
	return parser{typ: "duration", apply: func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration (use e.g. 15m, 1h, 720h)", v)
		}
		if d < 0 {
			return fmt.Errorf("%q must not be negative", v)
		}
		*dst = d
		return nil
	}}
}

func num(dst *int, min int) parser { return numIn(dst, min, math.MaxInt) }

// numIn is num with an upper bound too, for settings that end up in a
// smaller type (Argon2's parameters are uint32 and uint8: a larger value
// would wrap, parallelism 256 to 0, which argon2 refuses by panicking).
func numIn(dst *int, min, max int) parser {
	return parser{typ: "int", apply: func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if n < min {
			return fmt.Errorf("%d is below the minimum of %d", n, min)
		}
		if n > max {
			return fmt.Errorf("%d is above the maximum of %d", n, max)
		}
		*dst = n
		return nil
	}}
}

func oneOf(dst *string, values ...string) parser {
	return parser{typ: strings.Join(values, "|"), values: values, apply: func(v string) error {
		v = strings.ToLower(strings.TrimSpace(v))
		for _, ok := range values {
			if v == ok {
				*dst = v
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(values, ", "))
	}}
}

func onOff(dst *bool, on, off string) parser {
	return parser{typ: on + "|" + off, values: []string{on, off}, apply: func(v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case on:
			*dst = true
		case off:
			*dst = false
		default:
			return fmt.Errorf("%q is not %s or %s", v, on, off)
		}
		return nil
	}}
}

func alg(dst *string) parser {
	return parser{typ: "RS256|ES256", values: []string{"RS256", "ES256"}, apply: func(v string) error {
		v = strings.ToUpper(strings.TrimSpace(v))
		if v != "RS256" && v != "ES256" {
			return fmt.Errorf("%q is not RS256 or ES256", v)
		}
		*dst = v
		return nil
	}}
}

func list(dst *[]string) parser {
	return parser{typ: "strings", apply: func(v string) error {
		*dst = nil
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*dst = append(*dst, s)
			}
		}
		return nil
	}}
}

// bindServe declares every serve setting on fs.
func bindServe(fs *pflag.FlagSet, c *server.Config) *configFlags {
	cf := newConfigFlags(fs)
	cf.add("LATCH_ISSUER", "http://localhost:8080", "public base URL; the iss of every token", str(&c.Issuer))
	cf.add("LATCH_LISTEN", ":8080", "address to listen on (127.0.0.1:8080 in --dev)", str(&c.Listen))
	cf.add("LATCH_METRICS_LISTEN", "", "address of the Prometheus metrics listener, e.g. 127.0.0.1:9464 (empty: off)", str(&c.MetricsListen))
	cf.add("LATCH_PPROF", "off", "Go's profiler under /debug/pprof/ on the metrics listener: on or off", onOff(&c.Pprof, "on", "off"))
	cf.add("LATCH_DATABASE_URL", "", "PostgreSQL URL (required without --dev)", str(&c.DatabaseURL))
	cf.add("LATCH_REDIS_URL", "", "Redis URL, redis:// or rediss:// (required without --dev)", str(&c.RedisURL))
	cf.add("LATCH_SECRET", "", "system secret, at least 32 bytes; comma-separated newest first to rotate (also LATCH_SECRET_FILE)", parser{typ: "string", apply: func(v string) error {
		return parseSecrets(v, &c.Secrets)
	}})
	cf.add("LATCH_CORS_ORIGINS", "", "comma-separated origins allowed to call token, userinfo, revocation and JWKS from a browser", list(&c.CORSOrigins))
	cf.add("LATCH_ACCESS_TOKEN_TTL", "15m", "access token lifetime", dur(&c.AccessTokenTTL))
	cf.add("LATCH_REFRESH_TOKEN_TTL", "720h", "absolute lifetime of a refresh token family", dur(&c.RefreshTokenTTL))
	cf.add("LATCH_REFRESH_TOKEN_IDLE_TTL", "168h", "a refresh token unused this long expires", dur(&c.RefreshIdleTTL))
	cf.add("LATCH_ID_TOKEN_TTL", "1h", "ID token lifetime", dur(&c.IDTokenTTL))
	cf.add("LATCH_REFRESH_GRACE_PERIOD", "0s", "how long a just-rotated refresh token may be presented again without counting as reuse", dur(&c.RefreshGracePeriod))
	cf.add("LATCH_REFRESH_REUSE_REVOKES", "family", "what refresh token reuse revokes: family or user", oneOf(&c.RefreshReuse, "family", "user"))
	cf.add("LATCH_DEVICE_CODE_TTL", "10m", "how long a device code and its user code live (device authorization grant), 1m to 1h", dur(&c.DeviceCodeTTL))
	cf.add("LATCH_DPOP_PROOF_WINDOW", "60s", "how far a DPoP proof's iat may lie from the server's clock, 5s to 5m", dur(&c.DPoPProofWindow))
	cf.add("LATCH_DPOP_NONCE", "off", "every DPoP proof must carry a server nonce (DPoP-Nonce header): on or off", onOff(&c.DPoPNonce, "on", "off"))
	cf.add("LATCH_KEY_ROTATION", "720h", "how often signing keys rotate (0 = never)", dur(&c.KeyRotation))
	cf.add("LATCH_ID_TOKEN_ALG", "RS256", "ID token signing algorithm: RS256 or ES256", alg(&c.IDTokenAlg))
	cf.add("LATCH_ACCESS_TOKEN_ALG", "ES256", "access token signing algorithm: ES256 or RS256", alg(&c.AccessTokenAlg))
	cf.add("LATCH_SESSION_IDLE_TTL", "24h", "a browser session unused this long ends", dur(&c.SessionIdleTTL))
	cf.add("LATCH_SESSION_TTL", "336h", "a browser session ends this long after login", dur(&c.SessionTTL))
	cf.add("LATCH_HIBP_URL", "https://api.pwnedpasswords.com/range/", "Have I Been Pwned range API base URL", str(&c.HIBPURL))
	cf.add("LATCH_HIBP", "on", "breached-password check against the range API: on or off (off in --dev)", onOff(&c.HIBP, "on", "off"))
	cf.add("LATCH_HIBP_FAIL", "open", "when the range API cannot be reached: open (allow, warn) or closed (refuse)", onOff(&c.HIBPFailOpen, "open", "closed"))
	cf.add("LATCH_PASSWORD_MIN_LENGTH", "8", "shortest password accepted", num(&c.PasswordMinLength, 8))
	cf.add("LATCH_ARGON2_MEMORY", "19456", "Argon2id memory in KiB", numIn(&c.Argon2Memory, 19456, password.MaxMemory))
	cf.add("LATCH_ARGON2_ITERATIONS", "2", "Argon2id iterations", numIn(&c.Argon2Iterations, 2, password.MaxIterations))
	cf.add("LATCH_ARGON2_PARALLELISM", "1", "Argon2id parallelism", numIn(&c.Argon2Parallelism, 1, math.MaxUint8))
	cf.add("LATCH_HASH_CONCURRENCY", "0", "password hashes computed at once (0: one less than the cores, at least 1); more wait briefly, then get 429", num(&c.HashConcurrency, 0))
	cf.add("LATCH_HASH_WAIT", "2s", "how long a request waits for a password-hashing slot before it gets 429", dur(&c.HashWait))
	cf.add("LATCH_LOGIN_LIMIT_ACCOUNT", "5", "failed logins per account within the window before it is locked", num(&c.LoginLimitAccount, 1))
	cf.add("LATCH_LOGIN_LIMIT_IP", "20", "failed logins per client IP within the window before it is locked", num(&c.LoginLimitIP, 1))
	cf.add("LATCH_LOGIN_LIMIT_WINDOW", "15m", "window of the login rate limits", dur(&c.LoginLimitWindow))
	cf.add("LATCH_SMTP_URL", "", "mail server, smtp:// or smtps:// with user and password (required without --dev unless LATCH_SMTP=stdout)", str(&c.SMTPURL))
	cf.add("LATCH_SMTP", "", "stdout: print emails to stdout when LATCH_SMTP_URL is unset (required for that without --dev)", parser{typ: "stdout", values: []string{"stdout"}, apply: func(v string) error {
		switch strings.TrimSpace(v) {
		case "":
			c.SMTPStdout = false
		case "stdout":
			c.SMTPStdout = true
		default:
			return fmt.Errorf("%q is not stdout", v)
		}
		return nil
	}})
	cf.add("LATCH_SMTP_FROM", "latch <no-reply@localhost>", "sender address of emails", str(&c.SMTPFrom))
	cf.add("LATCH_ADMIN_EMAIL", "", "admin created at start when missing", str(&c.AdminEmail))
	cf.add("LATCH_ADMIN_PASSWORD", "", "that admin's first password; must be changed at first login (also LATCH_ADMIN_PASSWORD_FILE)", str(&c.AdminPassword))
	cf.add("LATCH_REGISTRATION", "closed", "self-service registration: open or closed (open in --dev)", oneOf(&c.Registration, "open", "closed"))
	cf.add("LATCH_CLIENT_REGISTRATION", registration.Closed, "dynamic client registration (RFC 7591/7592): closed, token (an initial access token from latch clients registration-token create) or open", oneOf(&c.ClientRegistration, registration.Modes()...))
	cf.add("LATCH_RATE_LIMIT_IPV6_PREFIX", "64", "IPv6 clients are counted by this network (/bits) in per-address limits; 32 to 128", numIn(&c.IPv6Prefix, 32, 128))
	cf.add("LATCH_BACKCHANNEL_ALLOW_PRIVATE", "off", "back-channel logout tokens may also go to private, loopback and link-local addresses: on or off (on in --dev)", onOff(&c.BackchannelAllowPrivate, "on", "off"))
	cf.add("LATCH_TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For / Forwarded headers are believed; empty: none", list(&c.TrustedProxies))
	cf.add("LATCH_CLIENT_METADATA_HOSTS", "", "comma-separated hosts allowed to serve Client ID Metadata Documents (https URL client IDs); * allows any public host; empty: off", list(&c.ClientMetadataHosts))
	cf.add("LATCH_WEBAUTHN_RP_ID", "", "relying party ID of passkeys: the issuer's host (default) or a parent domain of it; passkeys stay bound to it", str(&c.WebAuthnRPID))
	cf.add("LATCH_WEBAUTHN_ORIGINS", "", "comma-separated origins passkey ceremonies may come from; default: the issuer's origin", list(&c.WebAuthnOrigins))
	cf.add("LATCH_BRAND_NAME", brand.DefaultName, "product name on every page, in email subjects and in authenticator apps", str(&c.Brand.Name))
	cf.add("LATCH_BRAND_LOGO_URL", "", "logo above every page: an https URL or a path on the issuer's host (empty: the name only)", str(&c.Brand.LogoURL))
	cf.add("LATCH_BRAND_COLOR", "", "primary colour, #rrggbb, dark enough for white button text (WCAG AA); the dark-mode shade is derived (empty: latch's blue)", str(&c.Brand.Color))
	cf.add("LATCH_BRAND_SUPPORT_URL", "", "support link in the footer of every page and email: https or mailto: (empty: none)", str(&c.Brand.SupportURL))
	cf.add("LATCH_TEMPLATES_DIR", "", "directory of template overrides: DIR/login/login.html replaces the login page (see README)", str(&c.TemplatesDir))
	cf.add("LATCH_LOG_LEVEL", "info", "log level: debug, info, warn, error", oneOf(&c.LogLevel, "debug", "info", "warn", "error"))
	return cf
}

func parseSecrets(v string, dst *[][]byte) error {
	*dst = nil
	parts := strings.Split(v, ",")
	for i, s := range parts {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if len(s) < secret.MinLength {
			which := "is"
			if len(parts) > 1 {
				which = fmt.Sprintf("secret %d is", i+1)
			}
			return fmt.Errorf("%s %d bytes; at least %d", which, len(s), secret.MinLength)
		}
		*dst = append(*dst, []byte(s))
	}
	return nil
}

package password

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/telemetry"
)

// DefaultBreachURL is the public Pwned Passwords range API.
const DefaultBreachURL = "https://api.pwnedpasswords.com/range/"

// ErrBreachUnavailable is returned by Breached when the range API cannot be
// reached and BreachOptions.FailClosed is set.
var ErrBreachUnavailable = errors.New("password: breached-password service unavailable")

const (
	defaultBreachTimeout = 2 * time.Second
	// cacheTTL bounds how stale a cached range may be; the corpus changes
	// rarely, and a day saves a round trip for every popular prefix.
	cacheTTL    = 24 * time.Hour
	cachePrefix = "latch:hibp:range:"
	// maxRangeBody bounds what one range answer may hold; a real one, padded,
	// is some 40 KB.
	maxRangeBody = 4 << 20
)

// BreachOptions configure a Breach.
type BreachOptions struct {
	URL        string                // range API base; default DefaultBreachURL
	Enabled    bool                  // LATCH_HIBP=on|off
	FailClosed bool                  // LATCH_HIBP_FAIL=closed: refuse when the API can't be reached; default open
	Timeout    time.Duration         // default 2s
	Redis      redis.UniversalClient // caches range answers; may be nil
	Client     *http.Client          // default: a plain client
	Logger     *slog.Logger          // default slog.Default()
	Metrics    *telemetry.Metrics    // counts lookups of the range API; may be nil
}

// Breach checks passwords against the Have I Been Pwned range API
// (k-anonymity: only the first five hex characters of the SHA-1 leave the
// server) and against the bundled common-password list.
type Breach struct {
	o BreachOptions
}

// NewBreach returns a Breach with o's zero fields set to their defaults.
func NewBreach(o BreachOptions) *Breach {
	if o.URL == "" {
		o.URL = DefaultBreachURL
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultBreachTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Breach{o: o}
}

// Breached reports whether pw is in the bundled common-password list (always
// checked, even when the remote check is off or fails) or listed by the range
// API. It returns an error only when FailClosed is set and the API cannot be
// reached; failing open, it logs a warning and reports false.
func (b *Breach) Breached(ctx context.Context, pw string) (bool, error) {
	if Common(pw) {
		return true, nil
	}
	if !b.o.Enabled {
		return false, nil
	}
	sum := sha1.Sum([]byte(pw))
	digest := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := digest[:5], digest[5:]

	suffixes, err := b.rangeOf(ctx, prefix)
	if err != nil {
		b.o.Metrics.BreachLookup(telemetry.BreachFailed)
		if b.o.FailClosed {
			b.o.Logger.WarnContext(ctx, "breached-password check unavailable; refusing the password (LATCH_HIBP_FAIL=closed)", "err", err)
			return false, fmt.Errorf("%w: %w", ErrBreachUnavailable, err)
		}
		b.o.Logger.WarnContext(ctx, "breached-password check unavailable; allowing the password (LATCH_HIBP_FAIL=open)", "err", err)
		return false, nil
	}
	_, found := suffixes[suffix]
	if found {
		b.o.Metrics.BreachLookup(telemetry.BreachFound)
	} else {
		b.o.Metrics.BreachLookup(telemetry.BreachClean)
	}
	return found, nil
}

// rangeOf returns the suffixes the API lists for prefix, from the cache when
// it can.
func (b *Breach) rangeOf(ctx context.Context, prefix string) (map[string]struct{}, error) {
	if b.o.Redis != nil {
		cached, err := b.o.Redis.Get(ctx, cachePrefix+prefix).Result()
		switch {
		case err == nil:
			return splitSuffixes(cached), nil
		case !errors.Is(err, redis.Nil):
			// The cache only saves round trips: carry on without it.
			b.o.Logger.WarnContext(ctx, "breached-password cache unavailable", "err", err)
		}
	}
	suffixes, err := b.fetch(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if b.o.Redis != nil {
		if err := b.o.Redis.Set(ctx, cachePrefix+prefix, joinSuffixes(suffixes), cacheTTL).Err(); err != nil {
			b.o.Logger.WarnContext(ctx, "breached-password cache unavailable", "err", err)
		}
	}
	return suffixes, nil
}

func (b *Breach) fetch(ctx context.Context, prefix string) (map[string]struct{}, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.o.URL+prefix, nil)
	if err != nil {
		return nil, err
	}
	// Padding hides, from anyone watching the wire, how many suffixes the
	// answer holds, and so which prefix was asked.
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "latch")
	resp, err := b.o.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("range API answered %s", resp.Status)
	}
	return parseRange(io.LimitReader(resp.Body, maxRangeBody))
}

// parseRange reads lines SUFFIX:COUNT, leaving out padding lines (count 0).
func parseRange(r io.Reader) (map[string]struct{}, error) {
	out := make(map[string]struct{})
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		suffix, count, ok := strings.Cut(line, ":")
		if !ok || len(suffix) != 35 {
			return nil, errors.New("range API answer is malformed")
		}
		n, err := strconv.ParseUint(strings.TrimSpace(count), 10, 64)
		if err != nil {
			return nil, errors.New("range API answer is malformed")
		}
		if n == 0 {
			continue
		}
		out[strings.ToUpper(suffix)] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read range API answer: %w", err)
	}
	return out, nil
}

func joinSuffixes(s map[string]struct{}) string {
	var sb strings.Builder
	sb.Grow(len(s) * 36)
	for k := range s {
		sb.WriteString(k)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func splitSuffixes(s string) map[string]struct{} {
	out := make(map[string]struct{})
	for _, k := range strings.Split(s, "\n") {
		if k != "" {
			out[k] = struct{}{}
		}
	}
	return out
}

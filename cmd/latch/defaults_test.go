package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// serveErr runs `latch serve args` expecting it to refuse to start.
func serveErr(t *testing.T, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, append([]string{"serve"}, args...), nil, &out, &errOut)
	if err == nil {
		t.Fatal("serve must refuse this configuration")
	}
	return err
}

func linesAbout(err error, env string) []string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.HasPrefix(l, env+":") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestServeShortSecretIsOneMessage(t *testing.T) {
	t.Setenv("LATCH_DATABASE_URL", "")
	t.Setenv("LATCH_REDIS_URL", "")
	t.Setenv("LATCH_SECRET", "short")
	lines := linesAbout(serveErr(t), "LATCH_SECRET")
	if len(lines) != 1 || lines[0] != "LATCH_SECRET: is 5 bytes; at least 32" {
		t.Fatalf("want one line about the short secret, got %q", lines)
	}
}

func TestServeWithoutSMTPURLRefusesUnlessStdoutIsExplicit(t *testing.T) {
	t.Setenv("LATCH_DATABASE_URL", "")
	t.Setenv("LATCH_REDIS_URL", "")
	t.Setenv("LATCH_SECRET", "")
	t.Setenv("LATCH_SMTP_URL", "")
	lines := linesAbout(serveErr(t), "LATCH_SMTP_URL")
	if len(lines) != 1 || !strings.Contains(lines[0], "LATCH_SMTP=stdout") {
		t.Fatalf("want one line naming LATCH_SMTP=stdout, got %q", lines)
	}
	t.Setenv("LATCH_SMTP", "stdout")
	if lines := linesAbout(serveErr(t), "LATCH_SMTP_URL"); len(lines) != 0 {
		t.Fatalf("LATCH_SMTP=stdout allows printing emails, got %q", lines)
	}
	t.Setenv("LATCH_SMTP", "yes")
	if lines := linesAbout(serveErr(t), "LATCH_SMTP"); len(lines) != 1 {
		t.Fatalf("a bad LATCH_SMTP is one line, got %q", lines)
	}
}

// devConfig resolves the serve settings as `latch serve --dev args` would.
func devConfig(t *testing.T, args ...string) *serveSettings {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	s := declareServe(fs)
	if err := fs.Parse(append([]string{"--dev"}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := s.check(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServeDevListensOnLoopbackWithoutBreachAPIByDefault(t *testing.T) {
	t.Setenv("LATCH_HIBP", "")
	os.Unsetenv("LATCH_HIBP")
	os.Unsetenv("LATCH_LISTEN")
	c := devConfig(t).c
	if c.Listen != "127.0.0.1:8080" || c.HIBP {
		t.Fatalf("--dev: listen %q, hibp %v; want 127.0.0.1:8080 and off", c.Listen, c.HIBP)
	}
	if c := devConfig(t, "--listen", ":9090", "--hibp", "on").c; c.Listen != ":9090" || !c.HIBP {
		t.Fatalf("--dev with flags: listen %q, hibp %v", c.Listen, c.HIBP)
	}
	t.Setenv("LATCH_LISTEN", "0.0.0.0:8080")
	t.Setenv("LATCH_HIBP", "on")
	if c := devConfig(t).c; c.Listen != "0.0.0.0:8080" || !c.HIBP {
		t.Fatalf("--dev with variables: listen %q, hibp %v", c.Listen, c.HIBP)
	}
}

func TestDevSeedIsCreatedPrivateThenReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), devSeedFile)
	seed, created, err := loadDevSeed(path)
	if err != nil || !created || len(seed) < 32 {
		t.Fatalf("first load: %v created=%v len=%d", err, created, len(seed))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed file mode: %v %v", fi.Mode(), err)
	}
	again, created, err := loadDevSeed(path)
	if err != nil || created || string(again) != string(seed) {
		t.Fatalf("second load: %v created=%v same=%v", err, created, string(again) == string(seed))
	}
}

// TestServeDevKeepsDemoCredentialsAcrossRestarts starts --dev twice in one
// directory: the admin password and demo secrets printed are the same, and
// the output says the seed was created, then reused.
func TestServeDevKeepsDemoCredentialsAcrossRestarts(t *testing.T) {
	t.Setenv("LATCH_SECRET", "")
	t.Setenv("LATCH_DATABASE_URL", "")
	t.Setenv("LATCH_REDIS_URL", "")
	t.Chdir(t.TempDir())
	creds := regexp.MustCompile(`(?m)^\s+(admin login|user login|demo service|admin CLI) .*$`)
	first := runDevUntilStarted(t)
	if !strings.Contains(first, "created "+devSeedFile) {
		t.Errorf("first start does not say the seed is new:\n%s", first)
	}
	second := runDevUntilStarted(t)
	if !strings.Contains(second, "reusing "+devSeedFile) {
		t.Errorf("second start does not say the seed is reused:\n%s", second)
	}
	a, b := creds.FindAllString(first, -1), creds.FindAllString(second, -1)
	if len(a) != 4 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("demo credentials differ across restarts:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// runDevUntilStarted runs `latch serve --dev` until it has printed its demo
// credentials, stops it and returns what it printed.
func runDevUntilStarted(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--listen", "127.0.0.1:0"}, nil, &out, &errOut)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "admin CLI"); {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	return out.String()
}

func TestUnknownFlagIsOneLineWithAHint(t *testing.T) {
	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"serve", "--bogus"}, "see 'latch serve --help'"},
		{[]string{"clients", "list", "--bogus"}, "see 'latch clients list --help'"},
		{[]string{"healthcheck", "--bogus"}, "see 'latch healthcheck --help'"},
		{[]string{"--bogus", "clients", "list"}, "see 'latch --help'"},
	} {
		_, stderr, err := cli(t, "", tc.args...)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "-bogus") || !strings.HasSuffix(err.Error(), tc.hint) {
			t.Errorf("latch %v: want one line naming the flag and ending %q, got %v", tc.args, tc.hint, err)
		}
		if stderr != "" {
			t.Errorf("latch %v: the flag list is not printed on a bad flag, got:\n%s", tc.args, stderr)
		}
	}
}

// A flag wins over its variable, a variable over the default, and for a
// secret the file LATCH_*_FILE names over the variable.
func TestServeSettingPrecedence(t *testing.T) {
	t.Setenv("LATCH_ACCESS_TOKEN_TTL", "20m")
	if c := devConfig(t).c; c.AccessTokenTTL != 20*time.Minute {
		t.Fatalf("variable: %v", c.AccessTokenTTL)
	}
	if c := devConfig(t, "--access-token-ttl", "5m").c; c.AccessTokenTTL != 5*time.Minute {
		t.Fatalf("flag over variable: %v", c.AccessTokenTTL)
	}
	f := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(f, []byte(testSecret+"\n"), 0o600)
	t.Setenv("LATCH_SECRET", "a-different-secret-of-at-least-32-bytes")
	t.Setenv("LATCH_SECRET_FILE", f)
	if c := devConfig(t).c; len(c.Secrets) != 1 || string(c.Secrets[0]) != testSecret {
		t.Fatalf("secret file over variable: %q", c.Secrets)
	}
}

func TestServeDevLetsBackchannelLogoutReachLocalApps(t *testing.T) {
	t.Setenv("LATCH_BACKCHANNEL_ALLOW_PRIVATE", "")
	os.Unsetenv("LATCH_BACKCHANNEL_ALLOW_PRIVATE")
	if !devConfig(t).c.BackchannelAllowPrivate {
		t.Fatal("--dev: back-channel logout refuses local applications")
	}
	if devConfig(t, "--backchannel-allow-private", "off").c.BackchannelAllowPrivate {
		t.Fatal("--dev --backchannel-allow-private off: allowed anyway")
	}
}

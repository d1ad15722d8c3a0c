package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// withoutConfiguration unsets every LATCH_* variable for the test.
func withoutConfiguration(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "LATCH_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// commands is every visible command of latch, the root first, as the
// words that call it; new commands are covered as they are added.
func commands() [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		out = append(out, path)
		for _, sub := range c.Commands() {
			if !sub.Hidden {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	walk(newRoot(&cliEnv{}), []string{})
	return out
}

// command is the command that path calls.
func command(t *testing.T, path []string) *cobra.Command {
	t.Helper()
	c, rest, err := newRoot(&cliEnv{}).Find(path)
	if err != nil || len(rest) > 0 {
		t.Fatalf("latch %v: %v %v", path, rest, err)
	}
	return c
}

func TestEveryCommandAnswersHelpWithoutConfiguration(t *testing.T) {
	withoutConfiguration(t)
	for _, path := range commands() {
		t.Run("case=latch "+strings.Join(path, " "), func(t *testing.T) {
			want := mustCLI(t, "", append(path, "--help")...)
			if !strings.Contains(want, "Usage:\n  latch "+strings.Join(path, " ")) {
				t.Fatalf("--help has no usage line for the command:\n%s", want)
			}
			for _, args := range [][]string{append(path, "-h"), append([]string{"help"}, path...)} {
				if got := mustCLI(t, "", args...); got != want {
					t.Errorf("latch %s differs from --help:\n%s", strings.Join(args, " "), got)
				}
			}
		})
	}
}

func TestEveryLeafCommandHasAShortLineAndExamples(t *testing.T) {
	for _, path := range commands() {
		c := command(t, path)
		if c.Short == "" || strings.Contains(c.Short, "\n") {
			t.Errorf("latch %v: want a one-line description, got %q", path, c.Short)
		}
		if c.HasSubCommands() {
			continue
		}
		_, examples, _ := strings.Cut(mustCLI(t, "", append(path, "--help")...), "\nExamples:\n")
		if !strings.Contains(examples, strings.Join(append([]string{"latch"}, path...), " ")) {
			t.Errorf("latch %v --help shows no examples of it", path)
		}
	}
}

// TestHelpShowsEveryFlagWithItsType checks that each flag of each command
// is listed with the type of its value (none for booleans).
func TestHelpShowsEveryFlagWithItsType(t *testing.T) {
	withoutConfiguration(t)
	for _, path := range commands() {
		help := mustCLI(t, "", append(path, "--help")...)
		command(t, path).Flags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			typ, _ := pflag.UnquoteUsage(f)
			if want := "--" + f.Name + " " + typ; !strings.Contains(help, want) {
				t.Errorf("latch %v --help lacks %q", path, want)
			}
		})
	}
}

func TestHelpTypesDurationsNumbersBooleansAndChoices(t *testing.T) {
	for _, tc := range []struct {
		path []string
		want []string
	}{
		{[]string{"clients", "registration-token", "create"}, []string{"--expires-in duration", "--max-uses int"}},
		{[]string{"users", "create"}, []string{"--password-stdin   ", "--role string"}},
		{[]string{"serve"}, []string{"--access-token-ttl duration", "--argon2-memory int", "--dev   ", "--hibp on|off", "--id-token-alg RS256|ES256",
			"--refresh-reuse-revokes family|user", "--cors-origins strings", "(env LATCH_ACCESS_TOKEN_TTL) (default 15m)"}},
		{[]string{"keys", "rotate"}, []string{"--id-token-alg RS256|ES256", "--key-rotation duration"}},
	} {
		help := mustCLI(t, "", append(tc.path, "--help")...)
		for _, want := range tc.want {
			if !strings.Contains(help, want) {
				t.Errorf("latch %v --help lacks %q:\n%s", tc.path, want, help)
			}
		}
	}
}

func TestServeHelpNamesTheVariableOfEveryFlag(t *testing.T) {
	help := mustCLI(t, "", "serve", "--help")
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	for _, s := range declareServe(fs).cf.defs {
		if !strings.Contains(help, "--"+s.flag+" ") || !strings.Contains(help, "(env "+s.env+")") {
			t.Errorf("serve --help lacks --%s with %s", s.flag, s.env)
		}
	}
}

func TestHelpPrintsNoSecretFromTheEnvironment(t *testing.T) {
	t.Setenv("LATCH_SECRET", testSecret)
	t.Setenv("LATCH_TOKEN", "a-bearer-token-from-the-environment")
	for _, path := range [][]string{{"serve"}, {"users", "list"}, {}} {
		help := mustCLI(t, "", append(path, "--help")...)
		if strings.Contains(help, testSecret) || strings.Contains(help, "a-bearer-token") {
			t.Errorf("latch %v --help prints a secret:\n%s", path, help)
		}
	}
}

func TestUnknownFlagIsAUsageError(t *testing.T) {
	_, stderr, err := cli(t, "", "users", "create", "--foo")
	want := `unknown flag --foo for "latch users create"; see 'latch users create --help'`
	if !errors.Is(err, errUsage) || err.Error() != want || stderr != "" {
		t.Fatalf("want the usage error %q and nothing else, got %v and stderr %q", want, err, stderr)
	}
}

func TestSingleDashLongFlagSaysTwoDashes(t *testing.T) {
	_, _, err := cli(t, "", "clients", "list", "-json")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "did you mean --json?") {
		t.Fatalf("got %v", err)
	}
}

func TestBadFlagValueNamesFlagAndType(t *testing.T) {
	_, _, err := cli(t, "", "clients", "registration-token", "create", "--max-uses", "many")
	if !errors.Is(err, errUsage) || !strings.HasPrefix(err.Error(), `--max-uses: "many" is not a whole number;`) {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, `unknown command "serv" for "latch" (did you mean "serve"`},
		{[]string{"users", "creat"}, `unknown command "creat" for "latch users" (did you mean "create"?); see 'latch users --help'`},
		{[]string{"help", "clients", "lst"}, `(did you mean "list"`},
	} {
		_, _, err := cli(t, "", tc.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("latch %v: want one line containing %q, got %v", tc.args, tc.want, err)
		}
	}
}

// TestExitStatus runs latch as its own process, without any variable: 0
// for help, 2 for a usage error (one line on stderr), 1 for a failure.
func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args   string
		status int
		stderr string
	}{
		{"serve --help", 0, ""},
		{"users create --foo", 2, "latch: unknown flag --foo for \"latch users create\"; see 'latch users create --help'\n"},
		{"clients list", 1, "latch: LATCH_DATABASE_URL: is required for this command\n"},
	} {
		t.Run("case=latch "+tc.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = []string{mainEnv + "=" + tc.args}
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || stderr.String() != tc.stderr {
				t.Fatalf("exit status %d, stderr %q; want %d, %q", status, stderr.String(), tc.status, tc.stderr)
			}
		})
	}
}

func TestCompletionBashIsValidBash(t *testing.T) {
	script := mustCLI(t, "", "completion", "bash")
	f := filepath.Join(t.TempDir(), "latch.bash")
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
		t.Fatalf("bash -n refuses the completion script: %v\n%s", err, out)
	}
	if !strings.Contains(script, "__start_latch") {
		t.Fatal("the script does not complete latch")
	}
}

func TestCompletionOffersChoices(t *testing.T) {
	withoutConfiguration(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"users", "create", "--role", ""}, []string{"user", "admin"}},
		{[]string{"users", "set-role", "alice@example.com", ""}, []string{"user", "admin"}},
		{[]string{"serve", "--refresh-reuse-revokes", ""}, []string{"family", "user"}},
		{[]string{"serve", "--id-token-alg", ""}, []string{"RS256", "ES256"}},
		{[]string{"keys", "rotate", "--access-token-alg", ""}, []string{"RS256", "ES256"}},
		{[]string{"us"}, []string{"users"}},
	} {
		out := mustCLI(t, "", append([]string{cobra.ShellCompNoDescRequestCmd}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := strings.Join(lines[:len(lines)-1], " "); got != strings.Join(tc.want, " ") {
			t.Errorf("completing latch %v: got %q, want %q", tc.args, got, tc.want)
		}
	}
}

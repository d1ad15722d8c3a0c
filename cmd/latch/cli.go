package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// errUsage marks an error caused by how the command was called; latch
// exits with status 2 for it.
var errUsage = errors.New("usage")

// usageError is a mistake in how a command was called: one line, and the
// help to read about it, never the whole flag list.
type usageError struct {
	msg  string
	path string // the command whose help to read
}

func (u *usageError) Error() string { return fmt.Sprintf("%s; see '%s --help'", u.msg, u.path) }

func (u *usageError) Is(target error) bool { return target == errUsage }

func usagef(cmd *cobra.Command, format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...), path: cmd.CommandPath()}
}

// flagError turns what the flag parser says into one line naming the flag
// and the command.
func flagError(cmd *cobra.Command, err error) error {
	var unknown *pflag.NotExistError
	var missing *pflag.ValueRequiredError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &unknown):
		name := "--" + unknown.GetSpecifiedName()
		if s := unknown.GetSpecifiedShortnames(); s != "" {
			name = "-" + s
			if len(s) > 1 && cmd.Flags().Lookup(s) != nil {
				return usagef(cmd, "unknown flag %s for %q (did you mean --%s?)", name, cmd.CommandPath(), s)
			}
		}
		return usagef(cmd, "unknown flag %s for %q", name, cmd.CommandPath())
	case errors.As(err, &missing):
		return usagef(cmd, "flag --%s needs a value", missing.GetFlag().Name)
	case errors.As(err, &invalid):
		what := map[string]string{"duration": "a duration (e.g. 15m, 1h, 720h)", "int": "a whole number", "bool": "true or false"}[invalid.GetFlag().Value.Type()]
		if what == "" {
			what = "valid"
		}
		return usagef(cmd, "--%s: %q is not %s", invalid.GetFlag().Name, invalid.GetValue(), what)
	}
	return usagef(cmd, "%v", err)
}

// subcommandArgs refuses an argument that names no subcommand, with
// cobra's suggestions on the same line.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if names := cmd.SuggestionsFor(args[0]); len(names) > 0 {
		for i, n := range names {
			names[i] = strconv.Quote(n)
		}
		msg += " (did you mean " + strings.Join(names, " or ") + "?)"
	}
	return usagef(cmd, "%s", msg)
}

// group is a command that only holds subcommands: without one it says
// which there are.
func group(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: subcommandArgs,
		RunE: needsSubcommand,
	}
}

func needsSubcommand(cmd *cobra.Command, _ []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usagef(cmd, "%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
}

// exactly takes the arguments named, no more, no fewer.
func exactly(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) > len(names):
			return usagef(cmd, "unexpected argument %q", args[len(names)])
		case len(args) < len(names):
			return usagef(cmd, "%s needs %s", cmd.CommandPath(), strings.Join(names[len(args):], " "))
		}
		return nil
	}
}

// helpCmd is `latch help [COMMAND]`: the same help as COMMAND --help, and
// an unknown COMMAND is a usage error like any other.
func helpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Help about any command",
		Long:  "Help shows the help of any command, as COMMAND --help does.",
		Example: `  latch help
  latch help users create`,
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err == nil && len(rest) > 0 {
				err = subcommandArgs(cmd, rest)
			}
			if err != nil {
				return err
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// initCompletion adds cobra's `completion bash|zsh|fish|powershell` with
// an example on each, and makes an unknown shell a usage error.
func initCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Args = subcommandArgs
		c.RunE = needsSubcommand
		for _, sh := range c.Commands() {
			sh.Example = completionExamples[sh.Name()]
		}
	}
}

var completionExamples = map[string]string{
	"bash":       "  source <(latch completion bash)\n  latch completion bash > /etc/bash_completion.d/latch",
	"zsh":        "  latch completion zsh > \"${fpath[1]}/_latch\"",
	"fish":       "  latch completion fish > ~/.config/fish/completions/latch.fish",
	"powershell": "  latch completion powershell | Out-String | Invoke-Expression",
}

// flagOrEnv is the flag name of cmd when it was given, else the variable
// env: a flag wins over its variable.
func flagOrEnv(cmd *cobra.Command, name, env string) string {
	if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
		return f.Value.String()
	}
	return os.Getenv(env)
}

// fixed completes a flag or an argument with these values only.
func fixed(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// usageTemplate is cobra's, except that a command holding subcommands does
// not show a usage line of its own.
const usageTemplate = `Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

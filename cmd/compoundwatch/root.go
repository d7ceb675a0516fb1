package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitPartial = 3
)

// errUsage marks errors in how the command was called.
var errUsage = errors.New("usage")

// errPartial marks runs where some areas failed and the rest were written.
var errPartial = errors.New("partial failure")

func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errPartial):
		return exitPartial
	}
	return exitFailed
}

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// globalOptions are the flags every subcommand has.
type globalOptions struct {
	LogFormat string
	LogLevel  string
	stderr    io.Writer
	log       *slog.Logger
}

func (o *globalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.LogFormat, "log-format", "", "log format: text or json (default: text on a terminal, json otherwise)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
}

// logger builds the slog logger: text for people, JSON for cron.
func (o *globalOptions) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, usageError("--log-level %q: %v", o.LogLevel, err)
	}
	format := o.LogFormat
	if format == "" {
		format = "json"
		if f, ok := o.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(o.stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(o.stderr, hopts)), nil
	}
	return nil, usageError("--log-format %q: want text or json", format)
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{stderr: os.Stderr, log: slog.New(slog.DiscardHandler)}
	root := &cobra.Command{
		Use:           "compoundwatch",
		Short:         "Watch named places in Sentinel-2 imagery for new buildings",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			l, err := g.logger()
			if err != nil {
				return err
			}
			g.log = l
			return nil
		},
	}
	g.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return fmt.Errorf("%w: %w", errUsage, err) })
	root.AddCommand(newAOICommand(g), newScenesCommand(g), newDetectCommand(g), newEvalCommand(g), newRunCommand(g), newPlanCommand(g), newBackfillCommand(g), newScheduleCommand(g), newDemoCommand(g))
	return root
}

// applyEnv fills flags the command line did not set from COMPOUNDWATCH_*
// variables (--max-cloud from COMPOUNDWATCH_MAX_CLOUD). Flag beats
// environment beats default; a bad value names the variable.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "COMPOUNDWATCH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = usageError("environment %s=%q: %v", name, v, serr)
			}
		}
	})
	return err
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		return nil
	}
}

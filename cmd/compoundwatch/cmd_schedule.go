package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
)

// scheduleOptions configure `schedule`, the long-running alternative to cron.
type scheduleOptions struct {
	Cron  string
	Grace time.Duration
	Run   runOptions
	log   *slog.Logger
}

func newScheduleCommand(g *globalOptions) *cobra.Command {
	o := &scheduleOptions{}
	c := &cobra.Command{
		Use:   "schedule --cron EXPR --out LOC [run flags]",
		Short: "Run the weekly job at every tick of a cron expression (UTC) until SIGTERM",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.log, o.Run.log, o.Run.out = g.log, g.log, cmd.OutOrStdout()
			return runSchedule(cmd.Context(), *o)
		},
	}
	c.Flags().StringVar(&o.Cron, "cron", "0 6 * * 1", "when to run, a cron expression in UTC (5 fields, or @weekly, @every 1h)")
	c.Flags().DurationVar(&o.Grace, "grace", 15*time.Minute, "on SIGTERM, how long an in-flight run may take to finish before it is cancelled")
	o.Run.AddFlags(c.Flags())
	_ = c.Flags().MarkHidden("week")
	return c
}

// runSchedule runs `run` at each tick until ctx ends (SIGTERM or SIGINT),
// then stops scheduling, lets an in-flight run finish within the grace
// period, and otherwise cancels it, which releases its locks.
func runSchedule(ctx context.Context, o scheduleOptions) error {
	if o.Run.Week != "" {
		return usageError("schedule always processes the last complete week; drop --week")
	}
	sched, err := cron.ParseStandard(o.Cron)
	if err != nil {
		return usageError("--cron %q: %v", o.Cron, err)
	}
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	c := cron.New(cron.WithLocation(time.UTC), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	c.Schedule(sched, cron.FuncJob(func() {
		m, err := runRun(runCtx, o.Run)
		if o.log != nil {
			status := "failed"
			if m != nil {
				status = m.Status
			}
			if err != nil {
				o.log.Error("scheduled run ended", "status", status, "error", err)
			} else {
				o.log.Info("scheduled run ended", "status", status)
			}
		}
	}))
	if o.log != nil {
		o.log.Info("schedule started", "cron", o.Cron, "next", sched.Next(time.Now().UTC()).Format(time.RFC3339))
	}
	c.Start()
	<-ctx.Done()
	stopped := c.Stop() // no new ticks; done when the running job returns
	if o.log != nil {
		o.log.Info("schedule stopping", "grace", o.Grace.String())
	}
	select {
	case <-stopped.Done():
		return nil
	case <-time.After(o.Grace):
	}
	cancelRuns()
	<-stopped.Done()
	return fmt.Errorf("schedule: the in-flight run did not finish within %s and was cancelled", o.Grace)
}

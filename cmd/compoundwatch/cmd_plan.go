package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/plan"
)

// rangeOptions choose the periods of a plan or a backfill.
type rangeOptions struct {
	From  string
	To    string
	Week  string
	Every string
}

func (o *rangeOptions) AddFlags(fs *pflag.FlagSet, withWeek bool) {
	fs.StringVar(&o.From, "from", "", "first day, YYYY-MM-DD")
	fs.StringVar(&o.To, "to", "", "last day, YYYY-MM-DD (inclusive)")
	if withWeek {
		fs.StringVar(&o.Week, "week", "", "one ISO week, e.g. 2025-W10 (default with no --from/--to: the last complete week, UTC)")
	}
	fs.StringVar(&o.Every, "every", period.EveryWeek, "cadence: week or month")
}

// periods resolves the options at time now.
func (o *rangeOptions) periods(now time.Time) ([]period.Period, error) {
	switch {
	case o.Week != "" && (o.From != "" || o.To != ""):
		return nil, usageError("give --week or --from/--to, not both")
	case o.Week != "":
		p, err := period.Parse(o.Week)
		if _, ok := p.ISOWeek(); err != nil || !ok {
			return nil, usageError("--week %q: want an ISO week such as 2025-W10", o.Week)
		}
		return []period.Period{p}, nil
	case o.From == "" && o.To == "":
		if o.Every == period.EveryMonth {
			last := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
			return []period.Period{period.Month(last.Year(), last.Month())}, nil
		}
		return []period.Period{period.LastCompleteWeek(now)}, nil
	case o.From == "" || o.To == "":
		return nil, usageError("give both --from and --to")
	}
	from, err := time.Parse("2006-01-02", o.From)
	if err != nil {
		return nil, usageError("--from %q: want YYYY-MM-DD", o.From)
	}
	to, err := time.Parse("2006-01-02", o.To)
	if err != nil {
		return nil, usageError("--to %q: want YYYY-MM-DD", o.To)
	}
	ps, err := period.Range(from, to, o.Every)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return ps, nil
}

// planOptions configure `plan`.
type planOptions struct {
	Watchlist string
	AOIs      []string
	Range     rangeOptions
	Shard     shardOptions
	JSON      bool
	now       func() time.Time
	out       io.Writer
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	o := &planOptions{}
	c := &cobra.Command{
		Use:   "plan [--from D --to D | --week W] [--every week|month] [--shard i/n]",
		Short: "Print the jobs of a run or a backfill, one line per area and period: <aoi-id> <period>",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out = cmd.OutOrStdout()
			_, err := runPlan(cmd.Context(), *o)
			return err
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Watchlist, "watchlist", "builtin", "areas: a watchlist GeoJSON file, or builtin")
	fs.StringSliceVar(&o.AOIs, "aoi", nil, "only these area ids (repeatable)")
	o.Range.AddFlags(fs, true)
	o.Shard.AddFlags(fs)
	fs.BoolVar(&o.JSON, "json", false, "print a JSON array instead of lines")
	return c
}

func runPlan(_ context.Context, o planOptions) ([]plan.Job, error) {
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	jp, err := planJobs(now(), o.Range, o.Watchlist, o.AOIs, o.Shard)
	if err != nil {
		return nil, err
	}
	jobs := jp.jobs
	if o.JSON {
		if jobs == nil {
			jobs = []plan.Job{}
		}
		data, err := json.MarshalIndent(jobs, "", " ")
		if err != nil {
			return nil, err
		}
		_, err = fmt.Fprintf(o.out, "%s\n", data)
		return jobs, err
	}
	for _, j := range jobs {
		if _, err := fmt.Fprintf(o.out, "%s %s\n", j.AOI, j.Name); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// jobPlan is a resolved plan: its periods, this shard's jobs and areas.
type jobPlan struct {
	periods []period.Period
	jobs    []plan.Job
	areas   []aoi.Area
	shard   plan.Shard
}

func planJobs(now time.Time, r rangeOptions, watchlist string, ids []string, so shardOptions) (jobPlan, error) {
	ps, err := r.periods(now)
	if err != nil {
		return jobPlan{}, err
	}
	areas, err := selectAreas(watchlist, ids)
	if err != nil {
		return jobPlan{}, err
	}
	sh, err := so.resolve()
	if err != nil {
		return jobPlan{}, err
	}
	jobs, err := plan.Build(areas, ps, sh)
	if err != nil {
		return jobPlan{}, err
	}
	return jobPlan{periods: ps, jobs: jobs, areas: plan.Areas(areas, sh), shard: sh}, nil
}

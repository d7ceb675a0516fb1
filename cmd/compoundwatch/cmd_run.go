package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/plan"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
	"compoundwatch/pipeline/store"
	"compoundwatch/pipeline/weekly"
)

// storageOptions select and configure the output location; several
// subcommands share them. Credentials come from the standard AWS chain
// (AWS_ACCESS_KEY_ID, AWS_PROFILE, instance roles), never from flags.
type storageOptions struct {
	Out       string
	Endpoint  string
	Region    string
	PathStyle bool
}

func (o *storageOptions) AddFlags(fs *pflag.FlagSet, def string) {
	fs.StringVar(&o.Out, "out", def, "output location: a directory or s3://bucket/prefix")
	fs.StringVar(&o.Endpoint, "s3-endpoint", "", "S3 endpoint URL for S3-compatible servers (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS)")
	fs.StringVar(&o.Region, "s3-region", "", "S3 region (default: AWS_REGION, the profile, or us-east-1)")
	fs.BoolVar(&o.PathStyle, "s3-path-style", false, "address buckets in the path, as MinIO and versitygw need")
}

// wrapStore lets tests put a fault between the job and its storage.
var wrapStore = func(s store.Store) store.Store { return s }

func (o *storageOptions) open(ctx context.Context) (store.Store, error) {
	if o.Out == "" {
		return nil, usageError("--out is required")
	}
	st, err := store.Open(ctx, o.Out, store.S3Options{Endpoint: o.Endpoint, Region: o.Region, PathStyle: o.PathStyle})
	if errors.Is(err, store.ErrLocation) {
		return nil, usageError("--out: %v", err)
	}
	if err != nil {
		return nil, err
	}
	return wrapStore(st), nil
}

// runOptions configure `run`, the weekly job.
type runOptions struct {
	Watchlist    string
	AOIs         []string
	Week         string
	MaxCloud     float64
	Workers      int
	Areas        int
	ConfirmAfter int
	ScratchDir   string
	Force        bool
	LockTTL      time.Duration
	Shard        shardOptions
	Catalog      catalogOptions
	Storage      storageOptions
	now          func() time.Time
	out          io.Writer
	log          *slog.Logger
}

func (o *runOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Watchlist, "watchlist", "builtin", "areas: a watchlist GeoJSON file, or builtin")
	fs.StringSliceVar(&o.AOIs, "aoi", nil, "only these area ids of the watchlist (repeatable)")
	fs.StringVar(&o.Week, "week", "", "ISO week to process, e.g. 2025-W10 (default: the last complete week, UTC)")
	fs.Float64Var(&o.MaxCloud, "max-cloud", 80, "skip scenes with more eo:cloud_cover than this, percent")
	fs.IntVar(&o.Workers, "workers", min(4, runtime.NumCPU()), "scenes read at once per area")
	fs.IntVar(&o.Areas, "parallel-areas", 1, "areas processed at once")
	fs.IntVar(&o.ConfirmAfter, "confirm-after", 2, "later clear weeks an alert must persist in to be confirmed")
	fs.StringVar(&o.ScratchDir, "scratch", "", "directory for scratch files (default: system temp)")
	fs.BoolVar(&o.Force, "force", false, "process area-weeks that are already done (their state exists), replacing their outputs")
	fs.DurationVar(&o.LockTTL, "lock-ttl", 2*time.Hour, "how long an area-week lock holds if its run stops renewing it")
	o.Shard.AddFlags(fs)
	o.Catalog.AddFlags(fs)
	o.Storage.AddFlags(fs, "")
}

// shardOptions pick this worker's part of the areas.
type shardOptions struct {
	Shard  string
	Shards int
}

func (o *shardOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Shard, "shard", "", "process only shard i/n of the areas (e.g. 0/3)")
	fs.IntVar(&o.Shards, "shards", 0, "number of shards; the index comes from JOB_COMPLETION_INDEX (Kubernetes) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch)")
}

func (o *shardOptions) resolve() (plan.Shard, error) {
	sh, err := plan.ResolveShard(o.Shard, o.Shards, os.Getenv)
	if err != nil {
		return plan.Shard{}, usageError("%v", err)
	}
	return sh, nil
}

// selectAreas loads the watchlist and keeps the --aoi areas, if any.
func selectAreas(watchlist string, ids []string) ([]aoi.Area, error) {
	wl, err := aoi.LoadWatchlist(watchlist, aoi.Options{})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return wl.Areas, nil
	}
	var areas []aoi.Area
	for _, id := range ids {
		a, ok := wl.Find(id)
		if !ok {
			return nil, usageError("--aoi %s is not in the watchlist %s", id, watchlist)
		}
		areas = append(areas, a)
	}
	return areas, nil
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	c := &cobra.Command{
		Use:   "run --out DIR|s3://bucket/prefix [--week 2025-W10]",
		Short: "The weekly job: alerts, lifecycle, quicklooks, series and digest for every watched area",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out, o.log = cmd.OutOrStdout(), g.log
			_, err := runRun(cmd.Context(), *o)
			return err
		},
	}
	o.AddFlags(c.Flags())
	return c
}

// version is compoundwatch's module version and VCS revision.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += "+" + s.Value
		}
	}
	return v
}

func runRun(ctx context.Context, o runOptions) (*weekly.Manifest, error) {
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	week := period.LastCompleteWeek(now())
	if o.Week != "" {
		p, err := period.Parse(o.Week)
		if _, ok := p.ISOWeek(); err != nil || !ok {
			return nil, usageError("--week %q: want an ISO week such as 2025-W10", o.Week)
		}
		week = p
	}
	areas, err := selectAreas(o.Watchlist, o.AOIs)
	if err != nil {
		return nil, err
	}
	sh, err := o.Shard.resolve()
	if err != nil {
		return nil, err
	}
	all := areas
	areas = plan.Areas(areas, sh)
	src, pol, err := o.Catalog.open()
	if err != nil {
		return nil, err
	}
	st, err := o.Storage.open(ctx)
	if err != nil {
		return nil, err
	}
	weekName, _ := week.ISOWeek()
	runID := fmt.Sprintf("%s-%s-%d", weekName, now().UTC().Format("20060102T150405Z"), os.Getpid())
	cfg := weekly.Config{
		Store: st, Source: src, Reader: &scene.Reader{Policy: pol}, Params: detect.DefaultParams(),
		ConfirmAfter: o.ConfirmAfter, MaxCloud: o.MaxCloud, Workers: o.Workers, Areas: o.Areas,
		ScratchDir: o.ScratchDir, Version: version(), Catalog: stac.RedactURL(o.Catalog.Catalog),
		Force: o.Force, LockTTL: o.LockTTL, DigestAreas: all, Now: now,
	}
	if o.log != nil {
		o.log.Info("run started", "run", runID, "week", weekName, "shard", sh.String(), "areas", len(areas), "out", st.String(), "catalog", cfg.Catalog)
	}
	m, err := weekly.RunWeek(ctx, cfg, areas, week, runID)
	if m != nil && o.log != nil {
		for _, a := range m.Areas {
			lvl := slog.LevelInfo
			if a.Status == "failed" {
				lvl = slog.LevelError
			}
			o.log.Log(ctx, lvl, "area done", "aoi", a.AOI, "week", weekName, "status", a.Status, "new", len(a.Changes.New),
				"confirmed", len(a.Changes.Confirmed), "retracted", len(a.Changes.Retracted), "open_alerts", a.Alerts,
				"built_ha", a.BuiltHa, "elapsed_ms", a.ElapsedMS, "error", a.Error)
		}
		o.log.Info("run finished", "run", runID, "status", m.Status, "manifest", st.String()+"/runs/"+runID+".json")
	}
	if errors.Is(err, weekly.ErrPartial) {
		return m, fmt.Errorf("%w: %w", errPartial, err)
	}
	return m, err
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/plan"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
	"compoundwatch/pipeline/weekly"
)

// backfillOptions configure `backfill`, the researcher's rerun of history.
type backfillOptions struct {
	Watchlist    string
	AOIs         []string
	Range        rangeOptions
	Workers      int
	SceneWorkers int
	Force        bool
	MaxCloud     float64
	ConfirmAfter int
	ScratchDir   string
	LockTTL      time.Duration
	Shard        shardOptions
	Catalog      catalogOptions
	Storage      storageOptions
	progress     io.Writer // where progress goes (stderr)
	tty          *bool     // nil: ask whether progress is a terminal
	now          func() time.Time
	log          *slog.Logger
}

func newBackfillCommand(g *globalOptions) *cobra.Command {
	o := &backfillOptions{}
	c := &cobra.Command{
		Use:   "backfill --aoi ID... --from D --to D --out LOC [--every week|month] [--workers N] [--force]",
		Short: "Process a range of weeks or months, in time order per area and areas in parallel; resumable",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.progress, o.log = cmd.ErrOrStderr(), g.log
			_, err := runBackfill(cmd.Context(), *o)
			return err
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Watchlist, "watchlist", "builtin", "areas: a watchlist GeoJSON file, or builtin")
	fs.StringSliceVar(&o.AOIs, "aoi", nil, "area ids (repeatable; default: the whole watchlist)")
	o.Range.AddFlags(fs, false)
	fs.IntVar(&o.Workers, "workers", 2, "areas processed at once")
	fs.IntVar(&o.SceneWorkers, "scene-workers", min(2, runtime.NumCPU()), "scenes read at once per area")
	fs.BoolVar(&o.Force, "force", false, "reprocess area-periods that are already done")
	fs.Float64Var(&o.MaxCloud, "max-cloud", 80, "skip scenes with more eo:cloud_cover than this, percent")
	fs.IntVar(&o.ConfirmAfter, "confirm-after", 2, "later clear periods an alert must persist in to be confirmed")
	fs.StringVar(&o.ScratchDir, "scratch", "", "directory for scratch files (default: system temp)")
	fs.DurationVar(&o.LockTTL, "lock-ttl", 2*time.Hour, "how long an area-period lock holds if its run stops renewing it")
	o.Shard.AddFlags(fs)
	o.Catalog.AddFlags(fs)
	o.Storage.AddFlags(fs, "")
	return c
}

// progress reports jobs as they finish: a bar with counts and ETA on a
// terminal, plain lines otherwise.
type progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	plain io.Writer
	total int
	done  int
	start time.Time
}

func newProgress(w io.Writer, tty bool, total int) *progress {
	p := &progress{total: total, start: time.Now()}
	if tty {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("backfill"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(0), progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
	} else {
		p.plain = w
	}
	return p
}

func (p *progress) step(job plan.Job, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s %s %s", job.AOI, job.Name, status))
		_ = p.bar.Add(1)
		return
	}
	eta := "-"
	if p.done < p.total {
		left := time.Since(p.start) / time.Duration(p.done) * time.Duration(p.total-p.done)
		eta = left.Round(time.Second).String()
	}
	fmt.Fprintf(p.plain, "backfill %d/%d (%.0f%%) %s %s %s, eta %s\n", p.done, p.total, 100*float64(p.done)/float64(p.total), job.AOI, job.Name, status, eta)
}

func runBackfill(ctx context.Context, o backfillOptions) (*weekly.Manifest, error) {
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	if o.Range.From == "" || o.Range.To == "" {
		return nil, usageError("backfill needs --from and --to")
	}
	jp, err := planJobs(now(), o.Range, o.Watchlist, o.AOIs, o.Shard)
	if err != nil {
		return nil, err
	}
	ps, jobs, areas, sh := jp.periods, jp.jobs, jp.areas, jp.shard
	src, pol, err := o.Catalog.open()
	if err != nil {
		return nil, err
	}
	st, err := o.Storage.open(ctx)
	if err != nil {
		return nil, err
	}
	first, _ := ps[0].Name()
	last, _ := ps[len(ps)-1].Name()
	runID := fmt.Sprintf("backfill-%s-%s-%s-%d", first, last, now().UTC().Format("20060102T150405Z"), os.Getpid())
	cfg := weekly.Config{
		Store: st, Source: src, Reader: &scene.Reader{Policy: pol}, Params: detect.DefaultParams(),
		ConfirmAfter: o.ConfirmAfter, MaxCloud: o.MaxCloud, Workers: o.SceneWorkers, ScratchDir: o.ScratchDir,
		Version: version(), Catalog: stac.RedactURL(o.Catalog.Catalog), Force: o.Force, LockTTL: o.LockTTL,
		Holder: weekly.ThisProcess(runID), Now: now,
	}
	tty := false
	if o.tty != nil {
		tty = *o.tty
	} else if f, ok := o.progress.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	out := o.progress
	if out == nil {
		out = io.Discard
	}
	prog := newProgress(out, tty, len(jobs))
	if o.log != nil {
		o.log.Info("backfill started", "run", runID, "areas", len(areas), "periods", len(ps), "jobs", len(jobs), "shard", sh.String(), "out", st.String())
	}

	m := &weekly.Manifest{RunID: runID, Version: cfg.Version, DetectorVersion: detect.Version, Week: first + ".." + last,
		Period:  ps[0].Start.Format("2006-01-02") + "/" + ps[len(ps)-1].End.AddDate(0, 0, -1).Format("2006-01-02"),
		Catalog: cfg.Catalog, Out: st.String(), Params: cfg.Params, ConfirmAfter: cfg.ConfirmAfter,
		Started: time.Now().UTC().Format(time.RFC3339)}
	reports := make([][]weekly.AreaReport, len(areas))
	errs := make([]error, len(areas))
	eg := errgroup.Group{}
	eg.SetLimit(max(1, o.Workers))
	for ai, a := range areas {
		eg.Go(func() error {
			errs[ai] = backfillArea(ctx, cfg, a, jobs, prog, &reports[ai])
			return nil
		})
	}
	_ = eg.Wait()
	for ai := range areas {
		m.Areas = append(m.Areas, reports[ai]...)
	}
	if ctx.Err() != nil {
		return m, ctx.Err()
	}
	for _, p := range ps {
		if err := weekly.WriteDigest(ctx, st, areas, p); err != nil {
			return m, err
		}
	}
	var runErr error
	m.Status, runErr = weekly.Outcome(errs)
	if errors.Is(runErr, weekly.ErrPartial) {
		runErr = fmt.Errorf("%w: %w", errPartial, runErr)
	}
	m.Finished = time.Now().UTC().Format(time.RFC3339)
	data, _ := json.MarshalIndent(m, "", " ")
	if err := st.Put(ctx, "runs/"+runID+".json", append(data, '\n')); err != nil {
		return m, errors.Join(runErr, err)
	}
	if o.log != nil {
		o.log.Info("backfill finished", "run", runID, "status", m.Status)
	}
	return m, runErr
}

// backfillArea runs an area's periods in time order; after a failure the
// later periods are not attempted, since each starts from the one before.
func backfillArea(ctx context.Context, cfg weekly.Config, a aoi.Area, jobs []plan.Job, prog *progress, reports *[]weekly.AreaReport) error {
	var failure error
	for _, j := range jobs {
		if j.AOI != a.ID {
			continue
		}
		if failure != nil || ctx.Err() != nil {
			*reports = append(*reports, weekly.AreaReport{AOI: a.ID, After: j.Period.String(), Status: "not_attempted"})
			prog.step(j, "not attempted")
			continue
		}
		rep, err := weekly.RunArea(ctx, cfg, a, j.Period)
		if err != nil {
			rep.Status, rep.Error, failure = "failed", err.Error(), fmt.Errorf("%s %s: %w", a.ID, j.Name, err)
		}
		*reports = append(*reports, rep)
		prog.step(j, rep.Status)
	}
	return failure
}

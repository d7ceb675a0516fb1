package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"compoundwatch/aoi"
	"compoundwatch/pipeline"
	"compoundwatch/pipeline/alert"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/eval"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/scene"
)

// detectOptions configure `detect`, the researcher's pairwise run.
type detectOptions struct {
	AOI        string
	Before     string
	After      string
	Out        string
	MaxCloud   float64
	Workers    int
	Kinds      []string
	ScratchDir string
	Catalog    catalogOptions
	out        io.Writer
	log        *slog.Logger
}

func (o *detectOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.AOI, "aoi", "", "area: a GeoJSON file with one area, or a built-in id (required)")
	fs.StringVar(&o.Before, "before", "", "before period: 2025-01-01/2025-03-31, 2025-W10, 2025-03 or 2025-03-04 (required)")
	fs.StringVar(&o.After, "after", "", "after period, same forms (required)")
	fs.StringVar(&o.Out, "out", "", "alerts GeoJSON file to write (required)")
	fs.Float64Var(&o.MaxCloud, "max-cloud", 100, "skip scenes with more eo:cloud_cover than this, percent (pixels are cloud-masked anyway)")
	fs.IntVar(&o.Workers, "workers", min(4, runtime.NumCPU()), "scenes read at once")
	fs.StringSliceVar(&o.Kinds, "kind", []string{string(detect.Expansion)}, "alert kinds to write: expansion, demolition (repeatable)")
	fs.StringVar(&o.ScratchDir, "scratch", "", "directory for scratch files (default: system temp)")
	o.Catalog.AddFlags(fs)
}

func newDetectCommand(g *globalOptions) *cobra.Command {
	o := &detectOptions{}
	c := &cobra.Command{
		Use:   "detect --aoi X --before P --after P --out FILE.geojson",
		Short: "Detect new buildings between two periods and write alerts as GeoJSON",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out, o.log = cmd.OutOrStdout(), g.log
			_, err := runDetect(cmd.Context(), *o)
			return err
		},
	}
	o.AddFlags(c.Flags())
	return c
}

func runDetect(ctx context.Context, o detectOptions) (*pipeline.ChangeResult, error) {
	if o.AOI == "" || o.Before == "" || o.After == "" || o.Out == "" {
		return nil, usageError("detect needs --aoi, --before, --after and --out")
	}
	before, err := period.Parse(o.Before)
	if err != nil {
		return nil, usageError("--before: %v", err)
	}
	after, err := period.Parse(o.After)
	if err != nil {
		return nil, usageError("--after: %v", err)
	}
	if !before.End.After(before.Start) || after.Start.Before(before.End) {
		return nil, usageError("--after %s must start after --before %s ends", after, before)
	}
	for _, k := range o.Kinds {
		if k != string(detect.Expansion) && k != string(detect.Demolition) {
			return nil, usageError("--kind %q: want expansion or demolition", k)
		}
	}
	areas, err := aoi.Resolve(o.AOI, aoi.Options{})
	if err != nil {
		return nil, err
	}
	if len(areas) != 1 {
		return nil, usageError("--aoi %s holds %d areas; detect takes one", o.AOI, len(areas))
	}
	src, pol, err := o.Catalog.open()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res, err := pipeline.DetectChange(ctx, pipeline.ChangeRequest{
		Area: areas[0], Before: before, After: after,
		Source: src, Reader: &scene.Reader{Policy: pol},
		MaxCloud: o.MaxCloud, Workers: o.Workers,
		Params: detect.DefaultParams(), ScratchDir: o.ScratchDir,
	})
	if err != nil {
		return nil, err
	}
	kept := res.Alerts.Alerts[:0:0]
	for _, a := range res.Alerts.Alerts {
		for _, k := range o.Kinds {
			if a.Properties.Kind == k {
				kept = append(kept, a)
				break
			}
		}
	}
	coll := alert.Collection{Alerts: kept}
	data, err := coll.Marshal(areas[0].ID)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(o.Out, data); err != nil {
		return nil, err
	}
	if o.log != nil {
		st := res.Stats
		o.log.Info("detected", "aoi", areas[0].ID, "before", before.String(), "after", after.String(),
			"scenes_before", len(res.Before), "scenes_after", len(res.After), "grid", res.Grid.String(),
			"clear_pixels", st.Valid, "cutoff", fmt.Sprintf("%.3f", st.Cutoff), "alerts", len(kept),
			"out", o.Out, "elapsed", time.Since(start).Round(time.Millisecond).String())
	}
	return res, nil
}

// evalOptions configure `eval`.
type evalOptions struct {
	Alerts string
	Truth  string
	Kinds  []string
	out    io.Writer
}

func newEvalCommand(g *globalOptions) *cobra.Command {
	o := &evalOptions{}
	c := &cobra.Command{
		Use:   "eval --alerts FILE --truth TIF",
		Short: "Score alerts against a change truth raster (OSCD rule): precision, recall, F1",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out = cmd.OutOrStdout()
			_, err := runEval(cmd.Context(), *o)
			return err
		},
	}
	c.Flags().StringVar(&o.Alerts, "alerts", "", "alerts GeoJSON (required)")
	c.Flags().StringVar(&o.Truth, "truth", "", "truth raster: 1 = change, 0 = no change (required)")
	c.Flags().StringSliceVar(&o.Kinds, "kind", nil, "score only these alert kinds (default: all in the file)")
	return c
}

func runEval(ctx context.Context, o evalOptions) (eval.Counts, error) {
	if o.Alerts == "" || o.Truth == "" {
		return eval.Counts{}, usageError("eval needs --alerts and --truth")
	}
	coll, err := alert.ReadFile(o.Alerts)
	if err != nil {
		return eval.Counts{}, err
	}
	c, err := eval.Score(ctx, coll, o.Truth, o.Kinds...)
	if err != nil {
		return eval.Counts{}, err
	}
	_, err = fmt.Fprintf(o.out, "precision %.3f recall %.3f f1 %.3f tp %d fp %d fn %d\n", c.Precision(), c.Recall(), c.F1(), c.TP, c.FP, c.FN)
	return c, err
}

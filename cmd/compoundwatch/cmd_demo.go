package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"compoundwatch/pipeline/fixture"
	"compoundwatch/pipeline/period"
)

// demoOptions configure `demo`.
type demoOptions struct {
	Fixtures string
	Weeks    int
	Workers  int
	Storage  storageOptions
	out      io.Writer
	log      *slog.Logger
}

func (o *demoOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Fixtures, "fixtures", "", "folder for the generated fixture scenes (default: a temporary folder)")
	fs.IntVar(&o.Weeks, "weeks", 5, "consecutive weeks to run, from 2022-W02")
	fs.IntVar(&o.Workers, "workers", 2, "scenes read at once")
	o.Storage.AddFlags(fs, "demo-out")
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo [--out DIR|s3://bucket/prefix]",
		Short: "Run the weekly job on generated fixture scenes served by an in-process STAC API (no credentials, no network)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out, o.log = cmd.OutOrStdout(), g.log
			return runDemo(cmd.Context(), *o)
		},
	}
	o.AddFlags(c.Flags())
	return c
}

// runDemo generates the fixture world, serves it, and runs the weekly job
// on it week after week, as cron would.
func runDemo(ctx context.Context, o demoOptions) error {
	fx := o.Fixtures
	if fx == "" {
		tmp, err := os.MkdirTemp("", "compoundwatch-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		fx = tmp
	}
	spec := fixture.DefaultSpec()
	m, err := fixture.Generate(ctx, fx, spec)
	if err != nil {
		return err
	}
	srv := fixture.NewServer(m, 10)
	defer srv.Close()
	fmt.Fprintf(o.out, "fixture STAC API at %s (%d scenes over area %s)\n", srv.URL, len(m.Items), fixture.AOIID)
	week := period.WeekOf(spec.Start).Next()
	weeks := min(max(o.Weeks, 1), spec.Weeks-1)
	for i := 0; i < weeks; i++ {
		name, _ := week.ISOWeek()
		man, err := runRun(ctx, runOptions{
			Watchlist: filepath.Join(fx, "aoi.geojson"), Week: name, MaxCloud: 100, Workers: o.Workers, ConfirmAfter: 2,
			Force:   true, // a second demo into the same place recomputes (the same bytes) rather than skip
			Catalog: catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"},
			Storage: o.Storage, // the lines below say what each week did; no run logs
		})
		if err != nil {
			return err
		}
		for _, a := range man.Areas {
			fmt.Fprintf(o.out, "%s %s: %-20s new %d, confirmed %d, retracted %d, open alerts %d, built %.2f ha\n",
				name, a.AOI, a.Status, len(a.Changes.New), len(a.Changes.Confirmed), len(a.Changes.Retracted), a.Alerts, a.BuiltHa)
		}
		week = week.Next()
	}
	fmt.Fprintf(o.out, "\nResults are in %s:\n", o.Storage.Out)
	fmt.Fprintf(o.out, "  alerts/%s/<week>.geojson with a .qml style beside it; latest.geojson is the newest week\n", fixture.AOIID)
	fmt.Fprintf(o.out, "  quicklooks/, series/ (CSV and chart), digest/ (JSON and Markdown), runs/ (manifests), state/\n")
	fmt.Fprintf(o.out, "Open them in QGIS: Layer > Add Layer > Add Vector Layer, pick alerts/%s/latest.geojson;\n", fixture.AOIID)
	fmt.Fprintf(o.out, "QGIS applies latest.qml (colour by status) by itself. View > Panels > Temporal Controller steps through first_seen.\n")
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

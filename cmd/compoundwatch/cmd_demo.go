package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"compoundwatch/aoi"
	"compoundwatch/pipeline"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/fixture"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
)

// demoOptions configure `demo`.
type demoOptions struct {
	Out      string
	Fixtures string
	Workers  int
	out      io.Writer
}

func (o *demoOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Out, "out", "demo-out", "where to write the demo's results")
	fs.StringVar(&o.Fixtures, "fixtures", "", "folder for the generated fixture scenes (default: a temporary folder)")
	fs.IntVar(&o.Workers, "workers", 2, "scenes read at once")
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the weekly job on generated fixture scenes served by an in-process STAC API (no credentials, no network)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out = cmd.OutOrStdout()
			return runDemo(cmd.Context(), *o)
		},
	}
	o.AddFlags(c.Flags())
	return c
}

// demoWeek is what the demo records for one area-week.
type demoWeek struct {
	Week   string      `json:"week"`
	Period string      `json:"period"`
	Scenes []demoScene `json:"scenes"`
}

type demoScene struct {
	ID            string  `json:"id"`
	Datetime      string  `json:"datetime"`
	CloudCover    float64 `json:"cloud_cover"`
	ValidFraction float64 `json:"valid_fraction"`
}

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
	fmt.Fprintf(o.out, "fixture STAC API at %s (%d scenes)\n", srv.URL, len(m.Items))

	areas, err := aoi.Resolve(filepath.Join(fx, "aoi.geojson"), aoi.Options{})
	if err != nil {
		return err
	}
	cat := catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"}
	src, pol, err := cat.open()
	if err != nil {
		return err
	}
	reader := &scene.Reader{Policy: pol}
	for _, a := range areas {
		grid, err := pipeline.GridFor(a)
		if err != nil {
			return err
		}
		dir := filepath.Join(o.Out, a.ID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		week := period.WeekOf(spec.Start)
		var prev period.Period
		for w := 0; w < spec.Weeks; w++ {
			name, _ := week.ISOWeek()
			items, err := pipeline.FindScenes(ctx, src, a, week, 100)
			if err != nil {
				return err
			}
			rec := demoWeek{Week: name, Period: week.String()}
			var mu sync.Mutex
			err = pipeline.ReadScenes(ctx, reader, items, grid, scene.DefaultBands, o.Workers, func(it stac.Item, obs *scene.Observation) error {
				cc, _ := it.CloudCover()
				mu.Lock()
				defer mu.Unlock()
				rec.Scenes = append(rec.Scenes, demoScene{ID: it.ID, Datetime: it.Datetime.Format("2006-01-02T15:04:05Z"), CloudCover: cc,
					ValidFraction: float64(obs.ValidCount()) / float64(grid.Len())})
				return nil
			})
			if err != nil {
				return err
			}
			sort.Slice(rec.Scenes, func(i, j int) bool { return rec.Scenes[i].ID < rec.Scenes[j].ID })
			b, _ := json.MarshalIndent(rec, "", "  ")
			path := filepath.Join(dir, name+"-scenes.json")
			if err := writeFileAtomic(path, append(b, '\n')); err != nil {
				return err
			}
			fmt.Fprintf(o.out, "%s %s: %d scenes on grid %s -> %s\n", a.ID, name, len(rec.Scenes), grid, path)
			for _, s := range rec.Scenes {
				fmt.Fprintf(o.out, "    %s  cloud %5.2f%%  clear over area %5.1f%%\n", s.ID, s.CloudCover, 100*s.ValidFraction)
			}
			if w > 0 {
				if err := demoDetect(ctx, o, src, reader, a, prev, week, filepath.Join(dir, name+".geojson")); err != nil {
					return err
				}
			}
			prev, week = week, week.Next()
		}
	}
	fmt.Fprintf(o.out, "demo results in %s; open the .geojson files in QGIS (Layer > Add Layer > Add Vector Layer)\n", o.Out)
	return nil
}

// demoDetect compares a week with the one before and writes its alerts.
func demoDetect(ctx context.Context, o demoOptions, src stac.Source, reader *scene.Reader, a aoi.Area, before, after period.Period, path string) error {
	res, err := pipeline.DetectChange(ctx, pipeline.ChangeRequest{
		Area: a, Before: before, After: after, Source: src, Reader: reader,
		MaxCloud: 100, Workers: o.Workers, Params: detect.DefaultParams(),
	})
	if err != nil {
		return err
	}
	data, err := res.Alerts.Marshal(a.ID)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return err
	}
	kinds := map[string]int{}
	for _, al := range res.Alerts.Alerts {
		kinds[al.Properties.Kind]++
	}
	fmt.Fprintf(o.out, "    against %s: %d expansion and %d demolition alerts -> %s\n", before, kinds["expansion"], kinds["demolition"], path)
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

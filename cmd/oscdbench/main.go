// Command oscdbench measures the detector on the OSCD development cities:
// it runs `compoundwatch detect` as a separate process on every city (wall
// time includes process start-up, as the peer's does), scores the alerts
// with the OSCD rule, and prints precision, recall and F1 per city and
// pooled. With -peer it runs the Python peer on the same cities in the same
// process and prints the ratios.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"compoundwatch/pipeline/alert"
	"compoundwatch/pipeline/eval"
)

type options struct {
	Data   string
	Cities string
	Bin    string
	Out    string
	Peer   bool
	Python string
}

func main() {
	var o options
	flag.StringVar(&o.Data, "data", "../shared/oscd", "OSCD development set")
	flag.StringVar(&o.Cities, "cities", "", "comma-separated cities (default: every city in -data)")
	flag.StringVar(&o.Bin, "bin", "bin/compoundwatch", "compoundwatch binary")
	flag.StringVar(&o.Out, "out", "bench-out/oscd", "where alerts are written")
	flag.BoolVar(&o.Peer, "peer", false, "also run the Python peer (../shared/bench/peer_pipeline.py)")
	flag.StringVar(&o.Python, "python", "/usr/bin/python3", "interpreter for the peer")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "oscdbench:", err)
		stop()
		os.Exit(1)
	}
}

type pair struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

type result struct {
	all, expansion eval.Counts
	wall           time.Duration
}

func run(ctx context.Context, o options, out io.Writer) error {
	cities, err := listCities(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	ours := map[string]result{}
	peer := map[string]result{}
	for _, c := range cities {
		dir := filepath.Join(o.Data, c)
		var p pair
		raw, err := os.ReadFile(filepath.Join(dir, "pair.json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("%s/pair.json: %w", dir, err)
		}
		dst := filepath.Join(o.Out, c+".geojson")
		r, err := timed(ctx, dst, filepath.Join(dir, "truth.tif"), o.Bin, "detect", "--log-level", "warn",
			"--aoi", filepath.Join(dir, "aoi.geojson"), "--catalog", filepath.Join(dir, "catalog.json"),
			"--before", isoDate(p.Before), "--after", isoDate(p.After),
			"--kind", "expansion,demolition", "--out", dst)
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		ours[c] = r
		if o.Peer {
			pdst := filepath.Join(o.Out, "peer", c+".geojson")
			if err := os.MkdirAll(filepath.Dir(pdst), 0o755); err != nil {
				return err
			}
			script := filepath.Join(o.Data, "..", "bench", "peer_pipeline.py")
			r, err := timed(ctx, pdst, filepath.Join(dir, "truth.tif"), o.Python, script, dir, pdst)
			if err != nil {
				return fmt.Errorf("peer %s: %w", c, err)
			}
			peer[c] = r
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "city\tP\tR\tF1\tF1 expansion only\twall s\t")
	var pooled, pooledExp eval.Counts
	var wall time.Duration
	for _, c := range cities {
		r := ours[c]
		pooled, pooledExp, wall = pooled.Add(r.all), pooledExp.Add(r.expansion), wall+r.wall
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t\n", c, r.all.Precision(), r.all.Recall(), r.all.F1(), r.expansion.F1(), r.wall.Seconds())
	}
	fmt.Fprintf(tw, "pooled\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t\n", pooled.Precision(), pooled.Recall(), pooled.F1(), pooledExp.F1(), wall.Seconds())
	if o.Peer {
		var pp eval.Counts
		var pw time.Duration
		for _, c := range cities {
			pp, pw = pp.Add(peer[c].all), pw+peer[c].wall
		}
		fmt.Fprintf(tw, "peer pooled\t%.3f\t%.3f\t%.3f\t\t%.2f\t\n", pp.Precision(), pp.Recall(), pp.F1(), pw.Seconds())
		fmt.Fprintf(tw, "ratio ours/peer\t\t\t%.2f\t\t%.2f\t\n", pooled.F1()/pp.F1(), wall.Seconds()/pw.Seconds())
	}
	return tw.Flush()
}

// timed runs a command that writes alerts to dst and scores them.
func timed(ctx context.Context, dst, truth, name string, args ...string) (result, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	r := result{wall: time.Since(start)}
	coll, err := alert.ReadFile(dst)
	if err != nil {
		return result{}, err
	}
	if r.all, err = eval.Score(ctx, coll, truth); err != nil {
		return result{}, err
	}
	if r.expansion, err = eval.Score(ctx, coll, truth, "expansion"); err != nil {
		return result{}, err
	}
	return r, nil
}

func isoDate(s string) string {
	if len(s) == 8 {
		return s[:4] + "-" + s[4:6] + "-" + s[6:]
	}
	return s
}

func listCities(o options) ([]string, error) {
	if o.Cities != "" {
		return strings.Split(o.Cities, ","), nil
	}
	entries, err := os.ReadDir(o.Data)
	if err != nil {
		return nil, fmt.Errorf("OSCD data: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.Data, e.Name(), "pair.json")); err == nil {
			out = append(out, e.Name())
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no cities in %s", o.Data)
	}
	return out, nil
}

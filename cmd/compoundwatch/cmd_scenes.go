package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"compoundwatch/aoi"
	"compoundwatch/pipeline"
	"compoundwatch/pipeline/egress"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/stac"
)

// catalogOptions select and secure the scene source; several subcommands share them.
type catalogOptions struct {
	Catalog       string
	Collection    string
	AllowHosts    []string
	AllowLoopback bool
	Signing       string
	SASEndpoint   string
}

func (o *catalogOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Catalog, "catalog", stac.DefaultCatalog, "STAC API root URL, or a static catalog.json (path or URL)")
	fs.StringVar(&o.Collection, "collection", "", "collection (default sentinel-2-l2a for an API, all items of a static catalog)")
	fs.StringSliceVar(&o.AllowHosts, "allow-host", nil, "only open assets on these hosts (repeatable; *.example.com allows subdomains)")
	fs.BoolVar(&o.AllowLoopback, "allow-loopback", false, "allow assets on loopback addresses (tests and the demo)")
	fs.StringVar(&o.Signing, "signing", "auto", "asset signing: auto, none or planetary-computer")
	fs.StringVar(&o.SASEndpoint, "sas-endpoint", stac.DefaultSASEndpoint, "Planetary Computer SAS token endpoint")
	_ = fs.MarkHidden("allow-loopback")
}

// open returns the source and the href policy for reading its assets.
func (o *catalogOptions) open() (stac.Source, stac.HrefPolicy, error) {
	hc := &http.Client{Timeout: 2 * time.Minute}
	pol := stac.HrefPolicy{AllowHosts: o.AllowHosts, AllowLoopback: o.AllowLoopback}
	switch o.Signing {
	case "none":
	case "planetary-computer":
		pol.Signer = &stac.SASSigner{Endpoint: o.SASEndpoint, HTTP: hc}
	case "auto":
		if len(o.Catalog) >= len(stac.PlanetaryComputer) && o.Catalog[:len(stac.PlanetaryComputer)] == stac.PlanetaryComputer {
			pol.Signer = &stac.SASSigner{Endpoint: o.SASEndpoint, HTTP: hc}
		}
	default:
		return nil, pol, usageError("--signing %q: want auto, none or planetary-computer", o.Signing)
	}
	// GDAL's own HTTP (and its redirects) goes through the egress guard,
	// which applies the same policy at connection time.
	if _, _, err := egress.InstallForGDAL(pol); err != nil {
		return nil, pol, err
	}
	src, err := stac.OpenSource(o.Catalog, stac.Options{Collection: o.Collection, HTTP: hc, Policy: pol})
	return src, pol, err
}

// scenesOptions configure `scenes`.
type scenesOptions struct {
	AOI      string
	Period   string
	MaxCloud float64
	Catalog  catalogOptions
	out      io.Writer
	log      *slog.Logger
}

func (o *scenesOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.AOI, "aoi", "", "area: a GeoJSON file or a built-in id (required)")
	fs.StringVar(&o.Period, "period", "", "period: 2025-01-01/2025-03-31, 2025-W10, 2025-03 or 2025-03-04 (required)")
	fs.Float64Var(&o.MaxCloud, "max-cloud", 100, "largest eo:cloud_cover, percent")
	o.Catalog.AddFlags(fs)
}

func newScenesCommand(g *globalOptions) *cobra.Command {
	o := &scenesOptions{}
	c := &cobra.Command{
		Use:   "scenes --aoi X --period P",
		Short: "List the scenes over an area in a period: id, datetime, cloud cover, tile",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out, o.log = cmd.OutOrStdout(), g.log
			return runScenes(cmd.Context(), *o)
		},
	}
	o.AddFlags(c.Flags())
	return c
}

func runScenes(ctx context.Context, o scenesOptions) error {
	if o.AOI == "" || o.Period == "" {
		return usageError("scenes needs --aoi and --period")
	}
	p, err := period.Parse(o.Period)
	if err != nil {
		return usageError("--period: %v", err)
	}
	areas, err := aoi.Resolve(o.AOI, aoi.Options{})
	if err != nil {
		return err
	}
	src, _, err := o.Catalog.open()
	if err != nil {
		return err
	}
	for _, a := range areas {
		items, err := pipeline.FindScenes(ctx, src, a, p, o.MaxCloud)
		if err != nil {
			return err
		}
		if o.log != nil {
			o.log.Info("scenes found", "aoi", a.ID, "period", p.String(), "catalog", stac.RedactURL(o.Catalog.Catalog), "scenes", len(items))
		}
		for _, it := range items {
			cc := "-"
			if v, ok := it.CloudCover(); ok {
				cc = fmt.Sprintf("%.2f", v)
			}
			tile := it.Tile()
			if tile == "" {
				tile = "-"
			}
			if _, err := fmt.Fprintf(o.out, "%s\t%s\t%s\t%s\n", it.ID, it.Datetime.Format(time.RFC3339), cc, tile); err != nil {
				return err
			}
		}
	}
	return nil
}

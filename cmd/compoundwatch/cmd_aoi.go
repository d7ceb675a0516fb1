package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"compoundwatch/aoi"
)

func newAOICommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "aoi", Short: "List and validate watched areas"}
	c.AddCommand(newAOIListCommand(g), newAOIValidateCommand(g))
	return c
}

// aoiListOptions configure `aoi list`.
type aoiListOptions struct {
	Watchlist  string
	MaxAreaKm2 float64
	out        io.Writer
}

func (o *aoiListOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Watchlist, "watchlist", aoi.BuiltinName, "watchlist GeoJSON file, or builtin")
	fs.Float64Var(&o.MaxAreaKm2, "max-area-km2", aoi.DefaultMaxAreaKm2, "largest area accepted, km²")
}

func newAOIListCommand(g *globalOptions) *cobra.Command {
	o := &aoiListOptions{}
	c := &cobra.Command{
		Use:   "list",
		Short: "Print id, name, country, area (km²) and Sentinel-2 tiles of each area",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out = cmd.OutOrStdout()
			return runAOIList(cmd.Context(), *o)
		},
	}
	o.AddFlags(c.Flags())
	return c
}

func runAOIList(ctx context.Context, o aoiListOptions) error {
	w, err := aoi.LoadWatchlist(o.Watchlist, aoi.Options{MaxAreaKm2: o.MaxAreaKm2})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCOUNTRY\tAREA_KM2\tS2_TILES")
	for _, a := range w.Areas {
		name := a.Name
		if r := []rune(name); len(r) > 48 {
			name = string(r[:45]) + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%s\n", a.ID, name, a.String("country"), a.AreaKm2(), strings.Join(a.S2Tiles(), ","))
	}
	return tw.Flush()
}

// aoiValidateOptions configure `aoi validate`.
type aoiValidateOptions struct {
	File       string
	MaxAreaKm2 float64
	out        io.Writer
}

func newAOIValidateCommand(g *globalOptions) *cobra.Command {
	o := &aoiValidateOptions{}
	c := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a watchlist GeoJSON file; every problem names its feature",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File, o.out = args[0], cmd.OutOrStdout()
			return runAOIValidate(cmd.Context(), *o)
		},
	}
	c.Flags().Float64Var(&o.MaxAreaKm2, "max-area-km2", aoi.DefaultMaxAreaKm2, "largest area accepted, km²")
	return c
}

func runAOIValidate(ctx context.Context, o aoiValidateOptions) error {
	w, err := aoi.ReadFile(o.File, aoi.Options{MaxAreaKm2: o.MaxAreaKm2})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "%s: %d areas, all valid\n", o.File, len(w.Areas))
	return nil
}

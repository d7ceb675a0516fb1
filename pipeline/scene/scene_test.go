package scene

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"compoundwatch/geo"
	"compoundwatch/pipeline/stac"
)

// writeItem writes six bands of a 64×64 scene (a quarter of it water) and
// a Sentinel-2 L2A item of baseline 05.00 that says the +1000 offset is
// still in the pixels, whether or not it is.
func writeItem(t *testing.T, dnOffset uint16) stac.Item {
	t.Helper()
	dir := t.TempDir()
	g := geo.Grid{EPSG: 32647, X0: 500000, Y0: 1800000, Res: 10, Width: 64, Height: 64}
	assets := ""
	for bi, band := range DefaultBands {
		data := make([]uint16, g.Len())
		for p := range data {
			dn := uint16(1500 + 100*bi) // land
			if p%64 < 16 {
				dn = uint16(150 + 20*bi) // water: about 0.015-0.025
			}
			data[p] = dn + dnOffset
		}
		name := band + ".tif"
		if err := geo.WriteCOG(context.Background(), filepath.Join(dir, name), g, data, geo.COGOptions{BlockSize: 64}); err != nil {
			t.Fatal(err)
		}
		if bi > 0 {
			assets += ","
		}
		assets += fmt.Sprintf(`%q:{"href":%q,"raster:bands":[{"scale":0.0001,"offset":-0.1,"nodata":0}]}`, band, name)
	}
	js := fmt.Sprintf(`{"type":"Feature","stac_version":"1.0.0","id":"S2A_47QMU_20250105_0_L2A","collection":"sentinel-2-l2a",
		"geometry":{"type":"Polygon","coordinates":[[[98,16],[99,16],[99,17],[98,17],[98,16]]]},"bbox":[98,16,99,17],
		"properties":{"datetime":"2025-01-05T03:50:00Z","s2:processing_baseline":"05.00","earthsearch:boa_offset_applied":false},
		"assets":{%s},"links":[]}`, assets)
	it, err := stac.ParseItem([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	it.Origin = stac.Origin{URL: filepath.Join(dir, "item.json"), Local: true, RootDir: dir}
	os.WriteFile(it.Origin.URL, []byte(js), 0o644)
	return it
}

func TestOffsetSanityCheck(t *testing.T) {
	g := geo.Grid{EPSG: 32647, X0: 500000, Y0: 1800000, Res: 10, Width: 64, Height: 64}
	for _, tc := range []struct {
		name     string
		dnOffset uint16
		undone   bool
	}{
		{"pixels carry the +1000 as the flag says", 1000, false},
		{"the flag is wrong: no +1000 in the pixels", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := writeItem(t, tc.dnOffset)
			o := NewObservation(g, len(DefaultBands))
			if err := (&Reader{}).Read(context.Background(), it, g, DefaultBands, o); err != nil {
				t.Fatal(err)
			}
			if o.OffsetUndone != tc.undone {
				t.Errorf("offset undone = %v, want %v", o.OffsetUndone, tc.undone)
			}
			// Either way the reflectance is the true one.
			for bi := range DefaultBands {
				water, land := o.Bands[bi][0], o.Bands[bi][40]
				wantWater, wantLand := 0.015+0.002*float64(bi), 0.15+0.01*float64(bi)
				if math.Abs(float64(water)-wantWater) > 1e-4 || math.Abs(float64(land)-wantLand) > 1e-4 {
					t.Errorf("band %s: water %.4f land %.4f, want %.4f %.4f", DefaultBands[bi], water, land, wantWater, wantLand)
				}
			}
		})
	}
}

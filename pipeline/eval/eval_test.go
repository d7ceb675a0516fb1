package eval

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"compoundwatch/geo"
	"compoundwatch/pipeline/alert"
)

// truthRaster writes a 10×10 truth on a 0.001° lon/lat grid at (98.5, 16.61)
// with change in columns 2..4 of rows 2..4 and nodata (255) in row 9.
func truthRaster(t *testing.T) string {
	t.Helper()
	g := geo.Grid{EPSG: 4326, X0: 98.5, Y0: 16.61, Res: 0.001, Width: 10, Height: 10}
	data := make([]uint8, g.Len())
	for r := 2; r <= 4; r++ {
		for c := 2; c <= 4; c++ {
			data[r*10+c] = 1
		}
	}
	for c := 0; c < 10; c++ {
		data[90+c] = 255
	}
	path := filepath.Join(t.TempDir(), "truth.tif")
	if err := geo.WriteCOG(context.Background(), path, g, data, geo.COGOptions{Nodata: 200}); err != nil {
		t.Fatal(err)
	}
	return path
}

// box is a polygon over pixel columns c0..c1 and rows r0..r1 (inclusive),
// shrunk by a quarter pixel so only those centres fall inside.
func box(c0, r0, c1, r1 int, kind string) alert.Alert {
	x0, x1 := 98.5+(float64(c0)+0.25)*0.001, 98.5+(float64(c1)+0.75)*0.001
	y1, y0 := 16.61-(float64(r0)+0.25)*0.001, 16.61-(float64(r1)+0.75)*0.001
	return alert.Alert{
		Geometry:   orb.Polygon{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}},
		Properties: alert.Properties{ID: kind, Kind: kind},
	}
}

func TestScoreCountsPixelCentres(t *testing.T) {
	truth := truthRaster(t)
	cases := []struct {
		name       string
		alerts     []alert.Alert
		kinds      []string
		tp, fp, fn int64
	}{
		{"exact", []alert.Alert{box(2, 2, 4, 4, "expansion")}, nil, 9, 0, 0},
		{"half over change", []alert.Alert{box(3, 2, 6, 4, "expansion")}, nil, 6, 6, 3},
		{"nothing", nil, nil, 0, 0, 9},
		{"over nodata only", []alert.Alert{box(0, 9, 9, 9, "expansion")}, nil, 0, 0, 9},
		{"overlapping alerts count once", []alert.Alert{box(2, 2, 4, 4, "expansion"), box(2, 2, 3, 3, "demolition")}, nil, 9, 0, 0},
		{"kind filter", []alert.Alert{box(2, 2, 4, 3, "expansion"), box(2, 4, 4, 4, "demolition")}, []string{"expansion"}, 6, 0, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Score(context.Background(), alert.Collection{Alerts: tc.alerts}, truth, tc.kinds...)
			if err != nil {
				t.Fatal(err)
			}
			if c.TP != tc.tp || c.FP != tc.fp || c.FN != tc.fn {
				t.Errorf("tp/fp/fn = %d/%d/%d, want %d/%d/%d", c.TP, c.FP, c.FN, tc.tp, tc.fp, tc.fn)
			}
			if c.TP+c.FP+c.FN+c.TN != 90 {
				t.Errorf("%d pixels scored, want the 90 that are not nodata", c.TP+c.FP+c.FN+c.TN)
			}
		})
	}
}

func TestPooledScores(t *testing.T) {
	a := Counts{TP: 10, FP: 10, FN: 0}
	b := Counts{TP: 0, FP: 0, FN: 20}
	p := a.Add(b)
	for name, got := range map[string][2]float64{
		"precision": {p.Precision(), 0.5},
		"recall":    {p.Recall(), 1.0 / 3},
		"f1":        {p.F1(), 0.4},
	} {
		if math.Abs(got[0]-got[1]) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	if (Counts{}).F1() != 0 {
		t.Error("F1 of nothing is not 0")
	}
}

func TestScoreNamesAMissingTruth(t *testing.T) {
	_, err := Score(context.Background(), alert.Collection{}, "/nonexistent/truth.tif")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/truth.tif") {
		t.Fatalf("err = %v, want it to name the file", err)
	}
}

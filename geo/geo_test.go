package geo

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airbusgeo/godal"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

const oscd = "../../shared/oscd"

func TestGridCovering(t *testing.T) {
	// Rennes' AOI, a lon/lat rectangle, onto UTM 30N.
	poly := orb.MultiPolygon{{{{-1.6852, 48.0938}, {-1.6210, 48.0938}, {-1.6210, 48.1325}, {-1.6852, 48.1325}, {-1.6852, 48.0938}}}}
	g, err := GridCovering(32630, poly, 10)
	if err != nil {
		t.Fatal(err)
	}
	if math.Mod(g.X0, 10) != 0 || math.Mod(g.Y0, 10) != 0 {
		t.Fatalf("grid %s is not on the 10 m lattice", g)
	}
	pts := []orb.Point{}
	for _, p := range poly[0][0] {
		pts = append(pts, p)
	}
	if err := Transform(4326, 32630, pts); err != nil {
		t.Fatal(err)
	}
	b := g.Bounds()
	for _, p := range pts {
		if p[0] < b[0] || p[0] > b[2] || p[1] < b[1] || p[1] > b[3] {
			t.Fatalf("corner %v outside grid %v", p, b)
		}
	}
	// No more than one pixel of slack on each side beyond the projected extent.
	mp := orb.MultiPoint(pts).Bound()
	if mp.Min[0]-b[0] >= 10 || b[2]-mp.Max[0] >= 10 || b[3]-mp.Max[1] >= 10 || mp.Min[1]-b[1] >= 10 {
		t.Fatalf("grid %v is looser than the extent %v", b, mp)
	}
}

func TestTransformRoundTrip(t *testing.T) {
	pts := []orb.Point{{98.53, 16.82}, {-1.65, 48.1}}
	orig := append([]orb.Point(nil), pts...)
	if err := Transform(4326, 32647, pts[:1]); err != nil {
		t.Fatal(err)
	}
	// Shwe Kokko is about 450 km east and 1,860 km north in zone 47N.
	if math.Abs(pts[0][0]-450_300) > 2000 || math.Abs(pts[0][1]-1_860_000) > 5000 {
		t.Fatalf("projected %v", pts[0])
	}
	if err := Transform(32647, 4326, pts[:1]); err != nil {
		t.Fatal(err)
	}
	if math.Abs(pts[0][0]-orig[0][0]) > 1e-9 || math.Abs(pts[0][1]-orig[0][1]) > 1e-9 {
		t.Fatalf("round trip %v -> %v", orig[0], pts[0])
	}
}

// TestReadMatchesGdalwarp reads OSCD bands (EPSG:4326 COGs) onto each city's
// UTM grid and compares with the gdalwarp command line on the same grid.
func TestReadMatchesGdalwarp(t *testing.T) {
	if _, err := exec.LookPath("gdalwarp"); err != nil {
		t.Fatal("gdalwarp is not installed: run make setup")
	}
	tests := []struct {
		city, date, band string
		epsg             int
		r                Resampling
	}{
		{"rennes", "20150821", "B04", 32630, Bilinear},
		{"rennes", "20170621", "B11", 32630, Bilinear},
		{"hongkong", "20160927", "B08", 32650, Bilinear},
		{"aguasclaras", "20171015", "B12", 32723, Bilinear},
		{"rennes", "20150821", "B02", 32630, Nearest},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-%s-%s-%s", tt.city, tt.date, tt.band, tt.r), func(t *testing.T) {
			src := filepath.Join(oscd, tt.city, tt.date, tt.band+".tif")
			poly := cityAOI(t, tt.city)
			g, err := GridCovering(tt.epsg, poly, 10)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, g.Len())
			if err := ReadFloat32(context.Background(), src, g, tt.r, 0, got); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "warped.tif")
			gb := g.Bounds()
			cmd := exec.Command("gdalwarp", "-q", "-t_srs", fmt.Sprintf("EPSG:%d", tt.epsg),
				"-te", fmt.Sprint(gb[0]), fmt.Sprint(gb[1]), fmt.Sprint(gb[2]), fmt.Sprint(gb[3]),
				"-tr", "10", "10", "-r", string(tt.r), "-srcnodata", "0", "-dstnodata", "nan", "-ot", "Float32", src, out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gdalwarp: %v\n%s", err, msg)
			}
			ds, err := godal.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			if st := ds.Structure(); st.SizeX != g.Width || st.SizeY != g.Height {
				t.Fatalf("gdalwarp made %dx%d, grid is %dx%d", st.SizeX, st.SizeY, g.Width, g.Height)
			}
			want := make([]float32, g.Len())
			if err := ds.Bands()[0].Read(0, 0, want, g.Width, g.Height); err != nil {
				t.Fatal(err)
			}
			var maxDiff float64
			valid := 0
			for i := range want {
				gn, wn := math.IsNaN(float64(got[i])), math.IsNaN(float64(want[i]))
				if gn != wn {
					t.Fatalf("pixel %d: ours %g, gdalwarp %g", i, got[i], want[i])
				}
				if !gn {
					valid++
					maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
				}
			}
			// Digital numbers up to ~10^4: 0.01 DN is float32 rounding, 1e-6 in reflectance.
			if maxDiff > 0.01 || valid < g.Len()*9/10 {
				t.Fatalf("max difference %g DN over %d/%d valid pixels", maxDiff, valid, g.Len())
			}
		})
	}
}

func cityAOI(t *testing.T, city string) orb.MultiPolygon {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oscd, city, "aoi.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(b)
	if err != nil {
		t.Fatal(err)
	}
	return orb.MultiPolygon{fc.Features[0].Geometry.(orb.Polygon)}
}

func TestWriteCOGRoundTrip(t *testing.T) {
	g := Grid{EPSG: 32647, X0: 460000, Y0: 1840000, Res: 10, Width: 300, Height: 200}
	data := make([]uint16, g.Len())
	for i := range data {
		data[i] = uint16(1 + i%5000)
	}
	path := filepath.Join(t.TempDir(), "x.tif")
	if err := WriteCOG(context.Background(), path, g, data, COGOptions{BlockSize: 128}); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, g.Len())
	if err := ReadFloat32(context.Background(), path, g, Nearest, 0, got); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if got[i] != float32(data[i]) {
			t.Fatalf("pixel %d: %g, wrote %d", i, got[i], data[i])
		}
	}
	lay, err := ReadTileLayout(context.Background(), path)
	if err != nil || lay.BlockW != 128 || len(lay.Offsets) != 3*2 || lay.FirstTileOffset <= 0 {
		t.Fatalf("layout %+v %v", lay, err)
	}
	// A window of the grid half outside the file: the outside is NaN.
	shifted := g.Sub(250, 0, 100, 10)
	part := make([]float32, shifted.Len())
	if err := ReadFloat32(context.Background(), path, shifted, Nearest, 0, part); err != nil {
		t.Fatal(err)
	}
	if part[0] != float32(data[250]) || !math.IsNaN(float64(part[99])) {
		t.Fatalf("edge read %g %g", part[0], part[99])
	}
}

func TestReadErrorsNameTheProblem(t *testing.T) {
	g := Grid{EPSG: 32647, X0: 460000, Y0: 1840000, Res: 10, Width: 10, Height: 10}
	dst := make([]float32, g.Len())
	if err := ReadFloat32(context.Background(), filepath.Join(t.TempDir(), "missing.tif"), g, Bilinear, 0, dst); err == nil {
		t.Fatal("reading a missing file succeeded")
	}
	trunc := filepath.Join(t.TempDir(), "trunc.tif")
	full := filepath.Join(t.TempDir(), "full.tif")
	data := make([]uint16, 512*512)
	for i := range data {
		data[i] = uint16(i*7919%60000 + 1)
	}
	if err := WriteCOG(context.Background(), full, Grid{EPSG: 32647, X0: 460000, Y0: 1840000, Res: 10, Width: 512, Height: 512}, data, COGOptions{BlockSize: 256}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(full)
	os.WriteFile(trunc, b[:len(b)*2/3], 0o644)
	big := Grid{EPSG: 32647, X0: 460000, Y0: 1840000, Res: 10, Width: 512, Height: 512}
	if err := ReadFloat32(context.Background(), trunc, big, Bilinear, 0, make([]float32, big.Len())); err == nil {
		t.Fatal("reading a truncated COG succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ReadFloat32(ctx, full, g, Bilinear, 0, dst); err != context.Canceled {
		t.Fatalf("cancelled read: %v", err)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/paulmach/orb"

	"compoundwatch/geo"
	"compoundwatch/pipeline/fixture"
)

// benchChild runs one detection when the test binary was started by
// BenchmarkDetectPeakRSS as a child (so its peak RSS is the detection's
// alone), and reports whether it did.
func benchChild() bool {
	raw := os.Getenv("COMPOUNDWATCH_BENCH_DETECT")
	if raw == "" {
		return false
	}
	var o detectOptions
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := runDetect(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// squareAOI writes a GeoJSON area: a UTM square of side km centred on the
// fixture scene (10.24 km across).
func squareAOI(t testing.TB, dir string, km float64) string {
	t.Helper()
	cx, cy := 465120.0, 1834880.0
	h := km * 500
	ring := orb.Ring{{cx - h, cy - h}, {cx + h, cy - h}, {cx + h, cy + h}, {cx - h, cy + h}, {cx - h, cy - h}}
	if err := geo.Transform(fixture.EPSG, 4326, ring); err != nil {
		t.Fatal(err)
	}
	fc := map[string]any{"type": "FeatureCollection", "features": []any{map[string]any{
		"type": "Feature", "properties": map[string]any{"id": fmt.Sprintf("square-%gkm", km)},
		"geometry": map[string]any{"type": "Polygon", "coordinates": []orb.Ring{ring}},
	}}}
	data, _ := json.Marshal(fc)
	path := filepath.Join(dir, fmt.Sprintf("square-%gkm.geojson", km))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// BenchmarkDetectPeakRSS runs `detect` in a child process on a 5 km square
// (one 512-pixel block) and on a 10 km square (four times the area, four
// blocks) over the same fixture scenes, and reports each child's peak
// resident set and their ratio. Blocked processing should keep the ratio
// near 1.
func BenchmarkDetectPeakRSS(b *testing.B) {
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	dir := b.TempDir()
	measure := func(km float64) float64 {
		o := detectOptions{AOI: squareAOI(b, dir, km), Before: "2022-W01", After: "2022-W03",
			Out: filepath.Join(dir, fmt.Sprintf("alerts-%g.geojson", km)), MaxCloud: 100, Workers: 2,
			Kinds: []string{"expansion"}, ScratchDir: dir,
			Catalog: catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"}}
		raw, _ := json.Marshal(o)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "COMPOUNDWATCH_BENCH_DETECT="+string(raw))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("detect on %g km: %v\n%s", km, err, out)
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok || runtime.GOOS != "linux" {
			b.Skip("peak RSS needs Linux rusage")
		}
		return float64(ru.Maxrss) / 1024 // KiB to MiB
	}
	// Peak RSS moves by ±10% from run to run with the garbage collector's
	// timing: take the median of three children per size.
	median3 := func(km float64) float64 {
		v := []float64{measure(km), measure(km), measure(km)}
		slices.Sort(v)
		return v[1]
	}
	var small, large float64
	for i := 0; i < b.N; i++ {
		small = median3(5)
		large = median3(10)
	}
	b.ReportMetric(small, "MiB-peak-25km2")
	b.ReportMetric(large, "MiB-peak-100km2")
	b.ReportMetric(large/small, "ratio-4x-area")
}

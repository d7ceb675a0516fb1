package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"compoundwatch/aoi"
	"compoundwatch/geo"
	"compoundwatch/pipeline"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/fixture"
	"compoundwatch/pipeline/period"
)

func mustPeriod(t *testing.T, s string) period.Period {
	t.Helper()
	p, err := period.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// detectWorld serves a fixture world and runs a detection on it.
func detectWorld(t *testing.T, m *fixture.Manifest, a aoi.Area, before, after string) (*pipeline.ChangeResult, error) {
	t.Helper()
	_, src, reader := serveWorld(t, m, 100)
	return pipeline.DetectChange(context.Background(), pipeline.ChangeRequest{
		Area: a, Before: mustPeriod(t, before), After: mustPeriod(t, after),
		Source: src, Reader: reader, MaxCloud: 100, Workers: 2,
		Params: detect.DefaultParams(), ScratchDir: t.TempDir(),
	})
}

func detectFixture(t *testing.T, m *fixture.Manifest, a aoi.Area, before, after string) *pipeline.ChangeResult {
	t.Helper()
	res, err := detectWorld(t, m, a, before, after)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// builtAt reports whether the generator put a building at the UTM point at t.
func builtAt(m *fixture.Manifest, x, y float64, t time.Time) bool {
	for _, c := range m.Compounds {
		if c.Present(t) && c.Covers(x, y) {
			return true
		}
	}
	return false
}

// pixelF1 scores the expansions on the area grid against the generator's
// truth: a pixel changed when a building stands at its centre at the end of
// the after period and did not at the start of the before period.
func pixelF1(m *fixture.Manifest, g geo.Grid, dets []detect.Detection, before, after period.Period) (p, r, f1 float64) {
	var tp, fp, fn float64
	for row := 0; row < g.Height; row++ {
		for col := 0; col < g.Width; col++ {
			x, y := g.Center(col, row)
			truth := builtAt(m, x, y, after.End.Add(-time.Hour)) && !builtAt(m, x, y, before.Start)
			pred := false
			for _, d := range dets {
				if d.Kind == detect.Expansion && planar.PolygonContains(d.Polygon, orb.Point{x, y}) {
					pred = true
					break
				}
			}
			switch {
			case pred && truth:
				tp++
			case pred:
				fp++
			case truth:
				fn++
			}
		}
	}
	return tp / (tp + fp), tp / (tp + fn), 2 * tp / (2*tp + fp + fn)
}

func TestDetectFindsTheGeneratedCompounds(t *testing.T) {
	cases := []struct {
		name, before, after string
		compounds           []string // expected to be found as expansions
		demolished          []string // … and as demolitions
	}{
		// Compound a rises in week 3, b and the temporary one in week 4; the
		// temporary one is gone from week 5.
		{"one compound", "2022-W01", "2022-W03", []string{"compound-a"}, nil},
		{"three compounds and a demolition", "2022-W02", "2022-W04", []string{"compound-a", "compound-b", "temporary"}, []string{"depot"}},
		{"two compounds over two weeks", "2022-W01", "2022-01-31/2022-02-13", []string{"compound-a", "compound-b"}, []string{"depot"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := detectFixture(t, world, area, tc.before, tc.after)
			p, r, f1 := pixelF1(world, res.Grid, res.Detections, mustPeriod(t, tc.before), mustPeriod(t, tc.after))
			t.Logf("%d detections, precision %.3f recall %.3f F1 %.3f, cutoff %.2f", len(res.Detections), p, r, f1, res.Stats.Cutoff)
			if f1 < 0.9 {
				t.Errorf("F1 %.3f < 0.9 (precision %.3f, recall %.3f)", f1, p, r)
			}
			found := map[string]detect.Kind{}
			for _, c := range world.Compounds {
				// The centre of a building pixel near the middle of the compound.
				centre := orb.Point{c.Bounds[0] + 105, (c.Bounds[1]+c.Bounds[3])/2 + 5}
				if !c.Covers(centre[0], centre[1]) {
					t.Fatalf("%v is not on a building of %s", centre, c.Name)
				}
				for _, d := range res.Detections {
					if planar.PolygonContains(d.Polygon, centre) {
						found[c.Name] = d.Kind
						if d.ValidObsBefore < 1 || d.ValidObsAfter < 1 {
							t.Errorf("%s: valid observations %d/%d", c.Name, d.ValidObsBefore, d.ValidObsAfter)
						}
					}
				}
			}
			want := map[string]detect.Kind{}
			for _, n := range tc.compounds {
				want[n] = detect.Expansion
			}
			for _, n := range tc.demolished {
				want[n] = detect.Demolition
			}
			if !maps.Equal(found, want) {
				t.Errorf("compounds found %v, want %v", found, want)
			}
			for _, d := range res.Detections {
				if d.AreaHa < 0.1 {
					t.Errorf("detection of %.3f ha is below the minimum mapping unit", d.AreaHa)
				}
			}
		})
	}
}

func TestDetectIsQuietOnTheSameScenes(t *testing.T) {
	for _, w := range []string{"2022-W01", "2022-W03", "2022-01-03/2022-02-13"} {
		res := detectFixture(t, world, area, w, w)
		if len(res.Detections) != 0 {
			t.Errorf("%s against itself: %d detections, want none (first %.2f ha)", w, len(res.Detections), res.Detections[0].AreaHa)
		}
	}
}

func TestDetectIsQuietWhenOnlyTheSeasonChanges(t *testing.T) {
	dir := t.TempDir()
	spec := fixture.DefaultSpec()
	spec.Buildings = false
	m, err := fixture.Generate(context.Background(), dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	areas, err := aoi.Resolve(filepath.Join(dir, "aoi.geojson"), aoi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Fields dry out from week 1 to week 6; every later week against the first.
	for _, after := range []string{"2022-W02", "2022-W03", "2022-W04", "2022-W05", "2022-W06"} {
		res := detectFixture(t, m, areas[0], "2022-W01", after)
		if len(res.Detections) != 0 {
			t.Errorf("%s against 2022-W01 in a world without buildings: %d detections, want none (first %.2f ha, score %.1f)",
				after, len(res.Detections), res.Detections[0].AreaHa, res.Detections[0].ScoreMean)
		}
	}
}

func TestDetectIsReproducible(t *testing.T) {
	a := detectFixture(t, world, area, "2022-W01", "2022-W03")
	b := detectFixture(t, world, area, "2022-W01", "2022-W03")
	ja, err := a.Alerts.Marshal("x")
	if err != nil {
		t.Fatal(err)
	}
	jb, err := b.Alerts.Marshal("x")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja, jb) {
		t.Fatal("two runs on the same inputs wrote different alerts")
	}
	if len(a.Alerts.Alerts) == 0 {
		t.Fatal("no alerts to compare")
	}
}

func TestDetectReportsAnAllCloudPeriod(t *testing.T) {
	// A monsoon world: every scene of the first week is cloud over the whole area.
	dir := t.TempDir()
	spec := fixture.DefaultSpec()
	spec.Weeks = 3
	spec.Overcast = []int{0}
	m, err := fixture.Generate(context.Background(), dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = detectWorld(t, m, area, "2022-W01", "2022-W03")
	if !errors.Is(err, detect.ErrNoClearObservation) {
		t.Fatalf("err = %v, want ErrNoClearObservation", err)
	}
	for _, want := range []string{area.ID, "2022-01-03/2022-01-09"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

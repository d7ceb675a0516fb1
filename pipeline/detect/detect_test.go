package detect

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"compoundwatch/geo"
	"compoundwatch/pipeline/composite"
)

type spectrum = [NumBands]float32

var (
	soil   = spectrum{0.08, 0.10, 0.13, 0.22, 0.28, 0.22}
	grass  = spectrum{0.05, 0.08, 0.07, 0.30, 0.22, 0.13}
	forest = spectrum{0.025, 0.05, 0.03, 0.32, 0.16, 0.08}
	roof   = spectrum{0.22, 0.24, 0.26, 0.30, 0.36, 0.31}
	water  = spectrum{0.06, 0.055, 0.035, 0.02, 0.012, 0.008}
)

// scene describes a synthetic pair: the land cover of each pixel before and
// after, with noise and a linear radiometric difference between the periods.
type scenePair struct {
	w, h          int
	before, after func(c, r int) spectrum
}

func grid(w, h int) geo.Grid {
	return geo.Grid{EPSG: 32647, X0: 500000, Y0: 1800000, Res: 10, Width: w, Height: h}
}

// detectPair runs the engine over the pair with the given block size.
func detectPair(t *testing.T, sp scenePair, blockSize int, seed uint64) ([]Detection, Stats) {
	t.Helper()
	g := grid(sp.w, sp.h)
	p := DefaultParams()
	p.BlockSize = blockSize
	e, err := NewEngine(g, p, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 7))
	// Noise is drawn per pixel in grid order, so it does not depend on blocks.
	noise := make([][2]spectrum, g.Len())
	for i := range noise {
		for k := 0; k < 2; k++ {
			for b := 0; b < NumBands; b++ {
				noise[i][k][b] = float32(rng.NormFloat64() * 0.006)
			}
		}
	}
	for _, b := range e.Blocks() {
		sub := g.Sub(b[0], b[1], b[2], b[3])
		cb, ca := composite.NewComposite(sub, NumBands), composite.NewComposite(sub, NumBands)
		inside := make([]bool, sub.Len())
		for r := 0; r < b[3]; r++ {
			for c := 0; c < b[2]; c++ {
				p := r*b[2] + c
				gi := (b[1]+r)*sp.w + b[0] + c
				vb, va := sp.before(b[0]+c, b[1]+r), sp.after(b[0]+c, b[1]+r)
				for k := 0; k < NumBands; k++ {
					cb.Bands[k][p] = vb[k] + noise[gi][0][k]
					// The after period is hazier: gain and offset differ.
					ca.Bands[k][p] = 1.08*va[k] + 0.015 + noise[gi][1][k]
				}
				cb.Count[p], ca.Count[p] = 2, 3
				inside[p] = true
			}
		}
		if err := e.Put(b[0], b[1], cb, ca, inside); err != nil {
			t.Fatal(err)
		}
	}
	dets, st, err := e.Detect(context.Background(), filepath.Join(t.TempDir(), "mask.tif"))
	if err != nil {
		t.Fatal(err)
	}
	return dets, st
}

// patchy is a varied background: 8×8 patches of soil, grass or forest,
// each with its own brightness.
func patchy(c, r int) spectrum {
	k := uint64(c/8*7919 + r/8*104729)
	k = k*0x9E3779B97F4A7C15 ^ k>>29
	base := []spectrum{soil, grass, forest}[k%3]
	f := 0.8 + float32(k>>8%100)/250
	for b := range base {
		base[b] *= f
	}
	return base
}

func inRect(c, r int, rect [4]int) bool {
	return c >= rect[0] && c < rect[0]+rect[2] && r >= rect[1] && r < rect[1]+rect[3]
}

func TestEngineFindsOnlyNewRoofs(t *testing.T) {
	newRoof := [4]int{40, 30, 20, 15}  // 300 px = 3 ha of new roof on soil
	smallRoof := [4]int{10, 80, 3, 3}  // 9 px: opening and the 0.1 ha unit remove it
	mmuRoof := [4]int{80, 80, 4, 4}    // 16 px: the opening trims the corners, 12 px stay
	holed := [4]int{100, 20, 12, 12}   // a roof with a courtyard
	courtyard := [4]int{105, 25, 2, 2} // stays soil
	river := [4]int{0, 0, 120, 6}      // water in both periods, turbid after
	wood := [4]int{0, 100, 60, 20}     // forest cleared to half-green soil: a harvest-like change
	sp := scenePair{w: 128, h: 128}
	sp.before = func(c, r int) spectrum {
		switch {
		case inRect(c, r, river):
			return water
		case inRect(c, r, wood):
			return forest
		}
		if (c/8+r/8)%2 == 0 {
			return grass
		}
		return soil
	}
	sp.after = func(c, r int) spectrum {
		switch {
		case inRect(c, r, river):
			w := water
			w[0], w[1], w[2] = 0.12, 0.13, 0.12 // sediment
			return w
		case inRect(c, r, wood):
			s := soil
			s[3] = 0.3 // stubble: NDVI about 0.4
			return s
		case inRect(c, r, newRoof), inRect(c, r, smallRoof), inRect(c, r, mmuRoof):
			return roof
		case inRect(c, r, holed) && !inRect(c, r, courtyard):
			return roof
		}
		return sp.before(c, r)
	}
	dets, st := detectPair(t, sp, 32, 1)
	t.Logf("stats: median %.2f sigma %.2f cutoff %.2f rho %.3f candidates %d", st.Median, st.Sigma, st.Cutoff, st.Rho, st.Candidates)
	g := grid(sp.w, sp.h)
	centre := func(rect [4]int) orb.Point {
		x, y := g.Center(rect[0]+rect[2]/2, rect[1]+rect[3]/2)
		return orb.Point{x, y}
	}
	type want struct {
		rect   [4]int
		areaHa float64
	}
	// The 3×3 cross opening trims the four corner pixels of a rectangle.
	wants := map[string]want{"new roof": {newRoof, 2.96}, "minimum unit": {mmuRoof, 0.12}, "holed roof": {holed, 1.40}}
	if len(dets) != len(wants) {
		for _, d := range dets {
			t.Logf("detection %s %.2f ha at %v", d.Kind, d.AreaHa, d.Polygon.Bound())
		}
		t.Fatalf("%d detections, want %d", len(dets), len(wants))
	}
	for name, w := range wants {
		found := false
		for _, d := range dets {
			if !planar.PolygonContains(d.Polygon, centre(w.rect)) {
				continue
			}
			found = true
			if d.Kind != Expansion {
				t.Errorf("%s: kind %s", name, d.Kind)
			}
			if math.Abs(d.AreaHa-w.areaHa) > 0.011 {
				t.Errorf("%s: %.3f ha, want %.2f", name, d.AreaHa, w.areaHa)
			}
			if len(d.Polygon) != 1 {
				t.Errorf("%s: %d rings, want the hole filled", name, len(d.Polygon))
			}
			if d.ValidObsBefore != 2 || d.ValidObsAfter != 3 {
				t.Errorf("%s: valid observations %d/%d, want 2/3", name, d.ValidObsBefore, d.ValidObsAfter)
			}
			if d.Confidence <= 0 || d.Confidence > 1 || d.ScoreMean <= DefaultParams().Threshold {
				t.Errorf("%s: confidence %.3f score %.2f", name, d.Confidence, d.ScoreMean)
			}
		}
		if !found {
			t.Errorf("%s not detected", name)
		}
	}

	// Blocks are an implementation detail: one block gives the same polygons.
	one, _ := detectPair(t, sp, 512, 1)
	if len(one) != len(dets) {
		t.Fatalf("one block: %d detections, 32-pixel blocks: %d", len(one), len(dets))
	}
	for i := range one {
		if !orb.Equal(one[i].Polygon, dets[i].Polygon) {
			t.Errorf("detection %d differs between block sizes", i)
		}
	}
}

func TestEngineReportsDemolitionToVegetation(t *testing.T) {
	site := [4]int{30, 30, 20, 20}
	sp := scenePair{w: 96, h: 96}
	sp.before = func(c, r int) spectrum {
		if inRect(c, r, site) {
			return roof
		}
		return patchy(c, r)
	}
	weeds := spectrum{0.07, 0.09, 0.09, 0.24, 0.25, 0.17} // NDVI 0.45: sparse, not dense
	sp.after = func(c, r int) spectrum {
		if inRect(c, r, site) {
			return weeds
		}
		return patchy(c, r)
	}
	dets, st := detectPair(t, sp, 32, 2)
	t.Logf("stats: median %.2f sigma %.2f cutoff %.2f rho %.3f candidates %d greening median %.3f", st.Median, st.Sigma, st.Cutoff, st.Rho, st.Candidates, st.GreeningMedian)
	if len(dets) != 1 || dets[0].Kind != Demolition {
		for _, d := range dets {
			t.Logf("%s %.2f ha greening %.2f", d.Kind, d.AreaHa, d.Greening)
		}
		t.Fatalf("want one demolition, got %d detections", len(dets))
	}
}

// madScores fits IR-MAD on a synthetic pair whose after period is
// gain*before+offset plus noise, with every twentieth pixel turned to roof,
// and returns the chi-square statistic of the unchanged and changed pixels.
func madScores(t *testing.T, gain, offset float32) (unchanged, changed []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	s := newSample(sampleCap)
	n := 20000
	for i := 0; i < n; i++ {
		var x, y spectrum
		base := []spectrum{soil, grass, forest}[i%3]
		for b := range x {
			x[b] = base[b] * float32(0.8+0.4*rng.Float64())
			y[b] = gain*x[b] + offset + float32(rng.NormFloat64()*0.003)
			x[b] += float32(rng.NormFloat64() * 0.003)
		}
		if i%20 == 0 {
			for b := range y {
				y[b] = roof[b] + float32(rng.NormFloat64()*0.01)
			}
		}
		s.add(&x, &y, 0)
	}
	tr, err := fitIRMAD(s, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < s.len(); i++ {
		z := tr.chi2(s.before(i), s.after(i))
		if i%20 == 0 {
			changed = append(changed, z)
		} else {
			unchanged = append(unchanged, z)
		}
	}
	return unchanged, changed
}

func TestFitMADSeparatesChangeFromRadiometry(t *testing.T) {
	same, _ := madScores(t, 1, 0)
	unchanged, changed := madScores(t, 1.1, 0.02)
	slices.Sort(unchanged)
	p99 := unchanged[len(unchanged)*99/100]
	for _, z := range changed {
		if z <= p99 {
			t.Fatalf("a changed pixel scores %.1f, under the 99th percentile of unchanged pixels %.1f", z, p99)
		}
	}
	// A gain and an offset between the periods must not change how
	// unchanged pixels score.
	slices.Sort(same)
	m0, m1 := same[len(same)/2], unchanged[len(unchanged)/2]
	if math.Abs(m1-m0)/m0 > 0.05 {
		t.Errorf("median unchanged statistic %.2f with gain and offset, %.2f without", m1, m0)
	}
}

func TestSampleIsSystematicAndBounded(t *testing.T) {
	s := newSample(100)
	var x, y spectrum
	for i := 0; i < 1000; i++ {
		x[0] = float32(i)
		s.add(&x, &y, float64(i))
	}
	if s.len() > 100 || s.len() < 50 {
		t.Fatalf("sample of %d, want 50..100", s.len())
	}
	for i := 1; i < s.len(); i++ {
		if d := s.greening[i] - s.greening[i-1]; d != float64(s.stride) {
			t.Fatalf("sampled values %v and %v are not %d apart", s.greening[i-1], s.greening[i], s.stride)
		}
	}
}

func TestPolygonContainsHonoursHoles(t *testing.T) {
	p := orb.Polygon{
		{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}},
		{{4, 4}, {6, 4}, {6, 6}, {4, 6}, {4, 4}},
	}
	for _, tc := range []struct {
		x, y float64
		want bool
	}{{1, 1, true}, {5, 5, false}, {11, 5, false}, {9.5, 9.5, true}} {
		if got := polygonContains(p, tc.x, tc.y); got != tc.want {
			t.Errorf("(%g, %g) inside = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestParamsAreValidated(t *testing.T) {
	for _, mutate := range []func(*Params){
		func(p *Params) { p.Threshold = 0 },
		func(p *Params) { p.IRMADIterations = 0 },
		func(p *Params) { p.MinValidObs = 0 },
		func(p *Params) { p.BlockSize = 4 },
		func(p *Params) { p.MinChange = -1 },
	} {
		p := DefaultParams()
		mutate(&p)
		if _, err := NewEngine(grid(10, 10), p, t.TempDir()); err == nil {
			t.Errorf("params %+v accepted", p)
		}
	}
}

// Package detect owns the built-footprint differencing core: from a before
// and an after composite of an area it derives spectral indices, an
// unsupervised change score (IR-MAD), a data-driven threshold, physical
// gates (water, dense vegetation, minimum change), morphological clean-up,
// and the change polygons with their evidence. It works block by block over
// a scratch file, so its memory depends on the block size, not on the
// area's size.
//
// The decision rule, in order, for a pixel with valid observations in both
// periods and inside the area:
//
//  1. IR-MAD (Nielsen 2007) on the six bands gives a chi-square change
//     statistic that is invariant to linear radiometric differences between
//     the periods (sun, atmosphere, sensor, processing baseline). It is
//     fitted on land pixels only: water (NDWI above WaterNDWI in either
//     period) changes with waves and sediment and would swamp the fit.
//  2. The score is the square root of that statistic. The threshold is the
//     median of the land scores plus Threshold robust standard deviations
//     (1.4826 × MAD), both from the area's own data.
//  3. Gates that no threshold can learn: water after never alerts; dense
//     vegetation after (NDVI at or above DenseVegetationNDVI) never alerts,
//     green-up is not a building; dense vegetation before alerts only when
//     nothing green is left after (NDVI at or below BareNDVI), because a
//     harvested or drying field keeps some green and a roof keeps none; and
//     a change smaller than MinChange reflectance (Euclidean over the six
//     bands) never alerts, so identical composites give nothing.
//  4. A 3×3 cross opening removes single-pixel noise and one-pixel slivers
//     from misregistration; regions smaller than the minimum mapping unit
//     are dropped and holes smaller than FillHolesHa are filled.
//
// A region whose NDVI rose by more than DemolitionGreening beyond the area's
// median NDVI change (the season's shift), and that is vegetated after (mean
// NDVI above VegetatedNDVI), lost built surface to vegetation and is a
// demolition; every other region, such as a roof over former water or a
// finished building with young gardens, is an expansion. Bare soil and
// new roofs are not told apart by these bands, so razing to bare ground
// reads as expansion.
package detect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/orb/simplify"

	"compoundwatch/geo"
	"compoundwatch/pipeline/composite"
)

// Version is written into every alert; it changes whenever the decision
// rule or a default parameter changes.
const Version = "irmad-gates/2"

// Band order of the composites handed to the engine (scene.DefaultBands).
const (
	Blue = iota
	Green
	Red
	NIR
	SWIR16
	SWIR22
	NumBands
)

// Kind is the direction of a change.
type Kind string

// Change kinds.
const (
	Expansion  Kind = "expansion"
	Demolition Kind = "demolition"
)

// Sentinel errors.
var (
	ErrNoClearObservation = errors.New("detect: no clear observation")
	ErrParams             = errors.New("detect: bad parameters")
)

// Params is the detector's one parameter set. DefaultParams documents the
// defaults; none is tuned per site.
type Params struct {
	Threshold           float64 // robust standard deviations above the median score
	IRMADIterations     int     // reweighting iterations
	WaterNDWI           float64 // NDWI above which a pixel is water
	DenseVegetationNDVI float64 // NDVI at or above which a pixel is dense vegetation
	BareNDVI            float64 // NDVI at or below which a surface carries no vegetation
	VegetatedNDVI       float64 // NDVI above which a surface is vegetated
	MinChange           float64 // minimum spectral change, reflectance (6-band Euclidean)
	MinValidObs         int     // valid observations a pixel needs in each period
	MinMappingUnitHa    float64 // smallest reported region
	FillHolesHa         float64 // holes smaller than this are filled
	SimplifyM           float64 // Douglas-Peucker tolerance, metres
	ConfidenceHigh      float64 // confidence at or above which the class is "high"
	DemolitionGreening  float64 // NDVI gain beyond the area's median that makes a region a demolition
	BlockSize           int     // pixels per block edge
}

// DefaultParams is the documented default parameter set.
func DefaultParams() Params {
	return Params{
		Threshold:           5,
		IRMADIterations:     10,
		WaterNDWI:           0.2,
		DenseVegetationNDVI: 0.6,
		BareNDVI:            0.15,
		VegetatedNDVI:       0.3,
		MinChange:           0.05,
		MinValidObs:         1,
		MinMappingUnitHa:    0.1,
		FillHolesHa:         1,
		SimplifyM:           2.5,
		ConfidenceHigh:      0.5,
		DemolitionGreening:  0.1,
		BlockSize:           512,
	}
}

func (p Params) validate() error {
	switch {
	case p.Threshold <= 0:
		return fmt.Errorf("%w: threshold %g must be positive", ErrParams, p.Threshold)
	case p.IRMADIterations < 1:
		return fmt.Errorf("%w: IR-MAD iterations %d must be at least 1", ErrParams, p.IRMADIterations)
	case p.MinValidObs < 1:
		return fmt.Errorf("%w: minimum valid observations %d must be at least 1", ErrParams, p.MinValidObs)
	case p.BlockSize < 16:
		return fmt.Errorf("%w: block size %d must be at least 16", ErrParams, p.BlockSize)
	case p.MinMappingUnitHa < 0 || p.FillHolesHa < 0 || p.SimplifyM < 0 || p.MinChange < 0:
		return fmt.Errorf("%w: negative size, tolerance or change", ErrParams)
	}
	return nil
}

// Detection is one changed region on the grid.
type Detection struct {
	Kind           Kind
	Polygon        orb.Polygon       // grid CRS
	AreaHa         float64           // on the grid (UTM)
	ScoreMean      float64           // mean robust score (standard deviations above the median)
	Confidence     float64           // 0–1
	High           bool              // Confidence ≥ Params.ConfidenceHigh
	ValidObsBefore int               // fewest valid observations of a pixel in the region, before
	ValidObsAfter  int               // … and after
	Greening       float64           // mean NDVI change
	MeanBefore     [NumBands]float64 // mean reflectance of the region's clear pixels, before
	MeanAfter      [NumBands]float64 // … and after
}

// Stats describe one detection run.
type Stats struct {
	Pixels         int       // inside the area
	Valid          int       // with enough valid observations in both periods
	Land           int       // valid and not water in either period
	Median         float64   // median land score
	Sigma          float64   // robust standard deviation of land scores
	Cutoff         float64   // score threshold
	Rho            []float64 // canonical correlations, descending
	Sampled        int       // clear land pixels in the statistics sample
	Candidates     int       // pixels past threshold and gates, before clean-up
	GreeningMedian float64   // median NDVI change over land: the seasonal shift
	Regions        int       // polygons before the minimum mapping unit
	Detections     int
	ScratchByte    int64
}

// Planes in the scratch file.
const (
	planeBefore = 0
	planeAfter  = NumBands
	planeCountB = 2 * NumBands
	planeCountA = 2*NumBands + 1
	planeInside = 2*NumBands + 2
	nPlanes     = 2*NumBands + 3
)

// Engine runs one detection on a grid. Put every block, then Detect once,
// then Close.
type Engine struct {
	grid       geo.Grid
	p          Params
	dir        string
	planes     *planeFile
	putBuf     []float32 // one block of one plane, for Put
	measureWin *window   // for Measure, allocated on first use
}

// NewEngine prepares a detection on g with scratch files under dir.
func NewEngine(g geo.Grid, p Params, dir string) (*Engine, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	sub, err := os.MkdirTemp(dir, "detect-")
	if err != nil {
		return nil, fmt.Errorf("detect scratch: %w", err)
	}
	pf, err := createPlaneFile(filepath.Join(sub, "planes.f32"), g.Width, g.Height, nPlanes)
	if err != nil {
		os.RemoveAll(sub)
		return nil, err
	}
	return &Engine{grid: g, p: p, dir: sub, planes: pf}, nil
}

// Blocks lists the block rectangles (x, y, w, h) covering the grid, row by row.
func (e *Engine) Blocks() [][4]int {
	return blocks(e.grid.Width, e.grid.Height, e.p.BlockSize)
}

func blocks(w, h, size int) [][4]int {
	var out [][4]int
	for y := 0; y < h; y += size {
		for x := 0; x < w; x += size {
			out = append(out, [4]int{x, y, min(size, w-x), min(size, h-y)})
		}
	}
	return out
}

// Put stores the composites of one block (grids equal to grid.Sub(x, y, w, h)).
// inside marks the block's pixels that lie in the area; pixels outside are
// treated as unobserved.
func (e *Engine) Put(x, y int, before, after *composite.Composite, inside []bool) error {
	sub := e.grid.Sub(x, y, before.Grid.Width, before.Grid.Height)
	if before.Grid != sub || after.Grid != sub || len(before.Bands) != NumBands || len(after.Bands) != NumBands || len(inside) != sub.Len() {
		panic("detect: block does not match the engine's grid")
	}
	w := sub.Width
	nan := float32(math.NaN())
	if e.putBuf == nil {
		e.putBuf = make([]float32, e.p.BlockSize*e.p.BlockSize)
	}
	buf := e.putBuf[:sub.Len()]
	for pi, c := range []*composite.Composite{before, after} {
		for b := 0; b < NumBands; b++ {
			for p, v := range c.Bands[b] {
				if !inside[p] {
					v = nan
				}
				buf[p] = v
			}
			if err := e.planes.writeRect(pi*NumBands+b, x, y, w, buf); err != nil {
				return err
			}
		}
		for p, n := range c.Count {
			if !inside[p] {
				n = 0
			}
			buf[p] = float32(n)
		}
		if err := e.planes.writeRect(planeCountB+pi, x, y, w, buf); err != nil {
			return err
		}
	}
	for p, in := range inside {
		buf[p] = 0
		if in {
			buf[p] = 1
		}
	}
	return e.planes.writeRect(planeInside, x, y, w, buf)
}

// Close removes the scratch files.
func (e *Engine) Close() error {
	err := e.planes.close()
	if rerr := os.RemoveAll(e.dir); err == nil {
		err = rerr
	}
	return err
}

// window is a rectangle of all planes in memory.
type window struct {
	x, y, w, h int
	planes     [nPlanes][]float32
}

func newWindow(size int) *window {
	win := &window{}
	for i := range win.planes {
		win.planes[i] = make([]float32, size*size)
	}
	return win
}

func (e *Engine) load(win *window, x, y, w, h int) error {
	win.x, win.y, win.w, win.h = x, y, w, h
	for i := range win.planes {
		win.planes[i] = win.planes[i][:cap(win.planes[i])][:w*h]
		if err := e.planes.readRect(i, x, y, w, win.planes[i]); err != nil {
			return err
		}
	}
	return nil
}

// pixel gathers one pixel's values from a window.
func (win *window) pixel(p int, x, y *[NumBands]float32) (countB, countA int) {
	for b := 0; b < NumBands; b++ {
		x[b] = win.planes[planeBefore+b][p]
		y[b] = win.planes[planeAfter+b][p]
	}
	return int(win.planes[planeCountB][p]), int(win.planes[planeCountA][p])
}

// pixelClass is what the gates know about a pixel.
type pixelClass struct {
	valid, land, waterAfter, denseVeg bool
	change                            float64 // 6-band Euclidean reflectance change
	greening                          float64 // NDVI change
	ndviAfter                         float64
}

func (e *Engine) classify(x, y *[NumBands]float32, countB, countA int) pixelClass {
	var c pixelClass
	if countB < e.p.MinValidObs || countA < e.p.MinValidObs {
		return c
	}
	for b := 0; b < NumBands; b++ {
		if isNaN(x[b]) || isNaN(y[b]) {
			return c
		}
	}
	c.valid = true
	wb, wa := ndwi(x), ndwi(y)
	c.waterAfter = wa > e.p.WaterNDWI
	c.land = wb <= e.p.WaterNDWI && !c.waterAfter
	nb, na := ndvi(x), ndvi(y)
	c.denseVeg = (nb >= e.p.DenseVegetationNDVI && na > e.p.BareNDVI) || na >= e.p.DenseVegetationNDVI
	s := 0.0
	for b := 0; b < NumBands; b++ {
		d := float64(y[b]) - float64(x[b])
		s += d * d
	}
	c.change = math.Sqrt(s)
	c.greening = ndvi(y) - ndvi(x)
	c.ndviAfter = ndvi(y)
	return c
}

func isNaN(v float32) bool { return v != v }

func ratio(a, b float64) float64 {
	if a+b == 0 {
		return 0
	}
	return (a - b) / (a + b)
}

func ndvi(v *[NumBands]float32) float64 { return ratio(float64(v[NIR]), float64(v[Red])) }
func ndwi(v *[NumBands]float32) float64 { return ratio(float64(v[Green]), float64(v[NIR])) }

// Detect runs the passes over the stored blocks and returns the changed
// regions, largest first.
func (e *Engine) Detect(ctx context.Context, maskPath string) ([]Detection, Stats, error) {
	var st Stats
	st.ScratchByte = int64(e.grid.Len()) * nPlanes * 4
	size := e.p.BlockSize
	win := newWindow(size + 4)
	var xv, yv [NumBands]float32
	bl := e.Blocks()

	// Pass 1: count the area, and keep a systematic sample of its clear
	// land pixels for the statistics.
	smp := newSample(sampleCap)
	for _, b := range bl {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		if err := e.load(win, b[0], b[1], b[2], b[3]); err != nil {
			return nil, st, err
		}
		for p := 0; p < b[2]*b[3]; p++ {
			if win.planes[planeInside][p] > 0 {
				st.Pixels++
			}
			cb, ca := win.pixel(p, &xv, &yv)
			c := e.classify(&xv, &yv, cb, ca)
			if !c.valid {
				continue
			}
			st.Valid++
			if !c.land {
				continue
			}
			st.Land++
			smp.add(&xv, &yv, c.greening)
		}
	}
	if st.Valid == 0 {
		return nil, st, fmt.Errorf("%w: no pixel of the area is clear in both periods", ErrNoClearObservation)
	}
	if st.Land < 2*NumBands*10 {
		return nil, st, fmt.Errorf("%w: only %d clear land pixels", ErrDegenerate, st.Land)
	}
	st.Sampled = smp.len()

	// IR-MAD on the sample.
	t, err := fitIRMAD(smp, e.p.IRMADIterations)
	if err != nil {
		return nil, st, err
	}
	st.Rho = append([]float64(nil), t.rho...)

	// Score statistics over land: median and robust standard deviation.
	score := func(x, y *[NumBands]float32) float64 { return math.Sqrt(t.chi2(x[:], y[:])) }
	scores := make([]float64, smp.len())
	for i := range scores {
		scores[i] = math.Sqrt(t.chi2(smp.before(i), smp.after(i)))
	}
	st.Median, st.Sigma = medianMAD(scores)
	st.Sigma *= 1.4826
	if st.Sigma <= 0 {
		st.Sigma = 1e-6
	}
	st.GreeningMedian, _ = medianMAD(smp.greening)
	st.Cutoff = st.Median + e.p.Threshold*st.Sigma

	// Mask pass: candidates, then a 3×3 cross opening, block by block with a
	// two-pixel halo.
	mask, err := geo.CreateMaskRaster(maskPath, e.grid)
	if err != nil {
		return nil, st, err
	}
	defer mask.Close()
	cand := make([]bool, (size+4)*(size+4))
	eroded := make([]bool, (size+4)*(size+4))
	out := make([]uint8, size*size)
	for _, b := range bl {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		x0, y0 := max(0, b[0]-2), max(0, b[1]-2)
		x1, y1 := min(e.grid.Width, b[0]+b[2]+2), min(e.grid.Height, b[1]+b[3]+2)
		ww, wh := x1-x0, y1-y0
		if err := e.load(win, x0, y0, ww, wh); err != nil {
			return nil, st, err
		}
		for p := 0; p < ww*wh; p++ {
			cb, ca := win.pixel(p, &xv, &yv)
			c := e.classify(&xv, &yv, cb, ca)
			cand[p] = c.valid && !c.waterAfter && !c.denseVeg && c.change >= e.p.MinChange && score(&xv, &yv) > st.Cutoff
		}
		// Outside the grid counts as set, so edges do not erode.
		at := func(m []bool, c, r int) bool {
			gc, gr := x0+c, y0+r
			if gc < 0 || gr < 0 || gc >= e.grid.Width || gr >= e.grid.Height {
				return true
			}
			if c < 0 || r < 0 || c >= ww || r >= wh {
				return false // beyond the halo: only reached at the halo's rim
			}
			return m[r*ww+c]
		}
		for r := 0; r < wh; r++ {
			for c := 0; c < ww; c++ {
				eroded[r*ww+c] = cand[r*ww+c] && at(cand, c-1, r) && at(cand, c+1, r) && at(cand, c, r-1) && at(cand, c, r+1)
			}
		}
		ow := b[2]
		for r := 0; r < b[3]; r++ {
			for c := 0; c < b[2]; c++ {
				wc, wr := b[0]-x0+c, b[1]-y0+r
				if cand[wr*ww+wc] {
					st.Candidates++
				}
				set := eroded[wr*ww+wc] || atE(eroded, wc-1, wr, ww, wh) || atE(eroded, wc+1, wr, ww, wh) || atE(eroded, wc, wr-1, ww, wh) || atE(eroded, wc, wr+1, ww, wh)
				v := uint8(0)
				if set {
					v = 1
				}
				out[r*ow+c] = v
			}
		}
		if err := mask.WriteRect(b[0], b[1], ow, out[:b[2]*b[3]]); err != nil {
			return nil, st, err
		}
	}
	regions, err := mask.Polygonize(ctx)
	if err != nil {
		return nil, st, err
	}
	if err := mask.Close(); err != nil {
		return nil, st, err
	}
	st.Regions = len(regions)

	var dets []Detection
	for _, rg := range regions {
		poly := rg.Polygon
		if planar.Area(poly)/1e4 < e.p.MinMappingUnitHa-1e-9 {
			continue
		}
		poly = fillHoles(poly, e.p.FillHolesHa*1e4)
		d, err := e.describe(ctx, win, poly, score, st)
		if err != nil {
			return nil, st, err
		}
		if e.p.SimplifyM > 0 {
			poly = simplify.DouglasPeucker(e.p.SimplifyM).Simplify(poly.Clone()).(orb.Polygon)
		}
		d.Polygon = poly
		d.AreaHa = math.Abs(planar.Area(poly)) / 1e4
		dets = append(dets, d)
	}
	sortDetections(dets)
	st.Detections = len(dets)
	return dets, st, nil
}

func atE(m []bool, c, r, w, h int) bool {
	if c < 0 || r < 0 || c >= w || r >= h {
		return false
	}
	return m[r*w+c]
}

// fillHoles drops interior rings smaller than maxArea square metres.
func fillHoles(p orb.Polygon, maxArea float64) orb.Polygon {
	out := orb.Polygon{p[0]}
	for _, hole := range p[1:] {
		if math.Abs(planar.Area(hole)) >= maxArea {
			out = append(out, hole)
		}
	}
	return out
}

// describe measures a region's evidence over the pixels whose centres lie
// in it.
func (e *Engine) describe(ctx context.Context, win *window, poly orb.Polygon, score func(x, y *[NumBands]float32) float64, st Stats) (Detection, error) {
	d := Detection{ValidObsBefore: math.MaxInt, ValidObsAfter: math.MaxInt}
	var xv, yv [NumBands]float32
	n := 0
	sumScore, sumGreen, sumNDVIAfter := 0.0, 0.0, 0.0
	var sumB, sumA [NumBands]float64
	err := e.forEachPixelIn(ctx, win, poly, func(p int) {
		cb, ca := win.pixel(p, &xv, &yv)
		cl := e.classify(&xv, &yv, cb, ca)
		d.ValidObsBefore = min(d.ValidObsBefore, cb)
		d.ValidObsAfter = min(d.ValidObsAfter, ca)
		if !cl.valid {
			return
		}
		n++
		sumScore += (score(&xv, &yv) - st.Median) / st.Sigma
		sumGreen += cl.greening
		sumNDVIAfter += cl.ndviAfter
		for b := 0; b < NumBands; b++ {
			sumB[b] += float64(xv[b])
			sumA[b] += float64(yv[b])
		}
	})
	if err != nil {
		return Detection{}, err
	}
	d.Kind = Expansion
	if n == 0 {
		d.ValidObsBefore, d.ValidObsAfter = 0, 0
		return d, nil
	}
	for b := 0; b < NumBands; b++ {
		d.MeanBefore[b] = sumB[b] / float64(n)
		d.MeanAfter[b] = sumA[b] / float64(n)
	}
	d.ScoreMean = sumScore / float64(n)
	d.Greening = sumGreen / float64(n)
	if d.Greening-st.GreeningMedian > e.p.DemolitionGreening && sumNDVIAfter/float64(n) > e.p.VegetatedNDVI {
		d.Kind = Demolition
	}
	// Confidence grows with the margin over the threshold: 0 at the
	// threshold, 1−1/e at twice it.
	d.Confidence = 1 - math.Exp(-math.Max(0, d.ScoreMean-e.p.Threshold)/e.p.Threshold)
	d.High = d.Confidence >= e.p.ConfidenceHigh
	return d, nil
}

// forEachPixelIn calls fn with the window index of every pixel whose centre
// lies in poly, loading the polygon's bounding box a block at a time.
func (e *Engine) forEachPixelIn(ctx context.Context, win *window, poly orb.Polygon, fn func(p int)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	bound := poly.Bound()
	g := e.grid
	c0 := max(0, int(math.Floor((bound.Min[0]-g.X0)/g.Res)))
	c1 := min(g.Width, int(math.Ceil((bound.Max[0]-g.X0)/g.Res)))
	r0 := max(0, int(math.Floor((g.Y0-bound.Max[1])/g.Res)))
	r1 := min(g.Height, int(math.Ceil((g.Y0-bound.Min[1])/g.Res)))
	for ys := r0; ys < r1; ys += e.p.BlockSize {
		for xs := c0; xs < c1; xs += e.p.BlockSize {
			w, h := min(e.p.BlockSize, c1-xs), min(e.p.BlockSize, r1-ys)
			if err := e.load(win, xs, ys, w, h); err != nil {
				return err
			}
			for r := 0; r < h; r++ {
				for c := 0; c < w; c++ {
					px, py := g.Center(xs+c, ys+r)
					if polygonContains(poly, px, py) {
						fn(r*w + c)
					}
				}
			}
		}
	}
	return nil
}

// polygonContains is the even-odd rule over all rings: inside the exterior
// and outside every hole.
func polygonContains(p orb.Polygon, x, y float64) bool {
	in := false
	for _, ring := range p {
		n := len(ring)
		for i, j := 0, n-1; i < n; j, i = i, i+1 {
			a, b := ring[i], ring[j]
			if (a[1] > y) != (b[1] > y) && x < (b[0]-a[0])*(y-a[1])/(b[1]-a[1])+a[0] {
				in = !in
			}
		}
	}
	return in
}

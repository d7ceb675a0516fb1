package detect

import (
	"context"
	"math"

	"github.com/paulmach/orb"
)

// RegionStats are a region's mean reflectance in each period over its
// pixels with enough valid observations there.
type RegionStats struct {
	Pixels       int // pixel centres in the region
	ClearBefore  int
	ClearAfter   int
	MeanBefore   [NumBands]float64
	MeanAfter    [NumBands]float64
	FewestBefore int // fewest valid observations of any pixel, before
	FewestAfter  int
}

// Measure reads a region's means from the stored composites. Call it after
// every Put, before Close.
func (e *Engine) Measure(ctx context.Context, poly orb.Polygon) (RegionStats, error) {
	if e.measureWin == nil {
		e.measureWin = newWindow(e.p.BlockSize)
	}
	win := e.measureWin
	var xv, yv [NumBands]float32
	rs := RegionStats{FewestBefore: math.MaxInt, FewestAfter: math.MaxInt}
	err := e.forEachPixelIn(ctx, win, poly, func(p int) {
		rs.Pixels++
		cb, ca := win.pixel(p, &xv, &yv)
		rs.FewestBefore, rs.FewestAfter = min(rs.FewestBefore, cb), min(rs.FewestAfter, ca)
		if cb >= e.p.MinValidObs && !anyNaN(&xv) {
			rs.ClearBefore++
			for b := range xv {
				rs.MeanBefore[b] += float64(xv[b])
			}
		}
		if ca >= e.p.MinValidObs && !anyNaN(&yv) {
			rs.ClearAfter++
			for b := range yv {
				rs.MeanAfter[b] += float64(yv[b])
			}
		}
	})
	if err != nil {
		return RegionStats{}, err
	}
	for b := 0; b < NumBands; b++ {
		if rs.ClearBefore > 0 {
			rs.MeanBefore[b] /= float64(rs.ClearBefore)
		}
		if rs.ClearAfter > 0 {
			rs.MeanAfter[b] /= float64(rs.ClearAfter)
		}
	}
	if rs.Pixels == 0 {
		rs.FewestBefore, rs.FewestAfter = 0, 0
	}
	return rs, nil
}

func anyNaN(v *[NumBands]float32) bool {
	for _, x := range v {
		if isNaN(x) {
			return true
		}
	}
	return false
}

// TrueColor is a picture of both composites: RGB bytes, 3 per pixel, row by
// row, sampled every Stride grid pixels. Reflectance 0–0.3 maps to 0–255
// with a gamma of 1/2.2; pixels without a clear observation are grey.
type TrueColor struct {
	Width, Height int
	Stride        int
	Before, After []uint8
}

// TrueColor samples the composites so that the longer side has at most
// maxSide pixels.
func (e *Engine) TrueColor(ctx context.Context, maxSide int) (*TrueColor, error) {
	stride := max(1, (max(e.grid.Width, e.grid.Height)+maxSide-1)/maxSide)
	tc := &TrueColor{Width: (e.grid.Width + stride - 1) / stride, Height: (e.grid.Height + stride - 1) / stride, Stride: stride}
	tc.Before = make([]uint8, 3*tc.Width*tc.Height)
	tc.After = make([]uint8, 3*tc.Width*tc.Height)
	row := make([]float32, e.grid.Width)
	counts := make([]float32, e.grid.Width)
	for y := 0; y < tc.Height; y++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for period, dst := range [][]uint8{tc.Before, tc.After} {
			base := period * NumBands
			if err := e.planes.readRect(planeCountB+period, 0, y*stride, e.grid.Width, counts); err != nil {
				return nil, err
			}
			for ch, band := range []int{Red, Green, Blue} {
				if err := e.planes.readRect(base+band, 0, y*stride, e.grid.Width, row); err != nil {
					return nil, err
				}
				for x := 0; x < tc.Width; x++ {
					v := row[x*stride]
					o := 3*(y*tc.Width+x) + ch
					if counts[x*stride] < 1 || isNaN(v) {
						dst[o] = 96
						continue
					}
					dst[o] = uint8(math.Round(255 * math.Pow(math.Max(0, math.Min(1, float64(v)/0.3)), 1/2.2)))
				}
			}
		}
	}
	return tc, nil
}

// Package eval owns the scoring rule of the OSCD development set: alert
// polygons are rasterized onto the truth raster's own grid (a pixel counts
// when its centre lies inside a polygon) and compared with the change class
// (truth value 1; 0 is no change; any other value is ignored).
package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"compoundwatch/geo"
	"compoundwatch/pipeline/alert"
)

// Counts are pixel counts of the change class.
type Counts struct {
	TP, FP, FN, TN int64
}

// Add sums counts, for pooling over areas.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.TP + o.TP, c.FP + o.FP, c.FN + o.FN, c.TN + o.TN}
}

// Precision is TP / (TP + FP), 0 when nothing was predicted.
func (c Counts) Precision() float64 { return frac(c.TP, c.TP+c.FP) }

// Recall is TP / (TP + FN), 0 when there is no change.
func (c Counts) Recall() float64 { return frac(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Counts) F1() float64 { return frac(2*c.TP, 2*c.TP+c.FP+c.FN) }

func frac(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Score compares the alerts (optionally only those of the given kinds; none
// means all) with the truth raster at truthPath.
func Score(ctx context.Context, c alert.Collection, truthPath string, kinds ...string) (Counts, error) {
	r, truth, err := geo.ReadUint8Raster(ctx, truthPath)
	if err != nil {
		return Counts{}, err
	}
	if r.GeoTransform[2] != 0 || r.GeoTransform[4] != 0 {
		return Counts{}, fmt.Errorf("truth %s: rotated grids are not supported", truthPath)
	}
	pred := make([]bool, len(truth))
	for _, a := range c.Alerts {
		if len(kinds) > 0 && !contains(kinds, a.Properties.Kind) {
			continue
		}
		poly := a.Geometry.Clone()
		if r.EPSG != 0 && r.EPSG != 4326 {
			for _, ring := range poly {
				if err := geo.Transform(4326, r.EPSG, ring); err != nil {
					return Counts{}, fmt.Errorf("alert %s onto %s: %w", a.Properties.ID, truthPath, err)
				}
			}
		}
		mark(pred, r, poly)
	}
	var out Counts
	for i, t := range truth {
		switch {
		case t == 1 && pred[i]:
			out.TP++
		case t == 1:
			out.FN++
		case t == 0 && pred[i]:
			out.FP++
		case t == 0:
			out.TN++
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mark sets pred for every pixel whose centre lies in poly.
func mark(pred []bool, r geo.Raster, poly orb.Polygon) {
	gt := r.GeoTransform
	b := poly.Bound()
	colA, colB := (b.Min[0]-gt[0])/gt[1], (b.Max[0]-gt[0])/gt[1]
	rowA, rowB := (b.Max[1]-gt[3])/gt[5], (b.Min[1]-gt[3])/gt[5]
	c0 := max(0, int(math.Floor(min(colA, colB))))
	c1 := min(r.Width-1, int(math.Ceil(max(colA, colB))))
	r0 := max(0, int(math.Floor(min(rowA, rowB))))
	r1 := min(r.Height-1, int(math.Ceil(max(rowA, rowB))))
	for row := r0; row <= r1; row++ {
		for col := c0; col <= c1; col++ {
			x, y := r.PixelCenter(col, row)
			if planar.PolygonContains(poly, orb.Point{x, y}) {
				pred[row*r.Width+col] = true
			}
		}
	}
}

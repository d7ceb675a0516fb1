package geo

import (
	"fmt"
	"math"

	"github.com/airbusgeo/godal"
	"github.com/paulmach/orb"
)

// Grid is a north-up raster grid in a projected CRS.
type Grid struct {
	EPSG          int
	X0, Y0        float64 // upper-left corner
	Res           float64 // pixel size in CRS units
	Width, Height int
}

// GeoTransform is the GDAL affine transform of the grid.
func (g Grid) GeoTransform() [6]float64 {
	return [6]float64{g.X0, g.Res, 0, g.Y0, 0, -g.Res}
}

// Len is the number of pixels.
func (g Grid) Len() int { return g.Width * g.Height }

// Bounds is minX, minY, maxX, maxY.
func (g Grid) Bounds() [4]float64 {
	return [4]float64{g.X0, g.Y0 - float64(g.Height)*g.Res, g.X0 + float64(g.Width)*g.Res, g.Y0}
}

// Sub is the grid of the window of w×h pixels at column x, row y.
func (g Grid) Sub(x, y, w, h int) Grid {
	return Grid{EPSG: g.EPSG, X0: g.X0 + float64(x)*g.Res, Y0: g.Y0 - float64(y)*g.Res, Res: g.Res, Width: w, Height: h}
}

// Center is the CRS coordinate of the centre of pixel (col, row).
func (g Grid) Center(col, row int) (x, y float64) {
	return g.X0 + (float64(col)+0.5)*g.Res, g.Y0 - (float64(row)+0.5)*g.Res
}

func (g Grid) validate() error {
	if g.EPSG <= 0 || g.Res <= 0 || g.Width <= 0 || g.Height <= 0 || math.IsNaN(g.X0) || math.IsNaN(g.Y0) {
		return fmt.Errorf("%w: %+v", ErrGrid, g)
	}
	return nil
}

// String names the grid for errors and manifests.
func (g Grid) String() string {
	return fmt.Sprintf("EPSG:%d %dx%d@%gm origin (%g, %g)", g.EPSG, g.Width, g.Height, g.Res, g.X0, g.Y0)
}

// GridCovering returns the grid in epsg, with square pixels of res metres
// aligned to a res lattice, that covers the lon/lat polygon. Edges are
// densified before projecting, so curved edges in the target CRS are covered.
func GridCovering(epsg int, poly orb.MultiPolygon, res float64) (Grid, error) {
	var pts []orb.Point
	for _, p := range poly {
		for _, r := range p {
			for i := 0; i+1 < len(r); i++ {
				const k = 16
				for j := 0; j < k; j++ {
					t := float64(j) / k
					pts = append(pts, orb.Point{r[i][0] + t*(r[i+1][0]-r[i][0]), r[i][1] + t*(r[i+1][1]-r[i][1])})
				}
			}
		}
	}
	if len(pts) == 0 {
		return Grid{}, fmt.Errorf("%w: empty polygon", ErrGrid)
	}
	if err := Transform(4326, epsg, pts); err != nil {
		return Grid{}, err
	}
	b := orb.MultiPoint(pts).Bound()
	x0 := math.Floor(b.Min[0]/res) * res
	y1 := math.Ceil(b.Max[1]/res) * res
	x1 := math.Ceil(b.Max[0]/res) * res
	y0 := math.Floor(b.Min[1]/res) * res
	g := Grid{EPSG: epsg, X0: x0, Y0: y1, Res: res, Width: int(math.Round((x1 - x0) / res)), Height: int(math.Round((y1 - y0) / res))}
	return g, g.validate()
}

// Transform converts points in place from one EPSG CRS to another, in
// traditional GIS order (x/lon first).
func Transform(srcEPSG, dstEPSG int, pts []orb.Point) error {
	setup()
	if len(pts) == 0 || srcEPSG == dstEPSG {
		return nil
	}
	src, err := godal.NewSpatialRefFromEPSG(srcEPSG)
	if err != nil {
		return fmt.Errorf("%w: EPSG:%d: %w", ErrTransform, srcEPSG, err)
	}
	defer src.Close()
	dst, err := godal.NewSpatialRefFromEPSG(dstEPSG)
	if err != nil {
		return fmt.Errorf("%w: EPSG:%d: %w", ErrTransform, dstEPSG, err)
	}
	defer dst.Close()
	trn, err := godal.NewTransform(src, dst)
	if err != nil {
		return fmt.Errorf("%w: EPSG:%d to EPSG:%d: %w", ErrTransform, srcEPSG, dstEPSG, err)
	}
	defer trn.Close()
	xs := make([]float64, len(pts))
	ys := make([]float64, len(pts))
	for i, p := range pts {
		xs[i], ys[i] = p[0], p[1]
	}
	ok := make([]bool, len(pts))
	if err := trn.TransformEx(xs, ys, nil, ok); err != nil {
		return fmt.Errorf("%w: EPSG:%d to EPSG:%d: %w", ErrTransform, srcEPSG, dstEPSG, err)
	}
	for i := range pts {
		if !ok[i] {
			return fmt.Errorf("%w: EPSG:%d to EPSG:%d: point %v", ErrTransform, srcEPSG, dstEPSG, pts[i])
		}
		pts[i] = orb.Point{xs[i], ys[i]}
	}
	return nil
}

// memDataset creates an in-memory dataset on the grid.
func memDataset(g Grid, bands int, dt godal.DataType) (*godal.Dataset, error) {
	setup()
	if err := g.validate(); err != nil {
		return nil, err
	}
	ds, err := godal.Create(godal.Memory, "", bands, dt, g.Width, g.Height, gdalErrors)
	if err != nil {
		return nil, fmt.Errorf("create in-memory grid %s: %w", g, err)
	}
	if err := georeference(ds, g); err != nil {
		ds.Close()
		return nil, err
	}
	return ds, nil
}

// georeference sets the dataset's CRS and geotransform to the grid's.
func georeference(ds *godal.Dataset, g Grid) error {
	sr, err := godal.NewSpatialRefFromEPSG(g.EPSG)
	if err != nil {
		return fmt.Errorf("%w: EPSG:%d: %w", ErrGrid, g.EPSG, err)
	}
	defer sr.Close()
	if err := ds.SetSpatialRef(sr, gdalErrors); err != nil {
		return fmt.Errorf("set CRS of %s: %w", g, err)
	}
	if err := ds.SetGeoTransform(g.GeoTransform(), gdalErrors); err != nil {
		return fmt.Errorf("set geotransform of %s: %w", g, err)
	}
	return nil
}

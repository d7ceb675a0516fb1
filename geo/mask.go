package geo

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/airbusgeo/godal"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// MaskRaster is a single-band byte GeoTIFF on local disk that is written in
// row strips and turned into polygons by GDAL. Zero is background (nodata);
// every other value is a region label. Keeping the mask on disk, not in
// memory, keeps a detection's memory independent of the area's size.
type MaskRaster struct {
	ds   *godal.Dataset
	grid Grid
	path string
}

// Region is one connected area of equal non-zero mask value, in the grid's CRS.
type Region struct {
	Value   int
	Polygon orb.Polygon
}

// CreateMaskRaster creates an all-zero mask at path on grid g.
func CreateMaskRaster(path string, g Grid) (*MaskRaster, error) {
	setup()
	if err := g.validate(); err != nil {
		return nil, err
	}
	ds, err := godal.Create(godal.GTiff, path, 1, godal.Byte, g.Width, g.Height,
		godal.CreationOption("TILED=YES", "COMPRESS=DEFLATE", "SPARSE_OK=TRUE"), gdalErrors)
	if err != nil {
		return nil, fmt.Errorf("create mask %s: %w", path, err)
	}
	m := &MaskRaster{ds: ds, grid: g, path: path}
	if err := georeference(ds, g); err != nil {
		ds.Close()
		return nil, fmt.Errorf("mask %s: %w", path, err)
	}
	if err := ds.Bands()[0].SetNoData(0, gdalErrors); err != nil {
		ds.Close()
		return nil, fmt.Errorf("mask %s: set nodata: %w", path, err)
	}
	return m, nil
}

// WriteRect writes a w-wide rectangle of labels with its upper-left pixel at (x, y).
func (m *MaskRaster) WriteRect(x, y, w int, labels []uint8) error {
	if w <= 0 || len(labels)%w != 0 {
		panic("geo: mask rectangle is not whole rows")
	}
	h := len(labels) / w
	if err := m.ds.Bands()[0].Write(x, y, labels, w, h, gdalErrors); err != nil {
		return fmt.Errorf("write mask %s at %d,%d: %w", m.path, x, y, err)
	}
	return nil
}

// Polygonize returns the 4-connected regions of equal non-zero value, in a
// stable order (by value, then by the polygon's first vertex).
func (m *MaskRaster) Polygonize(ctx context.Context) ([]Region, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vec, err := godal.CreateVector(godal.Memory, "", gdalErrors)
	if err != nil {
		return nil, fmt.Errorf("polygonize %s: %w", m.path, err)
	}
	defer vec.Close()
	layer, err := vec.CreateLayer("regions", nil, godal.GTPolygon, godal.NewFieldDefinition("value", godal.FTInt), gdalErrors)
	if err != nil {
		return nil, fmt.Errorf("polygonize %s: %w", m.path, err)
	}
	if err := m.ds.Bands()[0].Polygonize(layer, godal.PixelValueFieldIndex(0), gdalErrors); err != nil {
		return nil, fmt.Errorf("polygonize %s: %w", m.path, err)
	}
	var out []Region
	layer.ResetReading()
	for {
		f := layer.NextFeature()
		if f == nil {
			break
		}
		v := int(f.Fields()["value"].Int())
		geom := f.Geometry()
		b, err := geom.WKB()
		geom.Close()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("polygonize %s: geometry: %w", m.path, err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("polygonize %s: geometry: %w", m.path, err)
		}
		switch p := g.(type) {
		case orb.Polygon:
			out = append(out, Region{Value: v, Polygon: p})
		case orb.MultiPolygon:
			for _, q := range p {
				out = append(out, Region{Value: v, Polygon: q})
			}
		default:
			return nil, fmt.Errorf("polygonize %s: unexpected %s", m.path, g.GeoJSONType())
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value < out[j].Value
		}
		a, b := out[i].Polygon[0][0], out[j].Polygon[0][0]
		if a[1] != b[1] {
			return a[1] > b[1]
		}
		return a[0] < b[0]
	})
	return out, nil
}

// Close closes the mask and reports whether its bytes reached the disk.
func (m *MaskRaster) Close() error {
	if m.ds == nil {
		return nil
	}
	err := closeDataset(m.ds, "mask "+m.path)
	m.ds = nil
	return err
}

// Raster is a georeferenced raster read whole: its geotransform, size and
// the EPSG code of its CRS (0 when it has none GDAL can name).
type Raster struct {
	GeoTransform  [6]float64
	Width, Height int
	EPSG          int
}

// PixelCenter is the CRS coordinate of the centre of pixel (col, row).
func (r Raster) PixelCenter(col, row int) (x, y float64) {
	gt := r.GeoTransform
	fx, fy := float64(col)+0.5, float64(row)+0.5
	return gt[0] + fx*gt[1] + fy*gt[2], gt[3] + fx*gt[4] + fy*gt[5]
}

// ReadUint8Raster reads the first band of a local raster file at its own
// resolution, for small rasters such as a truth mask.
func ReadUint8Raster(ctx context.Context, path string) (Raster, []uint8, error) {
	setup()
	if err := ctx.Err(); err != nil {
		return Raster{}, nil, err
	}
	ds, err := godal.Open(path, godal.RasterOnly(), gdalErrors)
	if err != nil {
		return Raster{}, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer ds.Close()
	st := ds.Structure()
	gt, err := ds.GeoTransform(gdalErrors)
	if err != nil {
		return Raster{}, nil, fmt.Errorf("%s has no georeferencing: %w", path, err)
	}
	r := Raster{GeoTransform: gt, Width: st.SizeX, Height: st.SizeY}
	if sr := ds.SpatialRef(); sr != nil {
		_ = sr.AutoIdentifyEPSG()
		if sr.AuthorityName("") == "EPSG" {
			r.EPSG, _ = strconv.Atoi(sr.AuthorityCode(""))
		}
		sr.Close()
	}
	buf := make([]uint8, st.SizeX*st.SizeY)
	if err := ds.Bands()[0].Read(0, 0, buf, st.SizeX, st.SizeY, gdalErrors); err != nil {
		return Raster{}, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return r, buf, nil
}

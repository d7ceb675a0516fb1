package geo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/airbusgeo/godal"
)

// TileLayout describes how band 1 of a tiled GeoTIFF sits in its file: what a
// windowed read over HTTP should cost.
type TileLayout struct {
	Width, Height   int
	BlockW, BlockH  int
	GeoTransform    [6]float64
	Offsets, Sizes  []int64 // per block, row-major; size 0 for sparse blocks
	FirstTileOffset int64   // everything before it is header (IFDs, tag data)
}

// BlocksPerRow is the number of tile columns.
func (t TileLayout) BlocksPerRow() int { return (t.Width + t.BlockW - 1) / t.BlockW }

// ReadTileLayout reads the TIFF tile offsets and sizes of band 1 of name.
func ReadTileLayout(ctx context.Context, name string) (_ TileLayout, err error) {
	if err := ctx.Err(); err != nil {
		return TileLayout{}, err
	}
	setup()
	ds, err := godal.Open(name, godal.RasterOnly(), gdalErrors)
	if err != nil {
		return TileLayout{}, fmt.Errorf("open %s: %w", name, err)
	}
	defer func() {
		if cerr := closeDataset(ds, name); err == nil {
			err = cerr
		}
	}()
	st := ds.Structure()
	gt, err := ds.GeoTransform(gdalErrors)
	if err != nil {
		return TileLayout{}, fmt.Errorf("geotransform of %s: %w", name, err)
	}
	t := TileLayout{Width: st.SizeX, Height: st.SizeY, BlockW: st.BlockSizeX, BlockH: st.BlockSizeY, GeoTransform: gt}
	nx := t.BlocksPerRow()
	ny := (t.Height + t.BlockH - 1) / t.BlockH
	band := ds.Bands()[0]
	t.FirstTileOffset = -1
	for y := 0; y < ny; y++ {
		for x := 0; x < nx; x++ {
			off, _ := strconv.ParseInt(band.Metadata(fmt.Sprintf("BLOCK_OFFSET_%d_%d", x, y), godal.Domain("TIFF")), 10, 64)
			size, _ := strconv.ParseInt(band.Metadata(fmt.Sprintf("BLOCK_SIZE_%d_%d", x, y), godal.Domain("TIFF")), 10, 64)
			t.Offsets = append(t.Offsets, off)
			t.Sizes = append(t.Sizes, size)
			if size > 0 && (t.FirstTileOffset < 0 || off < t.FirstTileOffset) {
				t.FirstTileOffset = off
			}
		}
	}
	return t, nil
}

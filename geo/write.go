package geo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/airbusgeo/godal"
)

// COGOptions describe how WriteCOG lays out a file.
type COGOptions struct {
	BlockSize int     // tile edge in pixels; 0 means 512
	Nodata    float64 // declared nodata value
	Overviews bool    // build internal overviews
}

// WriteCOG writes one band of uint8, uint16 or float32 pixels on grid g to a
// DEFLATE-compressed Cloud-Optimized GeoTIFF at path. The file appears
// atomically: it is written beside path and renamed into place.
func WriteCOG(ctx context.Context, path string, g Grid, data any, opts COGOptions) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	var dt godal.DataType
	var n int
	switch d := data.(type) {
	case []uint8:
		dt, n = godal.Byte, len(d)
	case []uint16:
		dt, n = godal.UInt16, len(d)
	case []float32:
		dt, n = godal.Float32, len(d)
	default:
		panic(fmt.Sprintf("geo: WriteCOG of %T", data))
	}
	if n != g.Len() {
		panic(fmt.Sprintf("geo: WriteCOG has %d values, grid %d", n, g.Len()))
	}
	mem, err := memDataset(g, 1, dt)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeDataset(mem, "in-memory raster"); err == nil {
			err = cerr
		}
	}()
	band := mem.Bands()[0]
	if err := band.SetNoData(opts.Nodata, gdalErrors); err != nil {
		return fmt.Errorf("write %s: set nodata: %w", path, err)
	}
	if err := band.Write(0, 0, data, g.Width, g.Height, gdalErrors); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bs := opts.BlockSize
	if bs == 0 {
		bs = 512
	}
	ovr := "NONE"
	if opts.Overviews {
		ovr = "AUTO"
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	cog, err := mem.Translate(tmp, []string{"-of", "COG"},
		godal.CreationOption("COMPRESS=DEFLATE", "BLOCKSIZE="+strconv.Itoa(bs), "OVERVIEWS="+ovr, "NUM_THREADS=1"),
		gdalErrors)
	if err != nil {
		return fmt.Errorf("write COG %s: %w", path, err)
	}
	if err := closeDataset(cog, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write COG %s: %w", path, err)
	}
	return nil
}

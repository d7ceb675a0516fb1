package geo

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/airbusgeo/godal"
)

// Resampling names a warp kernel.
type Resampling string

// The kernels compoundwatch uses: bilinear for reflectance, nearest for classes.
const (
	Bilinear Resampling = "bilinear"
	Nearest  Resampling = "near"
)

// ReadFloat32 warps band 1 of the raster called name (a GDAL name such as
// /vsicurl/https://… or a local path) onto the grid with the given kernel,
// reading only the source window the grid needs. Pixels equal to the source
// nodata value (nodata, if the file declares none) do not contribute to the
// kernel; pixels with no valid source become NaN in dst. dst must hold
// g.Len() values.
func ReadFloat32(ctx context.Context, name string, g Grid, r Resampling, nodata float64, dst []float32) error {
	if len(dst) != g.Len() {
		panic(fmt.Sprintf("geo: ReadFloat32 dst has %d values, grid %d", len(dst), g.Len()))
	}
	nan := float32(math.NaN())
	return warpOnto(ctx, name, g, r, nodata, godal.Float32, nan, func(out *godal.Dataset) error {
		return out.Bands()[0].Read(0, 0, dst, g.Width, g.Height, gdalErrors)
	})
}

// ReadUint8 warps band 1 of a class raster (such as Sentinel-2 SCL) onto the
// grid with nearest neighbour. Pixels outside the source, or equal to its
// nodata, are 0.
func ReadUint8(ctx context.Context, name string, g Grid, dst []uint8) error {
	if len(dst) != g.Len() {
		panic(fmt.Sprintf("geo: ReadUint8 dst has %d values, grid %d", len(dst), g.Len()))
	}
	return warpOnto(ctx, name, g, Nearest, 0, godal.Byte, 0, func(out *godal.Dataset) error {
		return out.Bands()[0].Read(0, 0, dst, g.Width, g.Height, gdalErrors)
	})
}

func warpOnto(ctx context.Context, name string, g Grid, r Resampling, srcNodata float64, dt godal.DataType, dstNodata float32, read func(*godal.Dataset) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	setup()
	defer func() {
		if err != nil {
			forgetRemote(name)
		}
	}()
	src, err := godal.Open(name, godal.RasterOnly(), gdalErrors)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer func() {
		if cerr := closeDataset(src, "source"); err == nil {
			err = cerr
		}
	}()
	if len(src.Bands()) == 0 {
		return fmt.Errorf("%w: no raster band", ErrGDAL)
	}
	if nd, ok := src.Bands()[0].NoData(); ok {
		srcNodata = nd
	}
	out, err := memDataset(g, 1, dt)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeDataset(out, "warp target"); err == nil {
			err = cerr
		}
	}()
	dn := formatNodata(float64(dstNodata))
	if err := out.Bands()[0].SetNoData(float64(dstNodata), gdalErrors); err != nil {
		return fmt.Errorf("set nodata: %w", err)
	}
	if err := out.Bands()[0].Fill(float64(dstNodata), 0); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	switches := []string{
		"-r", string(r),
		"-srcnodata", formatNodata(srcNodata),
		"-dstnodata", dn,
		"-wo", "INIT_DEST=NO_DATA",
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := out.WarpInto([]*godal.Dataset{src}, switches, gdalErrors); err != nil {
		return fmt.Errorf("warp onto %s: %w", g, err)
	}
	if err := read(out); err != nil {
		return fmt.Errorf("read warped grid: %w", err)
	}
	return nil
}

func formatNodata(v float64) string {
	if math.IsNaN(v) {
		return "nan"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Package scene owns reading one STAC item onto an area's working grid: each
// requested band warped through GDAL (bilinear for reflectance, nearest for
// the scene classification), converted to float32 reflectance with the item's
// scale and offset, and a valid-pixel mask from nodata and the cloud classes.
package scene

import (
	"context"
	"errors"
	"fmt"
	"math"

	"compoundwatch/geo"
	"compoundwatch/pipeline/stac"
)

// ErrRead is wrapped by every read failure; the message names item, band and href.
var ErrRead = errors.New("scene: read failed")

// DefaultMaskClasses are the SCL classes treated as invalid: nodata,
// saturated, cloud shadow, medium and high probability cloud, cirrus, snow.
var DefaultMaskClasses = []uint8{0, 1, 3, 8, 9, 10, 11}

// DefaultBands are the reflectance bands the detector uses.
var DefaultBands = []string{"blue", "green", "red", "nir", "swir16", "swir22"}

// SCLBand is the Earth Search key of the scene classification asset.
const SCLBand = "scl"

// Reader reads items onto a grid.
type Reader struct {
	Policy      stac.HrefPolicy
	MaskClasses []uint8 // nil means DefaultMaskClasses
}

// Observation is one item on the grid. Bands[i] holds reflectance of the i-th
// requested band (NaN where invalid); Valid marks pixels where every band has
// data and the scene classification is clear.
type Observation struct {
	Item   string
	Grid   geo.Grid
	Bands  [][]float32
	Valid  []bool
	SCL    []uint8 // nil when the item has no classification
	HasSCL bool
	// OffsetUndone says the item's reflectance offset was taken back: its
	// pixels did not carry the +1000 of baseline 04.00 (see Read).
	OffsetUndone bool
}

// NewObservation allocates an observation for nBands bands on g.
func NewObservation(g geo.Grid, nBands int) *Observation {
	o := &Observation{Grid: g, Bands: make([][]float32, nBands), Valid: make([]bool, g.Len()), SCL: make([]uint8, g.Len())}
	for i := range o.Bands {
		o.Bands[i] = make([]float32, g.Len())
	}
	return o
}

// Retarget points the observation at grid g, reusing its buffers; g must
// not have more pixels than the grid it was allocated for.
func (o *Observation) Retarget(g geo.Grid) {
	if g == o.Grid {
		return
	}
	n := g.Len()
	if n > cap(o.Valid) {
		panic("scene: observation retargeted onto a larger grid")
	}
	o.Grid = g
	o.Valid = o.Valid[:n]
	o.SCL = o.SCL[:n]
	for i := range o.Bands {
		o.Bands[i] = o.Bands[i][:n]
	}
}

// ValidCount is the number of valid pixels.
func (o *Observation) ValidCount() int {
	n := 0
	for _, v := range o.Valid {
		if v {
			n++
		}
	}
	return n
}

// Read fills dst (allocated for len(bands) bands on grid g) with the item.
func (r *Reader) Read(ctx context.Context, it stac.Item, g geo.Grid, bands []string, dst *Observation) error {
	if len(dst.Bands) != len(bands) || dst.Grid != g {
		panic("scene: observation does not match bands and grid")
	}
	dst.Item = it.ID
	// Every band must be there before any byte is fetched.
	for _, band := range bands {
		if _, _, ok := it.Asset(band); !ok {
			return fmt.Errorf("%w: %w: item %s band %s", ErrRead, stac.ErrMissingBand, it.ID, band)
		}
	}
	for i := range dst.Valid {
		dst.Valid[i] = true
	}
	offsets := make([]float32, len(bands))
	for bi, band := range bands {
		scale, offset, err := it.Reflectance(band)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRead, err)
		}
		offsets[bi] = float32(offset)
		name, err := r.Policy.GDALName(ctx, it, band)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRead, err)
		}
		buf := dst.Bands[bi]
		if err := geo.ReadFloat32(ctx, name, g, geo.Bilinear, it.Nodata(band), buf); err != nil {
			return fmt.Errorf("%w: read %s band %s (%s): %w", ErrRead, it.ID, band, hrefOf(it, band), err)
		}
		s, o := float32(scale), float32(offset)
		for p, dn := range buf {
			if math.IsNaN(float64(dn)) {
				dst.Valid[p] = false
				continue
			}
			buf[p] = dn*s + o
		}
	}
	dst.OffsetUndone = undoMissingOffset(dst, offsets)
	dst.HasSCL = false
	if _, _, ok := it.Asset(SCLBand); ok {
		name, err := r.Policy.GDALName(ctx, it, SCLBand)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRead, err)
		}
		if err := geo.ReadUint8(ctx, name, g, dst.SCL); err != nil {
			return fmt.Errorf("%w: read %s band %s (%s): %w", ErrRead, it.ID, SCLBand, hrefOf(it, SCLBand), err)
		}
		dst.HasSCL = true
		classes := r.MaskClasses
		if classes == nil {
			classes = DefaultMaskClasses
		}
		var masked [256]bool
		for _, c := range classes {
			masked[c] = true
		}
		for p, c := range dst.SCL {
			if masked[c] {
				dst.Valid[p] = false
			}
		}
	}
	nan := float32(math.NaN())
	for p, ok := range dst.Valid {
		if !ok {
			for bi := range dst.Bands {
				dst.Bands[bi][p] = nan
			}
		}
	}
	return nil
}

func hrefOf(it stac.Item, band string) string {
	if _, a, ok := it.Asset(band); ok {
		return stac.RedactURL(a.Href)
	}
	return "?"
}

// Thresholds of the offset sanity check.
const (
	darkReflectance = -0.02 // far below what surface reflectance reaches
	darkShare       = 0.01  // of an area's valid pixels
	darkMinPixels   = 50
)

// undoMissingOffset is the sanity check on the +1000 DN offset of
// processing baseline 04.00, whose metadata flag is wrong on some scenes:
// when an offset was applied and more than 1% of the valid pixels of a band
// come out below -0.02 reflectance, the pixels never carried the +1000, and
// the offset is taken back from every band that had one. (The other error,
// pixels that still carry it under a flag that says they do not, makes dark
// targets read 0.1 too bright; it cannot be told from a bright area and is
// not corrected.)
func undoMissingOffset(o *Observation, offsets []float32) bool {
	valid := 0
	for _, ok := range o.Valid {
		if ok {
			valid++
		}
	}
	if valid < darkMinPixels {
		return false
	}
	dark := false
	for bi, buf := range o.Bands {
		if offsets[bi] >= 0 {
			continue
		}
		n := 0
		for p, v := range buf {
			if o.Valid[p] && v < darkReflectance {
				n++
			}
		}
		if float64(n) > darkShare*float64(valid) {
			dark = true
			break
		}
	}
	if !dark {
		return false
	}
	for bi, buf := range o.Bands {
		if offsets[bi] >= 0 {
			continue
		}
		for p := range buf {
			if o.Valid[p] {
				buf[p] -= offsets[bi]
			}
		}
	}
	return true
}

// Package composite owns the per-period composite: every valid observation
// of a pixel in a period, reduced to one robust value per band plus the
// number of observations behind it.
//
// The reducer is the per-band median over passes (the tiles of one
// overflight count once). A period holds one to a handful of
// Sentinel-2 passes; the median ignores a single residual cloud or shadow
// that the scene classification missed, needs no spectral distance model,
// and, unlike the medoid, is defined for two observations (their mean). The
// values of each pixel are sorted before reduction, so the result does not
// depend on the order in which scenes arrive: the same inputs give the same
// composite, bit for bit.
package composite

import (
	"fmt"
	"math"
	"slices"

	"compoundwatch/geo"
	"compoundwatch/pipeline/scene"
)

// Composite is a period's composite on a grid. Bands[b][p] is the median
// reflectance of band b at pixel p, NaN where no valid observation exists;
// Count[p] is the number of valid observations.
type Composite struct {
	Grid   geo.Grid
	Bands  [][]float32
	Count  []uint16
	Scenes []string // ids of the observations added, sorted
}

// NewComposite allocates a composite of nBands bands on g.
func NewComposite(g geo.Grid, nBands int) *Composite {
	c := &Composite{Grid: g, Bands: make([][]float32, nBands), Count: make([]uint16, g.Len())}
	for b := range c.Bands {
		c.Bands[b] = make([]float32, g.Len())
	}
	return c
}

// Retarget points the composite at grid g, reusing its buffers; g must not
// have more pixels than the grid it was allocated for.
func (c *Composite) Retarget(g geo.Grid) {
	n := g.Len()
	if n > cap(c.Count) {
		panic("composite: retargeted onto a larger grid")
	}
	c.Grid = g
	c.Count = c.Count[:n]
	for b := range c.Bands {
		c.Bands[b] = c.Bands[b][:n]
	}
}

// Stack holds the valid values of up to Capacity passes per pixel for one
// block. A pass is one satellite overflight: the scenes of neighbouring
// tiles from the same data take see the same ground at the same moment, so
// they fill one slot, not several; where tiles overlap, the scene of lowest
// rank in the pass supplies the value, whatever order scenes arrive in. Its
// memory is Capacity × (bands × 4 + 2) bytes × pixels, fixed at allocation;
// observations are streamed in and not kept.
type Stack struct {
	grid     geo.Grid
	nBands   int
	capacity int
	values   []float32 // ((b*len)+p)*capacity + slot
	owner    []uint16  // p*capacity + slot: 0 empty, else rank+1 of the scene that filled it
	count    []uint16
	scenes   []string
	next     int // the slot Add fills
	scratch  []float32
}

// NewStack allocates a stack for capacity passes of nBands bands on g.
func NewStack(g geo.Grid, nBands, capacity int) *Stack {
	if capacity < 1 {
		capacity = 1
	}
	return &Stack{
		grid: g, nBands: nBands, capacity: capacity,
		values:  make([]float32, nBands*g.Len()*capacity),
		owner:   make([]uint16, g.Len()*capacity),
		count:   make([]uint16, g.Len()),
		scratch: make([]float32, capacity),
	}
}

// Reset empties the stack for reuse on grid g, which must not have more
// pixels than the grid it was allocated for.
func (s *Stack) Reset(g geo.Grid) {
	if g.Len()*s.nBands*s.capacity > len(s.values) {
		panic("composite: stack reset onto a larger grid")
	}
	s.grid = g
	s.count = s.count[:cap(s.count)][:g.Len()]
	clear(s.count)
	s.owner = s.owner[:cap(s.owner)][:g.Len()*s.capacity]
	clear(s.owner)
	s.scenes = s.scenes[:0]
	s.next = 0
}

// Add puts an observation in a pass of its own.
func (s *Stack) Add(o *scene.Observation) error {
	if s.next == s.capacity {
		return fmt.Errorf("composite: more than %d passes in one period (at %s)", s.capacity, o.Item)
	}
	s.next++
	return s.AddToPass(s.next-1, 0, o)
}

// AddToPass puts an observation in pass slot, as the scene of the given
// rank within its pass (0 first).
func (s *Stack) AddToPass(slot, rank int, o *scene.Observation) error {
	if o.Grid != s.grid || len(o.Bands) != s.nBands {
		return fmt.Errorf("composite: observation %s is on %s with %d bands, stack on %s with %d", o.Item, o.Grid, len(o.Bands), s.grid, s.nBands)
	}
	if slot < 0 || slot >= s.capacity || rank < 0 || rank >= 1<<16-1 {
		return fmt.Errorf("composite: pass %d rank %d of %s outside a stack of %d passes", slot, rank, o.Item, s.capacity)
	}
	s.scenes = append(s.scenes, o.Item)
	n := s.grid.Len()
	mark := uint16(rank + 1)
	for p, ok := range o.Valid {
		if !ok {
			continue
		}
		ow := &s.owner[p*s.capacity+slot]
		if *ow != 0 && *ow <= mark {
			continue // a scene of lower rank in this pass already saw the pixel
		}
		if *ow == 0 {
			s.count[p]++
		}
		*ow = mark
		for b := 0; b < s.nBands; b++ {
			s.values[(b*n+p)*s.capacity+slot] = o.Bands[b][p]
		}
	}
	return nil
}

// Observations is the number of scenes added since the last Reset.
func (s *Stack) Observations() int { return len(s.scenes) }

// Median reduces the stack into dst, which must be on the stack's grid:
// per pixel and band the median over the passes that saw the pixel, and the
// number of those passes.
func (s *Stack) Median(dst *Composite) {
	if dst.Grid != s.grid || len(dst.Bands) != s.nBands {
		panic("composite: destination does not match the stack")
	}
	n := s.grid.Len()
	nan := float32(math.NaN())
	copy(dst.Count, s.count)
	for b := 0; b < s.nBands; b++ {
		out := dst.Bands[b]
		for p := 0; p < n; p++ {
			if s.count[p] == 0 {
				out[p] = nan
				continue
			}
			k := 0
			base := (b*n + p) * s.capacity
			for slot := 0; slot < s.capacity; slot++ {
				if s.owner[p*s.capacity+slot] != 0 {
					s.scratch[k] = s.values[base+slot]
					k++
				}
			}
			out[p] = median(s.scratch[:k])
		}
	}
	dst.Scenes = append(dst.Scenes[:0], s.scenes...)
	slices.Sort(dst.Scenes)
}

// median sorts buf in place and returns the middle value, or the mean of
// the two middle values.
func median(buf []float32) float32 {
	// Insertion sort: a period holds a handful of observations.
	for i := 1; i < len(buf); i++ {
		v := buf[i]
		j := i - 1
		for j >= 0 && buf[j] > v {
			buf[j+1] = buf[j]
			j--
		}
		buf[j+1] = v
	}
	m := len(buf) / 2
	if len(buf)%2 == 1 {
		return buf[m]
	}
	return (buf[m-1] + buf[m]) / 2
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"compoundwatch/aoi"
	"compoundwatch/geo"
	"compoundwatch/pipeline/alert"
	"compoundwatch/pipeline/composite"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
)

// ErrNoScenes is returned when a period has no scene over the area.
var ErrNoScenes = errors.New("pipeline: no scenes")

// PeriodError says which period of a detection could not be used: it had no
// scene, or no clear pixel over the area. It wraps ErrNoScenes or
// detect.ErrNoClearObservation.
type PeriodError struct {
	Which  string // "before" or "after"
	AOI    string
	Period period.Period
	Err    error
}

func (e *PeriodError) Error() string {
	return fmt.Sprintf("%s: area %s, %s period %s", e.Err, e.AOI, e.Which, e.Period)
}

func (e *PeriodError) Unwrap() error { return e.Err }

// ChangeRequest is one pairwise detection: an area, two periods, where the
// scenes come from and how to read and judge them.
type ChangeRequest struct {
	Area          aoi.Area
	Before, After period.Period
	Source        stac.Source
	Reader        *scene.Reader
	MaxCloud      float64 // scene-level cloud cover filter, percent; >= 100 keeps all
	Workers       int     // scenes read at once
	Params        detect.Params
	ScratchDir    string        // "" means the system temporary directory
	Probes        []orb.Polygon // regions (grid CRS) to measure in both composites
	QuicklookSide int           // > 0: also return true-colour pictures this many pixels across
}

// ChangeResult is what DetectChange found.
type ChangeResult struct {
	Grid          geo.Grid
	Before, After []stac.Item
	Detections    []detect.Detection
	Stats         detect.Stats
	Alerts        alert.Collection
	Probes        []detect.RegionStats // one per ChangeRequest.Probes
	TrueColor     *detect.TrueColor
}

// DetectChange finds the scenes of both periods, composites them block by
// block onto the area's grid, and runs the detector.
func DetectChange(ctx context.Context, req ChangeRequest) (*ChangeResult, error) {
	res := &ChangeResult{}
	var err error
	for _, pp := range []struct {
		which string
		p     period.Period
		dst   *[]stac.Item
	}{{"before", req.Before, &res.Before}, {"after", req.After, &res.After}} {
		*pp.dst, err = FindScenes(ctx, req.Source, req.Area, pp.p, req.MaxCloud)
		if err != nil {
			return nil, err
		}
		if len(*pp.dst) == 0 {
			return nil, &PeriodError{Which: pp.which, AOI: req.Area.ID, Period: pp.p, Err: ErrNoScenes}
		}
	}
	g, err := GridFor(req.Area)
	if err != nil {
		return nil, err
	}
	res.Grid = g
	dets, st, err := detectOnGrid(ctx, req, g, res)
	if err != nil {
		var pe *PeriodError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("detect %s, %s against %s: %w", req.Area.ID, req.After, req.Before, err)
	}
	res.Detections, res.Stats = dets, st
	res.Alerts, err = alert.FromDetections(alert.Pair{
		AOI: req.Area.ID, Before: req.Before, After: req.After,
		ScenesBefore: itemIDs(res.Before), ScenesAfter: itemIDs(res.After),
	}, g.EPSG, dets)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func itemIDs(items []stac.Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

// detectOnGrid composites each block of each period and hands it to the
// engine, then runs detection. Only one block of composites is in memory at
// a time.
func detectOnGrid(ctx context.Context, req ChangeRequest, g geo.Grid, res *ChangeResult) (_ []detect.Detection, _ detect.Stats, err error) {
	before, after := res.Before, res.After
	params := req.Params
	dir := req.ScratchDir
	if dir == "" {
		dir = os.TempDir()
	}
	eng, err := detect.NewEngine(g, params, dir)
	if err != nil {
		return nil, detect.Stats{}, err
	}
	defer func() {
		if cerr := eng.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("remove detection scratch: %w", cerr)
		}
	}()

	area, err := projectArea(req.Area, g.EPSG)
	if err != nil {
		return nil, detect.Stats{}, err
	}
	size := params.BlockSize
	full := g.Sub(0, 0, min(size, g.Width), min(size, g.Height))
	// The tiles of one overflight fill one slot of the composite.
	passB, passA := passSlots(before), passSlots(after)
	stackB := composite.NewStack(full, detect.NumBands, passB.count)
	stackA := composite.NewStack(full, detect.NumBands, passA.count)
	pool := NewObservationPool(full, detect.NumBands, req.Workers)
	var comps [2]*composite.Composite
	inside := make([]bool, full.Len())
	observed := [2]bool{}
	for _, b := range eng.Blocks() {
		sub := g.Sub(b[0], b[1], b[2], b[3])
		for i, c := range []struct {
			items []stac.Item
			stack *composite.Stack
			slots passes
		}{{before, stackB, passB}, {after, stackA, passA}} {
			c.stack.Reset(sub)
			err := pool.ReadScenes(ctx, req.Reader, c.items, sub, scene.DefaultBands, func(it stac.Item, o *scene.Observation) error {
				at := c.slots.of[it.ID]
				return c.stack.AddToPass(at[0], at[1], o)
			})
			if err != nil {
				return nil, detect.Stats{}, err
			}
			if comps[i] == nil {
				comps[i] = composite.NewComposite(full, detect.NumBands)
			}
			comps[i].Retarget(sub)
			c.stack.Median(comps[i])
		}
		in := inside[:sub.Len()]
		for r := 0; r < sub.Height; r++ {
			for col := 0; col < sub.Width; col++ {
				x, y := sub.Center(col, r)
				in[r*sub.Width+col] = planar.MultiPolygonContains(area, orb.Point{x, y})
			}
		}
		for i := range comps {
			for p, n := range comps[i].Count {
				if n > 0 && in[p] {
					observed[i] = true
				}
			}
		}
		if err := eng.Put(b[0], b[1], comps[0], comps[1], in); err != nil {
			return nil, detect.Stats{}, err
		}
	}
	for i, p := range []period.Period{req.Before, req.After} {
		if !observed[i] {
			return nil, detect.Stats{}, &PeriodError{Which: []string{"before", "after"}[i], AOI: req.Area.ID, Period: p,
				Err: fmt.Errorf("%w: every pixel is cloud or nodata", detect.ErrNoClearObservation)}
		}
	}
	for _, poly := range req.Probes {
		rs, err := eng.Measure(ctx, poly)
		if err != nil {
			return nil, detect.Stats{}, err
		}
		res.Probes = append(res.Probes, rs)
	}
	if req.QuicklookSide > 0 {
		tc, err := eng.TrueColor(ctx, req.QuicklookSide)
		if err != nil {
			return nil, detect.Stats{}, err
		}
		res.TrueColor = tc
	}
	maskDir, err := os.MkdirTemp(dir, "mask-")
	if err != nil {
		return nil, detect.Stats{}, fmt.Errorf("detect scratch: %w", err)
	}
	defer os.RemoveAll(maskDir)
	return eng.Detect(ctx, filepath.Join(maskDir, "mask.tif"))
}

// projectArea is the area's geometry on the grid's CRS.
func projectArea(a aoi.Area, epsg int) (orb.MultiPolygon, error) {
	mp := a.Geometry.Clone()
	for _, poly := range mp {
		for _, ring := range poly {
			if err := geo.Transform(4326, epsg, ring); err != nil {
				return nil, fmt.Errorf("project %s: %w", a.ID, err)
			}
		}
	}
	return mp, nil
}

// passes maps each item to its pass (slot) and its rank within the pass.
type passes struct {
	count int
	of    map[string][2]int
}

func passSlots(items []stac.Item) passes {
	ps := stac.GroupPasses(items)
	out := passes{count: len(ps), of: map[string][2]int{}}
	for slot, p := range ps {
		for rank, it := range p.Items {
			out.of[it.ID] = [2]int{slot, rank}
		}
	}
	return out
}

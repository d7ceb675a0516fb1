package pipeline

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"compoundwatch/aoi"
	"compoundwatch/geo"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
)

// GridResolution is the working grid's pixel size in metres.
const GridResolution = 10

// GridFor is the area's working grid: the UTM zone of its centroid, 10 m
// pixels on a 10 m lattice, covering the area.
func GridFor(a aoi.Area) (geo.Grid, error) {
	g, err := geo.GridCovering(aoi.UTMEPSG(a.Centroid()), a.Geometry, GridResolution)
	if err != nil {
		return geo.Grid{}, fmt.Errorf("grid for %s: %w", a.ID, err)
	}
	return g, nil
}

// ReadScenes reads items onto the grid with at most workers scenes in flight
// (each holds its own GDAL datasets) and hands each observation to visit, one
// call at a time, in no particular order. visit must not keep the observation:
// its buffers are reused.
func ReadScenes(ctx context.Context, r *scene.Reader, items []stac.Item, g geo.Grid, bands []string, workers int, visit func(stac.Item, *scene.Observation) error) error {
	return NewObservationPool(g, len(bands), workers).ReadScenes(ctx, r, items, g, bands, visit)
}

// ObservationPool holds the observation buffers of concurrent scene reads,
// so that block after block reuses the same memory.
type ObservationPool struct {
	free chan *scene.Observation
	size int
}

// NewObservationPool allocates workers observations of nBands bands for
// grids with up to maxGrid's pixel count.
func NewObservationPool(maxGrid geo.Grid, nBands, workers int) *ObservationPool {
	workers = max(workers, 1)
	p := &ObservationPool{free: make(chan *scene.Observation, workers), size: workers}
	for i := 0; i < workers; i++ {
		p.free <- scene.NewObservation(maxGrid, nBands)
	}
	return p
}

// ReadScenes is the package-level ReadScenes with the pool's buffers and
// as many scenes in flight as the pool has observations.
func (pool *ObservationPool) ReadScenes(ctx context.Context, r *scene.Reader, items []stac.Item, g geo.Grid, bands []string, visit func(stac.Item, *scene.Observation) error) error {
	visits := make(chan struct{}, 1)
	visits <- struct{}{}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(pool.size)
	for _, it := range items {
		eg.Go(func() error {
			obs := <-pool.free
			defer func() { pool.free <- obs }()
			obs.Retarget(g)
			if err := r.Read(ctx, it, g, bands, obs); err != nil {
				return err
			}
			select {
			case <-visits:
			case <-ctx.Done():
				return ctx.Err()
			}
			defer func() { visits <- struct{}{} }()
			return visit(it, obs)
		})
	}
	return eg.Wait()
}

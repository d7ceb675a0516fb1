package pipeline

import (
	"context"
	"fmt"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/stac"
)

// FindScenes searches the source for the scenes over the area in the period
// with at most maxCloud percent cloud (>= 100 keeps all), and keeps the
// newest processing of each tile and date, in time order.
func FindScenes(ctx context.Context, src stac.Source, area aoi.Area, p period.Period, maxCloud float64) ([]stac.Item, error) {
	items, err := src.Search(ctx, stac.Query{Intersects: area.Geometry, Period: p, MaxCloud: maxCloud})
	if err != nil {
		return nil, fmt.Errorf("find scenes for %s in %s: %w", area.ID, p, err)
	}
	return stac.Deduplicate(items), nil
}

package stac

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Defaults: Earth Search v1 and its Sentinel-2 L2A collection.
const (
	DefaultCatalog    = "https://earth-search.aws.element84.com/v1"
	DefaultCollection = "sentinel-2-l2a"
	PlanetaryComputer = "https://planetarycomputer.microsoft.com/api/stac/v1"
)

// Source finds items for a query.
type Source interface {
	Search(ctx context.Context, q Query) ([]Item, error)
}

// Options configure OpenSource.
type Options struct {
	Collection string // "" means DefaultCollection for an API, all items for a static catalog
	HTTP       *http.Client
	Retry      Retry
	Policy     HrefPolicy // checks links of remote static catalogs
}

// OpenSource picks the kind of source from loc: a local path, or a URL ending
// in .json, is a static catalog; any other http(s) URL is a STAC API root.
func OpenSource(loc string, opts Options) (Source, error) {
	if loc == "" {
		loc = DefaultCatalog
	}
	if !isURL(loc) {
		if strings.Contains(loc, "://") && !strings.HasPrefix(loc, "file://") {
			return nil, fmt.Errorf("%w: catalog %q: scheme not supported", ErrCatalog, loc)
		}
		if _, err := os.Stat(strings.TrimPrefix(loc, "file://")); err != nil {
			return nil, fmt.Errorf("%w: catalog %s: %w", ErrCatalog, loc, err)
		}
		return &staticSource{cat: &StaticCatalog{Location: loc}, collection: opts.Collection}, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("%w: catalog %q: %w", ErrCatalog, loc, err)
	}
	if strings.HasSuffix(u.Path, ".json") {
		return &staticSource{cat: &StaticCatalog{Location: loc, HTTP: opts.HTTP, Retry: opts.Retry, Policy: opts.Policy}, collection: opts.Collection}, nil
	}
	coll := opts.Collection
	if coll == "" {
		coll = DefaultCollection
	}
	return &apiSource{api: &APIClient{Root: loc, HTTP: opts.HTTP, Retry: opts.Retry}, collection: coll}, nil
}

type apiSource struct {
	api        *APIClient
	collection string
}

func (s *apiSource) Search(ctx context.Context, q Query) ([]Item, error) {
	if len(q.Collections) == 0 {
		q.Collections = []string{s.collection}
	}
	items, err := s.api.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	// Servers may ignore parts of the query; apply it again locally.
	return Filter(items, q), nil
}

type staticSource struct {
	cat        *StaticCatalog
	collection string
}

func (s *staticSource) Search(ctx context.Context, q Query) ([]Item, error) {
	if len(q.Collections) == 0 && s.collection != "" {
		q.Collections = []string{s.collection}
	}
	items, err := s.cat.Items(ctx)
	if err != nil {
		return nil, err
	}
	return Filter(items, q), nil
}

// Filter keeps the items that match the query: collection, time, cloud cover
// and footprint.
func Filter(items []Item, q Query) []Item {
	var out []Item
	for _, it := range items {
		if len(q.Collections) > 0 && !slices.Contains(q.Collections, it.Collection) {
			continue
		}
		if !q.Period.Start.IsZero() && !q.Period.Contains(it.Datetime) {
			continue
		}
		if cc, ok := it.CloudCover(); ok && q.MaxCloud >= 0 && q.MaxCloud < 100 && cc > q.MaxCloud {
			continue
		}
		if q.Intersects != nil && !Intersects(it, q.Intersects) {
			continue
		}
		out = append(out, it)
	}
	return out
}

// Intersects reports whether the item's footprint meets the lon/lat geometry.
func Intersects(it Item, g orb.Geometry) bool {
	if !it.BBox.Intersects(g.Bound()) {
		return false
	}
	fp, ok := it.Geometry.(orb.Polygon)
	if mp, isMP := it.Geometry.(orb.MultiPolygon); isMP {
		for _, p := range mp {
			if polygonsMeet(p, g) {
				return true
			}
		}
		return false
	}
	if !ok {
		return true // bbox only
	}
	return polygonsMeet(fp, g)
}

func polygonsMeet(fp orb.Polygon, g orb.Geometry) bool {
	var polys []orb.Polygon
	switch t := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{t}
	case orb.MultiPolygon:
		polys = t
	case orb.Bound:
		polys = []orb.Polygon{t.ToPolygon()}
	default:
		return true
	}
	for _, p := range polys {
		if len(p) == 0 || len(fp) == 0 {
			continue
		}
		if planar.PolygonContains(fp, p[0][0]) || planar.PolygonContains(p, fp[0][0]) {
			return true
		}
		if ringsCross(fp[0], p[0]) {
			return true
		}
	}
	return false
}

func ringsCross(a, b orb.Ring) bool {
	for i := 0; i+1 < len(a); i++ {
		for j := 0; j+1 < len(b); j++ {
			if segmentsCross(a[i], a[i+1], b[j], b[j+1]) {
				return true
			}
		}
	}
	return false
}

func segmentsCross(p1, p2, q1, q2 orb.Point) bool {
	o := func(a, b, c orb.Point) float64 {
		return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	}
	d1, d2 := o(q1, q2, p1), o(q1, q2, p2)
	d3, d4 := o(p1, p2, q1), o(p1, p2, q2)
	return ((d1 > 0) != (d2 > 0)) && ((d3 > 0) != (d4 > 0))
}

// Deduplicate keeps, for each tile and UTC date, the item with the highest
// s2:sequence (then the highest processing baseline, then the latest
// id), and returns them sorted by datetime then id. Items with no tile are
// kept as they are.
func Deduplicate(items []Item) []Item {
	best := map[string]Item{}
	var keys []string
	for _, it := range items {
		tile := it.Tile()
		if tile == "" {
			tile = "id:" + it.ID
		}
		k := it.Collection + "/" + tile + "/" + it.Datetime.Format(time.DateOnly)
		cur, ok := best[k]
		if !ok {
			keys = append(keys, k)
			best[k] = it
			continue
		}
		if newer(it, cur) {
			best[k] = it
		}
	}
	out := make([]Item, 0, len(best))
	for _, k := range keys {
		out = append(out, best[k])
	}
	SortItems(out)
	return out
}

func newer(a, b Item) bool {
	if c := cmp.Compare(a.Sequence(), b.Sequence()); c != 0 {
		return c > 0
	}
	if c := cmp.Compare(a.Baseline(), b.Baseline()); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// SortItems orders items by datetime, then id.
func SortItems(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int {
		if c := a.Datetime.Compare(b.Datetime); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Pass is the scenes of one satellite pass over an area: the tiles one
// platform imaged on one solar day.
type Pass struct {
	SolarDay string // YYYY-MM-DD, local solar date at the scenes' longitude
	Platform string
	Items    []Item
}

// SolarDay is the local solar date of an item: its UTC time shifted by its
// centre longitude (15° an hour), so a pass that straddles UTC midnight stays
// one day.
func SolarDay(it Item) string {
	lon := it.BBox.Center()[0]
	shift := time.Duration(math.Round(lon/15*3600)) * time.Second
	return it.Datetime.Add(shift).Format(time.DateOnly)
}

// passKey identifies the data take of an item when the catalog says it
// (Earth Search's s2:datatake_id without the baseline, or the relative orbit).
func passKey(it Item) string {
	if d := it.str("s2:datatake_id"); d != "" {
		d, _, _ = strings.Cut(d, "_N")
		return d
	}
	if o := it.str("sat:relative_orbit"); o != "" {
		return "R" + o
	}
	return ""
}

// passWindow bounds how far apart in time two tiles of one pass can be.
const passWindow = 30 * time.Minute

// GroupPasses groups items (deduplicate first) into passes, in time order:
// same platform, same solar day, same data take when known, and within half
// an hour of each other.
func GroupPasses(items []Item) []Pass {
	var passes []Pass
	var firsts []time.Time
	var keys []string
	sorted := slices.Clone(items)
	SortItems(sorted)
	for _, it := range sorted {
		k := SolarDay(it) + "/" + it.Platform() + "/" + passKey(it)
		i := -1
		for j := range passes {
			if keys[j] == k && it.Datetime.Sub(firsts[j]) < passWindow {
				i = j
				break
			}
		}
		if i < 0 {
			i = len(passes)
			passes = append(passes, Pass{SolarDay: SolarDay(it), Platform: it.Platform()})
			firsts = append(firsts, it.Datetime)
			keys = append(keys, k)
		}
		passes[i].Items = append(passes[i].Items, it)
	}
	return passes
}

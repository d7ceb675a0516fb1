package aoi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Sentinel errors. Every validation error wraps one of them and names the feature.
var (
	ErrParse            = errors.New("aoi: malformed GeoJSON")
	ErrBadID            = errors.New("aoi: id is not a slug")
	ErrDuplicateID      = errors.New("aoi: duplicate id")
	ErrEmptyGeometry    = errors.New("aoi: empty geometry")
	ErrGeometryType     = errors.New("aoi: geometry is not a Polygon or MultiPolygon")
	ErrOpenRing         = errors.New("aoi: ring is not closed")
	ErrShortRing        = errors.New("aoi: ring has fewer than 4 positions")
	ErrSelfIntersection = errors.New("aoi: ring intersects itself")
	ErrCoordinateRange  = errors.New("aoi: coordinate out of range")
	ErrAntimeridian     = errors.New("aoi: geometry crosses the antimeridian")
	ErrTooLarge         = errors.New("aoi: area above the limit")
	ErrUnknownID        = errors.New("aoi: no built-in area with that id")
)

// DefaultMaxAreaKm2 is the default upper bound on an area's size.
const DefaultMaxAreaKm2 = 2500

// maxVertices bounds the quadratic self-intersection check.
const maxVertices = 20000

var slugPattern = regexp.MustCompile(`^[a-z0-9]+([-_][a-z0-9]+)*$`)

// Area is one watched place.
type Area struct {
	ID         string
	Name       string
	Geometry   orb.MultiPolygon // lon/lat WGS84, outer rings first
	Properties map[string]any   // every property of the source feature, id and name included
}

// Watchlist is an ordered set of areas with unique ids.
type Watchlist struct {
	Areas []Area
}

// Options tune validation.
type Options struct {
	MaxAreaKm2 float64 // zero means DefaultMaxAreaKm2
}

// ValidationError lists every problem of one feature.
type ValidationError struct {
	Source  string // file name or "builtin"
	Index   int    // feature index in the collection
	ID      string // the feature's id, if it has one
	Problem error  // wraps a sentinel
}

func (e *ValidationError) Error() string {
	who := fmt.Sprintf("feature %d", e.Index)
	if e.ID != "" {
		who += fmt.Sprintf(" (id %q)", e.ID)
	}
	return fmt.Sprintf("%s: %s: %v", e.Source, who, e.Problem)
}

func (e *ValidationError) Unwrap() error { return e.Problem }

// AreaKm2 is the area in square kilometres on the WGS84 ellipsoid, computed on
// the UTM zone of the centroid (edges densified), which is well within 0.1% for
// areas of a few thousand km².
func (a Area) AreaKm2() float64 {
	c := a.Centroid()
	zone, south := UTMZone(c[0]), c[1] < 0
	var total float64
	for _, p := range a.Geometry {
		for i, r := range p {
			ar := math.Abs(projectedRingArea(r, zone, south))
			if i > 0 {
				ar = -ar
			}
			total += ar
		}
	}
	return total / 1e6
}

func projectedRingArea(r orb.Ring, zone int, south bool) float64 {
	const step = 0.01 // degrees between densified positions
	var pts [][2]float64
	for i := 0; i+1 < len(r); i++ {
		d := math.Hypot(r[i+1][0]-r[i][0], r[i+1][1]-r[i][1])
		k := int(math.Max(1, math.Ceil(d/step)))
		for j := 0; j < k; j++ {
			t := float64(j) / float64(k)
			e, n := utmForward(r[i][0]+t*(r[i+1][0]-r[i][0]), r[i][1]+t*(r[i+1][1]-r[i][1]), zone, south)
			pts = append(pts, [2]float64{e, n})
		}
	}
	var s float64
	for i := range pts {
		j := (i + 1) % len(pts)
		s += pts[i][0]*pts[j][1] - pts[j][0]*pts[i][1]
	}
	return s / 2
}

// Bound is the lon/lat bounding box.
func (a Area) Bound() orb.Bound { return a.Geometry.Bound() }

// Centroid is the area-weighted centroid in lon/lat (planar in degrees, which is
// adequate for areas of a few thousand km²).
func (a Area) Centroid() orb.Point {
	var sx, sy, sw float64
	for _, p := range a.Geometry {
		for i, r := range p {
			c, w := ringCentroid(r)
			if i > 0 {
				w = -w
			}
			sx += c[0] * w
			sy += c[1] * w
			sw += w
		}
	}
	if sw == 0 {
		return a.Bound().Center()
	}
	return orb.Point{sx / sw, sy / sw}
}

func ringCentroid(r orb.Ring) (orb.Point, float64) {
	var a, cx, cy float64
	for i := 0; i < len(r)-1; i++ {
		x0, y0, x1, y1 := r[i][0], r[i][1], r[i+1][0], r[i+1][1]
		c := x0*y1 - x1*y0
		a += c
		cx += (x0 + x1) * c
		cy += (y0 + y1) * c
	}
	if a == 0 {
		return r.Bound().Center(), 0
	}
	return orb.Point{cx / (3 * a), cy / (3 * a)}, math.Abs(a / 2)
}

// String returns the property as a string, or "".
func (a Area) String(key string) string {
	s, _ := a.Properties[key].(string)
	return s
}

// Find returns the area with the id.
func (w *Watchlist) Find(id string) (Area, bool) {
	for _, a := range w.Areas {
		if a.ID == id {
			return a, true
		}
	}
	return Area{}, false
}

// IDs lists the ids in order.
func (w *Watchlist) IDs() []string {
	ids := make([]string, len(w.Areas))
	for i, a := range w.Areas {
		ids[i] = a.ID
	}
	return ids
}

// ReadFile parses and validates a watchlist file.
func ReadFile(path string, opts Options) (*Watchlist, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read watchlist %s: %w", path, err)
	}
	return Parse(path, b, opts)
}

type rawFeature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Properties map[string]any  `json:"properties"`
	Geometry   json.RawMessage `json:"geometry"`
}

type rawCollection struct {
	Type     string       `json:"type"`
	Features []rawFeature `json:"features"`
}

// Parse reads a GeoJSON FeatureCollection (or a single Feature) of areas from
// data and validates every feature. source names the input in errors. All
// problems are reported together, joined.
func Parse(source string, data []byte, opts Options) (*Watchlist, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", source, ErrParse, err)
	}
	var feats []rawFeature
	switch head.Type {
	case "FeatureCollection":
		var fc rawCollection
		if err := json.Unmarshal(data, &fc); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", source, ErrParse, err)
		}
		feats = fc.Features
	case "Feature":
		var f rawFeature
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", source, ErrParse, err)
		}
		feats = []rawFeature{f}
	default:
		return nil, fmt.Errorf("%s: %w: type %q, want FeatureCollection", source, ErrParse, head.Type)
	}
	if len(feats) == 0 {
		return nil, fmt.Errorf("%s: %w: no features", source, ErrEmptyGeometry)
	}
	maxKm2 := opts.MaxAreaKm2
	if maxKm2 <= 0 {
		maxKm2 = DefaultMaxAreaKm2
	}
	w := &Watchlist{}
	var errs []error
	seen := map[string]int{}
	for i, f := range feats {
		a, err := parseFeature(f, maxKm2)
		if err == nil {
			if j, dup := seen[a.ID]; dup {
				err = fmt.Errorf("%w: also feature %d", ErrDuplicateID, j)
			} else {
				seen[a.ID] = i
			}
		}
		if err != nil {
			errs = append(errs, &ValidationError{Source: source, Index: i, ID: featureID(f), Problem: err})
			continue
		}
		w.Areas = append(w.Areas, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return w, nil
}

func featureID(f rawFeature) string {
	if s, ok := f.Properties["id"].(string); ok && s != "" {
		return s
	}
	var s string
	if json.Unmarshal(f.ID, &s) == nil {
		return s
	}
	return ""
}

func parseFeature(f rawFeature, maxKm2 float64) (Area, error) {
	id := featureID(f)
	if !slugPattern.MatchString(id) || len(id) > 64 {
		return Area{}, fmt.Errorf("%w: %q (want lower-case letters and digits, separated by single hyphens or underscores, at most 64)", ErrBadID, id)
	}
	if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
		return Area{}, ErrEmptyGeometry
	}
	if err := checkPositions(f.Geometry); err != nil {
		return Area{}, err
	}
	g, err := geojson.UnmarshalGeometry(f.Geometry)
	if err != nil {
		return Area{}, fmt.Errorf("%w: geometry: %w", ErrParse, err)
	}
	var mp orb.MultiPolygon
	switch t := g.Geometry().(type) {
	case orb.Polygon:
		mp = orb.MultiPolygon{t}
	case orb.MultiPolygon:
		mp = t
	case nil:
		return Area{}, ErrEmptyGeometry
	default:
		return Area{}, fmt.Errorf("%w: %s", ErrGeometryType, t.GeoJSONType())
	}
	if err := validateGeometry(mp); err != nil {
		return Area{}, err
	}
	props := map[string]any{}
	for k, v := range f.Properties {
		props[k] = v
	}
	props["id"] = id
	name, _ := props["name"].(string)
	if name == "" {
		name = id
	}
	a := Area{ID: id, Name: name, Geometry: mp, Properties: props}
	if km2 := a.AreaKm2(); math.IsNaN(km2) || math.IsInf(km2, 0) {
		b := mp.Bound()
		return Area{}, fmt.Errorf("%w: its area cannot be measured on one UTM zone (it spans %.1f° of longitude)", ErrTooLarge, b.Max[0]-b.Min[0])
	} else if km2 > maxKm2 {
		return Area{}, fmt.Errorf("%w: %.1f km² > %.1f km²", ErrTooLarge, km2, maxKm2)
	} else if km2 <= 0 {
		return Area{}, fmt.Errorf("%w: zero area", ErrEmptyGeometry)
	}
	return a, nil
}

// checkPositions refuses positions that are not two or three numbers, which
// the GeoJSON decoder would otherwise pad or truncate silently.
func checkPositions(raw json.RawMessage) error {
	var g struct {
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal(raw, &g); err != nil || len(g.Coordinates) == 0 {
		return nil // the decoder reports it
	}
	var v any
	if err := json.Unmarshal(g.Coordinates, &v); err != nil {
		return fmt.Errorf("%w: coordinates: %w", ErrParse, err)
	}
	var walk func(v any) error
	walk = func(v any) error {
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%w: coordinates hold %v where an array belongs", ErrParse, v)
		}
		if len(arr) > 0 {
			if _, isNum := arr[0].(float64); isNum {
				if len(arr) < 2 || len(arr) > 3 {
					return fmt.Errorf("%w: position %v has %d numbers, want 2 or 3", ErrParse, arr, len(arr))
				}
				for _, x := range arr {
					if _, ok := x.(float64); !ok {
						return fmt.Errorf("%w: position %v holds a non-number", ErrParse, arr)
					}
				}
				return nil
			}
		}
		for _, e := range arr {
			if err := walk(e); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(v)
}

func validateGeometry(mp orb.MultiPolygon) error {
	if len(mp) == 0 {
		return ErrEmptyGeometry
	}
	n := 0
	for pi, p := range mp {
		if len(p) == 0 {
			return fmt.Errorf("%w: polygon %d has no rings", ErrEmptyGeometry, pi)
		}
		for ri, r := range p {
			n += len(r)
			if n > maxVertices {
				return fmt.Errorf("%w: more than %d vertices", ErrTooLarge, maxVertices)
			}
			if len(r) == 0 {
				return fmt.Errorf("%w: polygon %d ring %d is empty", ErrEmptyGeometry, pi, ri)
			}
			for vi, pt := range r {
				if !(pt[0] >= -180 && pt[0] <= 180 && pt[1] >= -90 && pt[1] <= 90) {
					return fmt.Errorf("%w: polygon %d ring %d position %d is [%g, %g]", ErrCoordinateRange, pi, ri, vi, pt[0], pt[1])
				}
			}
			if len(r) < 4 {
				return fmt.Errorf("%w: polygon %d ring %d has %d", ErrShortRing, pi, ri, len(r))
			}
			if !r.Closed() {
				return fmt.Errorf("%w: polygon %d ring %d starts at %v and ends at %v", ErrOpenRing, pi, ri, r[0], r[len(r)-1])
			}
			for vi := 1; vi < len(r); vi++ {
				if math.Abs(r[vi][0]-r[vi-1][0]) > 180 {
					return fmt.Errorf("%w: polygon %d ring %d edge %d jumps from %g to %g", ErrAntimeridian, pi, ri, vi-1, r[vi-1][0], r[vi][0])
				}
			}
		}
		if err := checkSimple(p); err != nil {
			return fmt.Errorf("polygon %d: %w", pi, err)
		}
	}
	return nil
}

type edge struct {
	ring, idx int
	a, b      orb.Point
}

// checkSimple reports whether any two non-adjacent edges of a polygon's rings
// touch or cross. Edges are sorted by their lowest x so the sweep stays near
// linear for ordinary shapes.
func checkSimple(p orb.Polygon) error {
	var edges []edge
	for ri, r := range p {
		for i := 0; i+1 < len(r); i++ {
			if r[i] == r[i+1] {
				continue // repeated position, harmless
			}
			edges = append(edges, edge{ri, i, r[i], r[i+1]})
		}
	}
	minX := func(e edge) float64 { return math.Min(e.a[0], e.b[0]) }
	maxX := func(e edge) float64 { return math.Max(e.a[0], e.b[0]) }
	sort.Slice(edges, func(i, j int) bool { return minX(edges[i]) < minX(edges[j]) })
	for i := range edges {
		for j := i + 1; j < len(edges) && minX(edges[j]) <= maxX(edges[i]); j++ {
			e, f := edges[i], edges[j]
			if e.ring == f.ring && adjacent(e, f, len(p[e.ring])) {
				continue
			}
			if segmentsIntersect(e.a, e.b, f.a, f.b) {
				return fmt.Errorf("%w: ring %d edge %d meets ring %d edge %d", ErrSelfIntersection, e.ring, e.idx, f.ring, f.idx)
			}
		}
	}
	return nil
}

// adjacent reports whether two edges of one ring share a vertex by
// construction (neighbours, including across the closing position).
func adjacent(e, f edge, ringLen int) bool {
	last := ringLen - 2 // index of the last edge
	d := e.idx - f.idx
	if d == 1 || d == -1 {
		return sharesOnlyEndpoint(e, f)
	}
	if (e.idx == 0 && f.idx == last) || (f.idx == 0 && e.idx == last) {
		return sharesOnlyEndpoint(e, f)
	}
	return false
}

// sharesOnlyEndpoint is false when two neighbouring edges fold back onto each
// other (a spike), which is a self-intersection.
func sharesOnlyEndpoint(e, f edge) bool {
	var shared, eo, fo orb.Point
	switch {
	case e.b == f.a:
		shared, eo, fo = e.b, e.a, f.b
	case e.a == f.b:
		shared, eo, fo = e.a, e.b, f.a
	default:
		return true
	}
	if orient(shared, eo, fo) != 0 {
		return true
	}
	// Collinear: fine only if they point in opposite directions from the shared vertex.
	return (eo[0]-shared[0])*(fo[0]-shared[0])+(eo[1]-shared[1])*(fo[1]-shared[1]) < 0
}

func orient(a, b, c orb.Point) int {
	v := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func onSegment(a, b, p orb.Point) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

func segmentsIntersect(p1, p2, q1, q2 orb.Point) bool {
	d1, d2 := orient(q1, q2, p1), orient(q1, q2, p2)
	d3, d4 := orient(p1, p2, q1), orient(p1, p2, q2)
	if d1*d2 < 0 && d3*d4 < 0 {
		return true
	}
	return (d1 == 0 && onSegment(q1, q2, p1)) || (d2 == 0 && onSegment(q1, q2, p2)) ||
		(d3 == 0 && onSegment(p1, p2, q1)) || (d4 == 0 && onSegment(p1, p2, q2))
}

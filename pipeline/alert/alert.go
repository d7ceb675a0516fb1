// Package alert owns the alert file: an RFC 7946 GeoJSON FeatureCollection
// with one Feature per changed region, WGS84 coordinates rounded to seven
// decimals, properties in a fixed order with types GDAL's GeoJSON driver
// (and so QGIS) reads as they are meant, ids derived from content, and
// byte-identical output for identical input.
package alert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/paulmach/orb"

	"compoundwatch/geo"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/period"
)

// ErrFile is wrapped by every failure to read an alert file.
var ErrFile = errors.New("alert: bad alert file")

// Real is a float that is always written with a decimal point, so GDAL's
// GeoJSON driver (and QGIS) types the field Real even when every value in a
// file happens to be whole.
type Real float64

// MarshalJSON writes the shortest representation, with ".0" when whole.
func (r Real) MarshalJSON() ([]byte, error) {
	v := float64(r)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("alert: %v is not a JSON number", v)
	}
	b := strconv.AppendFloat(nil, v, 'f', -1, 64)
	if !bytes.ContainsAny(b, ".eE") {
		b = append(b, '.', '0')
	}
	return b, nil
}

// Properties are an alert's attributes, in output order.
type Properties struct {
	ID              string   `json:"id"`
	AOI             string   `json:"aoi"`
	Kind            string   `json:"kind"`
	Before          string   `json:"before"` // ISO 8601 interval of dates
	After           string   `json:"after"`
	AreaHa          Real     `json:"area_ha"`
	Confidence      Real     `json:"confidence"`
	ConfidenceClass string   `json:"confidence_class"` // low or high
	ScoreMean       Real     `json:"score_mean"`
	ValidObsBefore  int      `json:"valid_obs_before"`
	ValidObsAfter   int      `json:"valid_obs_after"`
	ScenesBefore    []string `json:"scenes_before"`
	ScenesAfter     []string `json:"scenes_after"`
	DetectorVersion string   `json:"detector_version"`
}

// Alert is one Feature.
type Alert struct {
	Geometry   orb.Polygon // WGS84 lon/lat
	Properties Properties
}

// Collection is an alert file's content.
type Collection struct {
	Alerts []Alert
}

// Pair names what a detection compared.
type Pair struct {
	AOI           string
	Before, After period.Period
	ScenesBefore  []string
	ScenesAfter   []string
}

// FromDetections converts detections on grid CRS epsg to alerts: geometry
// reprojected to WGS84 and rounded, ids from the pair and the geometry.
func FromDetections(pair Pair, epsg int, dets []detect.Detection) (Collection, error) {
	var c Collection
	sb := slices.Sorted(slices.Values(pair.ScenesBefore))
	sa := slices.Sorted(slices.Values(pair.ScenesAfter))
	for _, d := range dets {
		poly := d.Polygon.Clone()
		for _, ring := range poly {
			if err := geo.Transform(epsg, 4326, ring); err != nil {
				return Collection{}, fmt.Errorf("reproject alert of %s: %w", pair.AOI, err)
			}
		}
		poly = roundPolygon(poly)
		class := "low"
		if d.High {
			class = "high"
		}
		p := Properties{
			AOI:             pair.AOI,
			Kind:            string(d.Kind),
			Before:          pair.Before.String(),
			After:           pair.After.String(),
			AreaHa:          Real(round(d.AreaHa, 4)),
			Confidence:      Real(round(d.Confidence, 3)),
			ConfidenceClass: class,
			ScoreMean:       Real(round(d.ScoreMean, 3)),
			ValidObsBefore:  d.ValidObsBefore,
			ValidObsAfter:   d.ValidObsAfter,
			ScenesBefore:    sb,
			ScenesAfter:     sa,
			DetectorVersion: detect.Version,
		}
		p.ID = ID(pair.AOI, p.Before, p.After, p.Kind, poly)
		c.Alerts = append(c.Alerts, Alert{Geometry: poly, Properties: p})
	}
	return c, nil
}

// ID is deterministic from the area, the periods, the kind and the rounded
// geometry: "<aoi>-<16 hex>".
func ID(aoiID, before, after, kind string, poly orb.Polygon) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", aoiID, before, after, kind)
	for _, ring := range poly {
		for _, pt := range ring {
			fmt.Fprintf(h, "%s,%s;", strconv.FormatFloat(pt[0], 'f', 7, 64), strconv.FormatFloat(pt[1], 'f', 7, 64))
		}
		h.Write([]byte{'|'})
	}
	return aoiID + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func roundPolygon(p orb.Polygon) orb.Polygon {
	out := make(orb.Polygon, 0, len(p))
	for _, ring := range p {
		r := make(orb.Ring, 0, len(ring))
		for _, pt := range ring {
			q := orb.Point{round(pt[0], 7), round(pt[1], 7)}
			if len(r) > 0 && r[len(r)-1] == q {
				continue // rounding merged two vertices
			}
			r = append(r, q)
		}
		if len(r) >= 4 {
			out = append(out, r)
		}
	}
	return out
}

// Feature is one GeoJSON Feature to write: Properties is any JSON-encodable
// value (a struct keeps the order of its fields); a nil Geometry is written
// as null, for records about an area rather than a place.
type Feature struct {
	ID         string
	Geometry   orb.Polygon
	Properties any
}

type fileFeature struct {
	Type       string    `json:"type"`
	ID         string    `json:"id"`
	Properties any       `json:"properties"`
	Geometry   *fileGeom `json:"geometry"`
}

type fileGeom struct {
	Type        string         `json:"type"`
	Coordinates [][][2]float64 `json:"coordinates"`
}

// Marshal encodes the collection as GeoJSON, one feature per line.
func (c Collection) Marshal(name string) ([]byte, error) {
	feats := make([]Feature, len(c.Alerts))
	for i, a := range c.Alerts {
		p := a.Properties
		if p.ScenesBefore == nil {
			p.ScenesBefore = []string{}
		}
		if p.ScenesAfter == nil {
			p.ScenesAfter = []string{}
		}
		feats[i] = Feature{ID: p.ID, Geometry: a.Geometry, Properties: p}
	}
	return MarshalFeatures(name, feats)
}

// MarshalFeatures writes an RFC 7946 FeatureCollection, one feature per line:
// exterior rings counterclockwise, holes clockwise.
func MarshalFeatures(name string, feats []Feature) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"type":"FeatureCollection",`)
	if name != "" {
		n, _ := json.Marshal(name)
		buf.WriteString(`"name":`)
		buf.Write(n)
		buf.WriteByte(',')
	}
	buf.WriteString("\"features\":[")
	for i, f := range feats {
		ff := fileFeature{Type: "Feature", ID: f.ID, Properties: f.Properties}
		if f.Geometry != nil {
			g := fileGeom{Type: "Polygon"}
			for _, ring := range orientRFC7946(f.Geometry) {
				pts := make([][2]float64, len(ring))
				for i, p := range ring {
					pts[i] = [2]float64{p[0], p[1]}
				}
				g.Coordinates = append(g.Coordinates, pts)
			}
			ff.Geometry = &g
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n")
		b, err := json.Marshal(ff)
		if err != nil {
			return nil, fmt.Errorf("encode alert %s: %w", f.ID, err)
		}
		buf.Write(b)
	}
	buf.WriteString("\n]}\n")
	return buf.Bytes(), nil
}

// orientRFC7946 makes exterior rings counterclockwise and holes clockwise.
func orientRFC7946(p orb.Polygon) orb.Polygon {
	out := p.Clone()
	for i, ring := range out {
		ccw := ring.Orientation() == orb.CCW
		if (i == 0) != ccw {
			ring.Reverse()
		}
	}
	return out
}

type readFeature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"` // other tools write numbers
	Properties Properties      `json:"properties"`
	Geometry   *fileGeom       `json:"geometry"`
}

type readCollection struct {
	Type     string        `json:"type"`
	Features []readFeature `json:"features"`
}

// Unmarshal reads an alert file (or any GeoJSON FeatureCollection of
// polygons: unknown properties are ignored, and features without geometry,
// such as a week's no-clear-observation record, are skipped).
func Unmarshal(data []byte) (Collection, error) {
	var fc readCollection
	if err := json.Unmarshal(data, &fc); err != nil {
		return Collection{}, fmt.Errorf("%w: %w", ErrFile, err)
	}
	if fc.Type != "FeatureCollection" {
		return Collection{}, fmt.Errorf("%w: type %q, want FeatureCollection", ErrFile, fc.Type)
	}
	var c Collection
	for i, f := range fc.Features {
		if f.Geometry == nil {
			continue // a record about the area, not an alert
		}
		if f.Geometry.Type != "Polygon" {
			return Collection{}, fmt.Errorf("%w: feature %d (%s): geometry %q, want Polygon", ErrFile, i, f.ID, f.Geometry.Type)
		}
		var poly orb.Polygon
		for _, ring := range f.Geometry.Coordinates {
			r := make(orb.Ring, len(ring))
			for j, p := range ring {
				r[j] = orb.Point{p[0], p[1]}
			}
			poly = append(poly, r)
		}
		if len(poly) == 0 || len(poly[0]) < 4 {
			return Collection{}, fmt.Errorf("%w: feature %d (%s): empty polygon", ErrFile, i, f.ID)
		}
		c.Alerts = append(c.Alerts, Alert{Geometry: poly, Properties: f.Properties})
	}
	return c, nil
}

// ReadFile reads an alert file from local disk.
func ReadFile(path string) (Collection, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Collection{}, fmt.Errorf("read alerts %s: %w", path, err)
	}
	c, err := Unmarshal(data)
	if err != nil {
		return Collection{}, fmt.Errorf("alerts %s: %w", path, err)
	}
	return c, nil
}

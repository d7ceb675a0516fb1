package stac

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Sentinel errors.
var (
	ErrItem        = errors.New("stac: malformed item")
	ErrMissingBand = errors.New("stac: item has no asset for band")
	ErrCatalog     = errors.New("stac: catalog request failed")
	ErrHref        = errors.New("stac: asset href refused")
)

// Item is a STAC Item with the fields compoundwatch reads.
type Item struct {
	ID         string
	Collection string
	Geometry   orb.Geometry // lon/lat; nil when the item has none
	BBox       orb.Bound
	Datetime   time.Time
	Properties map[string]any
	Assets     map[string]Asset

	// Origin says where the item came from, which decides how its relative
	// hrefs resolve and which hrefs may be opened.
	Origin Origin
}

// Origin is where an item was read from.
type Origin struct {
	URL     string // the item's own URL or file path ("" for search results)
	Local   bool   // read from a file on disk
	RootDir string // for local catalogs: the folder relative hrefs must stay in
}

// Asset is one file of an item.
type Asset struct {
	Href        string       `json:"href"`
	Type        string       `json:"type,omitempty"`
	Roles       []string     `json:"roles,omitempty"`
	EOBands     []EOBand     `json:"eo:bands,omitempty"`
	RasterBands []RasterBand `json:"raster:bands,omitempty"`
}

// EOBand is an entry of eo:bands.
type EOBand struct {
	Name       string `json:"name"`
	CommonName string `json:"common_name"`
}

// RasterBand is an entry of raster:bands.
type RasterBand struct {
	Nodata   *float64 `json:"nodata,omitempty"`
	DataType string   `json:"data_type,omitempty"`
	Scale    *float64 `json:"scale,omitempty"`
	Offset   *float64 `json:"offset,omitempty"`
}

type rawItem struct {
	Type       string           `json:"type"`
	ID         string           `json:"id"`
	Collection string           `json:"collection"`
	Geometry   json.RawMessage  `json:"geometry"`
	BBox       []float64        `json:"bbox"`
	Properties map[string]any   `json:"properties"`
	Assets     map[string]Asset `json:"assets"`
	Links      []Link           `json:"links"`
}

// Link is a STAC link, including the POST paging form.
type Link struct {
	Rel    string         `json:"rel"`
	Href   string         `json:"href"`
	Type   string         `json:"type,omitempty"`
	Method string         `json:"method,omitempty"`
	Body   map[string]any `json:"body,omitempty"`
	Merge  bool           `json:"merge,omitempty"`
}

// ParseItem decodes one STAC Item. Errors name the item.
func ParseItem(data []byte) (Item, error) {
	var r rawItem
	if err := json.Unmarshal(data, &r); err != nil {
		return Item{}, fmt.Errorf("%w: %w", ErrItem, err)
	}
	return r.toItem()
}

func (r rawItem) toItem() (Item, error) {
	if r.ID == "" {
		return Item{}, fmt.Errorf("%w: no id", ErrItem)
	}
	if r.Type != "" && r.Type != "Feature" {
		return Item{}, fmt.Errorf("%w: item %s: type %q", ErrItem, r.ID, r.Type)
	}
	it := Item{ID: r.ID, Collection: r.Collection, Properties: r.Properties, Assets: r.Assets}
	if it.Properties == nil {
		return Item{}, fmt.Errorf("%w: item %s: no properties", ErrItem, r.ID)
	}
	dt, _ := it.Properties["datetime"].(string)
	if dt == "" {
		dt, _ = it.Properties["start_datetime"].(string)
	}
	t, err := time.Parse(time.RFC3339Nano, dt)
	if err != nil {
		return Item{}, fmt.Errorf("%w: item %s: datetime %q: %w", ErrItem, r.ID, dt, err)
	}
	it.Datetime = t.UTC()
	if len(r.Geometry) > 0 && string(r.Geometry) != "null" {
		g, err := geojson.UnmarshalGeometry(r.Geometry)
		if err != nil {
			return Item{}, fmt.Errorf("%w: item %s: geometry: %w", ErrItem, r.ID, err)
		}
		it.Geometry = g.Geometry()
	}
	switch {
	case len(r.BBox) == 4:
		it.BBox = orb.Bound{Min: orb.Point{r.BBox[0], r.BBox[1]}, Max: orb.Point{r.BBox[2], r.BBox[3]}}
	case len(r.BBox) == 6:
		it.BBox = orb.Bound{Min: orb.Point{r.BBox[0], r.BBox[1]}, Max: orb.Point{r.BBox[3], r.BBox[4]}}
	case it.Geometry != nil:
		it.BBox = it.Geometry.Bound()
	default:
		return Item{}, fmt.Errorf("%w: item %s: neither bbox nor geometry", ErrItem, r.ID)
	}
	for _, v := range it.BBox.Min {
		if math.IsNaN(v) {
			return Item{}, fmt.Errorf("%w: item %s: bbox", ErrItem, r.ID)
		}
	}
	if it.Assets == nil {
		it.Assets = map[string]Asset{}
	}
	return it, nil
}

func (it Item) str(key string) string {
	switch v := it.Properties[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// CloudCover is eo:cloud_cover in percent.
func (it Item) CloudCover() (float64, bool) {
	v, ok := it.Properties["eo:cloud_cover"].(float64)
	return v, ok
}

// Sequence is s2:sequence (a string on Earth Search), or 0.
func (it Item) Sequence() int {
	n, _ := strconv.Atoi(it.str("s2:sequence"))
	return n
}

// Platform is the lower-cased platform, e.g. "sentinel-2a".
func (it Item) Platform() string { return strings.ToLower(it.str("platform")) }

// Tile is the MGRS tile, e.g. "13TDE", from grid:code, s2:mgrs_tile or the
// mgrs:* properties; "" if none.
func (it Item) Tile() string {
	if g := it.str("grid:code"); strings.HasPrefix(g, "MGRS-") {
		return strings.TrimPrefix(g, "MGRS-")
	}
	if t := it.str("s2:mgrs_tile"); t != "" {
		return t
	}
	if z, ok := it.Properties["mgrs:utm_zone"].(float64); ok {
		return fmt.Sprintf("%02d%s%s", int(z), it.str("mgrs:latitude_band"), it.str("mgrs:grid_square"))
	}
	return ""
}

// Baseline is s2:processing_baseline as a number (4.0 for "04.00"); 0 if absent.
func (it Item) Baseline() float64 {
	b, _ := strconv.ParseFloat(it.str("s2:processing_baseline"), 64)
	return b
}

// commonNames maps Planetary Computer's band asset keys to Earth Search's.
var commonNames = map[string]string{
	"B01": "coastal", "B02": "blue", "B03": "green", "B04": "red",
	"B05": "rededge1", "B06": "rededge2", "B07": "rededge3", "B08": "nir",
	"B8A": "nir08", "B09": "nir09", "B10": "cirrus", "B11": "swir16", "B12": "swir22",
	"SCL": "scl",
}

// Asset finds the asset of a band by its Earth Search key ("red", "scl"):
// the key itself, an asset whose eo:bands common name matches, or the
// Planetary Computer key (B04, SCL). JP2 twins are never chosen.
func (it Item) Asset(band string) (string, Asset, bool) {
	if a, ok := it.Assets[band]; ok {
		return band, a, true
	}
	for k, name := range commonNames {
		if name == band {
			if a, ok := it.Assets[k]; ok {
				return k, a, true
			}
		}
	}
	for k, a := range it.Assets {
		if strings.HasSuffix(k, "-jp2") || len(a.EOBands) != 1 {
			continue
		}
		if a.EOBands[0].CommonName == band {
			return k, a, true
		}
	}
	return "", Asset{}, false
}

// Reflectance returns the scale and offset that turn digital numbers of a
// reflectance band into surface (or top-of-atmosphere) reflectance:
// reflectance = DN × scale + offset. The rules (docs/sentinel-and-gdal.md):
//   - scale and offset come from the asset's raster:bands;
//   - Earth Search sentinel-2-l2a items with earthsearch:boa_offset_applied
//     already had the 1000 DN removed: offset 0, whatever they list;
//   - below processing baseline 04.00 there is no offset;
//   - items without raster:bands (Planetary Computer) get scale 1e-4 and
//     offset -0.1 from baseline 04.00 on.
func (it Item) Reflectance(band string) (scale, offset float64, err error) {
	_, a, ok := it.Asset(band)
	if !ok {
		return 0, 0, fmt.Errorf("%w: item %s band %s", ErrMissingBand, it.ID, band)
	}
	scale, offset = 1e-4, 0
	baseline := it.Baseline()
	if len(a.RasterBands) > 0 {
		if s := a.RasterBands[0].Scale; s != nil {
			scale = *s
		}
		if o := a.RasterBands[0].Offset; o != nil {
			offset = *o
		}
	} else if baseline >= 4 {
		offset = -0.1
	}
	if applied, _ := it.Properties["earthsearch:boa_offset_applied"].(bool); applied {
		offset = 0
	}
	if baseline > 0 && baseline < 4 {
		offset = 0
	}
	return scale, offset, nil
}

// Nodata is the declared nodata of a band's asset (0 for Sentinel-2 when unsaid).
func (it Item) Nodata(band string) float64 {
	if _, a, ok := it.Asset(band); ok && len(a.RasterBands) > 0 && a.RasterBands[0].Nodata != nil {
		return *a.RasterBands[0].Nodata
	}
	return 0
}

package aoi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func fc(features ...string) []byte {
	return []byte(`{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`)
}

func feature(id, geometry string) string {
	return fmt.Sprintf(`{"type":"Feature","properties":{"id":%q,"name":"N","extra":7},"geometry":%s}`, id, geometry)
}

const square = `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.65],[98.5,16.6]]]}`

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
		in   string // the message must name this
	}{
		{"bad id", fc(feature("KK Park", square)), ErrBadID, `"KK Park"`},
		{"trailing hyphen", fc(feature("kk-", square)), ErrBadID, "feature 0"},
		{"double separator", fc(feature("kk_-park", square)), ErrBadID, "feature 0"},
		{"one-number position", fc(feature("kk", `{"type":"Polygon","coordinates":[[[98.5,16.6],[170],[98.55,16.65],[98.5,16.6]]]}`)), ErrParse, "[170] has 1 numbers"},
		{"half the globe wide", fc(feature("kk", `{"type":"Polygon","coordinates":[[[0,0],[170,0],[0,1],[0,0]]]}`)), ErrTooLarge, "170.0° of longitude"},
		{"four-number position", fc(feature("kk", `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6,0,1],[98.55,16.65],[98.5,16.6]]]}`)), ErrParse, "has 4 numbers"},
		{"missing id", fc(`{"type":"Feature","properties":{},"geometry":` + square + `}`), ErrBadID, "feature 0"},
		{"duplicate id", fc(feature("a", square), feature("a", square)), ErrDuplicateID, `feature 1 (id "a")`},
		{"open ring", fc(feature("open", `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.65]]]}`)), ErrOpenRing, `id "open"`},
		{"bow tie", fc(feature("bowtie", `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.65],[98.55,16.6],[98.5,16.65],[98.5,16.6]]]}`)), ErrSelfIntersection, `id "bowtie"`},
		{"spike", fc(feature("spike", `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.6,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.6]]]}`)), ErrSelfIntersection, `id "spike"`},
		{"hole crossing shell", fc(feature("hole", `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.65],[98.5,16.6]],[[98.52,16.62],[98.6,16.62],[98.6,16.63],[98.52,16.63],[98.52,16.62]]]}`)), ErrSelfIntersection, `id "hole"`},
		{"latitude out of range", fc(feature("lat", `{"type":"Polygon","coordinates":[[[98.5,96.6],[98.55,96.6],[98.55,96.65],[98.5,96.6]]]}`)), ErrCoordinateRange, `id "lat"`},
		{"antimeridian", fc(feature("fiji", `{"type":"Polygon","coordinates":[[[179.9,-17],[-179.9,-17],[-179.9,-16.9],[179.9,-16.9],[179.9,-17]]]}`)), ErrAntimeridian, `id "fiji"`},
		{"null geometry", fc(`{"type":"Feature","properties":{"id":"nul"},"geometry":null}`), ErrEmptyGeometry, `id "nul"`},
		{"empty polygon", fc(feature("empty", `{"type":"Polygon","coordinates":[]}`)), ErrEmptyGeometry, `id "empty"`},
		{"point", fc(feature("pt", `{"type":"Point","coordinates":[98.5,16.6]}`)), ErrGeometryType, `id "pt"`},
		{"too large", fc(feature("huge", `{"type":"Polygon","coordinates":[[[98,16],[99,16],[99,17],[98,17],[98,16]]]}`)), ErrTooLarge, `id "huge"`},
		{"short ring", fc(feature("short", `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.5,16.6]]]}`)), ErrShortRing, `id "short"`},
		{"no features", fc(), ErrEmptyGeometry, "test.geojson"},
		{"not json", []byte(`{"type":`), ErrParse, "test.geojson"},
		{"wrong type", []byte(`{"type":"Polygon","coordinates":[]}`), ErrParse, `"Polygon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.geojson", tt.data, Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.in) || !strings.Contains(err.Error(), "test.geojson") {
				t.Fatalf("error %q does not name %s in test.geojson", err, tt.in)
			}
		})
	}
}

func TestParseReportsEveryBadFeature(t *testing.T) {
	_, err := Parse("w.geojson", fc(feature("ok", square), feature("Bad", square), feature("open", `{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.65]]]}`)), Options{})
	if !errors.Is(err, ErrBadID) || !errors.Is(err, ErrOpenRing) {
		t.Fatalf("want both problems reported, got %v", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Index != 1 {
		t.Fatalf("first ValidationError should be feature 1, got %+v", ve)
	}
}

func TestParseKeepsProperties(t *testing.T) {
	w, err := Parse("t", fc(feature("kk-park", square)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := w.Areas[0]
	if a.ID != "kk-park" || a.Name != "N" || a.Properties["extra"] != float64(7) {
		t.Fatalf("area %+v", a)
	}
	// 0.05° x 0.05° at 16.6°N is about 5.33 km x 5.54 km.
	if km2 := a.AreaKm2(); km2 < 29.3 || km2 > 29.7 {
		t.Fatalf("area %.3f km², want about 29.5", km2)
	}
	if c := a.Centroid(); c[0] < 98.5249 || c[0] > 98.5251 || c[1] < 16.6249 || c[1] > 16.6251 {
		t.Fatalf("centroid %v", c)
	}
}

func TestMaxAreaIsConfigurable(t *testing.T) {
	data := fc(feature("sq", square))
	if _, err := Parse("t", data, Options{MaxAreaKm2: 10}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("10 km² limit: %v", err)
	}
	if _, err := Parse("t", data, Options{MaxAreaKm2: 30}); err != nil {
		t.Fatalf("30 km² limit: %v", err)
	}
}

func TestBuiltin(t *testing.T) {
	w, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	ids := w.IDs()
	for _, want := range []string{"mm-kk-park", "mm-shwe-kokko", "mm-lay-kay-kaw", "mm-myawaddy-town", "mm-payathonzu-three-pagodas",
		"kh-sihanoukville-central", "kh-bavet", "la-golden-triangle-sez", "ph-bamban"} {
		if !slices.Contains(ids, want) {
			t.Errorf("built-in watchlist lacks %s", want)
		}
	}
	for _, a := range w.Areas {
		if a.String("source") == "" || a.String("confidence") == "" || a.String("country") == "" {
			t.Errorf("%s lost its source, confidence or country", a.ID)
		}
		// The tiles we compute agree with the tiles the sources list.
		var listed []string
		for _, v := range a.Properties["s2_tiles"].([]any) {
			listed = append(listed, v.(string))
		}
		slices.Sort(listed)
		if got := a.S2Tiles(); !slices.Equal(got, listed) {
			t.Errorf("%s: S2Tiles() = %v, sources list %v", a.ID, got, listed)
		}
		// Areas agree with the listed km² within 1%.
		listedKm2 := a.Properties["area_km2"].(float64)
		if km2 := a.AreaKm2(); km2 < listedKm2*0.99 || km2 > listedKm2*1.01 {
			t.Errorf("%s: %.2f km², sources list %.2f", a.ID, km2, listedKm2)
		}
	}
}

func TestUTMEPSG(t *testing.T) {
	tests := []struct {
		lon, lat float64
		want     int
	}{
		{98.53, 16.82, 32647}, {-1.65, 48.1, 32630}, {-47.9, -15.8, 32723}, {180, 0, 32660}, {-180, -1, 32701},
	}
	for _, tt := range tests {
		if got := UTMEPSG([2]float64{tt.lon, tt.lat}); got != tt.want {
			t.Errorf("UTMEPSG(%g, %g) = %d, want %d", tt.lon, tt.lat, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	areas, err := Resolve("mm-kk-park", Options{})
	if err != nil || len(areas) != 1 || areas[0].ID != "mm-kk-park" {
		t.Fatalf("built-in id: %v %v", areas, err)
	}
	p := filepath.Join(t.TempDir(), "mine.geojson")
	if err := os.WriteFile(p, fc(feature("mine", square)), 0o644); err != nil {
		t.Fatal(err)
	}
	areas, err = Resolve(p, Options{})
	if err != nil || len(areas) != 1 || areas[0].ID != "mine" {
		t.Fatalf("file: %v %v", areas, err)
	}
	if _, err := Resolve("no-such-place", Options{}); !errors.Is(err, ErrUnknownID) {
		t.Fatalf("unknown: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.geojson")
	os.WriteFile(bad, fc(feature("Bad Id", square)), 0o644)
	if _, err := Resolve(bad, Options{}); !errors.Is(err, ErrBadID) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(fc(feature("a", square)))
	f.Add(builtinWatchlist)
	f.Add([]byte(`{"type":"Feature","properties":{"id":"x"},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Parse("fuzz", data, Options{})
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, a := range w.Areas {
			if !slugPattern.MatchString(a.ID) || seen[a.ID] {
				t.Fatalf("accepted bad or duplicate id %q", a.ID)
			}
			seen[a.ID] = true
			if km2 := a.AreaKm2(); !(km2 > 0 && km2 <= DefaultMaxAreaKm2*1.01) {
				t.Fatalf("accepted area of %g km²", km2)
			}
			_ = a.S2Tiles()
		}
	})
}

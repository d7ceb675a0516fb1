package stac

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"compoundwatch/pipeline/period"
)

const recorded = "../../../shared/stac/"

// readRecorded returns a recorded file, unwrapping {"_request","response"} envelopes.
func readRecorded(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(recorded + name)
	if err != nil {
		t.Fatalf("recorded response: %v", err)
	}
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if json.Unmarshal(b, &env) == nil && len(env.Response) > 0 {
		return env.Response
	}
	return b
}

func TestRecordedItems(t *testing.T) {
	tests := []struct {
		file         string
		tile         string
		seq          int
		band, key    string
		scale, off   float64
		hasSCL       bool
		baselineNear float64
	}{
		// l2a with boa_offset_applied: listed offset -0.1 must become 0.
		{"earth-search-v1_sentinel-2-l2a_item_S2A_13TDE_20231008_0_L2A.json", "13TDE", 0, "red", "red", 1e-4, 0, true, 5.09},
		// c1: raw pixels, the item's -0.1 applies.
		{"earth-search-v1_sentinel-2-c1-l2a_item_S2B_T20EPT_20250731T131905_L2A.json", "20EPT", 0, "swir16", "swir16", 1e-4, -0.1, true, 5.11},
		// Planetary Computer: no raster:bands, baseline 02.12: no offset; keys B04/SCL.
		{"planetary-computer_sentinel-2-l2a_item_S2A_MSIL2A_20190101T000001_R116_T60VUK_20201007T214652.json", "60VUK", 0, "red", "B04", 1e-4, 0, true, 2.12},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			it, err := ParseItem(readRecorded(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if it.Tile() != tt.tile || it.Sequence() != tt.seq {
				t.Errorf("tile %q seq %d", it.Tile(), it.Sequence())
			}
			if math.Abs(it.Baseline()-tt.baselineNear) > 1e-9 {
				t.Errorf("baseline %g", it.Baseline())
			}
			key, _, ok := it.Asset(tt.band)
			if !ok || key != tt.key {
				t.Fatalf("asset for %s: %q %v", tt.band, key, ok)
			}
			s, o, err := it.Reflectance(tt.band)
			if err != nil || math.Abs(s-tt.scale) > 1e-12 || math.Abs(o-tt.off) > 1e-12 {
				t.Errorf("reflectance %g, %g, %v; want %g, %g", s, o, err, tt.scale, tt.off)
			}
			if _, _, ok := it.Asset("scl"); ok != tt.hasSCL {
				t.Errorf("scl asset %v", ok)
			}
			if _, _, err := it.Reflectance("no-such-band"); !errors.Is(err, ErrMissingBand) || !strings.Contains(err.Error(), it.ID) {
				t.Errorf("missing band error %v", err)
			}
		})
	}
}

func TestReflectanceRules(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	mk := func(baseline string, applied any, rb []RasterBand) Item {
		props := map[string]any{"s2:processing_baseline": baseline}
		if applied != nil {
			props["earthsearch:boa_offset_applied"] = applied
		}
		return Item{ID: "x", Properties: props, Assets: map[string]Asset{"red": {Href: "https://h/r.tif", RasterBands: rb}}}
	}
	listed := []RasterBand{{Scale: f(1e-4), Offset: f(-0.1)}}
	tests := []struct {
		name string
		it   Item
		off  float64
	}{
		{"c1 raw pixels", mk("05.11", nil, listed), -0.1},
		{"l2a offset applied", mk("05.09", true, listed), 0},
		{"l2a offset not applied", mk("04.00", false, listed), -0.1},
		{"pre-04.00 never offset", mk("03.01", nil, listed), 0},
		{"PC after 04.00", mk("04.00", nil, nil), -0.1},
		{"PC before 04.00", mk("02.12", nil, nil), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, off, err := tt.it.Reflectance("red")
			if err != nil || off != tt.off {
				t.Fatalf("offset %g, %v; want %g", off, err, tt.off)
			}
		})
	}
}

// replay serves recorded search pages: the first request gets page 1 with
// its next link pointed at this server, later ones the page its token names.
func TestSearchFollowsRecordedNextLinks(t *testing.T) {
	page1 := readRecorded(t, "earth-search-v1_search_POST_intersects_page1.json")
	page2 := readRecorded(t, "earth-search-v1_search_POST_intersects_page2_empty.json")
	var bodies []map[string]any
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/search" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		bodies = append(bodies, body)
		if _, ok := body["next"]; ok {
			w.Write(page2)
			return
		}
		w.Write([]byte(strings.ReplaceAll(string(page1), "https://earth-search.aws.element84.com", srv.URL)))
	}))
	defer srv.Close()
	c := &APIClient{Root: srv.URL + "/v1"}
	p, _ := period.Parse("2023-10-08")
	items, err := c.Search(context.Background(), Query{Intersects: orb.Point{-105.1019, 40.1672}, Period: p, Collections: []string{"sentinel-2-l2a"}, MaxCloud: 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || len(bodies) != 2 {
		t.Fatalf("%d items in %d requests", len(items), len(bodies))
	}
	first := bodies[0]
	if first["datetime"] != "2023-10-08T00:00:00Z/2023-10-08T23:59:59.999Z" || first["intersects"] == nil {
		t.Errorf("first body %v", first)
	}
	if q, _ := json.Marshal(first["query"]); string(q) != `{"eo:cloud_cover":{"lte":30}}` {
		t.Errorf("query extension %s", q)
	}
	// merge:false: the second body is the link's body as given, token included.
	if bodies[1]["next"] != "2023-10-08T17:37:26.656958Z,LC08_L2SP_033032_20231008_02_T1,landsat-c2-l2" || bodies[1]["query"] != nil {
		t.Errorf("second body %v", bodies[1])
	}
}

func TestSearchPlanetaryComputerMergeAndRepeatedToken(t *testing.T) {
	// Planetary Computer's recorded next link: POST with the body plus token.
	var page map[string]any
	json.Unmarshal(readRecorded(t, "planetary-computer_search_POST_next_link_TRIMMED.json"), &page)
	// The recorded features are trimmed; the links stay verbatim.
	page["features"] = []any{map[string]any{"type": "Feature", "id": "naip-1", "bbox": []float64{0, 0, 1, 1},
		"properties": map[string]any{"datetime": "2023-11-17T00:00:00Z"}}}
	pc, _ := json.Marshal(page)
	var calls atomic.Int32
	var lastBody map[string]any
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		lastBody = nil
		json.NewDecoder(r.Body).Decode(&lastBody)
		// Always the same page and token: a server stuck in a loop.
		w.Write([]byte(strings.ReplaceAll(string(pc), "https://planetarycomputer.microsoft.com", srv.URL)))
	}))
	defer srv.Close()
	c := &APIClient{Root: srv.URL + "/api/stac/v1"}
	items, err := c.Search(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	// First page, then the token once; the repeated token is not followed again.
	if calls.Load() != 2 || len(items) != 2 {
		t.Fatalf("%d calls, %d items; want 2 and 2", calls.Load(), len(items))
	}
	if lastBody["token"] != "next:naip:mt_m_4911664_se_11_060_20231117_20240103" || lastBody["collections"] == nil {
		t.Fatalf("the next request did not POST the link's body: %v", lastBody)
	}
}

func TestSearchErrors(t *testing.T) {
	t.Run("500 names the URL and status", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, "database on fire", http.StatusInternalServerError)
		}))
		defer srv.Close()
		c := &APIClient{Root: srv.URL, Retry: Retry{Attempts: 3, Base: time.Millisecond}}
		_, err := c.Search(context.Background(), Query{})
		if !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), srv.URL+"/search") || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("error %v", err)
		}
		if calls.Load() != 3 {
			t.Fatalf("%d attempts, want 3", calls.Load())
		}
	})
	t.Run("429 then success", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "0")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			w.Write([]byte(`{"type":"FeatureCollection","features":[],"links":[]}`))
		}))
		defer srv.Close()
		c := &APIClient{Root: srv.URL, Retry: Retry{Base: time.Millisecond}}
		if _, err := c.Search(context.Background(), Query{}); err != nil || calls.Load() != 2 {
			t.Fatalf("err %v after %d calls", err, calls.Load())
		}
	})
	t.Run("400 is not retried", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, "bad", http.StatusBadRequest)
		}))
		defer srv.Close()
		c := &APIClient{Root: srv.URL, Retry: Retry{Base: time.Millisecond}}
		if _, err := c.Search(context.Background(), Query{}); err == nil || calls.Load() != 1 {
			t.Fatalf("err %v after %d calls", err, calls.Load())
		}
	})
	t.Run("next link to another host", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","bbox":[0,0,1,1],"properties":{"datetime":"2025-01-01T00:00:00Z"}}],
				"links":[{"rel":"next","method":"POST","href":"http://169.254.169.254/latest/meta-data","body":{}}]}`))
		}))
		defer srv.Close()
		c := &APIClient{Root: srv.URL}
		if _, err := c.Search(context.Background(), Query{}); !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), "leaves the API host") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("malformed item is named", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"bad-item","bbox":[0,0,1,1],"properties":{"datetime":"yesterday"}}],"links":[]}`))
		}))
		defer srv.Close()
		c := &APIClient{Root: srv.URL}
		if _, err := c.Search(context.Background(), Query{}); !errors.Is(err, ErrItem) || !strings.Contains(err.Error(), "bad-item") {
			t.Fatalf("error %v", err)
		}
	})
}

func item(id, tile, date, seq, platform string, lon float64) Item {
	t, _ := time.Parse(time.RFC3339, date)
	return Item{ID: id, Collection: "sentinel-2-l2a", Datetime: t,
		BBox:       orb.Bound{Min: orb.Point{lon - 0.5, 16}, Max: orb.Point{lon + 0.5, 17}},
		Properties: map[string]any{"grid:code": "MGRS-" + tile, "s2:sequence": seq, "platform": platform}}
}

func TestDeduplicateAndGroup(t *testing.T) {
	items := []Item{
		item("S2A_47QMU_20250104_0_L2A", "47QMU", "2025-01-04T03:50:00Z", "0", "sentinel-2a", 98.5),
		item("S2A_47QMU_20250104_1_L2A", "47QMU", "2025-01-04T03:50:00Z", "1", "sentinel-2a", 98.5),
		item("S2A_47QMV_20250104_0_L2A", "47QMV", "2025-01-04T03:50:02Z", "0", "sentinel-2a", 98.5),
		item("S2B_47QMU_20250107_0_L2A", "47QMU", "2025-01-07T03:50:00Z", "0", "sentinel-2b", 98.5),
		// A pass over the date line: 23:50 UTC on the 3rd is the 4th locally at 179°E.
		item("S2A_60KXF_20250103_0_L2A", "60KXF", "2025-01-03T23:50:00Z", "0", "sentinel-2a", 179),
	}
	got := Deduplicate(items)
	var ids []string
	for _, it := range got {
		ids = append(ids, it.ID)
	}
	want := "S2A_60KXF_20250103_0_L2A S2A_47QMU_20250104_1_L2A S2A_47QMV_20250104_0_L2A S2B_47QMU_20250107_0_L2A"
	if strings.Join(ids, " ") != want {
		t.Fatalf("dedup %v\nwant %s", ids, want)
	}
	passes := GroupPasses(got)
	// 60KXF is on the same solar day as the Myanmar tiles but hours apart: its own pass.
	if len(passes) != 3 || passes[0].SolarDay != "2025-01-04" || passes[0].Items[0].Tile() != "60KXF" ||
		passes[1].SolarDay != "2025-01-04" || len(passes[1].Items) != 2 || passes[2].SolarDay != "2025-01-07" {
		for _, p := range passes {
			t.Logf("%s %s %d", p.SolarDay, p.Platform, len(p.Items))
		}
		t.Fatal("passes")
	}
}

func TestFilter(t *testing.T) {
	a := item("a", "47QMU", "2025-01-04T03:50:00Z", "0", "sentinel-2a", 98.5)
	a.Properties["eo:cloud_cover"] = 40.0
	a.Geometry = orb.Polygon{{{98, 16}, {99, 16}, {99, 17}, {98, 17}, {98, 16}}}
	p, _ := period.Parse("2025-W01")
	inside := orb.Polygon{{{98.4, 16.4}, {98.5, 16.4}, {98.5, 16.5}, {98.4, 16.5}, {98.4, 16.4}}}
	outside := orb.Polygon{{{99.4, 16.4}, {99.5, 16.4}, {99.5, 16.5}, {99.4, 16.5}, {99.4, 16.4}}}
	tests := []struct {
		name string
		q    Query
		keep bool
	}{
		{"match", Query{Intersects: inside, Period: p, MaxCloud: 50}, true},
		{"cloudy", Query{Intersects: inside, Period: p, MaxCloud: 30}, false},
		{"elsewhere", Query{Intersects: outside, Period: p, MaxCloud: 100}, false},
		{"other week", Query{Period: p.Next(), MaxCloud: 100}, false},
		{"other collection", Query{Collections: []string{"sentinel-2-c1-l2a"}, MaxCloud: 100}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(Filter([]Item{a}, tt.q)) == 1; got != tt.keep {
				t.Fatalf("kept %v, want %v", got, tt.keep)
			}
		})
	}
}

func publicLookup(ctx context.Context, host string) ([]string, error) {
	switch host {
	case "sentinel-cogs.s3.us-west-2.amazonaws.com":
		return []string{"52.92.1.1"}, nil
	case "rebind.example":
		return []string{"93.184.215.14", "10.1.2.3"}, nil
	case "localhost":
		return []string{"127.0.0.1", "::1"}, nil
	}
	return nil, errors.New("no such host")
}

func TestHrefPolicy(t *testing.T) {
	remote := func(href string) Item {
		return Item{ID: "S2A_HOSTILE", Assets: map[string]Asset{"red": {Href: href}}, Origin: Origin{URL: "https://catalog.example/items/x.json"}}
	}
	pol := HrefPolicy{LookupHost: publicLookup}
	loopOK := HrefPolicy{LookupHost: publicLookup, AllowLoopback: true}
	allow := HrefPolicy{LookupHost: publicLookup, AllowHosts: []string{"*.amazonaws.com"}}
	tests := []struct {
		name string
		pol  HrefPolicy
		href string
		want string // GDAL name; "" means refused
	}{
		{"https", pol, "https://sentinel-cogs.s3.us-west-2.amazonaws.com/a/B04.tif", "/vsicurl/https://sentinel-cogs.s3.us-west-2.amazonaws.com/a/B04.tif"},
		{"s3", pol, "s3://sentinel-cogs/a/B04.tif", "/vsis3/sentinel-cogs/a/B04.tif"},
		{"allow-list match", allow, "https://sentinel-cogs.s3.us-west-2.amazonaws.com/a/B04.tif", "/vsicurl/https://sentinel-cogs.s3.us-west-2.amazonaws.com/a/B04.tif"},
		{"allow-list miss", allow, "https://evil.example/B04.tif", ""},
		{"file scheme", pol, "file:///etc/passwd", ""},
		{"bare absolute path", pol, "/etc/passwd", ""},
		{"relative path from remote resolves against the item URL", pol, "../../etc/passwd", ""},
		{"vsi path", pol, "/vsicurl/http://127.0.0.1/x.tif", ""},
		{"vsi mem", pol, "/vsimem/x.tif", ""},
		{"ftp", pol, "ftp://example.com/x.tif", ""},
		{"loopback literal", pol, "http://127.0.0.1:8080/x.tif", ""},
		{"loopback name", pol, "http://localhost/x.tif", ""},
		{"ipv6 loopback", pol, "http://[::1]/x.tif", ""},
		{"private 10/8", pol, "http://10.0.0.5/x.tif", ""},
		{"private 192.168", pol, "http://192.168.1.1/x.tif", ""},
		{"link-local metadata", pol, "http://169.254.169.254/latest/meta-data", ""},
		{"unspecified", pol, "http://0.0.0.0/x.tif", ""},
		{"ipv4-mapped private", pol, "http://[::ffff:10.0.0.1]/x.tif", ""},
		{"one private answer is enough", pol, "https://rebind.example/x.tif", ""},
		{"unresolvable", pol, "https://nowhere.invalid/x.tif", ""},
		{"loopback allowed for tests", loopOK, "http://127.0.0.1:8080/x.tif", "/vsicurl/http://127.0.0.1:8080/x.tif"},
		{"loopback allowed is not private allowed", loopOK, "http://10.0.0.5/x.tif", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.pol.GDALName(context.Background(), remote(tt.href), "red")
			if tt.want == "" {
				if !errors.Is(err, ErrHref) || !strings.Contains(err.Error(), "S2A_HOSTILE") || !strings.Contains(err.Error(), "band red") {
					t.Fatalf("got %q, %v; want a refusal naming the item and band", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLocalCatalogHrefs(t *testing.T) {
	root := t.TempDir()
	cat := filepath.Join(root, "cat")
	os.MkdirAll(filepath.Join(cat, "items"), 0o755)
	os.MkdirAll(filepath.Join(cat, "data"), 0o755)
	os.WriteFile(filepath.Join(cat, "data", "B04.tif"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "secret.tif"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(root, "secret.tif"), filepath.Join(cat, "data", "link.tif"))
	it := func(href string) Item {
		return Item{ID: "local", Assets: map[string]Asset{"red": {Href: href}},
			Origin: Origin{Local: true, URL: filepath.Join(cat, "items", "a.json"), RootDir: cat}}
	}
	got, err := HrefPolicy{}.GDALName(context.Background(), it("../data/B04.tif"), "red")
	if err != nil || got != filepath.Join(cat, "data", "B04.tif") {
		t.Fatalf("inside: %q %v", got, err)
	}
	for _, bad := range []string{"../../secret.tif", "../data/link.tif", filepath.Join(cat, "data", "B04.tif"), "file://" + filepath.Join(cat, "data", "B04.tif"), "GTIFF_DIR:1:../data/B04.tif"} {
		if _, err := (HrefPolicy{}).GDALName(context.Background(), it(bad), "red"); !errors.Is(err, ErrHref) {
			t.Errorf("%s: %v, want refusal", bad, err)
		}
	}
}

func TestStaticCatalogOSCD(t *testing.T) {
	src, err := OpenSource("../../../shared/oscd/rennes/catalog.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	aoi := orb.Polygon{{{-1.68, 48.1}, {-1.63, 48.1}, {-1.63, 48.13}, {-1.68, 48.13}, {-1.68, 48.1}}}
	p, _ := period.Parse("2015-08-01/2017-12-31")
	items, err := src.Search(context.Background(), Query{Intersects: aoi, Period: p, MaxCloud: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].ID != "rennes-20150821" || items[1].ID != "rennes-20170621" {
		t.Fatalf("items %v", items)
	}
	name, err := HrefPolicy{}.GDALName(context.Background(), items[0], "red")
	if err != nil || !strings.HasSuffix(name, "oscd/rennes/20150821/B04.tif") {
		t.Fatalf("href %q %v", name, err)
	}
	p2, _ := period.Parse("2016")
	_ = p2
	one, _ := period.Parse("2015-08-21")
	if items, _ := src.Search(context.Background(), Query{Period: one, MaxCloud: 100}); len(items) != 1 {
		t.Fatalf("time filter kept %d", len(items))
	}
}

func TestStaticCatalogLinksStayInside(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "outside.json"), []byte(`{"type":"Feature","id":"o","bbox":[0,0,1,1],"properties":{"datetime":"2025-01-01T00:00:00Z"},"assets":{}}`), 0o644)
	cat := filepath.Join(root, "cat")
	os.MkdirAll(cat, 0o755)
	os.WriteFile(filepath.Join(cat, "catalog.json"), []byte(`{"type":"Catalog","id":"c","links":[{"rel":"item","href":"../outside.json"}]}`), 0o644)
	_, err := (&StaticCatalog{Location: cat}).Items(context.Background())
	if !errors.Is(err, ErrHref) || !strings.Contains(err.Error(), "../outside.json") {
		t.Fatalf("error %v", err)
	}
}

func TestSASSigner(t *testing.T) {
	var calls atomic.Int32
	now := time.Date(2025, 7, 31, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/token/sentinel2l2a01/sentinel2-l2" {
			t.Errorf("token path %s", r.URL.Path)
		}
		json.NewEncoder(w).Encode(map[string]any{"msft:expiry": now.Add(time.Hour).Format(time.RFC3339), "token": "st=2025&sig=SECRET"})
	}))
	defer srv.Close()
	s := &SASSigner{Endpoint: srv.URL + "/token", Now: func() time.Time { return now }}
	href := "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/60/V/UK/B04.tif"
	for i := 0; i < 3; i++ {
		got, err := s.Sign(context.Background(), href)
		if err != nil || got != href+"?st=2025&sig=SECRET" {
			t.Fatalf("signed %q %v", got, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d token requests, want 1 (cached)", calls.Load())
	}
	now = now.Add(56 * time.Minute) // within the 5-minute margin of expiry
	s.Sign(context.Background(), href)
	if calls.Load() != 2 {
		t.Fatalf("%d token requests, want a refresh near expiry", calls.Load())
	}
	if other, _ := s.Sign(context.Background(), "https://sentinel-cogs.s3.amazonaws.com/x.tif"); other != "https://sentinel-cogs.s3.amazonaws.com/x.tif" {
		t.Fatalf("non-blob href changed: %s", other)
	}
	if r := RedactURL(href + "?st=2025&sig=SECRET"); strings.Contains(r, "SECRET") {
		t.Fatalf("redacted %s", r)
	}
}

func FuzzParseItem(f *testing.F) {
	for _, name := range []string{
		"earth-search-v1_sentinel-2-l2a_item_S2A_13TDE_20231008_0_L2A.json",
		"earth-search-v1_sentinel-2-c1-l2a_item_S2B_T20EPT_20250731T131905_L2A.json",
		"planetary-computer_sentinel-2-l2a_item_S2A_MSIL2A_20190101T000001_R116_T60VUK_20201007T214652.json",
	} {
		f.Add(readRecorded(f, name))
	}
	f.Add([]byte(`{"type":"Feature","id":"x","bbox":[0,0,1,1,2,3],"properties":{"datetime":"2025-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := ParseItem(data)
		if err != nil {
			if !errors.Is(err, ErrItem) {
				t.Fatalf("error does not wrap ErrItem: %v", err)
			}
			return
		}
		if it.ID == "" || it.Datetime.IsZero() && !strings.Contains(string(data), "0001-01-01") {
			t.Fatalf("accepted item without id or datetime: %+v", it)
		}
		for band := range commonNames {
			it.Reflectance(commonNames[band])
		}
		_ = it.Tile()
		_, _ = HrefPolicy{LookupHost: publicLookup}.GDALName(context.Background(), it, "red")
	})
}

func FuzzSearchPage(f *testing.F) {
	f.Add(readRecorded(f, "earth-search-v1_search_POST_intersects_page1.json"))
	f.Add(readRecorded(f, "earth-search-v1_search_POST_next_token_page2_TRIMMED.json"))
	f.Add(readRecorded(f, "planetary-computer_search_POST_datetime_TRIMMED.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
		defer srv.Close()
		c := &APIClient{Root: srv.URL, Retry: Retry{Attempts: 1}, MaxPages: 3}
		_, _ = c.Search(context.Background(), Query{})
	})
}

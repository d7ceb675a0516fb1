package pipeline_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"compoundwatch/aoi"
	"compoundwatch/geo"
	"compoundwatch/pipeline"
	"compoundwatch/pipeline/fixture"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
)

var (
	world *fixture.Manifest
	area  aoi.Area
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "compoundwatch-fixture-")
	if err != nil {
		panic(err)
	}
	world, err = fixture.Generate(context.Background(), dir, fixture.DefaultSpec())
	if err != nil {
		panic(err)
	}
	areas, err := aoi.Resolve(filepath.Join(dir, "aoi.geojson"), aoi.Options{})
	if err != nil {
		panic(err)
	}
	area = areas[0]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func serve(t *testing.T, pageSize int) (*fixture.Server, stac.Source, *scene.Reader) {
	t.Helper()
	return serveWorld(t, world, pageSize)
}

// serveWorld serves a fixture world and returns its source and a reader
// allowed to fetch from loopback.
func serveWorld(t *testing.T, m *fixture.Manifest, pageSize int) (*fixture.Server, stac.Source, *scene.Reader) {
	t.Helper()
	srv := fixture.NewServer(m, pageSize)
	t.Cleanup(srv.Close)
	src, err := stac.OpenSource(srv.URL, stac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, src, &scene.Reader{Policy: stac.HrefPolicy{AllowLoopback: true}}
}

func sceneInfo(t *testing.T, id string) fixture.SceneInfo {
	for _, s := range world.Scenes {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no fixture scene %s", id)
	return fixture.SceneInfo{}
}

func findItem(t *testing.T, items []stac.Item, id string) stac.Item {
	t.Helper()
	for _, it := range items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("no item %s among %d", id, len(items))
	return stac.Item{}
}

func allWeeks() period.Period {
	spec := world.Spec
	return period.Period{Start: spec.Start, End: spec.Start.AddDate(0, 0, 7*spec.Weeks)}
}

func TestFindScenesDeduplicatesAcrossPages(t *testing.T) {
	srv, src, _ := serve(t, 4)
	items, err := pipeline.FindScenes(context.Background(), src, area, allWeeks(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range world.Scenes {
		if s.Sequence == 0 && strings.Contains(s.ID, "20220111") {
			continue // superseded by its reprocessing
		}
		want = append(want, s.ID)
	}
	slices.Sort(want) // ids sort by date within one tile and platform letter
	var got []string
	for _, it := range items {
		got = append(got, it.ID)
	}
	gotSorted := slices.Clone(got)
	slices.Sort(gotSorted)
	if !slices.Equal(gotSorted, want) || len(got) != 12 {
		t.Fatalf("scenes %v\nwant %v", got, want)
	}
	// 13 items in pages of 4: 4 full pages, then the empty page after a full one.
	if n := srv.ServedFor("/search").Requests; n != 4 {
		t.Fatalf("%d search requests, want 4", n)
	}
}

func TestWindowReadFetchesOnlyTheWindow(t *testing.T) {
	srv, src, reader := serve(t, 10)
	items, err := pipeline.FindScenes(context.Background(), src, area, allWeeks(), 100)
	if err != nil {
		t.Fatal(err)
	}
	g, err := pipeline.GridFor(area)
	if err != nil {
		t.Fatal(err)
	}
	last := items[len(items)-1]
	for _, band := range []string{"red", "swir16"} {
		t.Run(band, func(t *testing.T) {
			rel := sceneInfo(t, last.ID).Files[band]
			lay, err := geo.ReadTileLayout(context.Background(), filepath.Join(world.Dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			// The tiles of the file that the grid's footprint touches (same CRS here).
			b := g.Bounds()
			gt := lay.GeoTransform
			c0, c1 := int((b[0]-gt[0])/gt[1]), int((b[2]-gt[0])/gt[1])
			r0, r1 := int((b[3]-gt[3])/gt[5]), int((b[1]-gt[3])/gt[5])
			budget := lay.FirstTileOffset
			tiles := 0
			for by := r0 / lay.BlockH; by <= r1/lay.BlockH; by++ {
				for bx := c0 / lay.BlockW; bx <= c1/lay.BlockW; bx++ {
					budget += lay.Sizes[by*lay.BlocksPerRow()+bx]
					tiles++
				}
			}
			var total int64
			for _, s := range lay.Sizes {
				total += s
			}
			srv.Reset()
			dst := make([]float32, g.Len())
			name, err := reader.Policy.GDALName(context.Background(), last, band)
			if err != nil {
				t.Fatal(err)
			}
			if err := geo.ReadFloat32(context.Background(), name, g, geo.Bilinear, 0, dst); err != nil {
				t.Fatal(err)
			}
			served := srv.ServedFor(rel)
			ratio := float64(served.BodyBytes) / float64(budget)
			t.Logf("%s: served %d bytes in %d requests; %d of %d tiles intersect, %d bytes with header (file %d); ratio %.3f",
				band, served.BodyBytes, served.Requests, tiles, len(lay.Sizes), budget, total+lay.FirstTileOffset, ratio)
			if ratio > 1.5 {
				t.Fatalf("window read fetched %.2f× the intersecting tiles and header", ratio)
			}
		})
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// TestReflectanceAcrossBaselines reads scenes before baseline 04.00, after it
// with the +1000 in the pixels, and after it with Earth Search's correction
// applied: unchanged ground must read the same reflectance in all three.
func TestReflectanceAcrossBaselines(t *testing.T) {
	_, src, reader := serve(t, 10)
	items, err := pipeline.FindScenes(context.Background(), src, area, allWeeks(), 100)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := pipeline.GridFor(area)
	read := func(id string) *scene.Observation {
		obs := scene.NewObservation(g, len(scene.DefaultBands))
		if err := reader.Read(context.Background(), findItem(t, items, id), g, scene.DefaultBands, obs); err != nil {
			t.Fatal(err)
		}
		return obs
	}
	ref := read("S2A_47QMU_20220104_0_L2A") // baseline 03.01
	for _, id := range []string{"S2A_47QMU_20220125_0_L2A", "S2A_47QMU_20220201_0_L2A"} {
		info := sceneInfo(t, id)
		t.Run(fmt.Sprintf("%s offset_in_dn=%v boa_applied=%v", id, info.OffsetInDN, info.BOAApplied), func(t *testing.T) {
			obs := read(id)
			for bi, band := range scene.DefaultBands {
				var d []float64
				for p := range obs.Valid {
					if obs.Valid[p] && ref.Valid[p] {
						d = append(d, float64(obs.Bands[bi][p]-ref.Bands[bi][p]))
					}
				}
				if len(d) < g.Len()/2 {
					t.Fatalf("%s: only %d pixels valid in both", band, len(d))
				}
				if m := median(d); math.Abs(m) > 0.003 {
					t.Errorf("%s: median reflectance shift %.4f over %d unchanged-ish pixels", band, m, len(d))
				}
			}
		})
	}
}

func TestCloudMask(t *testing.T) {
	_, src, reader := serve(t, 10)
	items, err := pipeline.FindScenes(context.Background(), src, area, allWeeks(), 100)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := pipeline.GridFor(area)
	cloudy := 0
	for _, it := range items {
		info := sceneInfo(t, it.ID)
		if info.CloudOverAOI == 0 {
			continue
		}
		cloudy++
		obs := scene.NewObservation(g, 1)
		if err := reader.Read(context.Background(), it, g, []string{"red"}, obs); err != nil {
			t.Fatal(err)
		}
		valid := float64(obs.ValidCount()) / float64(g.Len())
		// SCL is 20 m, so masks grow by up to a 10 m pixel at cloud edges.
		if math.Abs((1-valid)-info.CloudOverAOI) > 0.04 {
			t.Errorf("%s: masked %.3f of the area, generator clouded %.3f", it.ID, 1-valid, info.CloudOverAOI)
		}
		for p, ok := range obs.Valid {
			if !ok && !math.IsNaN(float64(obs.Bands[0][p])) {
				t.Fatalf("%s: masked pixel %d keeps a value", it.ID, p)
			}
		}
		// With only class 0 masked, clouds count as valid.
		open := &scene.Reader{Policy: reader.Policy, MaskClasses: []uint8{0}}
		if err := open.Read(context.Background(), it, g, []string{"red"}, obs); err != nil {
			t.Fatal(err)
		}
		if obs.ValidCount() != g.Len() {
			t.Errorf("%s: mask classes {0} left %d of %d valid", it.ID, obs.ValidCount(), g.Len())
		}
	}
	if cloudy < 3 {
		t.Fatalf("only %d clouded scenes in the fixture", cloudy)
	}
}

func TestReadFailuresNameItemBandAndHref(t *testing.T) {
	srv, src, reader := serve(t, 10)
	items, err := pipeline.FindScenes(context.Background(), src, area, allWeeks(), 100)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := pipeline.GridFor(area)
	it := items[3]
	obs := scene.NewObservation(g, len(scene.DefaultBands))
	file := sceneInfo(t, it.ID).Files["nir"]

	t.Run("truncated COG", func(t *testing.T) {
		srv.Inject(fixture.Fault{Match: file, TruncateFile: 20000})
		defer srv.ClearFaults()
		err := reader.Read(context.Background(), it, g, scene.DefaultBands, obs)
		if !errors.Is(err, scene.ErrRead) || !strings.Contains(err.Error(), it.ID) || !strings.Contains(err.Error(), "band nir") || !strings.Contains(err.Error(), file) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("a failed read is not cached", func(t *testing.T) {
		if err := reader.Read(context.Background(), it, g, scene.DefaultBands, obs); err != nil {
			t.Fatalf("the file is whole again, but: %v", err)
		}
	})
	t.Run("missing band", func(t *testing.T) {
		broken := it
		broken.Assets = map[string]stac.Asset{}
		for k, v := range it.Assets {
			if k != "swir16" {
				broken.Assets[k] = v
			}
		}
		err := reader.Read(context.Background(), broken, g, scene.DefaultBands, obs)
		if !errors.Is(err, stac.ErrMissingBand) || !strings.Contains(err.Error(), it.ID) || !strings.Contains(err.Error(), "swir16") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("server error on every try", func(t *testing.T) {
		fresh := items[5] // not read before: nothing of it is in GDAL's cache
		srv.Inject(fixture.Fault{Match: sceneInfo(t, fresh.ID).Files["nir"], Status: 503})
		defer srv.ClearFaults()
		if err := reader.Read(context.Background(), fresh, g, scene.DefaultBands, obs); !errors.Is(err, scene.ErrRead) || !strings.Contains(err.Error(), "band nir") || !strings.Contains(err.Error(), fresh.ID) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("transient server error is retried", func(t *testing.T) {
		srv.Inject(fixture.Fault{Match: sceneInfo(t, items[4].ID).Files["red"], Status: 503, Times: 1})
		defer srv.ClearFaults()
		if err := reader.Read(context.Background(), items[4], g, scene.DefaultBands, obs); err != nil {
			t.Fatalf("one 503 broke the read: %v", err)
		}
		if obs.ValidCount() == 0 {
			t.Fatal("no valid pixels")
		}
	})
}

func TestCatalogFaults(t *testing.T) {
	t.Run("500 names the catalog", func(t *testing.T) {
		srv := fixture.NewServer(world, 10)
		defer srv.Close()
		srv.Inject(fixture.Fault{Match: "/search", Status: 500})
		src, _ := stac.OpenSource(srv.URL, stac.Options{Retry: stac.Retry{Attempts: 2, Base: 1}})
		_, err := pipeline.FindScenes(context.Background(), src, area, allWeeks(), 100)
		if !errors.Is(err, stac.ErrCatalog) || !strings.Contains(err.Error(), srv.URL+"/search") || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), area.ID) {
			t.Fatalf("error %v", err)
		}
	})
	for _, f := range []fixture.Fault{
		{Match: "/search", Status: 429, RetryAfter: 0, Times: 2},
		{Match: "/search", Status: 502, Times: 1},
		{Match: "/search", TruncateBody: 300, Times: 1},
		{Match: "/search", Delay: 100 * 1e6, Times: 2},
	} {
		t.Run(fmt.Sprintf("recovers from %+v", f), func(t *testing.T) {
			srv := fixture.NewServer(world, 5)
			defer srv.Close()
			srv.Inject(f)
			src, _ := stac.OpenSource(srv.URL, stac.Options{Retry: stac.Retry{Base: 1e6}})
			items, err := pipeline.FindScenes(context.Background(), src, area, allWeeks(), 100)
			if err != nil || len(items) != 12 {
				t.Fatalf("%d items, %v", len(items), err)
			}
		})
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	spec := fixture.DefaultSpec()
	spec.Weeks = 1
	hash := func(dir string) map[string][32]byte {
		if _, err := fixture.Generate(context.Background(), dir, spec); err != nil {
			t.Fatal(err)
		}
		out := map[string][32]byte{}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				out[rel] = sha256.Sum256(b)
			}
			return nil
		})
		return out
	}
	a, b := hash(t.TempDir()), hash(t.TempDir())
	if len(a) < 10 {
		t.Fatalf("only %d files", len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s differs between two runs", k)
		}
	}
}

package alert

import (
	"bytes"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/period"
)

var update = flag.Bool("update", false, "rewrite golden files")

const golden = "../../testdata/golden/alerts.geojson"

// sample is two detections on EPSG:32647 (Myawaddy's zone): a building with
// a courtyard, written clockwise as GDAL polygonizes, and a demolition.
func sample(t *testing.T) Collection {
	t.Helper()
	w02, err := period.Parse("2022-W02")
	if err != nil {
		t.Fatal(err)
	}
	w04, err := period.Parse("2022-W04")
	if err != nil {
		t.Fatal(err)
	}
	x, y := 466300.0, 1833500.0
	dets := []detect.Detection{
		{
			Kind: detect.Expansion,
			Polygon: orb.Polygon{
				{{x, y}, {x, y + 200}, {x + 300, y + 200}, {x + 300, y}, {x, y}},
				{{x + 100, y + 50}, {x + 150, y + 50}, {x + 150, y + 100}, {x + 100, y + 100}, {x + 100, y + 50}},
			},
			AreaHa: 5.75, ScoreMean: 14.25, Confidence: 0.8196, High: true, ValidObsBefore: 1, ValidObsAfter: 2,
		},
		{
			Kind:    detect.Demolition,
			Polygon: orb.Polygon{{{x + 1000, y}, {x + 1000, y + 50}, {x + 1060, y + 50}, {x + 1060, y}, {x + 1000, y}}},
			AreaHa:  0.3, ScoreMean: 6.1, Confidence: 0.1975, ValidObsBefore: 2, ValidObsAfter: 2,
		},
	}
	c, err := FromDetections(Pair{AOI: "fx-moei-bank", Before: w02, After: w04,
		ScenesBefore: []string{"S2B_47QMU_20220114_0_L2A", "S2A_47QMU_20220111_0_L2A"},
		ScenesAfter:  []string{"S2A_47QMU_20220125_0_L2A"}}, 32647, dets)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAlertFileMatchesGolden(t *testing.T) {
	got, err := sample(t).Marshal("fx-moei-bank")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline/alert -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("alert file differs from %s:\n%s", golden, got)
	}
}

func TestAlertFileFollowsRFC7946(t *testing.T) {
	c := sample(t)
	data, err := c.Marshal("x")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Alerts) != 2 {
		t.Fatalf("%d alerts read back, want 2", len(back.Alerts))
	}
	for i, a := range back.Alerts {
		p := a.Properties
		if p.ID != c.Alerts[i].Properties.ID || !strings.HasPrefix(p.ID, "fx-moei-bank-") {
			t.Errorf("alert %d id %q", i, p.ID)
		}
		// Exterior counterclockwise, holes clockwise (RFC 7946 §3.1.6).
		for ri, ring := range a.Geometry {
			want := orb.CCW
			if ri > 0 {
				want = orb.CW
			}
			if ring.Orientation() != want {
				t.Errorf("alert %d ring %d orientation %v, want %v", i, ri, ring.Orientation(), want)
			}
			if ring[0] != ring[len(ring)-1] {
				t.Errorf("alert %d ring %d is not closed", i, ri)
			}
			for _, pt := range ring {
				for _, v := range pt {
					if math.Abs(v*1e7-math.Round(v*1e7)) > 1e-6 {
						t.Errorf("coordinate %v has more than 7 decimals", v)
					}
				}
				// Lon/lat order: Myawaddy is near 98.5 E, 16.6 N.
				if pt[0] < 98 || pt[0] > 99 || pt[1] < 16 || pt[1] > 17 {
					t.Errorf("point %v is not lon/lat near Myawaddy", pt)
				}
			}
		}
		if p.Before != "2022-01-10/2022-01-16" || p.After != "2022-01-24/2022-01-30" {
			t.Errorf("periods %q %q", p.Before, p.After)
		}
		if p.DetectorVersion != detect.Version {
			t.Errorf("detector version %q", p.DetectorVersion)
		}
	}
	if back.Alerts[0].Properties.ConfidenceClass != "high" || back.Alerts[1].Properties.ConfidenceClass != "low" {
		t.Error("confidence classes do not follow High")
	}
	if got := back.Alerts[0].Properties.ScenesBefore; got[0] != "S2A_47QMU_20220111_0_L2A" {
		t.Errorf("scenes_before %v, want sorted", got)
	}
}

func TestIDDependsOnContent(t *testing.T) {
	p := orb.Polygon{{{98.5, 16.6}, {98.51, 16.6}, {98.51, 16.61}, {98.5, 16.6}}}
	q := orb.Polygon{{{98.5, 16.6}, {98.51, 16.6}, {98.51, 16.6100001}, {98.5, 16.6}}}
	base := ID("a", "b", "c", "expansion", p)
	for name, other := range map[string]string{
		"same":     ID("a", "b", "c", "expansion", p),
		"geometry": ID("a", "b", "c", "expansion", q),
		"kind":     ID("a", "b", "c", "demolition", p),
		"period":   ID("a", "b", "d", "expansion", p),
		"area":     ID("z", "b", "c", "expansion", p),
	} {
		if (name == "same") != (other == base) {
			t.Errorf("%s: id %s vs %s", name, other, base)
		}
	}
}

// TestOGRReadsEveryProperty opens an alert file with GDAL's GeoJSON driver,
// the one QGIS uses, and checks each field's type.
func TestOGRReadsEveryProperty(t *testing.T) {
	if _, err := exec.LookPath("ogrinfo"); err != nil {
		t.Skip("ogrinfo not installed (make setup installs gdal-bin)")
	}
	data, err := sample(t).Marshal("alerts")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alerts.geojson")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ogrinfo", "-so", "-al", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	text := string(out)
	want := map[string]string{
		"id": "String", "aoi": "String", "kind": "String", "before": "String", "after": "String",
		"area_ha": "Real", "confidence": "Real", "confidence_class": "String", "score_mean": "Real",
		"valid_obs_before": "Integer", "valid_obs_after": "Integer",
		"scenes_before": "StringList", "scenes_after": "StringList", "detector_version": "String",
	}
	for field, typ := range want {
		re := regexp.MustCompile(`(?m)^` + field + `: (\w+) `)
		m := re.FindStringSubmatch(text)
		if m == nil || m[1] != typ {
			t.Errorf("field %s: %v, want %s", field, m, typ)
		}
	}
	for _, s := range []string{"Geometry: Polygon", "Feature Count: 2", `ID["EPSG",4326]`} {
		if !strings.Contains(text, s) {
			t.Errorf("ogrinfo output lacks %q:\n%s", s, text)
		}
	}
}

func TestUnmarshalNamesTheProblem(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"not json", `{"type":`, "unexpected end"},
		{"not a collection", `{"type":"Feature"}`, `"Feature"`},
		{"point", `{"type":"FeatureCollection","features":[{"type":"Feature","id":"a1","properties":{},"geometry":{"type":"Point","coordinates":[[[1,2]]]}}]}`, `feature 0 ("a1")`},
		{"empty polygon", `{"type":"FeatureCollection","features":[{"type":"Feature","id":7,"properties":{},"geometry":{"type":"Polygon","coordinates":[]}}]}`, "feature 0 (7): empty"},
	}
	for _, tc := range cases {
		_, err := Unmarshal([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %s", tc.name, err, tc.want)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	if data, err := os.ReadFile(golden); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"type":"FeatureCollection","features":[]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":3,"properties":{"kind":"expansion"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever parses must survive a write and a read.
		out, err := c.Marshal("")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Unmarshal(out); err != nil {
			t.Fatalf("re-read of written alerts: %v", err)
		}
	})
}

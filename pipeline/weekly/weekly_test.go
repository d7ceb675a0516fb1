package weekly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/alert"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/fixture"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
	"compoundwatch/pipeline/store"
)

func week(t *testing.T, s string) period.Period {
	t.Helper()
	p, err := period.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func square(x, y, side float64) orb.Polygon {
	return orb.Polygon{{{x, y}, {x + side, y}, {x + side, y + side}, {x, y + side}, {x, y}}}
}

var (
	soil = [detect.NumBands]float64{0.08, 0.10, 0.13, 0.22, 0.28, 0.22}
	roof = [detect.NumBands]float64{0.22, 0.24, 0.26, 0.30, 0.36, 0.31}
)

func tracked(id string, status Status, persisted int, poly orb.Polygon) TrackedAlert {
	return TrackedAlert{ID: id, Kind: "expansion", Status: status, Persisted: persisted, FirstSeen: "2022-01-10",
		Grid: poly, Geometry: poly, AreaHa: 1, SignatureBefore: soil[:], SignatureAfter: roof[:]}
}

func probe(mean [detect.NumBands]float64, pixels, clear int) detect.RegionStats {
	return detect.RegionStats{Pixels: pixels, ClearAfter: clear, MeanAfter: mean}
}

func TestAdvanceMovesAlertsThroughTheirLifecycle(t *testing.T) {
	w := week(t, "2022-W05")
	cases := []struct {
		name       string
		alert      TrackedAlert
		probe      detect.RegionStats
		status     Status
		persisted  int
		confirmed  string
		retracted  string
		lastSeen   string
		changeList string
	}{
		{"first persistence", tracked("a", Provisional, 0, square(0, 0, 100)), probe(roof, 100, 100), Provisional, 1, "", "", "2022-01-31", ""},
		{"second persistence confirms", tracked("a", Provisional, 1, square(0, 0, 100)), probe(roof, 100, 90), Confirmed, 2, "2022-01-31", "", "2022-01-31", "confirmed"},
		{"reverting retracts", tracked("a", Provisional, 1, square(0, 0, 100)), probe(soil, 100, 100), Retracted, 1, "", "2022-01-31", "2022-01-31", "retracted"},
		{"a confirmed alert stays", tracked("a", Confirmed, 2, square(0, 0, 100)), probe(soil, 100, 100), Confirmed, 2, "", "", "2022-01-31", ""},
		{"clouds over it: nothing changes", tracked("a", Provisional, 1, square(0, 0, 100)), probe(soil, 100, 40), Provisional, 1, "", "", "2022-01-10", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.alert.LastObserved = "2022-01-10"
			prev := &State{Format: StateFormat, AOI: "x", Week: "2022-W04", Reference: "2022-W04", Alerts: []TrackedAlert{tc.alert}}
			next, ch := advance(prev, weekEvidence{week: w, probes: []detect.RegionStats{tc.probe}, confirmAfter: 2})
			a := next.Alerts[0]
			if a.Status != tc.status || a.Persisted != tc.persisted || a.ConfirmedAt != tc.confirmed || a.RetractedAt != tc.retracted || a.LastObserved != tc.lastSeen {
				t.Errorf("got %s persisted %d confirmed %q retracted %q last seen %q", a.Status, a.Persisted, a.ConfirmedAt, a.RetractedAt, a.LastObserved)
			}
			got := ""
			if len(ch.Confirmed) > 0 {
				got = "confirmed"
			}
			if len(ch.Retracted) > 0 {
				got = "retracted"
			}
			if got != tc.changeList {
				t.Errorf("changes %+v", ch)
			}
			if prev.Alerts[0].Status != tc.alert.Status {
				t.Error("advance changed the previous state")
			}
			if next.Week != "2022-W05" || next.Reference != "2022-W05" || next.LastClear != "2022-02-06" {
				t.Errorf("week %s reference %s last clear %s", next.Week, next.Reference, next.LastClear)
			}
		})
	}
}

func TestAdvanceDoesNotDuplicateAKnownAlert(t *testing.T) {
	known := tracked("known", Provisional, 0, square(0, 0, 100))
	prev := &State{Format: StateFormat, AOI: "x", Alerts: []TrackedAlert{known}}
	dets := []detect.Detection{
		{Kind: detect.Expansion, Polygon: square(10, 10, 80), MeanBefore: soil, MeanAfter: roof}, // the same building again
		{Kind: detect.Expansion, Polygon: square(500, 500, 50), MeanBefore: soil, MeanAfter: roof},
		{Kind: detect.Demolition, Polygon: square(10, 10, 80), MeanBefore: roof, MeanAfter: soil}, // another kind: new
	}
	coll := alert.Collection{}
	for i, d := range dets {
		coll.Alerts = append(coll.Alerts, alert.Alert{Geometry: d.Polygon, Properties: alert.Properties{ID: fmt.Sprint("new-", i), Kind: string(d.Kind), AreaHa: 0.25}})
	}
	next, ch := advance(prev, weekEvidence{week: week(t, "2022-W05"), detections: dets, alerts: coll,
		probes: []detect.RegionStats{probe(roof, 100, 100)}, confirmAfter: 2})
	if strings.Join(ch.New, ",") != "new-1,new-2" || len(next.Alerts) != 3 {
		t.Fatalf("new %v, %d alerts", ch.New, len(next.Alerts))
	}
	for _, a := range next.Alerts[1:] {
		if a.Status != Provisional || a.FirstSeen != "2022-01-31" || len(a.SignatureAfter) != detect.NumBands {
			t.Errorf("new alert %+v", a)
		}
	}
	if row := next.Series[len(next.Series)-1]; row.BuiltHa != 1.25 || row.New != 2 || row.Provisional != 3 {
		t.Errorf("series row %+v", row)
	}
}

// A monsoon world: weeks 1-2 clear, week 3 all cloud over the area.
var (
	monsoon     *fixture.Manifest
	monsoonArea aoi.Area
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "compoundwatch-weekly-")
	if err != nil {
		panic(err)
	}
	spec := fixture.DefaultSpec()
	spec.Weeks, spec.Overcast = 4, []int{2}
	monsoon, err = fixture.Generate(context.Background(), dir, spec)
	if err != nil {
		panic(err)
	}
	areas, err := aoi.Resolve(filepath.Join(dir, "aoi.geojson"), aoi.Options{})
	if err != nil {
		panic(err)
	}
	monsoonArea = areas[0]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func config(t *testing.T, st store.Store) Config {
	t.Helper()
	srv := fixture.NewServer(monsoon, 100)
	t.Cleanup(srv.Close)
	src, err := stac.OpenSource(srv.URL, stac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Config{Store: st, Source: src, Reader: &scene.Reader{Policy: stac.HrefPolicy{AllowLoopback: true}},
		Params: detect.DefaultParams(), MaxCloud: 100, Workers: 2, ScratchDir: t.TempDir(), Version: "test"}
}

func dirStore(t *testing.T) *store.Dir {
	t.Helper()
	st, err := store.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestACloudyWeekSaysSoExplicitly(t *testing.T) {
	st := dirStore(t)
	cfg := config(t, st)
	for _, w := range []string{"2022-W02", "2022-W03", "2022-W04"} {
		if _, err := RunWeek(context.Background(), cfg, []aoi.Area{monsoonArea}, week(t, w), "r-"+w); err != nil {
			t.Fatalf("%s: %v", w, err)
		}
	}
	data, err := st.Get(context.Background(), "alerts/fx-moei-bank/2022-W03.geojson")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"status":"no_clear_observation"`)) || !bytes.Contains(data, []byte(`"note":"no clear observation since 2022-01-16"`)) || !bytes.Contains(data, []byte(`"geometry":null`)) {
		t.Errorf("week 3 alerts lack the no-clear record:\n%s", data)
	}
	var d Digest
	raw, _ := st.Get(context.Background(), "digest/2022-W03.json")
	if err := json.Unmarshal(raw, &d); err != nil || d.Areas[0].Status != "no_clear_observation" || d.Areas[0].StaleDays != 7 || d.Areas[0].LastClear != "2022-01-16" {
		t.Errorf("digest %s", raw)
	}
	// Week 4 compares with week 2, the last clear one, and finds compound a
	// (it rose in week 3, under the clouds).
	s, err := loadState(context.Background(), st, "fx-moei-bank", "2022-W04")
	if err != nil {
		t.Fatal(err)
	}
	if s.Series[2].Status != "ok" || s.Series[1].Status != "no_clear_observation" || len(s.Alerts) == 0 || s.Alerts[0].Before != "2022-01-10/2022-01-16" {
		t.Errorf("week 4 state: series %+v, %d alerts", s.Series, len(s.Alerts))
	}
	csv, _ := st.Get(context.Background(), "series/fx-moei-bank.csv")
	if !strings.Contains(string(csv), "2022-W03,2022-01-17,2022-01-23,no_clear_observation,0.0000,0,0,0,0,2022-01-16") {
		t.Errorf("series:\n%s", csv)
	}
}

// failingStore fails every Put from the n-th on, as a bucket that goes away.
type failingStore struct {
	store.Store
	n int
}

var errBucketGone = errors.New("injected: connection reset by peer")

func (f *failingStore) Put(ctx context.Context, key string, data []byte) error {
	if f.n--; f.n <= 0 {
		return fmt.Errorf("put %s: %w", key, errBucketGone)
	}
	return f.Store.Put(ctx, key, data)
}

func TestStorageFailureHalfwayThenRerun(t *testing.T) {
	clean := dirStore(t)
	for _, w := range []string{"2022-W02", "2022-W04"} {
		if _, err := RunWeek(context.Background(), config(t, clean), []aoi.Area{monsoonArea}, week(t, w), "r"); err != nil {
			t.Fatal(err)
		}
	}
	flaky := dirStore(t)
	if _, err := RunWeek(context.Background(), config(t, flaky), []aoi.Area{monsoonArea}, week(t, "2022-W02"), "r"); err != nil {
		t.Fatal(err)
	}
	m, err := RunWeek(context.Background(), config(t, &failingStore{Store: flaky, n: 4}), []aoi.Area{monsoonArea}, week(t, "2022-W04"), "r")
	if !errors.Is(err, errBucketGone) || !strings.Contains(err.Error(), "fx-moei-bank") || !strings.Contains(err.Error(), "alerts/fx-moei-bank/latest.geojson") {
		t.Fatalf("err = %v, want the area and the object named", err)
	}
	if m.Areas[0].Status != "failed" {
		t.Errorf("manifest area status %s", m.Areas[0].Status)
	}
	if _, err := flaky.Get(context.Background(), "state/fx-moei-bank/2022-W04.json"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the week's state was written before its outputs: %v", err)
	}
	// The failed run could not release its lock (the bucket was gone); the
	// rerun comes after the lock's expiry.
	later := config(t, flaky)
	later.Now = func() time.Time { return time.Now().Add(3 * time.Hour) }
	if _, err := RunWeek(context.Background(), later, []aoi.Area{monsoonArea}, week(t, "2022-W04"), "r2"); err != nil {
		t.Fatal(err)
	}
	keys, _ := clean.List(context.Background(), "")
	for _, k := range keys {
		if strings.HasPrefix(k, "runs/") || strings.HasPrefix(k, "locks/") {
			continue
		}
		a, _ := clean.Get(context.Background(), k)
		b, err := flaky.Get(context.Background(), k)
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs after the failure and the rerun (%v)", k, err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"compoundwatch/geo"
	"compoundwatch/pipeline/fixture"
	"compoundwatch/pipeline/store"
	"compoundwatch/pipeline/store/storetest"
	"compoundwatch/pipeline/weekly"
)

// The three fixture weeks of the end-to-end tests: compound a rises in
// week 3; b, a tarp field over the river and the depot's demolition come in
// week 4; the tarp field is gone in week 5.
var e2eWeeks = []string{"2022-W03", "2022-W04", "2022-W05"}

func runOpts(srv *fixture.Server, out string, s3 *storetest.Server, week string) runOptions {
	o := runOptions{
		Watchlist: filepath.Join(world.Dir, "aoi.geojson"), Week: week, MaxCloud: 100, Workers: 2, ConfirmAfter: 2,
		Catalog: catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"},
		Storage: storageOptions{Out: out},
	}
	if s3 != nil {
		o.Storage.Endpoint, o.Storage.Region, o.Storage.PathStyle = s3.Endpoint, "us-east-1", true
	}
	return o
}

type feature struct {
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties"`
	Geometry   *struct {
		Coordinates [][][2]float64 `json:"coordinates"`
	} `json:"geometry"`
}

func readFeatures(t *testing.T, st store.Store, key string) []feature {
	t.Helper()
	data, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct{ Features []feature }
	if err := json.Unmarshal(data, &fc); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return fc.Features
}

// at finds the alert whose polygon holds a building pixel of the compound.
func at(t *testing.T, feats []feature, c fixture.Compound) *feature {
	t.Helper()
	pt := orb.Point{c.Bounds[0] + 105, (c.Bounds[1]+c.Bounds[3])/2 + 5}
	if !c.Covers(pt[0], pt[1]) {
		t.Fatalf("%v is not on a building of %s", pt, c.Name)
	}
	ll := []orb.Point{pt}
	if err := geo.Transform(fixture.EPSG, 4326, ll); err != nil {
		t.Fatal(err)
	}
	for i := range feats {
		f := &feats[i]
		if f.Geometry == nil {
			continue
		}
		var poly orb.Polygon
		for _, r := range f.Geometry.Coordinates {
			ring := make(orb.Ring, len(r))
			for j, p := range r {
				ring[j] = orb.Point{p[0], p[1]}
			}
			poly = append(poly, ring)
		}
		if planar.PolygonContains(poly, ll[0]) {
			return f
		}
	}
	return nil
}

// TestWeeklyRunIntoS3 runs `run` for three consecutive fixture weeks into a
// versitygw bucket and follows each compound through its lifecycle.
func TestWeeklyRunIntoS3(t *testing.T) {
	s3 := storetest.StartVersitygw(t)
	s3.Bucket(t, "alerts", "")
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	out := "s3://alerts/compoundwatch"
	for _, w := range e2eWeeks {
		m, err := runRun(context.Background(), runOpts(srv, out, s3, w))
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if m.Status != "ok" || len(m.Areas) != 1 || m.Areas[0].Status != "ok" {
			t.Fatalf("%s: manifest status %s, areas %+v", w, m.Status, m.Areas)
		}
	}
	st, err := store.Open(context.Background(), out, s3.S3Options())
	if err != nil {
		t.Fatal(err)
	}
	aoiID := fixture.AOIID
	type want struct {
		kind, status, firstSeen, confirmedAt, retractedAt string
	}
	expect := map[string]map[string]want{
		"2022-W03": {"compound-a": {"expansion", "provisional", "2022-01-17", "", ""}},
		"2022-W04": {
			"compound-a": {"expansion", "provisional", "2022-01-17", "", ""},
			"compound-b": {"expansion", "provisional", "2022-01-24", "", ""},
			"temporary":  {"expansion", "provisional", "2022-01-24", "", ""},
			"depot":      {"demolition", "provisional", "2022-01-24", "", ""},
		},
		"2022-W05": {
			"compound-a": {"expansion", "confirmed", "2022-01-17", "2022-01-31", ""},
			"compound-b": {"expansion", "provisional", "2022-01-24", "", ""},
			"temporary":  {"expansion", "retracted", "2022-01-24", "", "2022-01-31"},
			"depot":      {"demolition", "provisional", "2022-01-24", "", ""},
		},
	}
	ids := map[string]string{}
	for _, w := range e2eWeeks {
		feats := readFeatures(t, st, "alerts/"+aoiID+"/"+w+".geojson")
		for _, c := range world.Compounds {
			f := at(t, feats, c)
			exp, ok := expect[w][c.Name]
			if !ok {
				if f != nil {
					t.Errorf("%s: %s has an alert before it was built", w, c.Name)
				}
				continue
			}
			if f == nil {
				t.Errorf("%s: no alert over %s", w, c.Name)
				continue
			}
			p := f.Properties
			str := func(k string) string { s, _ := p[k].(string); return s }
			got := want{str("kind"), str("status"), str("first_seen"), str("confirmed_at"), str("retracted_at")}
			if got != exp {
				t.Errorf("%s %s: %+v, want %+v", w, c.Name, got, exp)
			}
			if id, seen := ids[c.Name]; seen && id != f.ID {
				t.Errorf("%s: the alert over %s changed id from %s to %s", w, c.Name, id, f.ID)
			}
			ids[c.Name] = f.ID
		}
	}
	latest, err := st.Get(context.Background(), "alerts/"+aoiID+"/latest.geojson")
	if err != nil {
		t.Fatal(err)
	}
	w05, _ := st.Get(context.Background(), "alerts/"+aoiID+"/2022-W05.geojson")
	if !bytes.Equal(latest, w05) {
		t.Error("latest.geojson is not the newest week")
	}

	keys, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"alerts/" + aoiID + "/latest.qml", "series/" + aoiID + ".csv", "series/" + aoiID + ".png"}
	for _, w := range e2eWeeks {
		wantKeys = append(wantKeys, "alerts/"+aoiID+"/"+w+".qml", "digest/"+w+".json", "digest/"+w+".md",
			"quicklooks/"+aoiID+"/"+w+".png", "state/"+aoiID+"/"+w+".json")
	}
	for _, k := range wantKeys {
		if !slices.Contains(keys, k) {
			t.Errorf("missing %s", k)
		}
	}
	runs := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "runs/") {
			runs++
			var m weekly.Manifest
			data, _ := st.Get(context.Background(), k)
			if err := json.Unmarshal(data, &m); err != nil || m.Status != "ok" || len(m.Areas[0].ScenesAfter) == 0 || m.Version == "" {
				t.Errorf("manifest %s: %v %+v", k, err, m)
			}
		}
		if strings.HasSuffix(k, ".png") {
			data, _ := st.Get(context.Background(), k)
			if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
				t.Errorf("%s is not a PNG", k)
			}
		}
	}
	if runs != len(e2eWeeks) {
		t.Errorf("%d run manifests, want %d", runs, len(e2eWeeks))
	}
	csv, _ := st.Get(context.Background(), "series/"+aoiID+".csv")
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[3], "2022-W05,2022-01-31,2022-02-06,ok,") {
		t.Errorf("series:\n%s", csv)
	}
	digest, _ := st.Get(context.Background(), "digest/2022-W05.json")
	var d weekly.Digest
	if err := json.Unmarshal(digest, &d); err != nil || len(d.Areas) != 1 || d.Areas[0].Confirmed == 0 || d.Areas[0].Retracted == 0 {
		t.Errorf("digest: %v %s", err, digest)
	}

	// GDAL (and so QGIS) reads every alerts file with the expected fields.
	dir := t.TempDir()
	var files []string
	for _, w := range append(slices.Clone(e2eWeeks), "latest") {
		for _, ext := range []string{".geojson", ".qml"} {
			data, _ := st.Get(context.Background(), "alerts/"+aoiID+"/"+w+ext)
			path := filepath.Join(dir, w+ext)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if ext == ".geojson" {
				files = append(files, path)
			}
		}
	}
	for _, f := range files {
		checkOGRFields(t, f)
	}
	qgisCheck(t, files)
}

// checkOGRFields runs ogrinfo on an alerts file and checks field types.
func checkOGRFields(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("ogrinfo", "-so", "-al", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo %s: %v\n%s", path, err, out)
	}
	types := map[string]string{
		"id": "String", "aoi": "String", "kind": "String", "status": "String", "confidence": "Real",
		"confidence_class": "String", "first_seen": "Date", "last_observed": "Date", "week": "String",
		"area_ha": "Real", "score_mean": "Real", "persisted": "Integer", "valid_obs_before": "Integer",
		"valid_obs_after": "Integer", "before": "String", "after": "String", "scenes_before": "StringList",
		"scenes_after": "StringList", "detector_version": "String",
	}
	for field, typ := range types {
		m := regexp.MustCompile(`(?m)^` + field + `: (\w+) `).FindStringSubmatch(string(out))
		if m == nil || m[1] != typ {
			t.Errorf("%s: field %s is %v, want %s", filepath.Base(path), field, m, typ)
		}
	}
}

// qgisCheck loads the alerts with their styles in headless QGIS and renders
// them, when QGIS is installed (make setup installs it).
func qgisCheck(t *testing.T, files []string) {
	t.Helper()
	script := "../../../shared/bench/qgis_check.py"
	if err := exec.Command("/usr/bin/python3", "-c", "import qgis.core").Run(); err != nil {
		t.Log("QGIS is not installed: skipping the headless QGIS check")
		return
	}
	png := filepath.Join(t.TempDir(), "render.png")
	cmd := exec.Command("/usr/bin/python3", append([]string{script, png}, files...)...)
	runtimeDir := t.TempDir()
	os.Chmod(runtimeDir, 0o700)
	cmd.Env = append(os.Environ(), "QT_QPA_PLATFORM=offscreen", "XDG_RUNTIME_DIR="+runtimeDir)
	out, err := cmd.CombinedOutput()
	text := string(out)
	// QGIS 3.22 may crash while tearing down after it has rendered; what it
	// reported before that stands.
	if err != nil && !strings.Contains(text, "rendered "+png) {
		t.Fatalf("qgis_check: %v\n%s", err, out)
	}
	if err != nil {
		t.Logf("qgis_check exited with %v after rendering", err)
	}
	for _, f := range files {
		if !strings.Contains(text, "OK "+f) || !regexp.MustCompile(regexp.QuoteMeta("OK "+f)+` features=\d+ crs=EPSG:4326 styled=True`).MatchString(text) {
			t.Errorf("QGIS did not load %s styled:\n%s", f, text)
		}
	}
	if info, err := os.Stat(png); err != nil || info.Size() == 0 {
		t.Errorf("QGIS rendered nothing: %v", err)
	}
}

// runChild runs one `run` when the test binary was started as a child by
// TestRerunAfterSIGKILLIsByteIdentical; the child SIGKILLs itself after a
// given number of successful writes.
func runChild() bool {
	raw, backfill := os.Getenv("COMPOUNDWATCH_TEST_RUN"), false
	if raw == "" {
		raw, backfill = os.Getenv("COMPOUNDWATCH_TEST_BACKFILL"), true
	}
	if raw == "" {
		return false
	}
	var limit int
	fmt.Sscan(os.Getenv("COMPOUNDWATCH_TEST_KILL_AFTER"), &limit)
	if limit > 0 {
		wrapStore = func(s store.Store) store.Store { return &killingStore{Store: s, left: limit} }
	}
	var err error
	if backfill {
		var o backfillOptions
		if err = json.Unmarshal([]byte(raw), &o); err == nil {
			_, err = runBackfill(context.Background(), o)
		}
	} else {
		var o runOptions
		if err = json.Unmarshal([]byte(raw), &o); err == nil {
			_, err = runRun(context.Background(), o)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// killingStore SIGKILLs the process after its last allowed Put.
type killingStore struct {
	store.Store
	left int
}

func (k *killingStore) Put(ctx context.Context, key string, data []byte) error {
	if err := k.Store.Put(ctx, key, data); err != nil {
		return err
	}
	if k.left--; k.left == 0 {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return nil
}

// TestRerunAfterSIGKILLIsByteIdentical kills `run` at several points, runs
// it again, and compares every object with an uninterrupted run's. Run
// manifests and locks are left out: they record times.
func TestRerunAfterSIGKILLIsByteIdentical(t *testing.T) {
	s3 := storetest.StartVersitygw(t)
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	child := func(out, week string, killAfter int) error {
		return childProcess(t, "COMPOUNDWATCH_TEST_RUN", runOpts(srv, out, s3, week), killAfter)
	}
	s3.Bucket(t, "clean", "")
	for _, w := range e2eWeeks {
		if err := child("s3://clean/cw", w, 0); err != nil {
			t.Fatal(err)
		}
	}
	s3.Bucket(t, "crashy", "")
	// Kill points, in object writes into a run: right after the quicklook;
	// mid-way through the alerts, then right before the state; after the
	// state but before the lock's release and the digest, then (the area
	// being done, so skipped) between the digest's two files. Each killed
	// run leaves its lock held by a dead process, which the next one takes
	// over.
	kills := map[string][]int{"2022-W03": {1}, "2022-W04": {3, 7}, "2022-W05": {8, 2}}
	for _, w := range e2eWeeks {
		for _, k := range kills[w] {
			if err := child("s3://crashy/cw", w, k); !errors.Is(err, errKilled) {
				t.Fatalf("%s: the run meant to die after %d writes ended with %v", w, k, err)
			}
		}
		if err := child("s3://crashy/cw", w, 0); err != nil {
			t.Fatalf("%s rerun: %v", w, err)
		}
	}
	a, _ := store.Open(context.Background(), "s3://clean/cw", s3.S3Options())
	b, _ := store.Open(context.Background(), "s3://crashy/cw", s3.S3Options())
	ka, _ := a.List(context.Background(), "")
	kb, _ := b.List(context.Background(), "")
	strip := func(keys []string) []string {
		return slices.DeleteFunc(slices.Clone(keys), func(k string) bool {
			return strings.HasPrefix(k, "runs/") || strings.HasPrefix(k, "locks/")
		})
	}
	if !slices.Equal(strip(ka), strip(kb)) {
		t.Fatalf("objects differ:\nclean  %v\ncrashy %v", strip(ka), strip(kb))
	}
	for _, k := range strip(ka) {
		da, _ := a.Get(context.Background(), k)
		db, _ := b.Get(context.Background(), k)
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs after crashes and reruns", k)
		}
	}
	t.Logf("%d objects compared", len(strip(ka)))
}

var errKilled = errors.New("killed")

func TestDemoRunsTheWeeklyJob(t *testing.T) {
	out := t.TempDir()
	var log bytes.Buffer
	if err := runDemo(context.Background(), demoOptions{Fixtures: t.TempDir(), Weeks: 5, Workers: 2, Storage: storageOptions{Out: out}, out: &log}); err != nil {
		t.Fatal(err)
	}
	st, _ := store.OpenDir(out)
	feats := readFeatures(t, st, "alerts/"+fixture.AOIID+"/latest.geojson")
	statuses := map[string]int{}
	for _, f := range feats {
		statuses[f.Properties["status"].(string)]++
	}
	// By week 6 compounds a and b are confirmed and the tarp field retracted.
	if statuses["confirmed"] == 0 || statuses["retracted"] == 0 {
		t.Errorf("statuses in the latest alerts: %v", statuses)
	}
	for _, k := range []string{"series/" + fixture.AOIID + ".png", "digest/2022-W06.md", "quicklooks/" + fixture.AOIID + "/2022-W06.png", "alerts/" + fixture.AOIID + "/latest.qml"} {
		if _, err := st.Get(context.Background(), k); err != nil {
			t.Errorf("demo output: %v", err)
		}
	}
	if !strings.Contains(log.String(), "QGIS") || !strings.Contains(log.String(), out) {
		t.Errorf("the demo does not say where its results are and how to open them:\n%s", log.String())
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/fixture"
)

var world *fixture.Manifest

func TestMain(m *testing.M) {
	if benchChild() || runChild() {
		return
	}
	dir, err := os.MkdirTemp("", "compoundwatch-cmd-")
	if err != nil {
		panic(err)
	}
	world, err = fixture.Generate(context.Background(), dir, fixture.DefaultSpec())
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestScenesListsDeduplicatedScenes runs `compoundwatch scenes` against the
// paging fixture API and checks every line against the generator's record.
func TestScenesListsDeduplicatedScenes(t *testing.T) {
	srv := fixture.NewServer(world, 3)
	defer srv.Close()
	tests := []struct {
		period   string
		maxCloud float64
	}{
		{"2022-01-03/2022-02-13", 100},
		{"2022-W02", 100},
		{"2022-01", 1.0},
		{"2022-01-11", 100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s max-cloud %g", tt.period, tt.maxCloud), func(t *testing.T) {
			var out bytes.Buffer
			o := scenesOptions{AOI: filepath.Join(world.Dir, "aoi.geojson"), Period: tt.period, MaxCloud: tt.maxCloud,
				Catalog: catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"}, out: &out}
			if err := runScenes(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			want := expectedLines(t, tt.period, tt.maxCloud)
			got := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.Len() == 0 {
				got = nil
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// expectedLines derives the listing from the generator's own record: every
// scene in the period under the cloud limit, the reprocessed one instead of
// its original, in time order.
func expectedLines(t *testing.T, p string, maxCloud float64) []string {
	t.Helper()
	start, end := periodBounds(t, p)
	reprocessed := map[string]bool{}
	for _, s := range world.Scenes {
		if s.Sequence > 0 {
			reprocessed[s.Datetime.Format("20060102")] = true
		}
	}
	var lines []string
	for _, s := range world.Scenes {
		if s.Datetime.Before(start) || !s.Datetime.Before(end) || s.CloudCover > maxCloud {
			continue
		}
		if s.Sequence == 0 && reprocessed[s.Datetime.Format("20060102")] {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s\t%s\t%.2f\t%s", s.ID, s.Datetime.Format(time.RFC3339), s.CloudCover, fixture.Tile))
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(strings.Split(a, "\t")[1], strings.Split(b, "\t")[1]) })
	return lines
}

func periodBounds(t *testing.T, p string) (time.Time, time.Time) {
	d := func(s string) time.Time { v, _ := time.Parse("2006-01-02", s); return v }
	switch p {
	case "2022-01-03/2022-02-13":
		return d("2022-01-03"), d("2022-02-14")
	case "2022-W02":
		return d("2022-01-10"), d("2022-01-17")
	case "2022-01":
		return d("2022-01-01"), d("2022-02-01")
	case "2022-01-11":
		return d("2022-01-11"), d("2022-01-12")
	}
	t.Fatalf("no bounds for %s", p)
	return time.Time{}, time.Time{}
}

func TestAOIList(t *testing.T) {
	var out bytes.Buffer
	if err := runAOIList(context.Background(), aoiListOptions{Watchlist: "builtin", MaxAreaKm2: 2500, out: &out}); err != nil {
		t.Fatal(err)
	}
	w, _ := aoi.Builtin()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(w.Areas)+1 {
		t.Fatalf("%d lines for %d areas", len(lines), len(w.Areas))
	}
	for _, want := range []string{"mm-kk-park", "Myanmar", "47QMU", "ph-bamban", "50PRB,50PRC,51PTS,51PTT", "Cambodia"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("aoi list lacks %q", want)
		}
	}
}

func TestAOIValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.geojson")
	os.WriteFile(good, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"a"},"geometry":{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.6]]]}}]}`), 0o644)
	bad := filepath.Join(dir, "bad.geojson")
	os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"ok"},"geometry":{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.6]]]}},{"type":"Feature","properties":{"id":"open-ring"},"geometry":{"type":"Polygon","coordinates":[[[98.5,16.6],[98.55,16.6],[98.55,16.65],[98.5,16.65]]]}}]}`), 0o644)
	var out bytes.Buffer
	if err := runAOIValidate(context.Background(), aoiValidateOptions{File: good, out: &out}); err != nil || !strings.Contains(out.String(), "1 areas, all valid") {
		t.Fatalf("good: %v %q", err, out.String())
	}
	err := runAOIValidate(context.Background(), aoiValidateOptions{File: bad, out: &out})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `feature 1 (id "open-ring")`) || exitCode(err) != exitFailed {
		t.Fatalf("bad: %v", err)
	}
}

func TestExitCodesAndEnvironment(t *testing.T) {
	run := func(args ...string) error {
		var out, errb bytes.Buffer
		c := newRootCommand()
		c.SetArgs(args)
		c.SetOut(&out)
		c.SetErr(&errb)
		return c.ExecuteContext(context.Background())
	}
	if err := run("scenes", "--period", "2025-W10"); exitCode(err) != exitUsage {
		t.Errorf("missing --aoi: exit %d (%v)", exitCode(err), err)
	}
	if err := run("scenes", "--aoi", "mm-kk-park", "--period", "2025-W99"); exitCode(err) != exitUsage {
		t.Errorf("bad period: exit %d (%v)", exitCode(err), err)
	}
	if err := run("aoi", "list", "--no-such-flag"); exitCode(err) != exitUsage {
		t.Errorf("unknown flag: exit %d (%v)", exitCode(err), err)
	}
	if err := run("aoi", "validate", "/nonexistent.geojson"); exitCode(err) != exitFailed {
		t.Errorf("missing file: exit %d (%v)", exitCode(err), err)
	}
	t.Setenv("COMPOUNDWATCH_MAX_AREA_KM2", "10")
	if err := run("aoi", "list"); err == nil || !strings.Contains(err.Error(), "above the limit") {
		t.Errorf("COMPOUNDWATCH_MAX_AREA_KM2=10 did not apply: %v", err)
	}
	if err := run("aoi", "list", "--max-area-km2", "2500"); err != nil {
		t.Errorf("flag should beat the environment: %v", err)
	}
	t.Setenv("COMPOUNDWATCH_MAX_AREA_KM2", "lots")
	if err := run("aoi", "list"); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "COMPOUNDWATCH_MAX_AREA_KM2") {
		t.Errorf("bad environment value: %v", err)
	}
}

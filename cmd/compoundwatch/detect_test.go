package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"compoundwatch/pipeline/alert"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/eval"
	"compoundwatch/pipeline/fixture"
)

const oscd = "../../../shared/oscd"

// TestDetectMeetsTheOSCDTarget runs `detect` with the default parameters on
// every development city and scores the alerts with the OSCD rule: every
// alert kind against the urban-change truth, pooled over the cities.
func TestDetectMeetsTheOSCDTarget(t *testing.T) {
	entries, err := os.ReadDir(oscd)
	if err != nil {
		t.Fatalf("the OSCD development set must sit beside the project: %v", err)
	}
	var pooled, pooledExpansion eval.Counts
	cities := 0
	for _, e := range entries {
		dir := filepath.Join(oscd, e.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "pair.json"))
		if err != nil {
			continue
		}
		var p struct{ Before, After string }
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		iso := func(s string) string { return s[:4] + "-" + s[4:6] + "-" + s[6:] }
		out := filepath.Join(t.TempDir(), e.Name()+".geojson")
		o := detectOptions{AOI: filepath.Join(dir, "aoi.geojson"), Before: iso(p.Before), After: iso(p.After), Out: out,
			MaxCloud: 100, Workers: 2, Kinds: []string{"expansion", "demolition"}, ScratchDir: t.TempDir(),
			Catalog: catalogOptions{Catalog: filepath.Join(dir, "catalog.json"), Signing: "none"}}
		if _, err := runDetect(context.Background(), o); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		var buf bytes.Buffer
		c, err := runEval(context.Background(), evalOptions{Alerts: out, Truth: filepath.Join(dir, "truth.tif"), out: &buf})
		if err != nil {
			t.Fatal(err)
		}
		ce, err := runEval(context.Background(), evalOptions{Alerts: out, Truth: filepath.Join(dir, "truth.tif"), Kinds: []string{"expansion"}, out: &buf})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-12s %s", e.Name(), strings.SplitN(buf.String(), "\n", 2)[0])
		pooled, pooledExpansion = pooled.Add(c), pooledExpansion.Add(ce)
		cities++
	}
	if cities != 7 {
		t.Fatalf("%d cities in %s, want 7", cities, oscd)
	}
	t.Logf("pooled precision %.3f recall %.3f F1 %.3f; expansion alerts alone F1 %.3f",
		pooled.Precision(), pooled.Recall(), pooled.F1(), pooledExpansion.F1())
	if pooled.F1() < 0.45 {
		t.Errorf("pooled F1 %.3f < 0.45", pooled.F1())
	}
	// What detect writes by default, expansions alone, meets it too.
	if pooledExpansion.F1() < 0.45 {
		t.Errorf("pooled F1 of expansion alerts %.3f < 0.45", pooledExpansion.F1())
	}
}

func TestDetectCommandWritesReproducibleAlerts(t *testing.T) {
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	dir := t.TempDir()
	run := func(name string, kinds []string) []byte {
		out := filepath.Join(dir, name)
		o := detectOptions{AOI: filepath.Join(world.Dir, "aoi.geojson"), Before: "2022-W02", After: "2022-W04", Out: out,
			MaxCloud: 100, Workers: 2, Kinds: kinds, ScratchDir: t.TempDir(),
			Catalog: catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"}}
		if _, err := runDetect(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a := run("a.geojson", []string{"expansion"})
	b := run("b.geojson", []string{"expansion"})
	if !bytes.Equal(a, b) {
		t.Fatal("two runs wrote different bytes")
	}
	coll, err := alert.Unmarshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(coll.Alerts) == 0 {
		t.Fatal("no alerts for three new compounds")
	}
	for _, al := range coll.Alerts {
		p := al.Properties
		if p.Kind != "expansion" || p.AOI != "fx-moei-bank" || p.Before != "2022-01-10/2022-01-16" || p.After != "2022-01-24/2022-01-30" ||
			len(p.ScenesBefore) == 0 || len(p.ScenesAfter) == 0 || p.DetectorVersion != detect.Version || p.AreaHa < 0.1 {
			t.Errorf("alert properties %+v", p)
		}
	}
	all, err := alert.Unmarshal(run("all.geojson", []string{"expansion", "demolition"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Alerts) <= len(coll.Alerts) {
		t.Errorf("with demolitions %d alerts, without %d: the depot's demolition is missing", len(all.Alerts), len(coll.Alerts))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("%d files in the output directory, want the three alert files and no leftovers", len(entries))
	}
}

func TestDetectCommandRejectsBadInput(t *testing.T) {
	aoiFile := filepath.Join(world.Dir, "aoi.geojson")
	cases := []struct {
		name string
		o    detectOptions
		want string
	}{
		{"missing flags", detectOptions{AOI: aoiFile}, "needs --aoi"},
		{"bad period", detectOptions{AOI: aoiFile, Before: "2022-W54", After: "2022-W04", Out: "x"}, "--before"},
		{"after before before", detectOptions{AOI: aoiFile, Before: "2022-W04", After: "2022-W02", Out: "x"}, "must start after"},
		{"bad kind", detectOptions{AOI: aoiFile, Before: "2022-W02", After: "2022-W04", Out: "x", Kinds: []string{"growth"}}, `--kind "growth"`},
	}
	for _, tc := range cases {
		_, err := runDetect(context.Background(), tc.o)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want a usage error mentioning %q", tc.name, err, tc.want)
		}
	}
}

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
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/paulmach/orb"

	"compoundwatch/geo"
	"compoundwatch/pipeline/fixture"
	"compoundwatch/pipeline/store"
	"compoundwatch/pipeline/store/storetest"
	"compoundwatch/pipeline/weekly"
)

// multiWatchlist writes a watchlist of four areas in the fixture scene: the
// compounds' area and three quiet squares.
func multiWatchlist(t *testing.T) string {
	t.Helper()
	type sq struct {
		id         string
		x0, y0, km float64
	}
	b := fixture.AOIBounds
	var feats []any
	for _, s := range []sq{
		{fixture.AOIID, b[0], b[1], (b[2] - b[0]) / 1000},
		{"north-west", 461000, 1837000, 1.5},
		{"south-west", 461500, 1830500, 1.5},
		{"north-east", 468200, 1837500, 1.5},
	} {
		ring := orb.Ring{{s.x0, s.y0}, {s.x0 + s.km*1000, s.y0}, {s.x0 + s.km*1000, s.y0 + s.km*1000}, {s.x0, s.y0 + s.km*1000}, {s.x0, s.y0}}
		if err := geo.Transform(fixture.EPSG, 4326, ring); err != nil {
			t.Fatal(err)
		}
		feats = append(feats, map[string]any{"type": "Feature", "properties": map[string]any{"id": s.id, "name": s.id},
			"geometry": map[string]any{"type": "Polygon", "coordinates": []orb.Ring{ring}}})
	}
	data, _ := json.Marshal(map[string]any{"type": "FeatureCollection", "features": feats})
	path := filepath.Join(t.TempDir(), "watchlist.geojson")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanShardsAreDisjointAndCoverThePlan(t *testing.T) {
	lines := func(o planOptions) []string {
		var out bytes.Buffer
		o.out = &out
		if _, err := runPlan(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		l := strings.Split(strings.TrimSpace(out.String()), "\n")
		sort.Strings(l)
		return l
	}
	rng := rangeOptions{From: "2025-01-01", To: "2025-03-31", Every: "week"}
	whole := lines(planOptions{Watchlist: "builtin", Range: rng})
	if len(whole) != 20*14 || whole[0] != "kh-bavet 2025-W01" {
		t.Fatalf("%d jobs, first %q", len(whole), whole[0])
	}
	seen := map[string]int{}
	for i := 0; i < 3; i++ {
		for _, l := range lines(planOptions{Watchlist: "builtin", Range: rng, Shard: shardOptions{Shard: fmt.Sprintf("%d/3", i)}}) {
			seen[l]++
		}
	}
	for _, l := range whole {
		if seen[l] != 1 {
			t.Errorf("%q is in %d shards", l, seen[l])
		}
	}
	if len(seen) != len(whole) {
		t.Errorf("the shards hold %d jobs, the plan %d", len(seen), len(whole))
	}
	// The Kubernetes index gives the same shard as --shard.
	t.Setenv("JOB_COMPLETION_INDEX", "2")
	if k8s, flag := lines(planOptions{Watchlist: "builtin", Range: rng, Shard: shardOptions{Shards: 3}}),
		lines(planOptions{Watchlist: "builtin", Range: rng, Shard: shardOptions{Shard: "2/3"}}); !slices.Equal(k8s, flag) {
		t.Error("JOB_COMPLETION_INDEX=2 --shards 3 differs from --shard 2/3")
	}
	var js bytes.Buffer
	if _, err := runPlan(context.Background(), planOptions{Watchlist: "builtin", Range: rangeOptions{From: "2025-01-01", To: "2025-03-31", Every: "month"}, JSON: true, out: &js}); err != nil {
		t.Fatal(err)
	}
	var jobs []struct{ AOI, Period string }
	if err := json.Unmarshal(js.Bytes(), &jobs); err != nil || len(jobs) != 60 || jobs[0].Period != "2025-01" {
		t.Errorf("json plan: %v, %d jobs", err, len(jobs))
	}
}

// The default period is the last complete ISO week in UTC, wherever the
// machine's clock is.
func TestRunPicksTheLastCompleteWeekInUTC(t *testing.T) {
	cases := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2025, 3, 10, 5, 0, 0, 0, time.FixedZone("ICT", 7*3600)), "2025-W09"},  // Monday in Bangkok, still Sunday in UTC
		{time.Date(2025, 3, 9, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2025-W10"}, // already Monday in UTC
		{time.Date(2021, 1, 4, 0, 0, 1, 0, time.UTC), "2020-W53"},
		{time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), "2025-W52"},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		if _, err := runPlan(context.Background(), planOptions{Watchlist: "builtin", AOIs: []string{"mm-kk-park"}, Range: rangeOptions{Every: "week"}, now: func() time.Time { return tc.now }, out: &out}); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out.String()); got != "mm-kk-park "+tc.want {
			t.Errorf("at %s: %q, want %s", tc.now, got, tc.want)
		}
	}
}

// TestSecondRunSkipsALockedAreaAndExpiryTakesOver holds an area-week's lock
// as another worker would, runs `run`, and checks the area is skipped; after
// the lock's expiry the next run processes it.
func TestSecondRunSkipsALockedAreaAndExpiryTakesOver(t *testing.T) {
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	out := t.TempDir()
	st, _ := store.OpenDir(out)
	other := weekly.Holder{Host: "worker-2", PID: 77, RunID: "elsewhere"}
	held, err := weekly.AcquireLock(context.Background(), st, fixture.AOIID, "2022-W03", other, 30*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(context.Background())
	m, err := runRun(context.Background(), runOpts(srv, out, nil, "2022-W03"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Areas[0].Status != "locked" || !strings.Contains(m.Areas[0].Error, "worker-2") {
		t.Fatalf("area %+v, want locked by worker-2", m.Areas[0])
	}
	if _, err := st.Get(context.Background(), "state/"+fixture.AOIID+"/2022-W03.json"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a locked area-week was processed")
	}
	// 31 minutes later worker-2 has not renewed: its lock is stale.
	o := runOpts(srv, out, nil, "2022-W03")
	o.now = func() time.Time { return time.Now().Add(31 * time.Minute) }
	o.LockTTL = 30 * time.Minute
	// The held lock's own renewal would keep it fresh; stop it as a crash would.
	held.Release(context.Background())
	heldAgain, err := weekly.AcquireLock(context.Background(), st, fixture.AOIID, "2022-W03", other, 30*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = heldAgain // never renewed: the process "died" without releasing
	m, err = runRun(context.Background(), o)
	if err != nil || m.Areas[0].Status != "ok" {
		t.Fatalf("after expiry: %v, %+v", err, m.Areas)
	}
	// And a run of an area-week already done skips it, unless --force.
	m, err = runRun(context.Background(), runOpts(srv, out, nil, "2022-W03"))
	if err != nil || m.Areas[0].Status != "done" {
		t.Fatalf("rerun: %v, %+v", err, m.Areas)
	}
	o = runOpts(srv, out, nil, "2022-W03")
	o.Force = true
	if m, err = runRun(context.Background(), o); err != nil || m.Areas[0].Status != "ok" {
		t.Fatalf("forced rerun: %v, %+v", err, m.Areas)
	}
}

func TestRunExitsPartialWhenAnAreaFails(t *testing.T) {
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	o := runOpts(srv, t.TempDir(), nil, "2022-W03")
	o.Watchlist = multiWatchlist(t)
	defer func(w func(store.Store) store.Store) { wrapStore = w }(wrapStore)
	wrapStore = func(s store.Store) store.Store { return &failOn{Store: s, key: "north-east"} }
	m, err := runRun(context.Background(), o)
	if exitCode(err) != exitPartial {
		t.Fatalf("exit code %d (%v), want %d", exitCode(err), err, exitPartial)
	}
	statuses := map[string]string{}
	for _, a := range m.Areas {
		statuses[a.AOI] = a.Status
	}
	if statuses["north-east"] != "failed" || statuses[fixture.AOIID] != "ok" || len(statuses) != 4 {
		t.Errorf("statuses %v", statuses)
	}
}

// failOn fails every write of a key containing key.
type failOn struct {
	store.Store
	key string
}

func (f *failOn) Put(ctx context.Context, key string, data []byte) error {
	if strings.Contains(key, f.key) {
		return fmt.Errorf("put %s: injected outage", key)
	}
	return f.Store.Put(ctx, key, data)
}

func TestBackfillProgressPlainAndOnATerminal(t *testing.T) {
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	for _, tty := range []bool{false, true} {
		var prog bytes.Buffer
		o := backfillOptions{Watchlist: filepath.Join(world.Dir, "aoi.geojson"), Range: rangeOptions{From: "2022-01-10", To: "2022-01-30", Every: "week"},
			Workers: 2, SceneWorkers: 2, MaxCloud: 100, ConfirmAfter: 2,
			Catalog: catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"},
			Storage: storageOptions{Out: t.TempDir()}, progress: &prog, tty: &tty}
		m, err := runBackfill(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Areas) != 3 || m.Status != "ok" {
			t.Fatalf("manifest %+v", m)
		}
		text := prog.String()
		if !tty {
			lines := strings.Split(strings.TrimSpace(text), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "backfill 1/3 (33%) fx-moei-bank 2022-W02 ok, eta ") || !strings.HasPrefix(lines[2], "backfill 3/3 (100%) fx-moei-bank 2022-W04 ok, eta -") {
				t.Errorf("plain progress:\n%s", text)
			}
			continue
		}
		if !strings.Contains(text, "3/3") || !strings.Contains(text, "100%") || !strings.Contains(text, "\r") || !strings.Contains(text, "█") {
			t.Errorf("terminal progress: %q", text)
		}
	}
}

func TestBackfillResumesAfterSIGKILL(t *testing.T) {
	s3 := storetest.StartVersitygw(t)
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	opts := func(out string) backfillOptions {
		return backfillOptions{Watchlist: multiWatchlist(t), Range: rangeOptions{From: "2022-01-10", To: "2022-01-30", Every: "week"},
			Workers: 2, SceneWorkers: 2, MaxCloud: 100, ConfirmAfter: 2,
			Catalog: catalogOptions{Catalog: srv.URL, AllowLoopback: true, Signing: "none"},
			Storage: storageOptions{Out: out, Endpoint: s3.Endpoint, Region: "us-east-1", PathStyle: true}}
	}
	s3.Bucket(t, "clean", "")
	s3.Bucket(t, "crashy", "")
	if err := childProcess(t, "COMPOUNDWATCH_TEST_BACKFILL", opts("s3://clean/cw"), 0); err != nil {
		t.Fatal(err)
	}
	for _, kill := range []int{5, 23} {
		if err := childProcess(t, "COMPOUNDWATCH_TEST_BACKFILL", opts("s3://crashy/cw"), kill); !errors.Is(err, errKilled) {
			t.Fatalf("the backfill meant to die after %d writes ended with %v", kill, err)
		}
	}
	if err := childProcess(t, "COMPOUNDWATCH_TEST_BACKFILL", opts("s3://crashy/cw"), 0); err != nil {
		t.Fatal(err)
	}
	n := compareBuckets(t, s3, "s3://clean/cw", "s3://crashy/cw")
	t.Logf("%d objects compared", n)
}

// compareBuckets checks two locations hold the same objects, byte for byte,
// apart from run manifests and locks, which record times.
func compareBuckets(t *testing.T, s3 *storetest.Server, x, y string) int {
	t.Helper()
	a, _ := store.Open(context.Background(), x, s3.S3Options())
	b, _ := store.Open(context.Background(), y, s3.S3Options())
	strip := func(keys []string) []string {
		return slices.DeleteFunc(keys, func(k string) bool { return strings.HasPrefix(k, "runs/") || strings.HasPrefix(k, "locks/") })
	}
	ka, _ := a.List(context.Background(), "")
	kb, _ := b.List(context.Background(), "")
	ka, kb = strip(ka), strip(kb)
	if !slices.Equal(ka, kb) {
		t.Fatalf("objects differ:\n%v\n%v", ka, kb)
	}
	for _, k := range ka {
		da, _ := a.Get(context.Background(), k)
		db, _ := b.Get(context.Background(), k)
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs", k)
		}
	}
	return len(ka)
}

// childProcess runs `run` (env COMPOUNDWATCH_TEST_RUN) or `backfill`
// (COMPOUNDWATCH_TEST_BACKFILL) in a child test binary that SIGKILLs itself
// after killAfter writes (0: never).
func childProcess(t *testing.T, env string, o any, killAfter int) error {
	t.Helper()
	raw, _ := json.Marshal(o)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+string(raw), fmt.Sprintf("COMPOUNDWATCH_TEST_KILL_AFTER=%d", killAfter))
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL {
			return errKilled
		}
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// TestWorkersProcessEachAreaWeekExactlyOnce runs three sharded workers at
// once for one week and three competing unsharded workers at once for the
// next, all against one versitygw bucket, and compares the result with one
// worker doing both weeks alone.
func TestWorkersProcessEachAreaWeekExactlyOnce(t *testing.T) {
	s3 := storetest.StartVersitygw(t)
	s3.Bucket(t, "solo", "")
	s3.Bucket(t, "fleet", "")
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	wl := multiWatchlist(t)
	opts := func(out, week, shard string) runOptions {
		o := runOpts(srv, out, s3, week)
		o.Watchlist, o.Shard.Shard = wl, shard
		return o
	}
	for _, w := range []string{"2022-W03", "2022-W04"} {
		if err := childProcess(t, "COMPOUNDWATCH_TEST_RUN", opts("s3://solo/cw", w, ""), 0); err != nil {
			t.Fatal(err)
		}
	}
	fleet := func(week string, shards []string) {
		var wg sync.WaitGroup
		errs := make([]error, len(shards))
		for i, sh := range shards {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = childProcess(t, "COMPOUNDWATCH_TEST_RUN", opts("s3://fleet/cw", week, sh), 0)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	fleet("2022-W03", []string{"0/3", "1/3", "2/3"})
	fleet("2022-W04", []string{"", "", ""})

	st, _ := store.Open(context.Background(), "s3://fleet/cw", s3.S3Options())
	keys, _ := st.List(context.Background(), "runs/")
	processed := map[string]int{}
	skipped := 0
	for _, k := range keys {
		data, _ := st.Get(context.Background(), k)
		var m weekly.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, a := range m.Areas {
			switch a.Status {
			case "ok", "baseline", "no_clear_observation":
				processed[a.AOI+" "+m.Week]++
			case "locked", "done":
				skipped++
			default:
				t.Errorf("%s %s: %s %s", a.AOI, m.Week, a.Status, a.Error)
			}
		}
	}
	if len(keys) != 6 {
		t.Errorf("%d run manifests, want 6", len(keys))
	}
	if len(processed) != 8 {
		t.Errorf("%d area-weeks processed, want 8: %v", len(processed), processed)
	}
	for k, n := range processed {
		if n != 1 {
			t.Errorf("%s processed %d times", k, n)
		}
	}
	if skipped != 8 {
		t.Errorf("%d area-weeks skipped by competing workers, want 8", skipped)
	}
	t.Logf("%d objects identical to a lone worker's", compareBuckets(t, s3, "s3://solo/cw", "s3://fleet/cw"))
	// No alert is lost or duplicated: each id once per file, and the lone
	// worker's alerts (compared byte for byte above) are all there.
	for _, id := range []string{fixture.AOIID, "north-west", "south-west", "north-east"} {
		ids := map[string]int{}
		for _, f := range readFeatures(t, st, "alerts/"+id+"/2022-W04.geojson") {
			ids[f.ID]++
		}
		for fid, n := range ids {
			if n != 1 {
				t.Errorf("%s: alert %s appears %d times", id, fid, n)
			}
		}
	}
}

func TestScheduleRunsAtTicksAndStopsGracefully(t *testing.T) {
	srv := fixture.NewServer(world, 100)
	defer srv.Close()
	out := t.TempDir()
	o := runOpts(srv, out, nil, "")
	o.now = func() time.Time { return time.Date(2022, 1, 25, 9, 0, 0, 0, time.UTC) } // last complete week: 2022-W03
	// Slow file reads keep the first run in flight when the stop comes.
	srv.Inject(fixture.Fault{Match: "/files/", Delay: 100 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runSchedule(ctx, scheduleOptions{Cron: "@every 1s", Grace: time.Minute, Run: o}) }()
	st, _ := store.OpenDir(out)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if locks, _ := st.List(context.Background(), "locks/"); len(locks) > 0 {
			break // the first tick's run is under way
		}
		if time.Now().After(deadline) {
			t.Fatal("no run started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop() // SIGTERM
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	runs, _ := st.List(context.Background(), "runs/")
	if len(runs) != 1 {
		t.Fatalf("%d runs after the stop, want the in-flight one finished and no other: %v", len(runs), runs)
	}
	if _, err := st.Get(context.Background(), "state/"+fixture.AOIID+"/2022-W03.json"); err != nil {
		t.Errorf("the in-flight run did not finish: %v", err)
	}

	// With no grace, the in-flight run is cancelled and its lock released.
	out2 := t.TempDir()
	o.Storage.Out = out2
	ctx, stop = context.WithCancel(context.Background())
	go func() { done <- runSchedule(ctx, scheduleOptions{Cron: "@every 1s", Grace: time.Millisecond, Run: o}) }()
	st2, _ := store.OpenDir(out2)
	for {
		if locks, _ := st2.List(context.Background(), "locks/"); len(locks) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("err = %v, want the run cancelled", err)
	}
	locks, _ := st2.List(context.Background(), "locks/")
	data, _ := st2.Get(context.Background(), locks[len(locks)-1])
	if !bytes.Contains(data, []byte(`"state":"released"`)) {
		t.Errorf("the cancelled run left its lock %s", data)
	}
	if err := runSchedule(context.Background(), scheduleOptions{Cron: "not a cron", Run: o}); !errors.Is(err, errUsage) {
		t.Errorf("bad cron: %v", err)
	}
}

// TestDockerfileParses checks the Dockerfile with Docker's own parser, and
// that its stages are what the README says: a cgo build against Debian's
// GDAL, then a slim runtime as a non-root user.
func TestDockerfileParses(t *testing.T) {
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var froms, runs []string
	var user, entry string
	for _, n := range res.AST.Children {
		line := n.Original
		switch strings.ToLower(n.Value) {
		case "from":
			froms = append(froms, line)
		case "run":
			runs = append(runs, line)
		case "user":
			user = line
		case "entrypoint":
			entry = line
		}
	}
	if len(froms) != 2 || !strings.Contains(froms[0], "golang:1.26") || !strings.Contains(froms[1], "debian:bookworm-slim") {
		t.Errorf("stages %v", froms)
	}
	all := strings.Join(runs, "\n")
	for _, want := range []string{"libgdal-dev", "CGO_ENABLED=1", "go build", "libgdal32"} {
		if !strings.Contains(all, want) {
			t.Errorf("no RUN mentions %s", want)
		}
	}
	if user == "" || strings.Contains(user, "root") {
		t.Errorf("USER %q, want a non-root user", user)
	}
	if !strings.Contains(entry, `["compoundwatch"]`) && !strings.Contains(entry, `["/usr/local/bin/compoundwatch"]`) {
		t.Errorf("ENTRYPOINT %q", entry)
	}
}

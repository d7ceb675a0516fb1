// Package weekly owns the weekly job: for each watched area and ISO week it
// compares the week's composite with the last clear one, carries every
// alert through its lifecycle (provisional, confirmed, retracted), and
// writes the alerts, their QGIS style, a quicklook, the growth series, the
// per-area state, and for the week a digest and a run manifest to object
// storage. Every object is derived from the inputs and the previous week's
// state alone, so a rerun writes the same bytes and a crashed run is
// resumed by running it again.
package weekly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/paulmach/orb"
	"golang.org/x/sync/errgroup"

	"compoundwatch/aoi"
	"compoundwatch/pipeline"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/scene"
	"compoundwatch/pipeline/stac"
	"compoundwatch/pipeline/store"
)

// Config is what a weekly run needs besides the areas and the week.
type Config struct {
	Store         store.Store
	Source        stac.Source
	Reader        *scene.Reader
	Params        detect.Params
	ConfirmAfter  int     // later clear weeks an alert must persist in; 0 means 2
	MaxCloud      float64 // scene-level filter, percent
	Workers       int     // scenes read at once per area
	Areas         int     // areas processed at once; 0 means 1
	ScratchDir    string
	QuicklookSide int           // longest side of a quicklook panel; 0 means 512
	Version       string        // compoundwatch's version, for the manifest
	Catalog       string        // for the manifest, already redacted
	Force         bool          // process area-periods that are already done
	LockTTL       time.Duration // how long a lock holds without renewal; 0 means 2 hours
	Holder        Holder        // who takes the locks; zero means this process
	Now           func() time.Time
	// DigestAreas are all the areas of the watchlist when this run does only
	// some of them (a shard); nil means the run's own areas.
	DigestAreas []aoi.Area
}

// AreaReport is an area's line in the run manifest.
type AreaReport struct {
	AOI          string   `json:"aoi"`
	Status       string   `json:"status"` // ok, baseline, no_clear_observation, failed; skipped: done, locked
	Error        string   `json:"error,omitempty"`
	Before       string   `json:"before,omitempty"`
	After        string   `json:"after"`
	ScenesBefore []string `json:"scenes_before"`
	ScenesAfter  []string `json:"scenes_after"`
	Changes      Changes  `json:"changes"`
	Alerts       int      `json:"alerts"`
	BuiltHa      float64  `json:"built_ha"`
	ElapsedMS    int64    `json:"elapsed_ms"`
	Outputs      []string `json:"outputs"`
}

// Keys of an area-week's outputs.
func alertsKey(aoiID, week string) string { return "alerts/" + aoiID + "/" + week + ".geojson" }
func styleKey(aoiID, week string) string  { return "alerts/" + aoiID + "/" + week + ".qml" }
func quicklookKey(aoiID, week string) string {
	return "quicklooks/" + aoiID + "/" + week + ".png"
}

// previous is the period of the same cadence just before p.
func previous(p period.Period) period.Period {
	if _, ok := p.ISOWeek(); ok {
		return period.Period{Start: p.Start.AddDate(0, 0, -7), End: p.Start}
	}
	return period.Month(p.Start.AddDate(0, -1, 0).Year(), p.Start.AddDate(0, -1, 0).Month())
}

// RunArea processes one area for one ISO week or calendar month and writes
// its outputs; the state object goes last. It holds the area-period's lock
// meanwhile; an area-period another run holds is reported "locked", and one
// already done (its state exists) "done", unless cfg.Force.
func RunArea(ctx context.Context, cfg Config, a aoi.Area, week period.Period) (AreaReport, error) {
	start := time.Now()
	weekName, ok := week.Name()
	if !ok {
		return AreaReport{}, fmt.Errorf("weekly: %s is neither an ISO week nor a month", week)
	}
	rep := AreaReport{AOI: a.ID, After: week.String(), ScenesBefore: []string{}, ScenesAfter: []string{}}
	holder := cfg.Holder
	if holder == (Holder{}) {
		holder = ThisProcess("")
	}
	ttl := cfg.LockTTL
	if ttl <= 0 {
		ttl = 2 * time.Hour
	}
	lock, err := AcquireLock(ctx, cfg.Store, a.ID, weekName, holder, ttl, cfg.Now)
	if errors.Is(err, ErrLocked) {
		rep.Status, rep.Error = "locked", err.Error()
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("area %s %s: %w", a.ID, weekName, err)
	}
	defer lock.Release(context.WithoutCancel(ctx))
	if !cfg.Force {
		if ok, err := done(ctx, cfg.Store, a.ID, weekName); err != nil {
			return rep, fmt.Errorf("area %s %s: %w", a.ID, weekName, err)
		} else if ok {
			rep.Status = "done"
			return rep, nil
		}
	}
	prev, err := loadPrevious(ctx, cfg.Store, a.ID, week)
	if err != nil {
		return rep, fmt.Errorf("area %s week %s: previous state: %w", a.ID, weekName, err)
	}
	before := previous(week)
	if prev != nil && prev.Reference != "" {
		if before, err = period.Parse(prev.Reference); err != nil {
			return rep, fmt.Errorf("%w: area %s: reference %q: %w", ErrState, a.ID, prev.Reference, err)
		}
	}
	var probes []detectProbe
	if prev != nil {
		probes = probesOf(prev)
	}
	req := pipeline.ChangeRequest{
		Area: a, Before: before, After: week, Source: cfg.Source, Reader: cfg.Reader,
		MaxCloud: cfg.MaxCloud, Workers: cfg.Workers, Params: cfg.Params, ScratchDir: cfg.ScratchDir,
		Probes: polygons(probes), QuicklookSide: cfg.QuicklookSide,
	}
	if req.QuicklookSide == 0 {
		req.QuicklookSide = 512
	}
	confirmAfter := cfg.ConfirmAfter
	if confirmAfter <= 0 {
		confirmAfter = 2
	}

	res, err := pipeline.DetectChange(ctx, req)
	var pe *pipeline.PeriodError
	if errors.As(err, &pe) && pe.Which == "before" {
		// The reference week cannot be used (the first run, or its scenes
		// are gone): the week is measured against itself, which finds
		// nothing new but still observes the open alerts.
		req.Before = week
		res, err = pipeline.DetectChange(ctx, req)
		if err == nil {
			res.Detections, res.Alerts.Alerts = nil, nil
		}
	}
	var next *State
	clear := true
	switch {
	case errors.As(err, &pe) && pe.Which == "after":
		clear = false
		if prev == nil {
			prev = &State{Format: StateFormat, AOI: a.ID}
		}
		next = unobserved(prev, week)
		rep.Status = "no_clear_observation"
	case err != nil:
		rep.Status, rep.Error = "failed", err.Error()
		return rep, fmt.Errorf("area %s week %s: %w", a.ID, weekName, err)
	case prev == nil && req.Before == week:
		next = baseline(a.ID, week)
		rep.Status = "baseline"
	default:
		if prev == nil {
			prev = &State{Format: StateFormat, AOI: a.ID}
		}
		var ch Changes
		next, ch = advance(prev, weekEvidence{week: week, detections: res.Detections, alerts: res.Alerts,
			probes: res.Probes, epsg: res.Grid.EPSG, confirmAfter: confirmAfter})
		rep.Status, rep.Changes = "ok", ch
	}
	if res != nil {
		if req.Before != week {
			rep.Before = req.Before.String()
			rep.ScenesBefore = itemIDs(res.Before)
		}
		rep.ScenesAfter = itemIDs(res.After)
	}

	put := func(key string, data []byte) error {
		if err := cfg.Store.Put(ctx, key, data); err != nil {
			return fmt.Errorf("area %s week %s: %w", a.ID, weekName, err)
		}
		rep.Outputs = append(rep.Outputs, key)
		return nil
	}
	if res != nil && res.TrueColor != nil {
		png, err := quicklook(res.TrueColor, res.Grid, next)
		if err != nil {
			return rep, err
		}
		if err := put(quicklookKey(a.ID, weekName), png); err != nil {
			return rep, err
		}
	}
	alerts, err := alertsFile(next, clear)
	if err != nil {
		return rep, err
	}
	csv, err := seriesCSV(next)
	if err != nil {
		return rep, err
	}
	chart, err := seriesChart(next)
	if err != nil {
		return rep, err
	}
	state, err := json.MarshalIndent(next, "", " ")
	if err != nil {
		return rep, err
	}
	for _, o := range []struct {
		key  string
		data []byte
	}{
		{alertsKey(a.ID, weekName), alerts},
		{styleKey(a.ID, weekName), Style},
		{"alerts/" + a.ID + "/latest.geojson", alerts},
		{"alerts/" + a.ID + "/latest.qml", Style},
		{"series/" + a.ID + ".csv", csv},
		{"series/" + a.ID + ".png", chart},
		{stateKey(a.ID, weekName), append(state, '\n')}, // last: the week is done
	} {
		if err := put(o.key, o.data); err != nil {
			return rep, err
		}
	}
	for _, t := range next.Alerts {
		if t.Open() {
			rep.Alerts++
		}
	}
	if n := len(next.Series); n > 0 {
		rep.BuiltHa = next.Series[n-1].BuiltHa
	}
	rep.ElapsedMS = time.Since(start).Milliseconds()
	return rep, nil
}

type detectProbe struct{ alert *TrackedAlert }

func probesOf(s *State) []detectProbe {
	var out []detectProbe
	for _, i := range openAlerts(s) {
		out = append(out, detectProbe{&s.Alerts[i]})
	}
	return out
}

func polygons(ps []detectProbe) []orb.Polygon {
	out := make([]orb.Polygon, len(ps))
	for i, p := range ps {
		out[i] = p.alert.Grid
	}
	return out
}

func itemIDs(items []stac.Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

// Manifest is runs/<run-id>.json: what a run was asked, what it used and
// what became of each area.
type Manifest struct {
	RunID           string        `json:"run_id"`
	Version         string        `json:"version"`
	DetectorVersion string        `json:"detector_version"`
	Week            string        `json:"week"`
	Period          string        `json:"period"`
	Catalog         string        `json:"catalog"`
	Out             string        `json:"out"`
	Params          detect.Params `json:"params"`
	ConfirmAfter    int           `json:"confirm_after"`
	Started         string        `json:"started"`
	Finished        string        `json:"finished"`
	Status          string        `json:"status"`           // ok, partial, failed
	Digest          string        `json:"digest,omitempty"` // the digest this run wrote, if any
	Areas           []AreaReport  `json:"areas"`
}

// done reports whether an area-period's state, its last output, exists.
func done(ctx context.Context, st store.Store, aoiID, name string) (bool, error) {
	keys, err := st.List(ctx, stateKey(aoiID, name))
	if err != nil {
		return false, err
	}
	return slices.Contains(keys, stateKey(aoiID, name)), nil
}

// allDone reports whether every area has its state for the period.
func allDone(ctx context.Context, st store.Store, areas []aoi.Area, name string) (bool, error) {
	for _, a := range areas {
		if ok, err := done(ctx, st, a.ID, name); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// ErrPartial is returned when some areas failed and the rest were written.
var ErrPartial = errors.New("weekly: some areas failed")

// Outcome sums up the areas' errors: "ok"; "partial" with an error wrapping
// ErrPartial; or "failed" when every area failed.
func Outcome(errs []error) (string, error) {
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	switch {
	case failed == 0:
		return "ok", nil
	case failed < len(errs):
		return "partial", fmt.Errorf("%w: %d of %d areas: %w", ErrPartial, failed, len(errs), errors.Join(errs...))
	}
	return "failed", errors.Join(errs...)
}

// RunWeek processes every area for the week or month (one area's failure
// does not stop the others), then writes the period's digest and the run
// manifest.
func RunWeek(ctx context.Context, cfg Config, areas []aoi.Area, week period.Period, runID string) (*Manifest, error) {
	weekName, ok := week.Name()
	if !ok {
		return nil, fmt.Errorf("weekly: %s is neither an ISO week nor a month", week)
	}
	if cfg.Holder == (Holder{}) {
		cfg.Holder = ThisProcess(runID)
	}
	m := &Manifest{RunID: runID, Version: cfg.Version, DetectorVersion: detect.Version, Week: weekName, Period: week.String(),
		Catalog: cfg.Catalog, Out: cfg.Store.String(), Params: cfg.Params, ConfirmAfter: cfg.ConfirmAfter,
		Started: time.Now().UTC().Format(time.RFC3339), Areas: make([]AreaReport, len(areas))}
	if m.ConfirmAfter <= 0 {
		m.ConfirmAfter = 2
	}
	eg := errgroup.Group{}
	eg.SetLimit(max(1, cfg.Areas))
	errs := make([]error, len(areas))
	for i, a := range areas {
		eg.Go(func() error {
			rep, err := RunArea(ctx, cfg, a, week)
			if err != nil {
				rep.AOI, rep.After, rep.Status, rep.Error = a.ID, week.String(), "failed", err.Error()
			}
			m.Areas[i], errs[i] = rep, err
			return nil
		})
	}
	_ = eg.Wait()
	var runErr error
	m.Status, runErr = Outcome(errs)
	if ctx.Err() != nil {
		return m, ctx.Err()
	}
	// The digest and the manifest are written even when areas failed, and
	// their own failures are reported with the areas'. When this run is one
	// of several workers, the digest is written by whichever finds every
	// area of the watchlist done, so it is complete and the same whoever
	// writes it.
	all := cfg.DigestAreas
	if all == nil {
		all = areas
	}
	write := len(all) == len(areas)
	for _, r := range m.Areas {
		if r.Status == "locked" {
			write = false // another worker has it: let the last one write
		}
	}
	if !write {
		complete, err := allDone(ctx, cfg.Store, all, weekName)
		if err != nil {
			return m, errors.Join(runErr, err)
		}
		write = complete
	}
	if write {
		if err := WriteDigest(ctx, cfg.Store, all, week); err != nil {
			return m, errors.Join(runErr, err)
		}
		m.Digest = "digest/" + weekName + ".json"
	}
	m.Finished = time.Now().UTC().Format(time.RFC3339)
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return m, errors.Join(runErr, err)
	}
	if err := cfg.Store.Put(ctx, "runs/"+runID+".json", append(data, '\n')); err != nil {
		return m, errors.Join(runErr, fmt.Errorf("write run manifest: %w", err))
	}
	return m, runErr
}

// DigestArea is an area's line in the weekly digest.
type DigestArea struct {
	AOI         string  `json:"aoi"`
	Name        string  `json:"name"`
	Status      string  `json:"status"` // as in the series, or "missing" when the week has no state
	New         int     `json:"new"`
	Confirmed   int     `json:"confirmed"`
	Retracted   int     `json:"retracted"`
	Provisional int     `json:"provisional_open"`
	BuiltHa     float64 `json:"built_ha"`
	LastClear   string  `json:"last_clear"`
	StaleDays   int     `json:"stale_days"` // days from the last clear view to the week's end
	Alerts      string  `json:"alerts"`
}

// Digest is digest/<yyyy>-W<ww>.json.
type Digest struct {
	Week   string       `json:"week"`
	Period string       `json:"period"`
	Areas  []DigestArea `json:"areas"`
}

// WriteDigest summarizes the week from the stored states of the areas, so
// it covers areas written by other runs or shards too.
func WriteDigest(ctx context.Context, st store.Store, areas []aoi.Area, week period.Period) error {
	weekName, _ := week.Name()
	d := Digest{Week: weekName, Period: week.String()}
	for _, a := range areas {
		da := DigestArea{AOI: a.ID, Name: a.Name, Status: "missing", Alerts: alertsKey(a.ID, weekName)}
		s, err := loadState(ctx, st, a.ID, weekName)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("digest %s: %w", weekName, err)
		}
		if s != nil && len(s.Series) > 0 {
			r := s.Series[len(s.Series)-1]
			da.Status, da.New, da.Confirmed, da.Retracted, da.Provisional, da.BuiltHa, da.LastClear =
				r.Status, r.New, r.Confirmed, r.Retracted, r.Provisional, r.BuiltHa, r.LastClear
			if t, err := time.Parse("2006-01-02", r.LastClear); err == nil {
				da.StaleDays = int(math.Round(week.End.AddDate(0, 0, -1).Sub(t).Hours() / 24))
			} else {
				da.StaleDays = -1
			}
		}
		d.Areas = append(d.Areas, da)
	}
	data, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		return err
	}
	if err := st.Put(ctx, "digest/"+weekName+".json", append(data, '\n')); err != nil {
		return fmt.Errorf("write digest: %w", err)
	}
	return st.Put(ctx, "digest/"+weekName+".md", digestMarkdown(d))
}

func digestMarkdown(d Digest) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# compoundwatch digest, %s (%s)\n\n", d.Week, d.Period)
	fmt.Fprintf(&b, "| area | status | new | confirmed | retracted | provisional | built ha | last clear view | stale days |\n")
	fmt.Fprintf(&b, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n")
	for _, a := range d.Areas {
		stale := fmt.Sprint(a.StaleDays)
		if a.StaleDays < 0 || a.Status == "missing" {
			stale = "-"
		}
		last := a.LastClear
		if last == "" {
			last = "never"
		}
		fmt.Fprintf(&b, "| %s (%s) | %s | %d | %d | %d | %d | %.2f | %s | %s |\n", a.Name, a.AOI, a.Status, a.New, a.Confirmed, a.Retracted, a.Provisional, a.BuiltHa, last, stale)
	}
	b.WriteString("\nStatus: ok (compared with the last clear week), baseline (first clear week), no_clear_observation (clouds all week), missing (not processed).\n")
	return b.Bytes()
}

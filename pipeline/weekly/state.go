package weekly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/paulmach/orb"

	"compoundwatch/pipeline/period"
	"compoundwatch/pipeline/store"
)

// StateFormat names the layout of state files; it changes when they do.
const StateFormat = "compoundwatch-state/1"

// Status is where an alert is in its lifecycle.
type Status string

// Alert statuses.
const (
	Provisional Status = "provisional" // seen once, low confidence
	Confirmed   Status = "confirmed"   // persisted in ConfirmAfter later clear weeks
	Retracted   Status = "retracted"   // reverted to what stood before: cloud, a harvest, a tarp
)

// TrackedAlert is an alert and the evidence its lifecycle needs.
type TrackedAlert struct {
	ID              string      `json:"id"`
	Kind            string      `json:"kind"`
	Status          Status      `json:"status"`
	FirstSeen       string      `json:"first_seen"` // start of the ISO week of first detection
	ConfirmedAt     string      `json:"confirmed_at,omitempty"`
	RetractedAt     string      `json:"retracted_at,omitempty"`
	LastObserved    string      `json:"last_observed"` // start of the last week with a clear view of it
	Persisted       int         `json:"persisted"`     // later clear weeks in which it stood
	Before          string      `json:"before"`        // the periods that first showed it
	After           string      `json:"after"`
	AreaHa          float64     `json:"area_ha"`
	Confidence      float64     `json:"confidence"`
	ScoreMean       float64     `json:"score_mean"`
	ValidObsBefore  int         `json:"valid_obs_before"`
	ValidObsAfter   int         `json:"valid_obs_after"`
	ScenesBefore    []string    `json:"scenes_before"`
	ScenesAfter     []string    `json:"scenes_after"`
	DetectorVersion string      `json:"detector_version"`
	EPSG            int         `json:"epsg"`
	Grid            orb.Polygon `json:"grid_polygon"` // on the area's UTM grid, for measuring
	Geometry        orb.Polygon `json:"geometry"`     // WGS84, rounded, as published
	// Mean reflectance (blue, green, red, NIR, SWIR 1.6, SWIR 2.2) of the
	// region before and after the change: later weeks are compared with both.
	SignatureBefore []float64 `json:"signature_before"`
	SignatureAfter  []float64 `json:"signature_after"`
}

// Open reports whether the alert can still change status or be re-observed.
func (a *TrackedAlert) Open() bool { return a.Status != Retracted }

// SeriesRow is one week of an area's growth series.
type SeriesRow struct {
	Week        string  `json:"week"`
	Start       string  `json:"start"`
	End         string  `json:"end"`
	Status      string  `json:"status"` // ok, baseline, no_clear_observation
	BuiltHa     float64 `json:"built_ha"`
	New         int     `json:"new"`
	Confirmed   int     `json:"confirmed"`
	Retracted   int     `json:"retracted"`
	Provisional int     `json:"provisional_open"`
	LastClear   string  `json:"last_clear"`
}

// State is an area after a week: what the next week starts from. It is
// stored as JSON at state/<aoi>/<yyyy>-W<ww>.json (format StateFormat) and is
// the last object a week writes for an area, so its presence means the
// week's outputs for the area are complete.
type State struct {
	Format    string         `json:"format"`
	AOI       string         `json:"aoi"`
	Week      string         `json:"week"`
	Reference string         `json:"reference"`  // ISO week of the last clear composite: the next week's "before"
	LastClear string         `json:"last_clear"` // last day of that week
	Alerts    []TrackedAlert `json:"alerts"`
	Series    []SeriesRow    `json:"series"`
}

func stateKey(aoiID, week string) string { return "state/" + aoiID + "/" + week + ".json" }

// ErrState is wrapped by failures to read a state file.
var ErrState = errors.New("weekly: bad state")

// loadPrevious returns the newest state of the area from before week, or
// nil when the area has none.
func loadPrevious(ctx context.Context, st store.Store, aoiID string, week period.Period) (*State, error) {
	keys, err := st.List(ctx, "state/"+aoiID+"/")
	if err != nil {
		return nil, err
	}
	name, _ := week.Name()
	weekly := strings.Contains(name, "-W")
	var best string
	for _, k := range keys {
		w := strings.TrimSuffix(path.Base(k), ".json")
		p, err := period.Parse(w)
		if err != nil || !strings.HasSuffix(k, ".json") || strings.Contains(w, "-W") != weekly {
			continue // another cadence's state, or not a state
		}
		if pn, ok := p.Name(); !ok || pn != w {
			continue
		}
		if w < name && w > best { // yyyy-Www and yyyy-mm sort in time order
			best = w
		}
	}
	if best == "" {
		return nil, nil
	}
	return loadState(ctx, st, aoiID, best)
}

func loadState(ctx context.Context, st store.Store, aoiID, week string) (*State, error) {
	data, err := st.Get(ctx, stateKey(aoiID, week))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrState, stateKey(aoiID, week), err)
	}
	if s.Format != StateFormat || s.AOI != aoiID || s.Week != week {
		return nil, fmt.Errorf("%w: %s holds format %q, area %q, week %q", ErrState, stateKey(aoiID, week), s.Format, s.AOI, s.Week)
	}
	return &s, nil
}

func (s *State) clone() *State {
	c := *s
	c.Alerts = slices.Clone(s.Alerts)
	c.Series = slices.Clone(s.Series)
	return &c
}

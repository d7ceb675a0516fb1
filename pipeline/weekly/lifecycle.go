package weekly

import (
	"math"

	"github.com/paulmach/orb/planar"

	"compoundwatch/pipeline/alert"
	"compoundwatch/pipeline/detect"
	"compoundwatch/pipeline/period"
)

// observedShare is the share of an alert's pixels that must be clear in a
// week for that week to count as an observation of it.
const observedShare = 0.5

// weekEvidence is what one clear week brings to an area's lifecycle.
type weekEvidence struct {
	week         period.Period
	detections   []detect.Detection // grid CRS polygons
	alerts       alert.Collection   // the same, as published (WGS84, ids)
	probes       []detect.RegionStats
	epsg         int
	confirmAfter int
}

// Changes lists the alert ids whose status a week set.
type Changes struct {
	New       []string `json:"new"`
	Confirmed []string `json:"confirmed"`
	Retracted []string `json:"retracted"`
}

// openAlerts returns the indexes of the alerts a week must measure.
func openAlerts(s *State) []int {
	var idx []int
	for i := range s.Alerts {
		if s.Alerts[i].Open() {
			idx = append(idx, i)
		}
	}
	return idx
}

// advance applies a clear week to the previous state: open alerts are
// measured against their before and after signatures (persisting towards
// confirmation, or retracted when they revert), and detections that no open
// alert already covers become provisional alerts.
func advance(prev *State, ev weekEvidence) (*State, Changes) {
	next := prev.clone()
	weekName, _ := ev.week.Name()
	start := ev.week.Start.Format("2006-01-02")
	var ch Changes
	for pi, ai := range openAlerts(prev) {
		a := &next.Alerts[ai]
		rs := ev.probes[pi]
		if rs.Pixels == 0 || float64(rs.ClearAfter) < observedShare*float64(rs.Pixels) {
			continue // not seen this week: the status holds, the alert goes stale
		}
		a.LastObserved = start
		if distance(rs.MeanAfter, a.SignatureAfter) <= distance(rs.MeanAfter, a.SignatureBefore) {
			a.Persisted++
			if a.Status == Provisional && a.Persisted >= ev.confirmAfter {
				a.Status, a.ConfirmedAt = Confirmed, start
				a.Confidence = math.Max(a.Confidence, 0.5)
				ch.Confirmed = append(ch.Confirmed, a.ID)
			}
			continue
		}
		if a.Status == Provisional {
			a.Status, a.RetractedAt = Retracted, start
			ch.Retracted = append(ch.Retracted, a.ID)
		}
	}
	for i, d := range ev.detections {
		if coveredByOpen(next, d) {
			continue
		}
		p := ev.alerts.Alerts[i].Properties
		next.Alerts = append(next.Alerts, TrackedAlert{
			ID: p.ID, Kind: p.Kind, Status: Provisional, FirstSeen: start, LastObserved: start,
			Before: p.Before, After: p.After, AreaHa: float64(p.AreaHa), Confidence: float64(p.Confidence), ScoreMean: float64(p.ScoreMean),
			ValidObsBefore: p.ValidObsBefore, ValidObsAfter: p.ValidObsAfter,
			ScenesBefore: p.ScenesBefore, ScenesAfter: p.ScenesAfter, DetectorVersion: p.DetectorVersion,
			EPSG: ev.epsg, Grid: d.Polygon, Geometry: ev.alerts.Alerts[i].Geometry,
			SignatureBefore: d.MeanBefore[:], SignatureAfter: d.MeanAfter[:],
		})
		ch.New = append(ch.New, p.ID)
	}
	next.Week = weekName
	next.Reference = weekName
	next.LastClear = ev.week.End.AddDate(0, 0, -1).Format("2006-01-02")
	next.Series = append(next.Series, seriesRow(next, ev.week, "ok", ch))
	return next, ch
}

// coveredByOpen reports whether an open alert of the same kind already
// covers the detection: either one's centroid lies in the other.
func coveredByOpen(s *State, d detect.Detection) bool {
	dc, _ := planar.CentroidArea(d.Polygon)
	for i := range s.Alerts {
		a := &s.Alerts[i]
		if !a.Open() || a.Kind != string(d.Kind) {
			continue
		}
		ac, _ := planar.CentroidArea(a.Grid)
		if planar.PolygonContains(a.Grid, dc) || planar.PolygonContains(d.Polygon, ac) {
			return true
		}
	}
	return false
}

func distance(v [detect.NumBands]float64, sig []float64) float64 {
	s := 0.0
	for i := range v {
		if i < len(sig) {
			d := v[i] - sig[i]
			s += d * d
		}
	}
	return math.Sqrt(s)
}

// unobserved carries an area through a week without a clear view of it.
func unobserved(prev *State, week period.Period) *State {
	next := prev.clone()
	next.Week, _ = week.Name()
	next.Series = append(next.Series, seriesRow(next, week, "no_clear_observation", Changes{}))
	return next
}

// baseline starts an area's record with its first clear week: there is
// nothing before it to compare with.
func baseline(aoiID string, week period.Period) *State {
	name, _ := week.Name()
	s := &State{Format: StateFormat, AOI: aoiID, Week: name, Reference: name, LastClear: week.End.AddDate(0, 0, -1).Format("2006-01-02")}
	s.Series = append(s.Series, seriesRow(s, week, "baseline", Changes{}))
	return s
}

func seriesRow(s *State, week period.Period, status string, ch Changes) SeriesRow {
	name, _ := week.Name()
	row := SeriesRow{Week: name, Start: week.Start.Format("2006-01-02"), End: week.End.AddDate(0, 0, -1).Format("2006-01-02"),
		Status: status, New: len(ch.New), Confirmed: len(ch.Confirmed), Retracted: len(ch.Retracted), LastClear: s.LastClear}
	for _, a := range s.Alerts {
		if a.Kind == string(detect.Expansion) && a.Open() {
			row.BuiltHa += a.AreaHa
		}
		if a.Status == Provisional {
			row.Provisional++
		}
	}
	row.BuiltHa = math.Round(row.BuiltHa*1e4) / 1e4
	return row
}

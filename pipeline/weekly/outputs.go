package weekly

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"compoundwatch/geo"
	"compoundwatch/pipeline/alert"
	"compoundwatch/pipeline/detect"
)

// Style is the QGIS style written beside every alerts file: colour by
// status and confidence, first_seen/retracted_at as the temporal range.
//
//go:embed alerts.qml
var Style []byte

// Properties are a weekly alert's attributes, in output order. Dates are
// ISO 8601 (YYYY-MM-DD), which QGIS reads as dates for its temporal
// controller; unset ones are null.
type Properties struct {
	ID              string     `json:"id"`
	AOI             string     `json:"aoi"`
	Kind            string     `json:"kind"`
	Status          Status     `json:"status"`
	Confidence      alert.Real `json:"confidence"`
	ConfidenceClass string     `json:"confidence_class"`
	FirstSeen       string     `json:"first_seen"`
	ConfirmedAt     *string    `json:"confirmed_at"`
	RetractedAt     *string    `json:"retracted_at"`
	LastObserved    string     `json:"last_observed"`
	Week            string     `json:"week"`
	AreaHa          alert.Real `json:"area_ha"`
	ScoreMean       alert.Real `json:"score_mean"`
	Persisted       int        `json:"persisted"`
	ValidObsBefore  int        `json:"valid_obs_before"`
	ValidObsAfter   int        `json:"valid_obs_after"`
	Before          string     `json:"before"`
	After           string     `json:"after"`
	ScenesBefore    []string   `json:"scenes_before"`
	ScenesAfter     []string   `json:"scenes_after"`
	DetectorVersion string     `json:"detector_version"`
}

// noClearRecord is the explicit record of a week without a clear view.
type noClearRecord struct {
	ID           string `json:"id"`
	AOI          string `json:"aoi"`
	Kind         string `json:"kind"`
	Status       string `json:"status"`
	Week         string `json:"week"`
	LastObserved string `json:"last_observed"`
	Note         string `json:"note"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// alertsFile is the week's alerts of an area: every alert it has ever had,
// each with its status, and a geometry-less record when the week had no
// clear observation.
func alertsFile(s *State, clear bool) ([]byte, error) {
	var feats []alert.Feature
	for _, a := range s.Alerts {
		class, conf := "low", a.Confidence
		switch a.Status {
		case Confirmed:
			class = "high"
		case Retracted:
			conf = 0
		}
		feats = append(feats, alert.Feature{ID: a.ID, Geometry: a.Geometry, Properties: Properties{
			ID: a.ID, AOI: s.AOI, Kind: a.Kind, Status: a.Status, Confidence: alert.Real(conf), ConfidenceClass: class,
			FirstSeen: a.FirstSeen, ConfirmedAt: optional(a.ConfirmedAt), RetractedAt: optional(a.RetractedAt),
			LastObserved: a.LastObserved, Week: s.Week, AreaHa: alert.Real(a.AreaHa), ScoreMean: alert.Real(a.ScoreMean), Persisted: a.Persisted,
			ValidObsBefore: a.ValidObsBefore, ValidObsAfter: a.ValidObsAfter, Before: a.Before, After: a.After,
			ScenesBefore: a.ScenesBefore, ScenesAfter: a.ScenesAfter, DetectorVersion: a.DetectorVersion,
		}})
	}
	if !clear {
		since := "no clear observation yet"
		if s.LastClear != "" {
			since = "no clear observation since " + s.LastClear
		}
		feats = append(feats, alert.Feature{ID: s.AOI + "-" + s.Week + "-no-clear", Properties: noClearRecord{
			ID: s.AOI + "-" + s.Week + "-no-clear", AOI: s.AOI, Kind: "no_clear_observation", Status: "no_clear_observation",
			Week: s.Week, LastObserved: s.LastClear, Note: since,
		}})
	}
	return alert.MarshalFeatures(s.AOI+" "+s.Week, feats)
}

var statusColour = map[Status]color.NRGBA{
	Confirmed:   {215, 25, 28, 255},
	Provisional: {255, 200, 0, 255},
	Retracted:   {150, 150, 150, 255},
}

// quicklook draws the before and after true-colour composites side by side
// with the outlines of the area's alerts, coloured by status.
func quicklook(tc *detect.TrueColor, g geo.Grid, s *State) ([]byte, error) {
	const gap = 4
	img := image.NewNRGBA(image.Rect(0, 0, 2*tc.Width+gap, tc.Height))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for panel, rgb := range [][]uint8{tc.Before, tc.After} {
		x0 := panel * (tc.Width + gap)
		for y := 0; y < tc.Height; y++ {
			for x := 0; x < tc.Width; x++ {
				o := 3 * (y*tc.Width + x)
				img.SetNRGBA(x0+x, y, color.NRGBA{rgb[o], rgb[o+1], rgb[o+2], 255})
			}
		}
	}
	for _, a := range s.Alerts {
		inside := func(x, y int) bool {
			if x < 0 || y < 0 || x >= tc.Width || y >= tc.Height {
				return false
			}
			px, py := g.Center(x*tc.Stride, y*tc.Stride)
			return planar.PolygonContains(a.Grid, orb.Point{px, py})
		}
		b := a.Grid.Bound()
		c0 := max(0, int((b.Min[0]-g.X0)/g.Res)/tc.Stride-1)
		c1 := min(tc.Width-1, int((b.Max[0]-g.X0)/g.Res)/tc.Stride+1)
		r0 := max(0, int((g.Y0-b.Max[1])/g.Res)/tc.Stride-1)
		r1 := min(tc.Height-1, int((g.Y0-b.Min[1])/g.Res)/tc.Stride+1)
		col := statusColour[a.Status]
		for y := r0; y <= r1; y++ {
			for x := c0; x <= c1; x++ {
				if inside(x, y) && (!inside(x-1, y) || !inside(x+1, y) || !inside(x, y-1) || !inside(x, y+1)) {
					img.SetNRGBA(x, y, col)
					img.SetNRGBA(tc.Width+gap+x, y, col)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode quicklook of %s %s: %w", s.AOI, s.Week, err)
	}
	return buf.Bytes(), nil
}

// seriesCSV is the area's growth series, a row per week.
func seriesCSV(s *State) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	rows := [][]string{{"week", "start", "end", "status", "built_ha", "new", "confirmed", "retracted", "provisional_open", "last_clear"}}
	for _, r := range s.Series {
		rows = append(rows, []string{r.Week, r.Start, r.End, r.Status, strconv.FormatFloat(r.BuiltHa, 'f', 4, 64),
			strconv.Itoa(r.New), strconv.Itoa(r.Confirmed), strconv.Itoa(r.Retracted), strconv.Itoa(r.Provisional), r.LastClear})
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// seriesChart plots built area per week: a line through the clear weeks,
// hollow marks for weeks without a clear view.
func seriesChart(s *State) ([]byte, error) {
	const w, h, left, right, top, bottom = 640, 260, 60, 20, 30, 40
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	ink := color.NRGBA{40, 40, 40, 255}
	line := color.NRGBA{215, 25, 28, 255}
	maxHa := 0.0
	for _, r := range s.Series {
		maxHa = math.Max(maxHa, r.BuiltHa)
	}
	if maxHa == 0 {
		maxHa = 1
	}
	maxHa = niceCeil(maxHa)
	plotW, plotH := w-left-right, h-top-bottom
	for x := left; x <= left+plotW; x++ {
		img.SetNRGBA(x, top+plotH, ink)
	}
	for y := top; y <= top+plotH; y++ {
		img.SetNRGBA(left, y, ink)
	}
	n := len(s.Series)
	px := func(i int) int {
		if n == 1 {
			return left + plotW/2
		}
		return left + i*plotW/(n-1)
	}
	py := func(ha float64) int { return top + plotH - int(math.Round(ha/maxHa*float64(plotH))) }
	prev := -1
	for i, r := range s.Series {
		x, y := px(i), py(r.BuiltHa)
		if prev >= 0 {
			drawLine(img, px(prev), py(s.Series[prev].BuiltHa), x, y, line)
		}
		prev = i
		for dy := -3; dy <= 3; dy++ {
			for dx := -3; dx <= 3; dx++ {
				edge := dx == -3 || dx == 3 || dy == -3 || dy == 3
				if r.Status == "ok" || r.Status == "baseline" || edge {
					img.SetNRGBA(x+dx, y+dy, line)
				}
			}
		}
	}
	label(img, left, 18, fmt.Sprintf("%s: built area, ha (hollow: no clear view)", s.AOI), ink)
	label(img, 4, top+8, strconv.FormatFloat(maxHa, 'g', 4, 64), ink)
	label(img, 4, top+plotH+4, "0", ink)
	if n > 0 {
		label(img, left, h-12, s.Series[0].Week, ink)
		label(img, max(left, w-right-7*len(s.Series[n-1].Week)), h-12, s.Series[n-1].Week, ink)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode growth chart of %s: %w", s.AOI, err)
	}
	return buf.Bytes(), nil
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func drawLine(img *image.NRGBA, x0, y0, x1, y1 int, c color.NRGBA) {
	steps := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= steps; i++ {
		x := x0 + (x1-x0)*i/steps
		y := y0 + (y1-y0)*i/steps
		img.SetNRGBA(x, y, c)
		img.SetNRGBA(x, y+1, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func label(img *image.NRGBA, x, y int, s string, c color.NRGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

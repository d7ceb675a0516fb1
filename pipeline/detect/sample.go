package detect

import (
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// sampleCap bounds the statistics sample: 2^17 pixels of 12 bands is 6 MiB,
// whatever the area's size, and far more than the 12×12 covariance and the
// median need.
const sampleCap = 1 << 17

// sample is a systematic sample of clear land pixels in scan order: every
// stride-th pixel, the stride doubling (and every other kept pixel dropping)
// whenever the sample is full. It is deterministic, and every pixel of the
// area has the same chance to be in it.
type sample struct {
	cap      int
	stride   int
	seen     int
	values   []float32 // 2*NumBands per pixel: before, after
	greening []float64
}

func newSample(capacity int) *sample {
	return &sample{cap: capacity, stride: 1}
}

func (s *sample) add(x, y *[NumBands]float32, greening float64) {
	s.seen++
	if (s.seen-1)%s.stride != 0 {
		return
	}
	if len(s.greening) == s.cap {
		s.halve()
		if (s.seen-1)%s.stride != 0 {
			return
		}
	}
	s.values = append(s.values, x[:]...)
	s.values = append(s.values, y[:]...)
	s.greening = append(s.greening, greening)
}

// halve keeps every other sampled pixel and doubles the stride.
func (s *sample) halve() {
	n := 0
	for i := 0; i < len(s.greening); i += 2 {
		copy(s.values[n*2*NumBands:(n+1)*2*NumBands], s.values[i*2*NumBands:(i+1)*2*NumBands])
		s.greening[n] = s.greening[i]
		n++
	}
	s.values = s.values[:n*2*NumBands]
	s.greening = s.greening[:n]
	s.stride *= 2
}

func (s *sample) len() int { return len(s.greening) }

func (s *sample) before(i int) []float32 { return s.values[i*2*NumBands : i*2*NumBands+NumBands] }
func (s *sample) after(i int) []float32  { return s.values[i*2*NumBands+NumBands : (i+1)*2*NumBands] }

// fitIRMAD runs the reweighting iterations on the sample, stopping early
// once the canonical correlations move by less than 1e-6.
func fitIRMAD(s *sample, iterations int) (*madTransform, error) {
	chi := distuv.ChiSquared{K: NumBands}
	centre := make([]float64, 2*NumBands)
	var t *madTransform
	for it := 0; it < iterations; it++ {
		m := newMoments(2*NumBands, centre)
		for i := 0; i < s.len(); i++ {
			x, y := s.before(i), s.after(i)
			w := 1.0
			if t != nil {
				w = noChangeWeight(chi, t.chi2(x, y))
			}
			m.add(w, x, y)
		}
		nt, err := fitMAD(m, NumBands)
		if err != nil {
			return nil, err
		}
		converged := t != nil
		for k := range nt.rho {
			if t != nil && abs(nt.rho[k]-t.rho[k]) > 1e-6 {
				converged = false
			}
		}
		t = nt
		copy(centre, t.meanX)
		copy(centre[NumBands:], t.meanY)
		if converged {
			break
		}
	}
	return t, nil
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// medianMAD returns the median and the median absolute deviation; it sorts v.
func medianMAD(v []float64) (median, mad float64) {
	if len(v) == 0 {
		return 0, 0
	}
	slices.Sort(v)
	median = mid(v)
	dev := make([]float64, len(v))
	for i, x := range v {
		dev[i] = abs(x - median)
	}
	slices.Sort(dev)
	return median, mid(dev)
}

func mid(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// sortDetections orders detections largest first, then by position, so the
// output order is stable.
func sortDetections(d []Detection) {
	slices.SortStableFunc(d, func(a, b Detection) int {
		switch {
		case a.AreaHa != b.AreaHa:
			if a.AreaHa > b.AreaHa {
				return -1
			}
			return 1
		case a.Polygon[0][0][1] != b.Polygon[0][0][1]:
			if a.Polygon[0][0][1] > b.Polygon[0][0][1] {
				return -1
			}
			return 1
		case a.Polygon[0][0][0] < b.Polygon[0][0][0]:
			return -1
		case a.Polygon[0][0][0] > b.Polygon[0][0][0]:
			return 1
		}
		return 0
	})
}

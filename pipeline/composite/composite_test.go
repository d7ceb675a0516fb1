package composite

import (
	"math"
	"math/rand/v2"
	"testing"

	"compoundwatch/geo"
	"compoundwatch/pipeline/scene"
)

func obs(g geo.Grid, id string, vals [][]float32, valid []bool) *scene.Observation {
	o := scene.NewObservation(g, len(vals))
	o.Item = id
	for b := range vals {
		copy(o.Bands[b], vals[b])
	}
	copy(o.Valid, valid)
	return o
}

func TestMedianPerPixel(t *testing.T) {
	g := geo.Grid{EPSG: 32647, X0: 0, Y0: 40, Res: 10, Width: 4, Height: 1}
	nan := float32(math.NaN())
	cases := []struct {
		name   string
		obs    [][]float32 // one band; per observation, per pixel
		valid  [][]bool
		want   []float32
		counts []uint16
	}{
		{
			name:   "odd, even, one and no observation",
			obs:    [][]float32{{0.1, 0.1, 0.5, 0.9}, {0.3, 0.2, 0.6, 0.9}, {0.2, 0.9, 0.7, 0.9}},
			valid:  [][]bool{{true, true, true, false}, {true, true, false, false}, {true, false, false, false}},
			want:   []float32{0.2, 0.15, 0.5, nan},
			counts: []uint16{3, 2, 1, 0},
		},
		{
			name:   "a residual cloud does not move the median",
			obs:    [][]float32{{0.1, 0, 0, 0}, {0.12, 0, 0, 0}, {0.6, 0, 0, 0}},
			valid:  [][]bool{{true, false, false, false}, {true, false, false, false}, {true, false, false, false}},
			want:   []float32{0.12, nan, nan, nan},
			counts: []uint16{3, 0, 0, 0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStack(g, 1, len(tc.obs))
			for i := range tc.obs {
				if err := s.Add(obs(g, "s"+string(rune('a'+i)), [][]float32{tc.obs[i]}, tc.valid[i])); err != nil {
					t.Fatal(err)
				}
			}
			c := NewComposite(g, 1)
			s.Median(c)
			for p, w := range tc.want {
				got := c.Bands[0][p]
				if math.IsNaN(float64(w)) != math.IsNaN(float64(got)) || (!math.IsNaN(float64(w)) && math.Abs(float64(got-w)) > 1e-6) {
					t.Errorf("pixel %d = %v, want %v", p, got, w)
				}
				if c.Count[p] != tc.counts[p] {
					t.Errorf("pixel %d count %d, want %d", p, c.Count[p], tc.counts[p])
				}
			}
		})
	}
}

func TestMedianDoesNotDependOnOrder(t *testing.T) {
	g := geo.Grid{EPSG: 32647, X0: 0, Y0: 640, Res: 10, Width: 64, Height: 64}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []*scene.Observation
	for i := 0; i < 6; i++ {
		vals := make([][]float32, 3)
		for b := range vals {
			vals[b] = make([]float32, g.Len())
			for p := range vals[b] {
				vals[b][p] = rng.Float32()
			}
		}
		valid := make([]bool, g.Len())
		for p := range valid {
			valid[p] = rng.Float64() < 0.7
		}
		all = append(all, obs(g, string(rune('a'+i)), vals, valid))
	}
	run := func(order []int) *Composite {
		s := NewStack(g, 3, len(all))
		for _, i := range order {
			if err := s.Add(all[i]); err != nil {
				t.Fatal(err)
			}
		}
		c := NewComposite(g, 3)
		s.Median(c)
		return c
	}
	a, b := run([]int{0, 1, 2, 3, 4, 5}), run([]int{5, 3, 1, 0, 4, 2})
	for bi := range a.Bands {
		for p := range a.Bands[bi] {
			if math.Float32bits(a.Bands[bi][p]) != math.Float32bits(b.Bands[bi][p]) {
				t.Fatalf("band %d pixel %d: %v then %v", bi, p, a.Bands[bi][p], b.Bands[bi][p])
			}
		}
	}
	if len(a.Scenes) != 6 || a.Scenes[0] != "a" || b.Scenes[0] != "a" {
		t.Errorf("scenes %v / %v, want sorted ids", a.Scenes, b.Scenes)
	}
}

func TestStackRefusesMoreObservationsThanItHolds(t *testing.T) {
	g := geo.Grid{EPSG: 32647, X0: 0, Y0: 10, Res: 10, Width: 1, Height: 1}
	s := NewStack(g, 1, 1)
	if err := s.Add(obs(g, "a", [][]float32{{0.1}}, []bool{true})); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(obs(g, "b", [][]float32{{0.1}}, []bool{true})); err == nil {
		t.Fatal("second observation into a stack of one was accepted")
	}
	s.Reset(g)
	if err := s.Add(obs(g, "b", [][]float32{{0.1}}, []bool{true})); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

// Two tiles of one pass overlap in the middle pixel: it is seen once, with
// the first-ranked tile's value, whatever order the tiles arrive in; a second
// pass adds a second observation.
func TestTilesOfOnePassCountOnce(t *testing.T) {
	g := geo.Grid{EPSG: 32647, X0: 0, Y0: 10, Res: 10, Width: 3, Height: 1}
	west := obs(g, "S2A_47QMU_x", [][]float32{{0.10, 0.20, 0}}, []bool{true, true, false})
	east := obs(g, "S2A_47QNU_x", [][]float32{{0, 0.22, 0.30}}, []bool{false, true, true})
	later := obs(g, "S2B_47QMU_y", [][]float32{{0.12, 0.26, 0.34}}, []bool{true, true, true})
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		s := NewStack(g, 1, 2)
		tiles := []*scene.Observation{west, east}
		for _, i := range order {
			if err := s.AddToPass(0, i, tiles[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddToPass(1, 0, later); err != nil {
			t.Fatal(err)
		}
		c := NewComposite(g, 1)
		s.Median(c)
		want := []float32{0.11, 0.23, 0.32} // means of two passes; the overlap took west's 0.20
		for p := range want {
			if math.Abs(float64(c.Bands[0][p]-want[p])) > 1e-6 || c.Count[p] != 2 {
				t.Errorf("order %v pixel %d: %v (count %d), want %v (count 2)", order, p, c.Bands[0][p], c.Count[p], want[p])
			}
		}
		if len(c.Scenes) != 3 {
			t.Errorf("scenes %v", c.Scenes)
		}
	}
}

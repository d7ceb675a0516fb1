package plan

import (
	"fmt"
	"slices"
	"testing"
	"testing/quick"
	"time"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/period"
)

func areas(n int) []aoi.Area {
	out := make([]aoi.Area, n)
	for i := range out {
		out[i] = aoi.Area{ID: fmt.Sprintf("area-%02d", i)}
	}
	return out
}

func weeks(t *testing.T, n int) []period.Period {
	t.Helper()
	ps, err := period.Range(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*(n-1)), period.EveryWeek)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func key(j Job) string { return j.AOI + " " + j.Name }

// Shards are disjoint, cover the plan, keep an area's periods together and
// in time order, and differ in size by at most one area.
func TestShardsPartitionThePlan(t *testing.T) {
	prop := func(nAreas, nWeeks, nShards uint8) bool {
		na, nw, ns := int(nAreas%25), int(nWeeks%10)+1, int(nShards%8)+1
		as, ws := areas(na), weeks(t, nw)
		whole, err := Build(as, ws, All)
		if err != nil {
			return false
		}
		seen := map[string]int{}
		perShardAreas := make([]int, ns)
		for i := 0; i < ns; i++ {
			jobs, err := Build(as, ws, Shard{i, ns})
			if err != nil {
				return false
			}
			areaShard := map[string]bool{}
			for k, j := range jobs {
				seen[key(j)]++
				areaShard[j.AOI] = true
				if k > 0 && jobs[k-1].AOI == j.AOI && !jobs[k-1].Period.End.Equal(j.Period.Start) {
					return false // an area's periods out of order
				}
			}
			perShardAreas[i] = len(areaShard)
			if len(Areas(as, Shard{i, ns})) != len(areaShard) && nw > 0 {
				return false
			}
		}
		if len(seen) != len(whole) {
			return false
		}
		for _, j := range whole {
			if seen[key(j)] != 1 {
				return false
			}
		}
		return slices.Max(perShardAreas)-slices.Min(perShardAreas) <= 1
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 300}); err != nil {
		t.Fatal(err)
	}
}

func TestResolveShard(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cases := []struct {
		flag   string
		shards int
		env    map[string]string
		want   Shard
		ok     bool
	}{
		{"", 0, nil, All, true},
		{"1/3", 0, nil, Shard{1, 3}, true},
		{"3/3", 0, nil, Shard{}, false},
		{"-1/3", 0, nil, Shard{}, false},
		{"a/3", 0, nil, Shard{}, false},
		{"", 4, map[string]string{EnvKubernetes: "2"}, Shard{2, 4}, true},
		{"", 4, map[string]string{EnvAWSBatch: "3"}, Shard{3, 4}, true},
		{"", 4, map[string]string{EnvAWSBatch: "4"}, Shard{}, false},
		{"", 4, nil, Shard{}, false},
		{"1/2", 4, map[string]string{EnvKubernetes: "2"}, Shard{}, false},
	}
	for _, tc := range cases {
		got, err := ResolveShard(tc.flag, tc.shards, env(tc.env))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ResolveShard(%q, %d, %v) = %v, %v", tc.flag, tc.shards, tc.env, got, err)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "2/3", "3/3", "-1/2", "1/0", "a/b", "1/2/3", "", " 1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			return
		}
		if sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
			t.Fatalf("%q parsed to %v", s, sh)
		}
		if back, err := ParseShard(sh.String()); err != nil || back != sh {
			t.Fatalf("%q: %v does not round-trip", s, sh)
		}
	})
}

// Package plan owns how work is cut up: the jobs (area, period) of a run or
// a backfill, and their deterministic split into shards for parallel
// workers (Kubernetes Indexed Jobs, AWS Batch array jobs, or --shard i/n).
// Shards split by area: an area's periods must run in time order on one
// worker, because each week's lifecycle starts from the week before.
package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"compoundwatch/aoi"
	"compoundwatch/pipeline/period"
)

// ErrShard is wrapped by every bad shard specification.
var ErrShard = errors.New("plan: bad shard")

// Job is one area and one period.
type Job struct {
	AOI    string        `json:"aoi"`
	Period period.Period `json:"-"`
	Name   string        `json:"period"` // 2025-W10 or 2025-03
	Shard  int           `json:"shard"`
}

// Shard is the i-th of n parts of a plan (0 ≤ i < n).
type Shard struct {
	Index, Count int
}

// All is the whole plan.
var All = Shard{0, 1}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard reads "i/n".
func ParseShard(v string) (Shard, error) {
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%w: %q (want i/n with 0 <= i < n)", ErrShard, v)
	}
	return Shard{i, n}, nil
}

// Environment variables that carry a worker's index.
const (
	EnvKubernetes = "JOB_COMPLETION_INDEX"      // Kubernetes Indexed Job
	EnvAWSBatch   = "AWS_BATCH_JOB_ARRAY_INDEX" // AWS Batch array job
)

// ResolveShard decides the shard: --shard i/n wins; otherwise, with
// --shards n, the index comes from the Kubernetes or AWS Batch variable;
// otherwise the whole plan.
func ResolveShard(flag string, shards int, getenv func(string) string) (Shard, error) {
	if flag != "" {
		if shards > 0 {
			return Shard{}, fmt.Errorf("%w: give --shard i/n or --shards n, not both", ErrShard)
		}
		return ParseShard(flag)
	}
	if shards <= 0 {
		return All, nil
	}
	for _, env := range []string{EnvKubernetes, EnvAWSBatch} {
		if v := getenv(env); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 || i >= shards {
				return Shard{}, fmt.Errorf("%w: %s=%q with --shards %d", ErrShard, env, v, shards)
			}
			return Shard{i, shards}, nil
		}
	}
	return Shard{}, fmt.Errorf("%w: --shards %d needs %s or %s, or use --shard i/n", ErrShard, shards, EnvKubernetes, EnvAWSBatch)
}

// ShardOf is the shard an area belongs to: its position in the watchlist
// modulo the number of shards, which spreads areas evenly and gives every
// worker the same answer.
func ShardOf(areaIndex, count int) int { return areaIndex % count }

// Build lists the jobs of the shard, area by area in watchlist order and, for
// each area, period by period in time order.
func Build(areas []aoi.Area, periods []period.Period, s Shard) ([]Job, error) {
	var jobs []Job
	for i, a := range areas {
		sh := ShardOf(i, s.Count)
		if sh != s.Index {
			continue
		}
		for _, p := range periods {
			name, ok := p.Name()
			if !ok {
				return nil, fmt.Errorf("plan: %s is neither an ISO week nor a month", p)
			}
			jobs = append(jobs, Job{AOI: a.ID, Period: p, Name: name, Shard: sh})
		}
	}
	return jobs, nil
}

// Areas keeps the areas of the shard, in watchlist order.
func Areas(areas []aoi.Area, s Shard) []aoi.Area {
	var out []aoi.Area
	for i, a := range areas {
		if ShardOf(i, s.Count) == s.Index {
			out = append(out, a)
		}
	}
	return out
}

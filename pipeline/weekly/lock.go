package weekly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"compoundwatch/pipeline/store"
)

// ErrLocked is returned when another live run holds an area-period.
var ErrLocked = errors.New("weekly: locked by another run")

// Holder identifies a run that takes locks.
type Holder struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	RunID string `json:"run_id"`
}

// ThisProcess is the holder for the running process.
func ThisProcess(runID string) Holder {
	host, _ := os.Hostname()
	return Holder{Host: host, PID: os.Getpid(), RunID: runID}
}

// LockInfo is the content of a lock object.
type LockInfo struct {
	Holder
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
	State    string    `json:"state"` // held or released
}

// A lock on an area-period is a sequence of objects
// locks/<aoi>/<period>/<generation>.json, each created with an exclusive
// write (If-None-Match on S3, a hard link on a directory). The newest
// generation decides: held and fresh means taken. A holder that has
// released, whose expiry has passed, or whose process is gone from this
// host is stale, and the next generation takes over; of several takers
// exactly one creates it.
type Lock struct {
	st    store.Store
	key   string
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	info  LockInfo
	done  bool
	stop  chan struct{}
	ended chan struct{}
}

func lockPrefix(aoiID, name string) string { return "locks/" + aoiID + "/" + name + "/" }

// AcquireLock takes the area-period's lock for ttl, renewing it every ttl/3
// until Release.
func AcquireLock(ctx context.Context, st store.Store, aoiID, name string, h Holder, ttl time.Duration, now func() time.Time) (*Lock, error) {
	if now == nil {
		now = time.Now
	}
	prefix := lockPrefix(aoiID, name)
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("lock %s %s: %w", aoiID, name, err)
	}
	gen := 0
	if len(keys) > 0 {
		last := keys[len(keys)-1]
		gen, err = strconv.Atoi(strings.TrimSuffix(path.Base(last), ".json"))
		if err != nil {
			return nil, fmt.Errorf("lock %s %s: unexpected object %s", aoiID, name, last)
		}
		data, err := st.Get(ctx, last)
		if err != nil {
			return nil, fmt.Errorf("lock %s %s: %w", aoiID, name, err)
		}
		var info LockInfo
		if err := json.Unmarshal(data, &info); err != nil {
			return nil, fmt.Errorf("lock %s %s: %s: %w", aoiID, name, last, err)
		}
		if info.State == "held" && !stale(info, now()) {
			return nil, fmt.Errorf("%w: %s %s is held by run %s (pid %d on %s) until %s", ErrLocked, aoiID, name,
				info.RunID, info.PID, info.Host, info.Expires.UTC().Format(time.RFC3339))
		}
	}
	t := now()
	l := &Lock{st: st, key: fmt.Sprintf("%s%06d.json", prefix, gen+1), ttl: ttl, now: now,
		info: LockInfo{Holder: h, Acquired: t.UTC(), Expires: t.Add(ttl).UTC(), State: "held"},
		stop: make(chan struct{}), ended: make(chan struct{})}
	data, _ := json.Marshal(l.info)
	if err := st.Create(ctx, l.key, data); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("%w: %s %s was taken over by another run first", ErrLocked, aoiID, name)
		}
		return nil, fmt.Errorf("lock %s %s: %w", aoiID, name, err)
	}
	go l.renew()
	return l, nil
}

// stale reports whether a lock's holder can no longer be counted on.
func stale(info LockInfo, now time.Time) bool {
	if now.After(info.Expires) {
		return true
	}
	host, _ := os.Hostname()
	return info.Host == host && info.PID > 0 && !processAlive(info.PID)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (l *Lock) renew() {
	defer close(l.ended)
	tick := time.NewTicker(max(l.ttl/3, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			l.mu.Lock()
			if !l.done {
				l.info.Expires = l.now().Add(l.ttl).UTC()
				data, _ := json.Marshal(l.info)
				// A failed renewal is retried at the next tick; the lock
				// expires if the store stays away.
				_ = l.st.Put(context.Background(), l.key, data)
			}
			l.mu.Unlock()
		}
	}
}

// Release marks the lock released so the next run need not wait for expiry.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return nil
	}
	l.done = true
	l.info.State = "released"
	data, _ := json.Marshal(l.info)
	err := l.st.Put(ctx, l.key, data)
	l.mu.Unlock()
	close(l.stop)
	<-l.ended
	if err != nil {
		return fmt.Errorf("release %s: %w", l.key, err)
	}
	return nil
}

// Key is the lock object's key.
func (l *Lock) Key() string { return l.key }

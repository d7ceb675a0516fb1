package weekly

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"sync"
	"testing"
	"time"
)

func TestLockIsExclusiveUntilReleasedOrStale(t *testing.T) {
	ctx := context.Background()
	st := dirStore(t)
	other := Holder{Host: "worker-7", PID: 4242, RunID: "r7"}
	first, err := AcquireLock(ctx, st, "kk-park", "2025-W10", other, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(ctx, st, "kk-park", "2025-W10", ThisProcess("me"), time.Hour, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second acquire: %v, want ErrLocked", err)
	}
	// Another area-week is independent.
	if l, err := AcquireLock(ctx, st, "kk-park", "2025-W11", ThisProcess("me"), time.Hour, nil); err != nil {
		t.Fatal(err)
	} else {
		l.Release(ctx)
	}
	// Expiry: an hour and a minute later the first holder is stale.
	later := func() time.Time { return time.Now().Add(61 * time.Minute) }
	second, err := AcquireLock(ctx, st, "kk-park", "2025-W10", ThisProcess("me"), time.Hour, later)
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if second.Key() != "locks/kk-park/2025-W10/000002.json" {
		t.Errorf("takeover key %s", second.Key())
	}
	if err := second.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var info LockInfo
	data, _ := st.Get(ctx, second.Key())
	if err := json.Unmarshal(data, &info); err != nil || info.State != "released" {
		t.Fatalf("released lock reads %s", data)
	}
	// Released: the next run need not wait.
	third, err := AcquireLock(ctx, st, "kk-park", "2025-W10", ThisProcess("me"), time.Hour, nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	third.Release(ctx)
	first.Release(ctx)
}

func TestLockOfADeadProcessIsTakenOver(t *testing.T) {
	ctx := context.Background()
	st := dirStore(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := ThisProcess("crashed")
	dead.PID = cmd.Process.Pid // has exited
	if _, err := AcquireLock(ctx, st, "a", "2025-W10", dead, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	l, err := AcquireLock(ctx, st, "a", "2025-W10", ThisProcess("rerun"), time.Hour, nil)
	if err != nil {
		t.Fatalf("a lock of a dead process on this host blocks: %v", err)
	}
	l.Release(ctx)
}

func TestLockRenewsWhileHeld(t *testing.T) {
	ctx := context.Background()
	st := dirStore(t)
	l, err := AcquireLock(ctx, st, "a", "2025-W10", Holder{Host: "elsewhere", PID: 1}, 90*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // beyond the TTL: only renewal keeps it
	if _, err := AcquireLock(ctx, st, "a", "2025-W10", ThisProcess("x"), time.Hour, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("a renewed lock was taken: %v", err)
	}
	l.Release(ctx)
}

func TestOneOfManyLockTakersWins(t *testing.T) {
	ctx := context.Background()
	st := dirStore(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := AcquireLock(ctx, st, "a", "2025-W10", Holder{Host: "h", PID: i + 1}, time.Hour, nil); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrLocked) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d takers won", wins)
	}
}

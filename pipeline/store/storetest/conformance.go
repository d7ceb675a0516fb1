package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"compoundwatch/pipeline/store"
)

// Conformance checks what the pipeline relies on from any Store. newStore
// returns an empty store; large is the size of an object that must take the
// multipart path (0 skips that case).
func Conformance(t *testing.T, newStore func(t *testing.T) store.Store, large int) {
	ctx := context.Background()
	t.Run("put then get", func(t *testing.T) {
		s := newStore(t)
		want := []byte(`{"type":"FeatureCollection","features":[]}`)
		if err := s.Put(ctx, "alerts/kk-park/2025-W10.geojson", want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "alerts/kk-park/2025-W10.geojson")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("get = %q, %v", got, err)
		}
	})
	t.Run("put replaces", func(t *testing.T) {
		s := newStore(t)
		for _, v := range []string{"first, longer", "second"} {
			if err := s.Put(ctx, "state/a/2025-W10.json", []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, "state/a/2025-W10.json")
		if err != nil || string(got) != "second" {
			t.Fatalf("get = %q, %v", got, err)
		}
	})
	t.Run("empty object", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "runs/empty.json", nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "runs/empty.json")
		if err != nil || len(got) != 0 {
			t.Fatalf("get = %q, %v", got, err)
		}
	})
	t.Run("missing object", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Get(ctx, "alerts/none.geojson")
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("list is sorted and bounded by the prefix", func(t *testing.T) {
		s := newStore(t)
		keys := []string{"state/b/2025-W02.json", "state/a/2025-W10.json", "state/a/2025-W09.json", "alerts/a/latest.geojson", "state/ab/x.json"}
		for _, k := range keys {
			if err := s.Put(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.List(ctx, "state/a/")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"state/a/2025-W09.json", "state/a/2025-W10.json"}; !slices.Equal(got, want) {
			t.Fatalf("list = %v, want %v", got, want)
		}
		if got, _ := s.List(ctx, "nothing/"); len(got) != 0 {
			t.Fatalf("list of an empty prefix = %v", got)
		}
	})
	t.Run("create is exclusive", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, "locks/a/2025-W10.json", []byte("one")); err != nil {
			t.Fatal(err)
		}
		err := s.Create(ctx, "locks/a/2025-W10.json", []byte("two"))
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("second create: %v, want ErrExists", err)
		}
		got, _ := s.Get(ctx, "locks/a/2025-W10.json")
		if string(got) != "one" {
			t.Fatalf("lock holds %q after a losing create", got)
		}
	})
	t.Run("one winner among concurrent creates", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		wins := make(chan int, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.Create(ctx, "locks/race.json", []byte(fmt.Sprint(i)))
				if err == nil {
					wins <- i
				} else if !errors.Is(err, store.ErrExists) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		close(wins)
		if n := len(wins); n != 1 {
			t.Fatalf("%d creates won, want exactly 1", n)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "locks/x.json", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "locks/x.json"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "locks/x.json"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if err := s.Delete(ctx, "locks/x.json"); err != nil {
			t.Fatalf("deleting a missing object: %v", err)
		}
	})
	t.Run("keys that leave the location are refused", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"../escape", "/abs", "a/../../b", "", "a//b", ".hidden/x", "a\\b"} {
			if err := s.Put(ctx, k, []byte("x")); !errors.Is(err, store.ErrKey) {
				t.Errorf("key %q: %v, want ErrKey", k, err)
			}
		}
	})
	if large > 0 {
		t.Run("large object", func(t *testing.T) {
			s := newStore(t)
			data := make([]byte, large)
			rng := rand.New(rand.NewPCG(1, 1))
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			if err := s.Put(ctx, "quicklooks/a/big.png", data); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "quicklooks/a/big.png")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("large object: %d bytes back, %v", len(got), err)
			}
		})
	}
}

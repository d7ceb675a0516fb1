package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"compoundwatch/pipeline/store"
	"compoundwatch/pipeline/store/storetest"
)

func TestDirConformance(t *testing.T) {
	storetest.Conformance(t, func(t *testing.T) store.Store {
		s, err := store.OpenDir(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, 6<<20)
}

func TestS3Conformance(t *testing.T) {
	srv := storetest.StartVersitygw(t)
	var n atomic.Int64
	// Objects of 6 MiB and more go in 5 MiB parts, so the large case takes
	// the multipart path.
	opts := srv.S3Options()
	opts.MultipartThreshold, opts.PartSize = 6<<20, 5<<20
	storetest.Conformance(t, func(t *testing.T) store.Store {
		name := fmt.Sprintf("bucket-%d", n.Add(1))
		srv.Bucket(t, name, "")
		s, err := store.OpenS3(context.Background(), "s3://"+name+"/compoundwatch/prod", opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, 12<<20)
	// The prefix is honoured on the server: objects land under it.
	if _, err := os.Stat(filepath.Join(srv.Dir, "bucket-1", "compoundwatch", "prod", "alerts", "kk-park", "2025-W10.geojson")); err != nil {
		t.Errorf("object not under the prefix on the server: %v", err)
	}
}

func TestS3ErrorsNameTheObjectAndKeepSecretsOut(t *testing.T) {
	srv := storetest.StartVersitygw(t)
	opts := srv.S3Options()
	opts.MaxAttempts = 2
	s, err := store.OpenS3(context.Background(), "s3://no-such-bucket/p", opts)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Put(context.Background(), "alerts/a/2025-W10.geojson", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "s3://no-such-bucket/p/alerts/a/2025-W10.geojson") {
		t.Fatalf("err = %v, want it to name the object", err)
	}
	if strings.Contains(err.Error(), srv.Secret) {
		t.Fatal("the error carries the secret key")
	}
}

func TestOpenChoosesByLocation(t *testing.T) {
	for _, tc := range []struct {
		loc  string
		want string
		err  error
	}{
		{"s3://bucket/a/b", "s3://bucket/a/b/", nil},
		{"s3://bucket", "s3://bucket/", nil},
		{"s3:///x", "", store.ErrLocation},
		{"gs://bucket/x", "", store.ErrLocation},
		{"s3://bucket/../x", "", store.ErrLocation},
	} {
		s, err := store.Open(context.Background(), tc.loc, store.S3Options{Region: "us-east-1"})
		if !errors.Is(err, tc.err) || (err == nil && s.String() != tc.want) {
			t.Errorf("%s: %v %v", tc.loc, s, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "out")
	s, err := store.Open(context.Background(), dir, store.S3Options{})
	if err != nil || s.String() != dir {
		t.Fatalf("dir: %v %v", s, err)
	}
}

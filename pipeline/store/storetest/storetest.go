// Package storetest owns what tests need to exercise object storage for
// real: a versitygw S3 server on a free loopback port over a temporary
// directory, and the conformance suite every Store must pass.
package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"compoundwatch/pipeline/store"
)

// Server is a running versitygw.
type Server struct {
	Endpoint       string // http://127.0.0.1:PORT
	Access, Secret string
	Dir            string // the posix backend's root: one directory per bucket
}

// S3Options are the options a client of the server needs.
func (s *Server) S3Options() store.S3Options {
	return store.S3Options{Endpoint: s.Endpoint, Region: "us-east-1", PathStyle: true}
}

// Env is the server's credentials as the standard AWS variables.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.Access, "AWS_SECRET_ACCESS_KEY=" + s.Secret, "AWS_REGION=us-east-1"}
}

// Versitygw finds the versitygw binary: on PATH, or where go install puts it.
func Versitygw() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("versitygw not found on PATH or in %s (make setup installs it): %w", filepath.Dir(p), err)
	}
	return p, nil
}

// StartVersitygw starts versitygw on a free loopback port and stops it when
// the test ends. The credentials are also put in the test's environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), so the standard
// credential chain finds them.
func StartVersitygw(t testing.TB) *Server {
	t.Helper()
	bin, err := Versitygw()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{Access: "cwtestaccess", Secret: "cwtestsecret-" + fmt.Sprint(time.Now().UnixNano()), Dir: dir}
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, "--access", s.Access, "--secret", s.Secret, "--port", addr, "posix", dir)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if waitListening(addr, exited) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			s.Endpoint = "http://" + addr
			for _, kv := range s.Env() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			return s
		}
		cmd.Process.Kill()
		t.Logf("versitygw on %s did not come up: %s", addr, log.String())
	}
	t.Fatal("versitygw did not start")
	return nil
}

func waitListening(addr string, exited <-chan error) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Bucket opens an S3 store on a new bucket of the server.
func (s *Server) Bucket(t testing.TB, name, prefix string) *store.S3 {
	t.Helper()
	st, err := store.OpenS3(context.Background(), "s3://"+name+"/"+prefix, s.S3Options())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

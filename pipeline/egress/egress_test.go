package egress_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"compoundwatch/geo"
	"compoundwatch/pipeline/egress"
	"compoundwatch/pipeline/stac"
)

// cogServer serves one small COG under several names, and redirects.
func cogServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	dir := t.TempDir()
	g := geo.Grid{EPSG: 32647, X0: 500000, Y0: 1800000, Res: 10, Width: 64, Height: 64}
	data := make([]uint16, g.Len())
	for i := range data {
		data[i] = uint16(1000 + i%100)
	}
	if err := geo.WriteCOG(context.Background(), filepath.Join(dir, "b.tif"), g, data, geo.COGOptions{BlockSize: 32}); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case strings.HasPrefix(r.URL.Path, "/to-metadata/"):
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/b.tif", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/to-lan/"):
			http.Redirect(w, r, "http://10.20.30.40/b.tif", http.StatusFound)
		default:
			r.URL.Path = "/b.tif" // every other name is the same file
			files.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func read(url string) error {
	g := geo.Grid{EPSG: 32647, X0: 500000, Y0: 1800000, Res: 10, Width: 16, Height: 16}
	return geo.ReadFloat32(context.Background(), "/vsicurl/"+url, g, geo.Nearest, 0, make([]float32, g.Len()))
}

// One test, in order: the guard is process-wide, as GDAL's configuration is.
func TestGDALGoesThroughTheGuard(t *testing.T) {
	if v, ok := os.LookupEnv(egress.ProxyVariable); ok {
		t.Skipf("%s is set to %s: the guard stays out of an operator's proxy", egress.ProxyVariable, v)
	}
	srv, hits := cogServer(t)
	g, ok, err := egress.InstallForGDAL(stac.HrefPolicy{AllowLoopback: true})
	if err != nil || !ok {
		t.Fatalf("install: %v %v", ok, err)
	}
	t.Run("allowed destination", func(t *testing.T) {
		before := g.Handled()
		if err := read(srv.URL + "/ok-1.tif"); err != nil {
			t.Fatal(err)
		}
		if g.Handled() == before {
			t.Fatal("GDAL's request did not go through the guard")
		}
	})
	for _, tc := range []struct{ name, path, refusedHost string }{
		{"redirect to the metadata service", "/to-metadata/a.tif", "169.254.169.254"},
		{"redirect into the LAN", "/to-lan/a.tif", "10.20.30.40"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused := g.Refused()
			err := read(srv.URL + tc.path)
			if err == nil {
				t.Fatal("the read succeeded")
			}
			if g.Refused() == refused || !strings.Contains(fmt.Sprint(g.LastRefusal()), tc.refusedHost) {
				t.Fatalf("the guard did not refuse %s: %v", tc.refusedHost, g.LastRefusal())
			}
		})
	}
	t.Run("a name that now resolves inside", func(t *testing.T) {
		// The href check saw a public answer; by the time GDAL connects the
		// name answers with a private address (DNS rebinding).
		port := srv.Listener.Addr().(interface{ String() string }).String()
		port = port[strings.LastIndex(port, ":")+1:]
		g.SetPolicy(stac.HrefPolicy{AllowLoopback: true, LookupHost: func(context.Context, string) ([]string, error) {
			return []string{"192.168.1.7"}, nil
		}})
		defer g.SetPolicy(stac.HrefPolicy{AllowLoopback: true})
		err := read("http://assets.example:" + port + "/rebind.tif")
		if err == nil || !strings.Contains(fmt.Sprint(g.LastRefusal()), "192.168.1.7") {
			t.Fatalf("read err %v, last refusal %v", err, g.LastRefusal())
		}
	})
	t.Run("https is tunnelled after the same check", func(t *testing.T) {
		dir := t.TempDir()
		tg := geo.Grid{EPSG: 32647, X0: 500000, Y0: 1800000, Res: 10, Width: 32, Height: 32}
		if err := geo.WriteCOG(context.Background(), filepath.Join(dir, "s.tif"), tg, make([]uint16, tg.Len()), geo.COGOptions{BlockSize: 32}); err != nil {
			t.Fatal(err)
		}
		tls := httptest.NewTLSServer(http.FileServer(http.Dir(dir)))
		defer tls.Close()
		t.Setenv("GDAL_HTTP_UNSAFESSL", "YES") // the test server's certificate is self-signed
		before := g.Handled()
		if err := read(tls.URL + "/s.tif"); err != nil {
			t.Fatal(err)
		}
		if g.Handled() == before {
			t.Fatal("the https request was not tunnelled through the guard")
		}
		g.SetPolicy(stac.HrefPolicy{})
		defer g.SetPolicy(stac.HrefPolicy{AllowLoopback: true})
		// A tunnel already open stays open (to the address it checked); a new
		// destination needs a new CONNECT, which is refused.
		tls2 := httptest.NewTLSServer(http.FileServer(http.Dir(dir)))
		defer tls2.Close()
		refused := g.Refused()
		if err := read(tls2.URL + "/s.tif"); err == nil || g.Refused() == refused {
			t.Fatalf("https to a refused address: err %v", err)
		}
	})
	t.Run("loopback once loopback is not allowed", func(t *testing.T) {
		g.SetPolicy(stac.HrefPolicy{})
		defer g.SetPolicy(stac.HrefPolicy{AllowLoopback: true})
		n := hits.Load()
		if err := read(srv.URL + "/ok-2.tif"); err == nil {
			t.Fatal("the read succeeded")
		}
		if hits.Load() != n {
			t.Fatal("the request reached the server")
		}
		if !errors.Is(g.LastRefusal(), egress.ErrRefused) {
			t.Fatalf("last refusal %v", g.LastRefusal())
		}
	})
}

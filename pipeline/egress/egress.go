// Package egress owns the guard between GDAL and the network: a forward
// proxy on loopback that every GDAL HTTP request goes through. The href
// policy checks an asset's host before GDAL opens it, but GDAL (libcurl)
// then resolves the name again and follows redirects on its own; a hostile
// catalog could send it, by a redirect or a changed DNS answer, to a
// private address such as a cloud metadata service. The guard resolves
// every destination itself, refuses any that the policy refuses, and dials
// the address it checked, for the first request and for every redirect.
package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"compoundwatch/pipeline/stac"
)

// ErrRefused is wrapped by every refused destination.
var ErrRefused = errors.New("egress: destination refused")

// Guard is a running guard proxy.
type Guard struct {
	ln      net.Listener
	srv     *http.Server
	policy  atomic.Pointer[stac.HrefPolicy]
	dialer  net.Dialer
	refused atomic.Int64
	handled atomic.Int64
	mu      sync.Mutex
	last    error
}

// Start listens on a free loopback port.
func Start(policy stac.HrefPolicy) (*Guard, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("egress guard: %w", err)
	}
	g := &Guard{ln: ln, dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
	g.policy.Store(&policy)
	tr := &http.Transport{DialContext: g.dial, Proxy: nil, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true} // pass bytes through as the server sent them
	g.srv = &http.Server{Handler: g.handler(tr), ReadHeaderTimeout: 30 * time.Second}
	go g.srv.Serve(ln)
	return g, nil
}

// Addr is host:port of the proxy.
func (g *Guard) Addr() string { return g.ln.Addr().String() }

// SetPolicy replaces the policy for requests from now on.
func (g *Guard) SetPolicy(p stac.HrefPolicy) { g.policy.Store(&p) }

// Handled counts the requests that came through the proxy.
func (g *Guard) Handled() int64 { return g.handled.Load() }

// Refused counts the destinations refused so far.
func (g *Guard) Refused() int64 { return g.refused.Load() }

// LastRefusal is the most recent refusal, for logs and errors.
func (g *Guard) LastRefusal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// Close stops the proxy.
func (g *Guard) Close() error { return g.srv.Close() }

// dial resolves and checks the destination, then dials a checked address.
func (g *Guard) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	addrs, err := g.check(ctx, host)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: port %q", ErrRefused, port)
	}
	var lastErr error
	for _, a := range addrs {
		c, err := g.dialer.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(p)).String())
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// check applies the current policy to a host and records a refusal.
func (g *Guard) check(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := g.policy.Load().ResolveHost(ctx, host)
	if err != nil {
		err = fmt.Errorf("%w: %s: %w", ErrRefused, host, err)
		g.refused.Add(1)
		g.mu.Lock()
		g.last = err
		g.mu.Unlock()
		return nil, err
	}
	return addrs, nil
}

func (g *Guard) handler(tr *http.Transport) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.handled.Add(1)
		if r.Method == http.MethodConnect {
			g.tunnel(w, r)
			return
		}
		if r.URL.Host == "" || (r.URL.Scheme != "http" && r.URL.Scheme != "https") {
			http.Error(w, "egress guard: only absolute http(s) URLs", http.StatusBadRequest)
			return
		}
		// Pooled connections skip the dial: check every request too.
		if _, err := g.check(r.Context(), r.URL.Hostname()); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Connection")
		out.Header.Del("Proxy-Authorization")
		resp, err := tr.RoundTrip(out)
		if err != nil {
			fail(w, err)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		copyPooled(w, resp.Body)
	})
}

// fail answers 403 for a refused destination and 502 for an unreachable one.
func fail(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	if errors.Is(err, ErrRefused) {
		status = http.StatusForbidden
	}
	http.Error(w, err.Error(), status)
}

// tunnel serves CONNECT (https through the proxy): the destination is
// checked and dialled by address before any byte flows.
func (g *Guard) tunnel(w http.ResponseWriter, r *http.Request) {
	dst, err := g.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		fail(w, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		dst.Close()
		http.Error(w, "egress guard: cannot tunnel", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	src, buf, err := hj.Hijack()
	if err != nil {
		dst.Close()
		return
	}
	go func() {
		if buf.Reader.Buffered() > 0 {
			io.CopyN(dst, buf, int64(buf.Reader.Buffered()))
		}
		copyPooled(dst, src)
		dst.Close()
	}()
	copyPooled(src, dst)
	src.Close()
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyPooled copies with a reused buffer: COG range reads pass through by
// the thousand.
func copyPooled(dst io.Writer, src io.Reader) {
	b := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(b)
	io.CopyBuffer(dst, src, *b)
}

var (
	installOnce sync.Once
	installed   *Guard
	installErr  error
)

// ProxyVariable is the GDAL configuration option that routes its HTTP.
const ProxyVariable = "GDAL_HTTP_PROXY"

// InstallForGDAL starts the process's guard (once) with policy, or gives it
// the new policy, and routes GDAL's HTTP through it by GDAL_HTTP_PROXY. If
// the environment already names a proxy, that one is kept, and the guard
// is not installed (ok false): operators who run their own egress proxy
// enforce their own rules.
func InstallForGDAL(policy stac.HrefPolicy) (g *Guard, ok bool, err error) {
	if v, set := os.LookupEnv(ProxyVariable); set && (installed == nil || v != installed.Addr()) {
		return nil, false, nil
	}
	installOnce.Do(func() {
		installed, installErr = Start(policy)
		if installErr == nil {
			installErr = os.Setenv(ProxyVariable, installed.Addr())
		}
	})
	if installErr != nil {
		return nil, false, installErr
	}
	installed.SetPolicy(policy)
	return installed, true, nil
}

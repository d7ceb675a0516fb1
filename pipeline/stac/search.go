package stac

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"compoundwatch/pipeline/period"
)

// Query is what to search for.
type Query struct {
	Intersects  orb.Geometry // lon/lat; the area
	Period      period.Period
	Collections []string // empty: the source's default
	MaxCloud    float64  // percent; values >= 100 or < 0 do not filter
}

// Retry bounds retries of transient HTTP failures (network errors, 429, 5xx).
type Retry struct {
	Attempts int           // total tries; 0 means 4
	Base     time.Duration // first backoff; 0 means 500ms
	Max      time.Duration // backoff cap; 0 means 10s
}

// APIClient searches a STAC API (Earth Search v1, Planetary Computer).
type APIClient struct {
	Root     string // API root URL, e.g. https://earth-search.aws.element84.com/v1
	HTTP     *http.Client
	Retry    Retry
	Limit    int // page size; 0 means 100
	MaxPages int // 0 means 1000
}

// maxPageBytes bounds one search page.
const maxPageBytes = 64 << 20

type searchPage struct {
	Type     string            `json:"type"`
	Features []json.RawMessage `json:"features"`
	Links    []Link            `json:"links"`
}

// Search runs Item Search and follows next links until an empty page, a page
// without a next link, or a token it has already followed.
func (c *APIClient) Search(ctx context.Context, q Query) ([]Item, error) {
	root, err := url.Parse(strings.TrimSuffix(c.Root, "/"))
	if err != nil || (root.Scheme != "http" && root.Scheme != "https") {
		return nil, fmt.Errorf("%w: API root %q is not an http(s) URL", ErrCatalog, c.Root)
	}
	body := map[string]any{
		"datetime": q.Period.STACDatetime(),
		"limit":    c.limit(),
	}
	if len(q.Collections) > 0 {
		body["collections"] = q.Collections
	}
	if q.Intersects != nil {
		body["intersects"] = geojson.NewGeometry(q.Intersects)
	}
	if q.MaxCloud >= 0 && q.MaxCloud < 100 {
		body["query"] = map[string]any{"eo:cloud_cover": map[string]any{"lte": q.MaxCloud}}
	}
	href := root.String() + "/search"
	method := http.MethodPost
	seen := map[string]bool{}
	var items []Item
	maxPages := c.MaxPages
	if maxPages == 0 {
		maxPages = 1000
	}
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("%w: %s: more than %d pages", ErrCatalog, RedactURL(href), maxPages)
		}
		var p searchPage
		if err := c.do(ctx, method, href, body, &p); err != nil {
			return nil, fmt.Errorf("search page %d: %w", page, err)
		}
		for i, raw := range p.Features {
			var r rawItem
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("%w: search page %d feature %d: %w", ErrItem, page, i, err)
			}
			it, err := r.toItem()
			if err != nil {
				return nil, fmt.Errorf("search page %d feature %d: %w", page, i, err)
			}
			items = append(items, it)
		}
		if len(p.Features) == 0 {
			return items, nil
		}
		next, ok := findLink(p.Links, "next")
		if !ok {
			return items, nil
		}
		nu, err := root.Parse(next.Href)
		if err != nil || nu.Scheme != root.Scheme || nu.Host != root.Host {
			return nil, fmt.Errorf("%w: next link %q leaves the API host %s", ErrCatalog, RedactURL(next.Href), root.Host)
		}
		method = strings.ToUpper(next.Method)
		if method == "" {
			method = http.MethodGet
		}
		switch {
		case method == http.MethodGet:
			body = nil
		case next.Merge:
			merged := map[string]any{}
			for k, v := range body {
				merged[k] = v
			}
			for k, v := range next.Body {
				merged[k] = v
			}
			body = merged
		default:
			body = next.Body
		}
		key, _ := json.Marshal([]any{method, nu.String(), body})
		if seen[string(key)] {
			return items, nil
		}
		seen[string(key)] = true
		href = nu.String()
	}
}

func (c *APIClient) limit() int {
	if c.Limit > 0 {
		return c.Limit
	}
	return 100
}

func findLink(links []Link, rel string) (Link, bool) {
	for _, l := range links {
		if l.Rel == rel {
			return l, true
		}
	}
	return Link{}, false
}

// statusError is an HTTP answer that is not 2xx.
type statusError struct {
	Code       int
	Snippet    string
	RetryAfter time.Duration
}

func (e *statusError) Error() string {
	if e.Snippet != "" {
		return fmt.Sprintf("HTTP %d: %s", e.Code, e.Snippet)
	}
	return fmt.Sprintf("HTTP %d", e.Code)
}

func transient(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	var je *json.SyntaxError
	if errors.As(err, &je) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true // a truncated body
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// do sends one request with bounded retries and decodes the JSON answer.
func (c *APIClient) do(ctx context.Context, method, href string, body any, out any) error {
	return getJSON(ctx, c.HTTP, c.Retry, method, href, body, out)
}

func getJSON(ctx context.Context, hc *http.Client, r Retry, method, href string, body any, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	attempts, base, maxWait := r.Attempts, r.Base, r.Max
	if attempts <= 0 {
		attempts = 4
	}
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			wait := min(base<<(i-1), maxWait)
			wait = wait/2 + rand.N(wait/2+1) // jitter
			var se *statusError
			if errors.As(last, &se) && se.RetryAfter > 0 {
				wait = min(se.RetryAfter, maxWait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		last = roundTrip(ctx, hc, method, href, payload, out)
		if last == nil || !transient(last) {
			break
		}
	}
	if last != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrCatalog, method, RedactURL(href), last)
	}
	return nil
}

func roundTrip(ctx context.Context, hc *http.Client, method, href string, payload []byte, out any) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, href, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/geo+json, application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		snip, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		se := &statusError{Code: resp.StatusCode, Snippet: strings.TrimSpace(string(snip))}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			se.RetryAfter = time.Duration(s) * time.Second
		}
		return se
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxPageBytes))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

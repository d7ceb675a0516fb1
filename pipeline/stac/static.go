package stac

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// StaticCatalog is a STAC catalog of JSON files, on disk or over HTTP, walked
// by its item and child links. Items are filtered locally.
type StaticCatalog struct {
	Location string // catalog.json path or URL (a folder means folder/catalog.json)
	HTTP     *http.Client
	Retry    Retry
	Policy   HrefPolicy // checks remote child and item links
	MaxDepth int        // 0 means 8
}

type rawCatalog struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Links []Link `json:"links"`
}

// Items walks the catalog and returns every item, in link order.
func (c *StaticCatalog) Items(ctx context.Context) ([]Item, error) {
	loc := c.Location
	if isURL(loc) {
		return c.walkRemote(ctx, loc)
	}
	loc = strings.TrimPrefix(loc, "file://")
	if st, err := os.Stat(loc); err == nil && st.IsDir() {
		loc = filepath.Join(loc, "catalog.json")
	}
	abs, err := filepath.Abs(loc)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", loc, err)
	}
	w := &walker{ctx: ctx, local: true, root: filepath.Dir(abs), seen: map[string]bool{}, c: c}
	if err := w.visit(abs, 0); err != nil {
		return nil, err
	}
	return w.items, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func (c *StaticCatalog) walkRemote(ctx context.Context, loc string) ([]Item, error) {
	w := &walker{ctx: ctx, seen: map[string]bool{}, c: c}
	if err := w.visit(loc, 0); err != nil {
		return nil, err
	}
	return w.items, nil
}

type walker struct {
	ctx   context.Context
	c     *StaticCatalog
	local bool
	root  string
	seen  map[string]bool
	items []Item
}

func (w *walker) read(loc string, out any) error {
	if w.local {
		b, err := os.ReadFile(loc)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCatalog, err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrItem, loc, err)
		}
		return nil
	}
	return getJSON(w.ctx, w.c.HTTP, w.c.Retry, http.MethodGet, loc, nil, out)
}

// resolve turns a link href into a location, refusing anything outside the
// local root or, for remote catalogs, any host the policy refuses.
func (w *walker) resolve(base, href string) (string, error) {
	if w.local {
		if isURL(href) || filepath.IsAbs(href) || strings.Contains(href, ":") {
			return "", fmt.Errorf("%w: link %q: a local catalog may only link relative paths", ErrHref, href)
		}
		p := filepath.Clean(filepath.Join(filepath.Dir(base), filepath.FromSlash(href)))
		rel, err := filepath.Rel(w.root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("%w: link %q leaves the catalog folder %s", ErrHref, href, w.root)
		}
		return p, nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u, err := b.Parse(href)
	if err != nil {
		return "", fmt.Errorf("%w: link %q: %w", ErrHref, href, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: link %q: scheme %q", ErrHref, href, u.Scheme)
	}
	if u.Host != b.Host {
		if err := w.c.Policy.CheckHost(w.ctx, u.Hostname()); err != nil {
			return "", fmt.Errorf("%w: link %q: %w", ErrHref, RedactURL(href), err)
		}
	}
	return u.String(), nil
}

func (w *walker) visit(loc string, depth int) error {
	maxDepth := w.c.MaxDepth
	if maxDepth == 0 {
		maxDepth = 8
	}
	if depth > maxDepth {
		return fmt.Errorf("%w: %s: catalog nested deeper than %d", ErrCatalog, loc, maxDepth)
	}
	if w.seen[loc] {
		return nil
	}
	w.seen[loc] = true
	if err := w.ctx.Err(); err != nil {
		return err
	}
	var cat rawCatalog
	if err := w.read(loc, &cat); err != nil {
		return fmt.Errorf("read catalog %s: %w", RedactURL(loc), err)
	}
	for _, l := range cat.Links {
		switch l.Rel {
		case "item":
			p, err := w.resolve(loc, l.Href)
			if err != nil {
				return fmt.Errorf("catalog %s: %w", RedactURL(loc), err)
			}
			if w.seen[p] {
				continue
			}
			w.seen[p] = true
			var r rawItem
			if err := w.read(p, &r); err != nil {
				return fmt.Errorf("read item %s: %w", RedactURL(p), err)
			}
			it, err := r.toItem()
			if err != nil {
				return fmt.Errorf("item %s: %w", RedactURL(p), err)
			}
			it.Origin = Origin{URL: p, Local: w.local, RootDir: w.root}
			w.items = append(w.items, it)
		case "child":
			p, err := w.resolve(loc, l.Href)
			if err != nil {
				return fmt.Errorf("catalog %s: %w", RedactURL(loc), err)
			}
			if err := w.visit(p, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

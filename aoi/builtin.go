package aoi

import (
	_ "embed"
	"fmt"
	"os"
	"sync"
)

// builtinWatchlist is the embedded watchlist: reported cyber-scam compound
// areas in Myanmar, Cambodia, Laos and the Philippines, each with its source,
// coordinate status and confidence. See the README for provenance.
//
//go:embed watchlist.geojson
var builtinWatchlist []byte

// BuiltinName is how the embedded watchlist is named on the command line and in errors.
const BuiltinName = "builtin"

var builtin = sync.OnceValues(func() (*Watchlist, error) {
	return Parse(BuiltinName, builtinWatchlist, Options{})
})

// Builtin returns the embedded watchlist.
func Builtin() (*Watchlist, error) { return builtin() }

// LoadWatchlist reads a watchlist from a file, or the embedded one when ref is
// "" or "builtin".
func LoadWatchlist(ref string, opts Options) (*Watchlist, error) {
	if ref == "" || ref == BuiltinName {
		if opts == (Options{}) {
			return Builtin()
		}
		return Parse(BuiltinName, builtinWatchlist, opts)
	}
	return ReadFile(ref, opts)
}

// Resolve turns a reference into areas: a path to a GeoJSON file (all its
// areas), or the id of a built-in area. A file wins when both could match.
func Resolve(ref string, opts Options) ([]Area, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: empty reference", ErrUnknownID)
	}
	if _, err := os.Stat(ref); err == nil {
		w, err := ReadFile(ref, opts)
		if err != nil {
			return nil, err
		}
		return w.Areas, nil
	}
	w, err := Builtin()
	if err != nil {
		return nil, err
	}
	if a, ok := w.Find(ref); ok {
		return []Area{a}, nil
	}
	return nil, fmt.Errorf("%q is neither a readable file nor a built-in id: %w", ref, ErrUnknownID)
}

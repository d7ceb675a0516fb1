package geo

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/airbusgeo/godal"
)

// Sentinel errors.
var (
	ErrGDAL      = errors.New("geo: GDAL error")
	ErrGrid      = errors.New("geo: bad grid")
	ErrTransform = errors.New("geo: coordinate transform failed")
)

// Settings are the GDAL configuration options compoundwatch puts in the
// process environment before the first GDAL call, unless the environment
// already sets them. GDAL_CACHEMAX is read once, and godal's ConfigOption only
// reaches one call on one thread, so the environment is the place.
var Settings = map[string]string{
	// No directory listings or sidecar probes for each remote file.
	"GDAL_DISABLE_READDIR_ON_OPEN":     "EMPTY_DIR",
	"CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
	// Merge adjacent tile reads into one range request.
	"GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
	"GDAL_HTTP_MULTIRANGE":               "YES",
	// Bounded retries on 429/5xx with GDAL's backoff.
	"GDAL_HTTP_MAX_RETRY":   "3",
	"GDAL_HTTP_RETRY_DELAY": "1",
	"GDAL_HTTP_TIMEOUT":     "60",
	// Header reads: one 16 KiB ingest covers a Sentinel-2 COG's IFDs.
	"GDAL_INGESTED_BYTES_AT_OPEN": "16384",
	"VSI_CACHE":                   "TRUE",
	"VSI_CACHE_SIZE":              "25000000",
	"GDAL_CACHEMAX":               "256",
	"GDAL_HTTP_USERAGENT":         "compoundwatch (+https://github.com/compoundwatch)",
	// Earth Search's buckets are public: do not sign s3 reads.
	"AWS_NO_SIGN_REQUEST": "YES",
}

var setupOnce sync.Once

// setup applies Settings and registers drivers. Every exported function that
// reaches GDAL calls it first.
func setup() {
	setupOnce.Do(func() {
		keys := make([]string, 0, len(Settings))
		for k := range Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, set := os.LookupEnv(k); !set {
				os.Setenv(k, Settings[k])
			}
		}
		godal.RegisterAll()
	})
}

// gdalErrors turns GDAL failures into errors and drops warnings and debug
// messages, which GDAL emits freely during warps. It is stateless and safe to
// share.
var gdalErrors = godal.ErrLogger(func(ec godal.ErrorCategory, code int, msg string) error {
	if ec <= godal.CE_Warning {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrGDAL, strings.TrimSpace(msg))
})

// closeDataset closes a dataset and names it in the error.
func closeDataset(ds *godal.Dataset, what string) error {
	if ds == nil {
		return nil
	}
	if err := ds.Close(gdalErrors); err != nil {
		return fmt.Errorf("close %s: %w", what, err)
	}
	return nil
}

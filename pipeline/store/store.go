// Package store owns where compoundwatch writes: one narrow object-storage
// interface with two implementations, a local directory (atomic by temp file
// and rename) and S3 through aws-sdk-go-v2 (AWS, MinIO, versitygw and other
// S3-compatible servers, with the standard credential chain). Locations are
// "DIR" or "s3://bucket/prefix".
package store

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("store: no such object")
	ErrExists   = errors.New("store: object exists")
	ErrKey      = errors.New("store: bad key")
	ErrLocation = errors.New("store: bad location")
)

// Store is object storage under one location. Keys are slash-separated
// relative paths such as "alerts/kk-park/2025-W10.geojson".
type Store interface {
	// Put writes the object whole, replacing any previous one; readers see
	// the old bytes or the new, never a mix.
	Put(ctx context.Context, key string, data []byte) error
	// Create writes the object only if none exists under key, else ErrExists.
	Create(ctx context.Context, key string, data []byte) error
	// Get reads an object, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// String names the location for logs (never credentials).
	String() string
}

// checkKey refuses keys that could leave the location.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || path.Clean(key) != key ||
		key == ".." || strings.HasPrefix(key, "../") {
		return fmt.Errorf("%w: %q", ErrKey, key)
	}
	for _, part := range strings.Split(key, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Errorf("%w: %q (no part may start with a dot)", ErrKey, key)
		}
	}
	return nil
}

// ContentType is the media type an object is stored with, from its extension.
func ContentType(key string) string {
	switch path.Ext(key) {
	case ".geojson":
		return "application/geo+json"
	case ".json":
		return "application/json"
	case ".qml":
		return "application/xml"
	case ".png":
		return "image/png"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".md":
		return "text/markdown; charset=utf-8"
	}
	return "application/octet-stream"
}

// Open returns the store for a location: "s3://bucket/prefix" or a local
// directory (created if missing).
func Open(ctx context.Context, location string, s3opts S3Options) (Store, error) {
	if strings.HasPrefix(location, "s3://") {
		return OpenS3(ctx, location, s3opts)
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("%w: %q (want a directory or s3://bucket/prefix)", ErrLocation, location)
	}
	return OpenDir(location)
}

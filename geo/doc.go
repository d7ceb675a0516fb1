// Package geo is compoundwatch's only door to GDAL (through godal) and the
// only package that uses cgo. It owns the working grid of an area (a UTM grid
// aligned to a 10 m lattice), warped window reads of remote or local rasters
// onto that grid, coordinate transforms, polygonizing and rasterizing, and
// writing Cloud-Optimized GeoTIFFs.
//
// GDAL's process-wide HTTP settings are put in the environment before the
// first GDAL call (see Settings). Datasets are opened per call and never
// shared between goroutines; every handle is closed explicitly.
//
// The package trusts the names it is given: deciding which hrefs from a
// catalog may be opened at all is pipeline/stac's job.
package geo

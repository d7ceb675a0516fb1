// Package aoi owns the watchlist: the named areas of interest that compoundwatch
// watches. It parses them from GeoJSON, validates them (ids that become object
// keys, closed and simple rings, coordinate ranges, size limits), embeds the
// built-in watchlist, and names the Sentinel-2 MGRS tiles each area touches.
//
// Geometry is lon/lat WGS84 throughout (paulmach/orb types). Nothing here
// touches GDAL or the network.
package aoi

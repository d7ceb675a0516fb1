// Package stac owns scene discovery: the STAC Item model as Earth Search v1 and
// Planetary Computer serve it, Item Search against a STAC API (with the query
// extension and next-link paging), walking static catalogs on disk or over
// HTTP, deduplicating reprocessed scenes and grouping a satellite pass, the
// reflectance scale and offset rules of each collection, and the policy that
// decides which asset hrefs GDAL may open at all.
package stac

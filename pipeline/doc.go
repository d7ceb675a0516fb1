// Package pipeline owns compoundwatch's jobs from catalog to result: finding
// the scenes of an area and period (FindScenes), and, in its sub-packages,
// the periods (period), catalogs and items (stac), reading scenes onto the
// area's grid (scene) and the synthetic fixture world (fixture).
package pipeline

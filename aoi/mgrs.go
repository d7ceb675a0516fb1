package aoi

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
)

// WGS84 ellipsoid and UTM constants.
const (
	wgs84A     = 6378137.0
	wgs84F     = 1 / 298.257223563
	utmK0      = 0.9996
	utmFalseE  = 500000.0
	utmFalseNS = 10000000.0
)

// UTMZone is the standard UTM zone number of a longitude (no Norway or
// Svalbard exceptions, which no watched area needs).
func UTMZone(lon float64) int {
	z := int(math.Floor((lon+180)/6)) + 1
	if z > 60 {
		z = 60
	}
	if z < 1 {
		z = 1
	}
	return z
}

// UTMEPSG is the EPSG code of the WGS84 UTM zone holding the point.
func UTMEPSG(p orb.Point) int {
	if p[1] >= 0 {
		return 32600 + UTMZone(p[0])
	}
	return 32700 + UTMZone(p[0])
}

// utmForward projects lon/lat to easting/northing in the given zone with the
// Krüger series (sub-millimetre within a zone, ample a few degrees outside).
// The southern false northing applies when south is true.
func utmForward(lon, lat float64, zone int, south bool) (e, n float64) {
	f := wgs84F
	nn := f / (2 - f)
	A := wgs84A / (1 + nn) * (1 + nn*nn/4 + nn*nn*nn*nn/64)
	alpha := [3]float64{nn/2 - 2*nn*nn/3 + 5*nn*nn*nn/16, 13*nn*nn/48 - 3*nn*nn*nn/5, 61 * nn * nn * nn / 240}
	lon0 := float64(zone-1)*6 - 180 + 3
	phi := lat * math.Pi / 180
	lam := (lon - lon0) * math.Pi / 180
	ec := 2 * math.Sqrt(nn) / (1 + nn)
	t := math.Sinh(math.Atanh(math.Sin(phi)) - ec*math.Atanh(ec*math.Sin(phi)))
	xiP := math.Atan2(t, math.Cos(lam))
	etaP := math.Atanh(math.Sin(lam) / math.Sqrt(1+t*t))
	xi, eta := xiP, etaP
	for j := 1; j <= 3; j++ {
		xi += alpha[j-1] * math.Sin(2*float64(j)*xiP) * math.Cosh(2*float64(j)*etaP)
		eta += alpha[j-1] * math.Cos(2*float64(j)*xiP) * math.Sinh(2*float64(j)*etaP)
	}
	e = utmFalseE + utmK0*A*eta
	n = utmK0 * A * xi
	if south {
		n += utmFalseNS
	}
	return e, n
}

const (
	bandLetters = "CDEFGHJKLMNPQRSTUVWX"
	rowLetters  = "ABCDEFGHJKLMNPQRSTUV"
)

var columnSets = [3]string{"STUVWXYZ", "ABCDEFGH", "JKLMNPQR"}

// Sentinel-2 tiles are 109.8 km squares whose upper-left corner is the upper-left
// corner of an MGRS 100 km square, so they reach 9.8 km into the squares to the
// east and south.
const (
	s2TileSize = 109800.0
	mgrsSquare = 100000.0
)

// S2Tiles lists the Sentinel-2 MGRS tiles (e.g. "47QMU") that the area touches,
// sorted. It samples the area's boundary and interior every few hundred metres
// and checks the tiles of the centroid's UTM zone and its two neighbours.
func (a Area) S2Tiles() []string {
	set := map[string]bool{}
	for _, p := range samplePoints(a, 0.002) {
		zone := UTMZone(p[0])
		for z := zone - 1; z <= zone+1; z++ {
			if z < 1 || z > 60 {
				continue
			}
			for _, t := range tilesAt(p, z) {
				set[t] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// tilesAt lists the tiles of zone z that contain p.
func tilesAt(p orb.Point, z int) []string {
	lon, lat := p[0], p[1]
	south := lat < 0
	e, n := utmForward(lon, lat, z, south)
	// The zone's own span at this latitude: a tile exists when it overlaps it.
	zoneWest := float64(z-1)*6 - 180
	eW, _ := utmForward(zoneWest, lat, z, south)
	eE, _ := utmForward(zoneWest+6, lat, z, south)
	band := int(math.Floor((lat + 80) / 8))
	if band > len(bandLetters)-1 {
		band = len(bandLetters) - 1
	}
	if band < 0 {
		band = 0
	}
	var out []string
	sqE := math.Floor(e / mgrsSquare)
	sqN := math.Floor(n / mgrsSquare)
	// The tile of a square covers [x0, x0+109.8 km] × [y1-109.8 km, y1], so p can
	// sit in the tile of its own square, the one to the west, north, or both.
	for _, d := range [][2]float64{{0, 0}, {-1, 0}, {0, 1}, {-1, 1}} {
		col, row := sqE+d[0], sqN+d[1]
		x0 := col * mgrsSquare
		y1 := (row + 1) * mgrsSquare
		if e < x0 || e >= x0+s2TileSize || n <= y1-s2TileSize || n > y1 {
			continue
		}
		if x0+s2TileSize <= eW || x0 >= eE || col < 1 || col > 8 {
			continue
		}
		cl := columnSets[z%3][int(col)-1]
		ri := int(row) % 20
		if z%2 == 0 {
			ri = (ri + 5) % 20
		}
		out = append(out, formatTile(z, bandLetters[band], cl, rowLetters[ri]))
	}
	return out
}

func formatTile(zone int, band, col, row byte) string {
	return string([]byte{byte('0' + zone/10), byte('0' + zone%10), band, col, row})
}

// samplePoints returns the area's vertices, points along its edges and a grid
// of interior points, every step degrees.
func samplePoints(a Area, step float64) []orb.Point {
	var pts []orb.Point
	for _, p := range a.Geometry {
		for _, r := range p {
			for i := 0; i+1 < len(r); i++ {
				d := math.Hypot(r[i+1][0]-r[i][0], r[i+1][1]-r[i][1])
				k := int(math.Ceil(d / step))
				for j := 0; j < k; j++ {
					t := float64(j) / float64(k)
					pts = append(pts, orb.Point{r[i][0] + t*(r[i+1][0]-r[i][0]), r[i][1] + t*(r[i+1][1]-r[i][1])})
				}
			}
		}
	}
	b := a.Bound()
	// A coarse interior grid catches tiles wholly inside a large area.
	coarse := math.Max(step, 0.05)
	for y := b.Min[1]; y <= b.Max[1]; y += coarse {
		for x := b.Min[0]; x <= b.Max[0]; x += coarse {
			pt := orb.Point{x, y}
			if containsPoint(a.Geometry, pt) {
				pts = append(pts, pt)
			}
		}
	}
	return pts
}

func containsPoint(mp orb.MultiPolygon, pt orb.Point) bool {
	for _, p := range mp {
		if len(p) == 0 || !ringContains(p[0], pt) {
			continue
		}
		inHole := false
		for _, h := range p[1:] {
			if ringContains(h, pt) {
				inHole = true
				break
			}
		}
		if !inHole {
			return true
		}
	}
	return false
}

func ringContains(r orb.Ring, pt orb.Point) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		if (r[i][1] > pt[1]) != (r[j][1] > pt[1]) &&
			pt[0] < (r[j][0]-r[i][0])*(pt[1]-r[i][1])/(r[j][1]-r[i][1])+r[i][0] {
			in = !in
		}
	}
	return in
}

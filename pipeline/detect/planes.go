package detect

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// planeFile is the detector's scratch store: nPlanes float32 planes of the
// whole grid in one local file, plane-major, rows little-endian. Blocks are
// written and read as rectangles, so memory holds a block at a time, never
// the area.
type planeFile struct {
	f       *os.File
	w, h    int
	nPlanes int
	row     []byte
}

func createPlaneFile(path string, w, h, nPlanes int) (*planeFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create scratch %s: %w", path, err)
	}
	if err := f.Truncate(int64(w) * int64(h) * int64(nPlanes) * 4); err != nil {
		f.Close()
		return nil, fmt.Errorf("size scratch %s: %w", path, err)
	}
	return &planeFile{f: f, w: w, h: h, nPlanes: nPlanes, row: make([]byte, 4*w)}, nil
}

func (pf *planeFile) offset(plane, x, y int) int64 {
	return ((int64(plane)*int64(pf.h)+int64(y))*int64(pf.w) + int64(x)) * 4
}

// writeRect stores a rw-wide rectangle of plane at (x, y).
func (pf *planeFile) writeRect(plane, x, y, rw int, vals []float32) error {
	rh := len(vals) / rw
	buf := pf.row[:4*rw]
	for r := 0; r < rh; r++ {
		for c, v := range vals[r*rw : (r+1)*rw] {
			binary.LittleEndian.PutUint32(buf[4*c:], math.Float32bits(v))
		}
		if _, err := pf.f.WriteAt(buf, pf.offset(plane, x, y+r)); err != nil {
			return fmt.Errorf("write scratch %s: %w", pf.f.Name(), err)
		}
	}
	return nil
}

// readRect loads a rw-wide rectangle of plane at (x, y) into dst.
func (pf *planeFile) readRect(plane, x, y, rw int, dst []float32) error {
	rh := len(dst) / rw
	buf := pf.row[:4*rw]
	for r := 0; r < rh; r++ {
		if _, err := pf.f.ReadAt(buf, pf.offset(plane, x, y+r)); err != nil {
			return fmt.Errorf("read scratch %s: %w", pf.f.Name(), err)
		}
		out := dst[r*rw : (r+1)*rw]
		for c := range out {
			out[c] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*c:]))
		}
	}
	return nil
}

func (pf *planeFile) close() error {
	name := pf.f.Name()
	err := pf.f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

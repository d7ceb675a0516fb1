package geo

// #cgo pkg-config: gdal
// #include <stdlib.h>
// #include "cpl_vsi.h"
import "C"

import (
	"strings"
	"unsafe"
)

// forgetRemote drops what GDAL's process-wide /vsicurl/ cache knows of a
// remote file (its size, headers and blocks), so that a read that failed on a
// truncated or broken answer is not poisoned the next time it is tried.
func forgetRemote(name string) {
	if !strings.HasPrefix(name, "/vsicurl/") && !strings.HasPrefix(name, "/vsis3/") {
		return
	}
	c := C.CString(name)
	defer C.free(unsafe.Pointer(c))
	C.VSICurlPartialClearCache(c)
}

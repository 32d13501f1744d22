/* MMIO for the cffi module: exact-width volatile accessors and barriers
 * (definitions in ../mmio_ops.h, declarations in ../../cdef/mmio.h).
 * They take raw addresses and check nothing: vllsi.mmio bounds- and
 * alignment-checks every access before it reaches C. */
#include "mmio_ops.h"

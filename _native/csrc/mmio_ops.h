/* Exact-width volatile MMIO accessors and hardware barriers (shared by the cffi
 * module csrc/ffi/mmio.c and the fast paths csrc/fast/mmio.c).
 *
 * Each accessor is its own out-of-line function (noinline) so that its body is
 * exactly one load or store of its width: conformance/mmio disassembles the
 * built extensions and checks it (x86_64 movb/movw/movl/movq or movzbl/movzwl;
 * aarch64 ldrb/ldrh/ldr w/ldr x, strb/strh/str w/str x). Callers check bounds
 * and alignment before calling; these functions trust their address.
 *
 * Barriers:
 *   order   x86_64                 aarch64
 *   0 relaxed  compiler barrier    compiler barrier
 *   2 acquire  lfence              dmb ishld
 *   3 release  sfence              dmb ish
 *   4 acq_rel  mfence              dmb ish
 *   5 seq_cst  mfence              dmb ish
 *   dmb()      mfence              dmb ish
 *   dsb()      mfence; lfence      dsb sy
 *   isb()      lfence              isb
 * x86_64 has no data/instruction synchronisation barriers of the ARM kind:
 * mfence orders every earlier load and store before every later one (and
 * drains the store buffer), lfence does not let later instructions start until
 * earlier ones complete (dispatch serialising), sfence orders stores including
 * write-combining and non-temporal ones. Instruction fetch on x86 stays
 * coherent with stores in hardware, so isb's cross-modifying-code role needs
 * nothing more from user space.
 */
#ifndef VLLSI_MMIO_OPS_H
#define VLLSI_MMIO_OPS_H
#include <stdint.h>

#define VLLSI_MMIO_FN static __attribute__((noinline, used))

VLLSI_MMIO_FN uint8_t vllsi_mmio_load8(uintptr_t a) { return *(const volatile uint8_t *)a; }
VLLSI_MMIO_FN uint16_t vllsi_mmio_load16(uintptr_t a) { return *(const volatile uint16_t *)a; }
VLLSI_MMIO_FN uint32_t vllsi_mmio_load32(uintptr_t a) { return *(const volatile uint32_t *)a; }
VLLSI_MMIO_FN uint64_t vllsi_mmio_load64(uintptr_t a) { return *(const volatile uint64_t *)a; }
VLLSI_MMIO_FN void vllsi_mmio_store8(uintptr_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
VLLSI_MMIO_FN void vllsi_mmio_store16(uintptr_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
VLLSI_MMIO_FN void vllsi_mmio_store32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
VLLSI_MMIO_FN void vllsi_mmio_store64(uintptr_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

#if defined(__x86_64__)
#define VLLSI_MFENCE() __asm__ __volatile__("mfence" ::: "memory")
#define VLLSI_LFENCE() __asm__ __volatile__("lfence" ::: "memory")
#define VLLSI_SFENCE() __asm__ __volatile__("sfence" ::: "memory")
#define VLLSI_DMB() VLLSI_MFENCE()
#define VLLSI_DMB_LD() VLLSI_LFENCE()
#define VLLSI_DMB_ST() VLLSI_SFENCE()
#define VLLSI_DSB() __asm__ __volatile__("mfence\n\tlfence" ::: "memory")
#define VLLSI_ISB() VLLSI_LFENCE()
#elif defined(__aarch64__)
#define VLLSI_DMB() __asm__ __volatile__("dmb ish" ::: "memory")
#define VLLSI_DMB_LD() __asm__ __volatile__("dmb ishld" ::: "memory")
#define VLLSI_DMB_ST() VLLSI_DMB()
#define VLLSI_DSB() __asm__ __volatile__("dsb sy" ::: "memory")
#define VLLSI_ISB() __asm__ __volatile__("isb" ::: "memory")
#else
#error "vllsi: MMIO barriers are defined for x86_64 and aarch64 only"
#endif
#define VLLSI_COMPILER_BARRIER() __asm__ __volatile__("" ::: "memory")

VLLSI_MMIO_FN void vllsi_mmio_dmb(void) { VLLSI_DMB(); }
VLLSI_MMIO_FN void vllsi_mmio_dsb(void) { VLLSI_DSB(); }
VLLSI_MMIO_FN void vllsi_mmio_isb(void) { VLLSI_ISB(); }

/* barrier(order): order is a C11 __ATOMIC_* value (vllsi.types.MemoryOrdering).
 * Returns -1 for an unknown order (nothing executed), else 0. */
VLLSI_MMIO_FN int
vllsi_mmio_barrier(int order)
{
    switch (order) {
    case 0: VLLSI_COMPILER_BARRIER(); return 0;
    case 2: VLLSI_DMB_LD(); return 0;
    case 3: VLLSI_DMB_ST(); return 0;
    case 4:
    case 5: VLLSI_DMB(); return 0;
    default: return -1;
    }
}

#endif

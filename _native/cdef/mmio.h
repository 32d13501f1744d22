/* Exact-width volatile MMIO accessors and barriers (csrc/mmio_ops.h). Raw
 * addresses, no checks: vllsi.mmio checks bounds and alignment first. */
uint8_t vllsi_mmio_load8(uintptr_t a);
uint16_t vllsi_mmio_load16(uintptr_t a);
uint32_t vllsi_mmio_load32(uintptr_t a);
uint64_t vllsi_mmio_load64(uintptr_t a);
void vllsi_mmio_store8(uintptr_t a, uint8_t v);
void vllsi_mmio_store16(uintptr_t a, uint16_t v);
void vllsi_mmio_store32(uintptr_t a, uint32_t v);
void vllsi_mmio_store64(uintptr_t a, uint64_t v);
int vllsi_mmio_barrier(int order);
void vllsi_mmio_dmb(void);
void vllsi_mmio_dsb(void);
void vllsi_mmio_isb(void);

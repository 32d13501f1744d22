/* io_uring ring primitives (csrc/ffi/uring.c): ordered head/tail access. */
uint32_t vllsi_uring_load_acquire(uintptr_t addr);
void vllsi_uring_store_release(uintptr_t addr, uint32_t value);
uint32_t vllsi_uring_copy_cqes(uintptr_t khead, uintptr_t ktail, uint32_t mask, uintptr_t cqes,
                               uintptr_t out, uint32_t max);
uint32_t vllsi_uring_sizeof_sqe(void);

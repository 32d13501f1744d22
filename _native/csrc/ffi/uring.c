/* io_uring ring primitives for cffi callers (declared in cdef/uring.h).
 * The engine's hot paths live in csrc/fast/uring.c; these are the same
 * ordered accesses, exposed for tests and for tools that drive a ring by hand. */
#include "uring_ring.h"

uint32_t
vllsi_uring_load_acquire(uintptr_t addr)
{
    return vl_load_acquire((const uint32_t *)addr);
}

void
vllsi_uring_store_release(uintptr_t addr, uint32_t value)
{
    vl_store_release((uint32_t *)addr, value);
}

/* Copy up to max CQEs from a CQ ring into out[]; advances the head (release).
 * Returns the number copied. */
uint32_t
vllsi_uring_copy_cqes(uintptr_t khead, uintptr_t ktail, uint32_t mask, uintptr_t cqes,
                      uintptr_t out, uint32_t max)
{
    uint32_t *head = (uint32_t *)khead;
    uint32_t h = vl_load_relaxed(head);
    uint32_t t = vl_load_acquire((const uint32_t *)ktail);
    uint32_t n = t - h;
    if (n > max)
        n = max;
    for (uint32_t i = 0; i < n; i++)
        memcpy((struct vl_cqe *)out + i, (struct vl_cqe *)cqes + ((h + i) & mask),
               sizeof(struct vl_cqe));
    vl_store_release(head, h + n);
    return n;
}

uint32_t
vllsi_uring_sizeof_sqe(void)
{
    return (uint32_t)sizeof(struct vl_sqe);
}

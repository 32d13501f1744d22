/* io_uring ring layouts and the ordered accesses the ring protocol needs.
 *
 * Shared by csrc/ffi/uring.c (cffi primitives) and csrc/fast/uring.c (the
 * engine's batch paths). Layouts follow include/uapi/linux/io_uring.h; they
 * are declared here so the build does not depend on the installed headers
 * (conformance/linux/io/ compares them with the headers).
 *
 * Ordering (see vllsi/linux/io.py's essay): the application owns the SQ tail
 * and the CQ head, the kernel the SQ head and the CQ tail. We load the
 * kernel-owned index with acquire (so the entries it publishes are visible
 * before we read them) and store our own index with release (so the entries
 * we wrote are visible before the kernel sees the new index).
 */
#ifndef VLLSI_URING_RING_H
#define VLLSI_URING_RING_H

#include <stdint.h>
#include <string.h>

struct vl_sqe {
    uint8_t opcode;
    uint8_t flags;
    uint16_t ioprio;
    int32_t fd;
    uint64_t off;        /* offset, or addr2 */
    uint64_t addr;
    uint32_t len;
    uint32_t op_flags;   /* rw_flags, fsync_flags, msg_flags, timeout_flags, accept_flags... */
    uint64_t user_data;
    uint16_t buf_index;
    uint16_t personality;
    int32_t file_index;
    uint64_t addr3;
    uint64_t pad2;
};

struct vl_cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
};

/* struct io_uring_buf: one entry of a provided-buffer ring (IORING_REGISTER_PBUF_RING).
 * The ring's 16-bit tail overlays resv of entry 0 (struct io_uring_buf_ring): never
 * write that field as part of an entry. */
struct vl_buf {
    uint64_t addr;
    uint32_t len;
    uint16_t bid;
    uint16_t resv;
};

struct vl_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};

static inline uint32_t
vl_load_acquire(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void
vl_store_release(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint32_t
vl_load_relaxed(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* The provided-buffer ring's tail is 16 bits; we own it, the kernel loads it with
 * acquire before reading the entries below it. */
static inline void
vl_store_release16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

#endif

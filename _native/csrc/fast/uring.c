/* io_uring engine batch paths: SQE preparation with buffer pinning, CQE reaping.
 *
 * vllsi.linux.io.IoUringDriver sets the ring up (io_uring_setup + mmap through
 * the raw syscall layer) and hands the mapped addresses to a Ring object made
 * here. The Ring never makes a syscall: Python calls io_uring_enter through the
 * active tier. What it does in C, because per-op Python overhead would eat
 * io_uring's gain (anchors.md 15.4):
 *
 *   prep(ops, start) fills SQEs for ops[start:], pinning each op in a slot:
 *     a strong reference to the op and an exported Py_buffer of its buffer
 *     (a bytearray cannot be resized, an mmap cannot be closed, while pinned);
 *     kernel-visible structs (timespec, sockaddr + socklen) live in the slot,
 *     which never moves. Every SQE is zeroed before it is filled. The SQ tail
 *     is published with a release store after the batch.
 *   reap(max) copies CQEs (tail loaded with acquire), builds CompletionResult
 *     tuples, releases the slots, and stores the new CQ head with release.
 *
 * user_data = (sequence << 16) | slot, which is also the SubmissionId; user_data
 * with bit 63 set is internal (the wake read, cancel helpers) and not reported.
 */
#include "uring_ring.h"
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#define VL_KINDS 11
enum { K_READ, K_WRITE, K_ACCEPT, K_CONNECT, K_SEND, K_RECV, K_TIMEOUT, K_CLOSE, K_NOP,
       K_FSYNC, K_CANCEL };

#define OP_NOP 0
#define OP_FSYNC 3
#define OP_TIMEOUT 11
#define OP_ACCEPT 13
#define OP_ASYNC_CANCEL 14
#define OP_CONNECT 16
#define OP_CLOSE 19
#define OP_READ 22
#define OP_WRITE 23
#define OP_SEND 26
#define OP_RECV 27
#define SQE_IO_HARDLINK (1U << 3)
#define ACCEPT_MULTISHOT (1U << 0)
#define CQE_F_MORE (1U << 1)
#define CANCEL_ALL (1U << 0)
#define CANCEL_FD (1U << 1)
#define FSYNC_DATASYNC 1U
#define VL_MSG_NOSIGNAL 0x4000
#define VL_SOCK_CLOEXEC 02000000
#define VL_SOCK_NONBLOCK 04000
#define VL_ETIME 62
#define VL_INTERNAL (1ULL << 63)
#define VL_SLOT_BITS 16
#define VL_SLOT_MASK ((1U << VL_SLOT_BITS) - 1)

typedef struct {
    uint64_t sid;          /* 0 = free */
    PyObject *op;          /* strong reference while in flight */
    Py_buffer view;        /* pinned buffer when has_view */
    int has_view;
    int kind;
    int multishot;
    int fixed;             /* a READ_FIXED/WRITE_FIXED: counted in fixed_in_flight */
    uint32_t pbuf;         /* a multishot recv: its buffer group + 1 (0: none) */
    struct vl_timespec ts; /* Timeout */
    uint32_t salen;        /* Accept/Connect socklen */
    unsigned char sa[128]; /* struct sockaddr_storage */
} vl_slot;

typedef struct {
    PyObject_HEAD
    uint32_t *sq_head, *sq_tail, *sq_array, sq_mask, sq_entries;
    struct vl_sqe *sqes;
    uint32_t *cq_head, *cq_tail, cq_mask, cq_entries;
    struct vl_cqe *cqes;
    uint32_t tail;         /* our SQ tail (published with release) */
    vl_slot *slots;
    uint32_t nslots, nfree, in_flight;
    uint32_t *free_list;
    uint64_t seq;
    PyObject *types[VL_KINDS];
    Py_ssize_t field_off[4][4]; /* K_READ..K_RECV: slot offsets of fd, buf, len, last */
    PyObject *result_type;
    PyObject *encode;      /* encode(op) -> bytes: Connect's sockaddr */
    PyObject *decode;      /* decode(bytes) -> address: Accept's peer */
    uint64_t wake_buf;
    int wake_armed;
    int wake_fired;
    /* bound by bind(): what submit()/poll()/flush() need to enter the kernel */
    int ring_fd, wake_fd;
    uint32_t *sq_flags;    /* IORING_SQ_TASKRUN: deferred completions wait for an enter */
    int use_libc;          /* libc tier: io_uring_enter through libc's syscall() */
    int eager;             /* submit() hands each op to the kernel at once */
    int closed;            /* submit()/poll() raise closed_error() */
    PyObject *closed_error;  /* closed_error() -> exception */
    PyObject *would_block;   /* would_block(ids, capacity) -> exception */
    uint64_t n_submitted, n_completed, n_waits, n_enters;
    uint64_t ext_arg[3];   /* struct io_uring_getevents_arg {sigmask, sigmask_sz|pad, ts} */
    Py_buffer *fixed;      /* registered buffers, exported while registered */
    uint32_t nfixed, fixed_in_flight;
    struct vl_timespec wait_ts;
    struct vl_pbuf *pbufs; /* provided-buffer rings (IORING_REGISTER_PBUF_RING) */
    uint32_t npbufs;
} vl_ring;

/* Provided-buffer rings: defined with the multishot recv, before ring_methods[]. */
static void pbuf_slot_done(vl_ring *r, vl_slot *s);
static void pbuf_taken(vl_ring *r, vl_slot *s, uint32_t cqe_flags);
static void pbuf_free_all(vl_ring *r);

static PyObject *s_fd, *s_buf, *s_len, *s_offset, *s_flags, *s_duration, *s_target,
    *s_datasync, *s_multishot;

static void
ring_release_slot(vl_ring *r, uint32_t i)
{
    vl_slot *s = &r->slots[i];
    if (s->has_view) {
        PyBuffer_Release(&s->view);
        s->has_view = 0;
    }
    Py_CLEAR(s->op);
    if (s->fixed) {
        s->fixed = 0;
        r->fixed_in_flight--;
    }
    if (s->pbuf)
        pbuf_slot_done(r, s);
    s->sid = 0;
    r->free_list[r->nfree++] = i;
    r->in_flight--;
}

static void
ring_dealloc(vl_ring *r)
{
    /* Only reached once Python dropped the ring: IoUringDriver.shutdown has reaped
     * everything or, if the kernel could still write, kept the ring referenced. */
    if (r->slots) {
        for (uint32_t i = 0; i < r->nslots; i++) {
            if (r->slots[i].sid) {
                if (r->slots[i].has_view)
                    PyBuffer_Release(&r->slots[i].view);
                Py_CLEAR(r->slots[i].op);
            }
        }
        PyMem_Free(r->slots);
    }
    for (uint32_t i = 0; i < r->nfixed; i++)
        PyBuffer_Release(&r->fixed[i]);
    PyMem_Free(r->fixed);
    pbuf_free_all(r);
    PyMem_Free(r->free_list);
    for (int k = 0; k < VL_KINDS; k++)
        Py_CLEAR(r->types[k]);
    Py_CLEAR(r->result_type);
    Py_CLEAR(r->encode);
    Py_CLEAR(r->decode);
    Py_CLEAR(r->closed_error);
    Py_CLEAR(r->would_block);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyTypeObject vl_ring_type;

static int
get_u64(PyObject *o, uint64_t *out)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* Ring(sq_head, sq_tail, sq_mask, sq_entries, sq_array, sqes,
 *      cq_head, cq_tail, cq_mask, cq_entries, cqes, nslots,
 *      types, result_type, encode, decode): addresses as ints. */
static PyObject *
fast_uring_ring(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint64_t v[12];
    if (nargs != 16) {
        PyErr_SetString(PyExc_TypeError, "uring_ring takes 16 arguments");
        return NULL;
    }
    for (int i = 0; i < 12; i++)
        if (get_u64(args[i], &v[i]))
            return NULL;
    PyObject *types = args[12];
    if (!PyTuple_Check(types) || PyTuple_GET_SIZE(types) != VL_KINDS) {
        PyErr_SetString(PyExc_TypeError, "types must be a tuple of the 11 op classes");
        return NULL;
    }
    if (v[11] == 0 || v[11] > (1U << VL_SLOT_BITS)) {
        PyErr_SetString(PyExc_ValueError, "nslots out of range");
        return NULL;
    }
    if (!vl_ring_type.tp_flags) {
        /* first use */
    }
    if (PyType_Ready(&vl_ring_type) < 0)
        return NULL;
    if (!s_fd) {
        s_fd = PyUnicode_InternFromString("fd");
        s_buf = PyUnicode_InternFromString("buf");
        s_len = PyUnicode_InternFromString("len");
        s_offset = PyUnicode_InternFromString("offset");
        s_flags = PyUnicode_InternFromString("flags");
        s_duration = PyUnicode_InternFromString("duration");
        s_target = PyUnicode_InternFromString("target");
        s_datasync = PyUnicode_InternFromString("datasync");
        s_multishot = PyUnicode_InternFromString("multishot");
        if (!s_fd || !s_buf || !s_len || !s_offset || !s_flags || !s_duration || !s_target
            || !s_datasync || !s_multishot)
            return NULL;
    }
    vl_ring *r = PyObject_New(vl_ring, &vl_ring_type);
    if (!r)
        return NULL;
    r->sq_head = (uint32_t *)(uintptr_t)v[0];
    r->sq_tail = (uint32_t *)(uintptr_t)v[1];
    r->sq_mask = (uint32_t)v[2];
    r->sq_entries = (uint32_t)v[3];
    r->sq_array = (uint32_t *)(uintptr_t)v[4];
    r->sqes = (struct vl_sqe *)(uintptr_t)v[5];
    r->cq_head = (uint32_t *)(uintptr_t)v[6];
    r->cq_tail = (uint32_t *)(uintptr_t)v[7];
    r->cq_mask = (uint32_t)v[8];
    r->cq_entries = (uint32_t)v[9];
    r->cqes = (struct vl_cqe *)(uintptr_t)v[10];
    r->nslots = (uint32_t)v[11];
    r->tail = vl_load_relaxed(r->sq_tail);
    r->seq = 0;
    r->in_flight = 0;
    r->wake_buf = 0;
    r->wake_armed = r->wake_fired = 0;
    r->ring_fd = r->wake_fd = -1;
    r->sq_flags = NULL;
    r->fixed = NULL;
    r->nfixed = r->fixed_in_flight = 0;
    r->pbufs = NULL;
    r->npbufs = 0;
    r->use_libc = r->eager = 0;
    r->closed = 1; /* until bind() */
    r->closed_error = r->would_block = NULL;
    r->n_submitted = r->n_completed = r->n_waits = r->n_enters = 0;
    memset(r->ext_arg, 0, sizeof(r->ext_arg));
    r->wait_ts.tv_sec = r->wait_ts.tv_nsec = 0;
    r->slots = PyMem_Calloc(r->nslots, sizeof(vl_slot));
    r->free_list = PyMem_Malloc(r->nslots * sizeof(uint32_t));
    for (int k = 0; k < VL_KINDS; k++) {
        r->types[k] = PyTuple_GET_ITEM(types, k);
        Py_INCREF(r->types[k]);
    }
    for (int idx = 0; idx < 4; idx++) {
        /* The buffer ops are slotted dataclasses: read their fields straight from
         * the slots for the exact classes (a subclass goes through getattr). */
        static const int kinds[4] = {K_READ, K_WRITE, K_SEND, K_RECV};
        static const char *names[4][4] = {{"fd", "buf", "len", "offset"},
                                          {"fd", "buf", "len", "offset"},
                                          {"fd", "buf", "len", "flags"},
                                          {"fd", "buf", "len", "flags"}};
        int k = kinds[idx];
        for (int f = 0; f < 4; f++) {
            if (!PyType_Check(r->types[k])
                || slot_offset((PyTypeObject *)r->types[k], names[idx][f],
                               &r->field_off[idx][f]) < 0) {
                PyErr_Clear();
                r->field_off[idx][f] = -1;
            }
        }
    }
    r->result_type = args[13];
    Py_INCREF(r->result_type);
    r->encode = args[14];
    Py_INCREF(r->encode);
    r->decode = args[15];
    Py_INCREF(r->decode);
    if (!r->slots || !r->free_list) {
        Py_DECREF(r);
        return PyErr_NoMemory();
    }
    /* Pop order: slot 0 first. */
    r->nfree = r->nslots;
    for (uint32_t i = 0; i < r->nslots; i++)
        r->free_list[i] = r->nslots - 1 - i;
    return (PyObject *)r;
}

static int
kind_of(vl_ring *r, PyObject *op)
{
    /* Exact classes only, as every driver: a subclass could compute fields
     * (a property over len) behind the engine's pinning and checks. */
    PyTypeObject *t = Py_TYPE(op);
    for (int k = 0; k < VL_KINDS; k++)
        if ((PyObject *)t == r->types[k])
            return k;
    PyErr_Format(PyExc_TypeError, "not an engine op: %.100s", t->tp_name);
    return -1;
}

static int
attr_long(PyObject *op, PyObject *name, long long *out)
{
    PyObject *o = PyObject_GetAttr(op, name);
    if (!o)
        return -1;
    long long v = PyLong_AsLongLong(o);
    Py_DECREF(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* A buffer op's field: straight from its slot for the exact op class, else getattr.
 * f: 0 fd, 1 buf, 2 len, 3 offset/flags. New reference, or NULL with an exception. */
static PyObject *
op_field(vl_ring *r, PyObject *op, int kind, int f, PyObject *name)
{
    int idx = kind == K_READ ? 0 : kind == K_WRITE ? 1 : kind == K_SEND ? 2 : 3;
    Py_ssize_t off = r->field_off[idx][f];
    if (off >= 0 && (PyObject *)Py_TYPE(op) == r->types[kind]) {
        PyObject *v = *(PyObject **)((char *)op + off);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(op, name);
}

static int
field_long(vl_ring *r, PyObject *op, int kind, int f, PyObject *name, long long *out)
{
    PyObject *o = op_field(r, op, kind, f, name);
    if (!o)
        return -1;
    long long v = PyLong_AsLongLong(o);
    Py_DECREF(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

static inline struct vl_sqe *
next_sqe(vl_ring *r)
{
    uint32_t head = vl_load_acquire(r->sq_head);
    if (r->tail - head >= r->sq_entries)
        return NULL;
    uint32_t idx = r->tail & r->sq_mask;
    struct vl_sqe *e = &r->sqes[idx];
    memset(e, 0, sizeof(*e));
    r->sq_array[idx] = idx;
    r->tail++;
    return e;
}

static inline uint32_t
sq_space(vl_ring *r)
{
    return r->sq_entries - (r->tail - vl_load_acquire(r->sq_head));
}

/* Fill one op into slot i (+1 or 2 SQEs, space checked by the caller).
 * Returns 0, or -1 with an exception set (slot untouched beyond its fields). */
static int
fill_op(vl_ring *r, PyObject *op, int kind, uint32_t i, uint64_t ud)
{
    vl_slot *s = &r->slots[i];
    long long fd = 0, v = 0;
    struct vl_sqe *e;
    PyObject *o;

    s->kind = kind;
    s->has_view = 0;
    s->multishot = 0;
    s->fixed = 0;
    if (kind == K_READ || kind == K_WRITE || kind == K_SEND || kind == K_RECV) {
        int writable = (kind == K_READ || kind == K_RECV);
        if (field_long(r, op, kind, 0, s_fd, &fd))
            return -1;
        o = op_field(r, op, kind, 1, s_buf);
        if (!o)
            return -1;
        int rc = PyObject_GetBuffer(o, &s->view, writable ? (PyBUF_WRITABLE | PyBUF_SIMPLE)
                                                          : PyBUF_SIMPLE);
        Py_DECREF(o);
        if (rc) {
            if (PyErr_ExceptionMatches(PyExc_BufferError)) {
                PyErr_Clear();
                PyErr_SetString(PyExc_TypeError, writable ? "expected a writable buffer"
                                                          : "expected a buffer");
            }
            return -1;
        }
        s->has_view = 1;
        Py_ssize_t n = s->view.len;
        o = op_field(r, op, kind, 2, s_len);
        if (!o)
            goto fail_view;
        if (o != Py_None) {
            long long want = PyLong_AsLongLong(o);
            Py_DECREF(o);
            if (want == -1 && PyErr_Occurred())
                goto fail_view;
            if (want < 0 || want > n) {
                PyErr_Format(PyExc_ValueError, "len %lld exceeds the buffer's %zd bytes",
                             want, n);
                goto fail_view;
            }
            n = (Py_ssize_t)want;
        } else {
            Py_DECREF(o);
        }
        if (n > 0x7ffff000) {
            PyErr_SetString(PyExc_ValueError, "buffer larger than 0x7ffff000 bytes");
            goto fail_view;
        }
        if (field_long(r, op, kind, 3, (kind == K_READ || kind == K_WRITE) ? s_offset : s_flags,
                       &v))
            goto fail_view;
        e = next_sqe(r);
        e->fd = (int32_t)fd;
        e->addr = (uint64_t)(uintptr_t)s->view.buf;
        e->len = (uint32_t)n;
        if (kind == K_READ || kind == K_WRITE) {
            e->opcode = kind == K_READ ? OP_READ : OP_WRITE;
            e->off = (uint64_t)v; /* -1: the file position */
        } else {
            e->opcode = kind == K_RECV ? OP_RECV : OP_SEND;
            e->op_flags = (uint32_t)v | (kind == K_SEND ? VL_MSG_NOSIGNAL : 0);
        }
        e->user_data = ud;
        return 0;
    fail_view:
        PyBuffer_Release(&s->view);
        s->has_view = 0;
        return -1;
    }
    switch (kind) {
    case K_NOP:
        e = next_sqe(r);
        e->opcode = OP_NOP;
        break;
    case K_FSYNC: {
        if (attr_long(op, s_fd, &fd))
            return -1;
        o = PyObject_GetAttr(op, s_datasync);
        if (!o)
            return -1;
        int ds = PyObject_IsTrue(o);
        Py_DECREF(o);
        e = next_sqe(r);
        e->opcode = OP_FSYNC;
        e->fd = (int32_t)fd;
        e->op_flags = ds ? FSYNC_DATASYNC : 0;
        break;
    }
    case K_CLOSE:
        if (attr_long(op, s_fd, &fd))
            return -1;
        /* Cancel what is queued on fd (hard-linked: the close runs whatever the
         * cancel's outcome), then close it. */
        e = next_sqe(r);
        e->opcode = OP_ASYNC_CANCEL;
        e->fd = (int32_t)fd;
        e->op_flags = CANCEL_FD | CANCEL_ALL;
        e->flags = SQE_IO_HARDLINK;
        e->user_data = VL_INTERNAL | 2;
        e = next_sqe(r);
        e->opcode = OP_CLOSE;
        e->fd = (int32_t)fd;
        break;
    case K_TIMEOUT: {
        o = PyObject_GetAttr(op, s_duration);
        if (!o)
            return -1;
        double d = PyFloat_AsDouble(o);
        Py_DECREF(o);
        if (d == -1.0 && PyErr_Occurred())
            return -1;
        if (!(d >= 0.0))
            d = 0.0;
        if (d > 9.0e9) /* ~285 years: keeps the conversion defined */
            d = 9.0e9;
        long long ns = (long long)(d * 1e9);
        if (ns < 0)
            ns = 0;
        s->ts.tv_sec = ns / 1000000000LL;
        s->ts.tv_nsec = ns % 1000000000LL;
        e = next_sqe(r);
        e->opcode = OP_TIMEOUT;
        e->addr = (uint64_t)(uintptr_t)&s->ts;
        e->len = 1;
        e->off = 0; /* pure timer: no completion count */
        break;
    }
    case K_CANCEL:
        if (attr_long(op, s_target, &v))
            return -1;
        e = next_sqe(r);
        e->opcode = OP_ASYNC_CANCEL;
        e->addr = (uint64_t)v;
        break;
    case K_ACCEPT: {
        if (attr_long(op, s_fd, &fd))
            return -1;
        o = PyObject_GetAttr(op, s_multishot);
        if (!o)
            return -1;
        int multi = PyObject_IsTrue(o);
        Py_DECREF(o);
        if (multi < 0)
            return -1;
        s->salen = sizeof(s->sa);
        s->multishot = multi;
        e = next_sqe(r);
        e->opcode = OP_ACCEPT;
        e->fd = (int32_t)fd;
        if (multi) {
            /* One SQE, one CQE per connection (F_MORE while armed). The kernel would
             * overwrite one sockaddr before we reap, so the peer is asked per fd. */
            e->ioprio = ACCEPT_MULTISHOT;
        } else {
            e->addr = (uint64_t)(uintptr_t)s->sa;
            e->off = (uint64_t)(uintptr_t)&s->salen;
        }
        e->op_flags = VL_SOCK_CLOEXEC | VL_SOCK_NONBLOCK;
        break;
    }
    case K_CONNECT: {
        if (attr_long(op, s_fd, &fd))
            return -1;
        o = PyObject_CallOneArg(r->encode, op);
        if (!o)
            return -1;
        char *p;
        Py_ssize_t n;
        if (PyBytes_AsStringAndSize(o, &p, &n) < 0 || n > (Py_ssize_t)sizeof(s->sa)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "sockaddr too long");
            Py_DECREF(o);
            return -1;
        }
        memcpy(s->sa, p, n);
        s->salen = (uint32_t)n;
        Py_DECREF(o);
        e = next_sqe(r);
        e->opcode = OP_CONNECT;
        e->fd = (int32_t)fd;
        e->addr = (uint64_t)(uintptr_t)s->sa;
        e->off = n;
        break;
    }
    default:
        PyErr_SetString(PyExc_TypeError, "unknown op kind");
        return -1;
    }
    e->user_data = ud;
    return 0;
}

/* Mark slot (the last free one, its SQE filled) in flight as ud, owned by owner
 * (a new reference is taken). */
static void
slot_claim(vl_ring *r, uint32_t slot, uint64_t ud, PyObject *owner)
{
    vl_slot *s = &r->slots[slot];
    r->nfree--;
    r->in_flight++;
    s->sid = ud;
    Py_INCREF(owner);
    s->op = owner;
}

/* Append ud to ids; -1 with an exception. */
static int
ids_append(PyObject *ids, uint64_t ud)
{
    PyObject *id = PyLong_FromUnsignedLongLong(ud);
    if (!id || PyList_Append(ids, id) < 0) {
        Py_XDECREF(id);
        return -1;
    }
    Py_DECREF(id);
    return 0;
}

/* Take a free slot, fill op's SQE(s) and pin op in the slot (SQ space and a free
 * slot checked by the caller). The SQ tail is not published. 0, or -1 with an
 * exception (slot untouched). */
static int
ring_put(vl_ring *r, PyObject *op, int kind, uint64_t *ud_out)
{
    uint32_t slot = r->free_list[r->nfree - 1];
    uint64_t ud = ((r->seq + 1) << VL_SLOT_BITS) | slot;
    if (fill_op(r, op, kind, slot, ud) < 0)
        return -1;
    r->seq++;
    slot_claim(r, slot, ud, op);
    *ud_out = ud;
    return 0;
}

/* prep(ops: list, start) -> (ids: list, next_index, status)
 * status 0: all of ops[start:] in; 1: SQ full (enter, then call again from
 * next_index); 2: no free slot (engine capacity reached).
 * On bad input raises TypeError/ValueError; the SQEs and slots of this call are
 * rolled back (nothing of this call reaches the kernel). */
/* Undo a prep call that failed part-way: release the slots of the ids it took and
 * rewind the private tail (nothing was published). Consumes ids; returns NULL. */
static PyObject *
ring_rollback(vl_ring *r, PyObject *ids, uint32_t tail0)
{
    Py_ssize_t m = PyList_GET_SIZE(ids);
    for (Py_ssize_t j = 0; j < m; j++) {
        uint64_t ud = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(ids, j));
        ring_release_slot(r, (uint32_t)(ud & VL_SLOT_MASK));
    }
    r->tail = tail0;
    Py_DECREF(ids);
    return NULL;
}

/* Publish the SQEs a prep call filled (release store of the SQ tail) and build its
 * (ids, next_index, status) answer. */
static PyObject *
ring_publish(vl_ring *r, PyObject *ids, Py_ssize_t next, int status)
{
    vl_store_release(r->sq_tail, r->tail);
    r->n_submitted += (uint64_t)PyList_GET_SIZE(ids);
    return Py_BuildValue("(Nni)", ids, next, status);
}

static PyObject *
ring_prep(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "prep(ops: list, start: int)");
        return NULL;
    }
    PyObject *ops = args[0];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ops);
    if (start < 0 || start > n) {
        PyErr_SetString(PyExc_ValueError, "start out of range");
        return NULL;
    }
    PyObject *ids = PyList_New(0);
    if (!ids)
        return NULL;
    uint32_t tail0 = r->tail;
    Py_ssize_t i = start;
    int status = 0;
    for (; i < n; i++) {
        PyObject *op = PyList_GET_ITEM(ops, i);
        int kind = kind_of(r, op);
        if (kind < 0)
            goto rollback;
        uint32_t need = kind == K_CLOSE ? 2 : 1;
        if (sq_space(r) < need) {
            status = 1;
            break;
        }
        if (r->nfree == 0) {
            status = 2;
            break;
        }
        uint64_t ud;
        if (ring_put(r, op, kind, &ud) < 0 || ids_append(ids, ud) < 0)
            goto rollback;
    }
    return ring_publish(r, ids, i, status);
rollback:
    /* Undo this call: SQEs were not published (tail is stored only on success). */
    return ring_rollback(r, ids, tail0);
}

/* The arguments prep_rw and prep_fixed share: (fd, items: list, offsets: list,
 * write, start, ...) with nargs_expected arguments. 0, or -1 with TypeError /
 * ValueError. */
static int
batch_args(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t nargs_expected,
           const char *usage, long *fd, int *write, Py_ssize_t *start, Py_ssize_t *n)
{
    if (nargs != nargs_expected || !PyList_Check(args[1]) || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    *fd = PyLong_AsLong(args[0]);
    *write = PyObject_IsTrue(args[3]);
    *start = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred() || *write < 0)
        return -1;
    if (*fd < 0 || *fd > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "fd is not a valid descriptor");
        return -1;
    }
    *n = PyList_GET_SIZE(args[1]);
    if (PyList_GET_SIZE(args[2]) != *n) {
        PyErr_SetString(PyExc_ValueError, "buffers (or indices) and offsets differ in length");
        return -1;
    }
    if (*start < 0 || *start > *n) {
        PyErr_SetString(PyExc_ValueError, "start out of range");
        return -1;
    }
    return 0;
}

/* prep_rw(fd, buffers: list, offsets: list, write: bool) -> (ids, next_index, status):
 * the batch form of Read/Write ops (no op objects): each buffer is pinned in its
 * slot (the slot's reference is the buffer itself). Same statuses and rollback as
 * prep(); the whole batch is validated before anything is published. */
static PyObject *
ring_prep_rw(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    long fd;
    int write;
    Py_ssize_t start, n;
    if (batch_args(args, nargs, 5, "prep_rw(fd, buffers: list, offsets: list, write, start)",
                   &fd, &write, &start, &n) < 0)
        return NULL;
    PyObject *bufs = args[1], *offs = args[2];
    PyObject *ids = PyList_New(0);
    if (!ids)
        return NULL;
    uint32_t tail0 = r->tail;
    Py_ssize_t i = start;
    int status = 0;
    for (; i < n; i++) {
        if (sq_space(r) < 1) {
            status = 1;
            break;
        }
        if (r->nfree == 0) {
            status = 2;
            break;
        }
        PyObject *buf = PyList_GET_ITEM(bufs, i);
        long long off = PyLong_AsLongLong(PyList_GET_ITEM(offs, i));
        if (off == -1 && PyErr_Occurred())
            goto rollback;
        if (off < -1) {
            PyErr_SetString(PyExc_ValueError, "offset must be >= -1");
            goto rollback;
        }
        uint32_t slot = r->free_list[r->nfree - 1];
        vl_slot *s = &r->slots[slot];
        if (PyObject_GetBuffer(buf, &s->view, write ? PyBUF_SIMPLE
                                                    : (PyBUF_WRITABLE | PyBUF_SIMPLE))) {
            if (PyErr_ExceptionMatches(PyExc_BufferError)) {
                PyErr_Clear();
                PyErr_SetString(PyExc_TypeError, write ? "expected a buffer"
                                                       : "expected a writable buffer");
            }
            goto rollback;
        }
        if (s->view.len > 0x7ffff000) {
            PyBuffer_Release(&s->view);
            PyErr_SetString(PyExc_ValueError, "buffer larger than 0x7ffff000 bytes");
            goto rollback;
        }
        s->has_view = 1;
        s->fixed = 0;
        s->kind = write ? K_WRITE : K_READ;
        uint64_t ud = (++r->seq << VL_SLOT_BITS) | slot;
        struct vl_sqe *e = next_sqe(r);
        e->opcode = write ? OP_WRITE : OP_READ;
        e->fd = (int32_t)fd;
        e->addr = (uint64_t)(uintptr_t)s->view.buf;
        e->len = (uint32_t)s->view.len;
        e->off = (uint64_t)off;
        e->user_data = ud;
        slot_claim(r, slot, ud, buf);
        if (ids_append(ids, ud) < 0)
            goto rollback;
    }
    return ring_publish(r, ids, i, status);
rollback:
    return ring_rollback(r, ids, tail0);
}


/* Reap up to max CQEs into a new list of CompletionResult (internal CQEs are
 * consumed silently). */
static PyObject *
reap_list(vl_ring *r, Py_ssize_t max)
{
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    uint32_t head = vl_load_relaxed(r->cq_head);
    uint32_t tail = vl_load_acquire(r->cq_tail);
    while (head != tail && PyList_GET_SIZE(out) < max) {
        struct vl_cqe c = r->cqes[head & r->cq_mask];
        head++;
        if (c.user_data & VL_INTERNAL) {
            if (c.user_data == (VL_INTERNAL | 1)) {
                r->wake_armed = 0;
                r->wake_fired = 1;
            }
            continue;
        }
        uint32_t i = (uint32_t)(c.user_data & VL_SLOT_MASK);
        if (i >= r->nslots || r->slots[i].sid != c.user_data)
            continue; /* not ours (cannot happen); never touch a slot we do not own */
        vl_slot *s = &r->slots[i];
        int32_t res = c.res;
        PyObject *address = NULL;
        if (s->kind == K_TIMEOUT && res == -VL_ETIME)
            res = 0;
        else if (s->kind == K_ACCEPT && res >= 0) {
            uint32_t n = s->salen < sizeof(s->sa) ? s->salen : sizeof(s->sa);
            /* decode(bytes) decodes a sockaddr; decode(fd) asks getpeername (multishot) */
            PyObject *raw = s->multishot ? PyLong_FromLong(res)
                                         : PyBytes_FromStringAndSize((const char *)s->sa, n);
            if (raw) {
                address = PyObject_CallOneArg(r->decode, raw);
                Py_DECREF(raw);
            }
            if (!address) { /* keep the completion; report the decode failure as None */
                PyErr_Clear();
                Py_INCREF(Py_None);
                address = Py_None;
            }
        }
        if (s->pbuf)
            pbuf_taken(r, s, c.flags); /* a CQE with IORING_CQE_F_BUFFER hands one out */
        if (!(s->multishot && (c.flags & CQE_F_MORE)))
            ring_release_slot(r, i); /* a multishot op keeps its slot while armed */
        PyObject *res_obj = vl_make_result(r->result_type, c.user_data, res, c.flags, address);
        if (!res_obj || PyList_Append(out, res_obj) < 0) {
            Py_XDECREF(res_obj);
            vl_store_release(r->cq_head, head);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(res_obj);
    }
    vl_store_release(r->cq_head, head);
    return out;
}

/* reap([max]) -> list of CompletionResult (internal CQEs consumed silently). */
static PyObject *
ring_reap(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t max = nargs ? PyLong_AsSsize_t(args[0]) : PY_SSIZE_T_MAX;
    if (max == -1 && PyErr_Occurred())
        return NULL;
    return reap_list(r, max);
}

/* raw(opcode, fd, addr, len, off, op_flags, user_data, sqe_flags) -> bool:
 * an internal SQE (user_data must have bit 63 set). False when the SQ is full. */
static PyObject *
ring_raw(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    uint64_t v[8];
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "raw takes 8 arguments");
        return NULL;
    }
    for (int i = 0; i < 8; i++)
        if (get_u64(args[i], &v[i]))
            return NULL;
    if (!(v[6] & VL_INTERNAL)) {
        PyErr_SetString(PyExc_ValueError, "internal user_data needs bit 63");
        return NULL;
    }
    struct vl_sqe *e = next_sqe(r);
    if (!e)
        Py_RETURN_FALSE;
    e->opcode = (uint8_t)v[0];
    e->fd = (int32_t)v[1];
    e->addr = v[2];
    e->len = (uint32_t)v[3];
    e->off = v[4];
    e->op_flags = (uint32_t)v[5];
    e->user_data = v[6];
    e->flags = (uint8_t)v[7];
    vl_store_release(r->sq_tail, r->tail);
    Py_RETURN_TRUE;
}

/* Queue the internal read of the wake eventfd unless armed; 0 when the SQ is full. */
static int
arm_wake(vl_ring *r, long fd)
{
    if (r->wake_armed)
        return 1;
    struct vl_sqe *e = next_sqe(r);
    if (!e)
        return 0;
    e->opcode = OP_READ;
    e->fd = (int32_t)fd;
    e->addr = (uint64_t)(uintptr_t)&r->wake_buf;
    e->len = 8;
    e->off = (uint64_t)-1;
    e->user_data = VL_INTERNAL | 1;
    vl_store_release(r->sq_tail, r->tail);
    r->wake_armed = 1;
    return 1;
}

/* arm_wake(eventfd) -> bool: queue the internal read of the wake eventfd. */
static PyObject *
ring_arm_wake(vl_ring *r, PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(arm_wake(r, fd));
}

/* state() -> (to_submit, cq_ready, in_flight, wake_armed, wake_fired); clears wake_fired. */
static PyObject *
ring_state(vl_ring *r, PyObject *unused)
{
    uint32_t to_submit = r->tail - vl_load_acquire(r->sq_head);
    uint32_t ready = vl_load_acquire(r->cq_tail) - vl_load_relaxed(r->cq_head);
    int fired = r->wake_fired;
    r->wake_fired = 0;
    return Py_BuildValue("(IIIii)", to_submit, ready, r->in_flight, r->wake_armed, fired);
}

/* pending() -> SQEs filled but not yet consumed by the kernel. */
static PyObject *
ring_pending(vl_ring *r, PyObject *unused)
{
    return PyLong_FromUnsignedLong(r->tail - vl_load_acquire(r->sq_head));
}

/* woken() -> True once after the wake read completed (clears the flag). */
static PyObject *
ring_woken(vl_ring *r, PyObject *unused)
{
    int fired = r->wake_fired;
    r->wake_fired = 0;
    return PyBool_FromLong(fired);
}

/* in_flight_ids() -> list of the SubmissionIds still pinned. */
static PyObject *
ring_in_flight_ids(vl_ring *r, PyObject *unused)
{
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (uint32_t i = 0; i < r->nslots; i++) {
        if (r->slots[i].sid) {
            PyObject *id = PyLong_FromUnsignedLongLong(r->slots[i].sid);
            if (!id || PyList_Append(out, id) < 0) {
                Py_XDECREF(id);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(id);
        }
    }
    return out;
}

/* owns(sid) -> bool: sid is in flight. */
static PyObject *
ring_owns(vl_ring *r, PyObject *arg)
{
    unsigned long long ud = PyLong_AsUnsignedLongLong(arg);
    if (ud == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    uint32_t i = (uint32_t)(ud & VL_SLOT_MASK);
    if (i < r->nslots && r->slots[i].sid == ud && ud)
        Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

/* ---- The engine core: submit/poll/flush in C (IoUringDriver binds them). ----
 * io_uring_enter goes through the active tier: the inline-asm trampoline, or
 * libc's syscall() on the libc tier (bind(use_libc=True)), with the GIL released. */

#define VL_ENTER_GETEVENTS (1U << 0)
#define VL_ENTER_EXT_ARG (1U << 3)
#define VL_SQ_TASKRUN (1U << 2)
#define VL_SQ_CQ_OVERFLOW (1U << 1)

static long
ring_enter(vl_ring *r, uint32_t to_submit, uint32_t min_complete, uint32_t flags,
           const void *arg, size_t argsz)
{
    long rv;
    r->n_enters++;
    Py_BEGIN_ALLOW_THREADS
    rv = vl_sys6(r->use_libc, __NR_io_uring_enter, r->ring_fd, (long)to_submit,
                 (long)min_complete, (long)flags, (long)(uintptr_t)arg, (long)argsz);
    Py_END_ALLOW_THREADS
    return rv;
}

/* Hand every filled SQE to the kernel. 0 (done, or the kernel is short of memory
 * or has a CQ backlog: EAGAIN/EBUSY, the caller reaps and retries), or -1 with an
 * exception (a signal handler raised, or the enter failed). EINTR: PEP 475. */
static int
ring_flush_c(vl_ring *r)
{
    for (;;) {
        uint32_t n = r->tail - vl_load_acquire(r->sq_head);
        if (!n)
            return 0;
        long rv = ring_enter(r, n, 0, 0, NULL, 0);
        if (rv == -EINTR) {
            if (PyErr_CheckSignals() < 0)
                return -1;
            continue;
        }
        if (rv == -EAGAIN || rv == -EBUSY)
            return 0;
        if (rv < 0) {
            vllsi_raise((int)-rv, "io_uring_enter");
            return -1;
        }
    }
}

static PyObject *
raise_from(PyObject *factory, PyObject *const *args, Py_ssize_t nargs)
{
    if (!factory) {
        PyErr_SetString(PyExc_RuntimeError, "io_uring ring is not bound");
        return NULL;
    }
    PyObject *exc = PyObject_Vectorcall(factory, args, nargs, NULL);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *
raise_would_block(vl_ring *r)
{
    PyObject *ids = PyList_New(0);
    PyObject *cap = PyLong_FromUnsignedLong(r->nslots);
    PyObject *res = NULL;
    if (ids && cap) {
        PyObject *a[2] = {ids, cap};
        res = raise_from(r->would_block, a, 2);
    }
    Py_XDECREF(ids);
    Py_XDECREF(cap);
    return res;
}

/* bind(ring_fd, wake_fd, use_libc, eager, closed_error, would_block, sq_flags_addr) */
static PyObject *
ring_bind(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7 || !PyCallable_Check(args[4]) || !PyCallable_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "bind(ring_fd, wake_fd, use_libc, eager, "
                                         "closed_error, would_block, sq_flags_addr)");
        return NULL;
    }
    long rfd = PyLong_AsLong(args[0]), wfd = PyLong_AsLong(args[1]);
    int libc = PyObject_IsTrue(args[2]), eager = PyObject_IsTrue(args[3]);
    uint64_t flags_addr;
    if (PyErr_Occurred() || libc < 0 || eager < 0 || get_u64(args[6], &flags_addr))
        return NULL;
    r->sq_flags = (uint32_t *)(uintptr_t)flags_addr;
    r->ring_fd = (int)rfd;
    r->wake_fd = (int)wfd;
    r->use_libc = libc;
    r->eager = eager;
    Py_INCREF(args[4]);
    Py_XSETREF(r->closed_error, args[4]);
    Py_INCREF(args[5]);
    Py_XSETREF(r->would_block, args[5]);
    r->closed = 0;
    Py_RETURN_NONE;
}

/* close(): submit() and poll() raise from now on (the driver then shuts down). */
static PyObject *
ring_close(vl_ring *r, PyObject *unused)
{
    r->closed = 1;
    Py_RETURN_NONE;
}

/* submit(op) -> SubmissionId: IoUringDriver.submit. */
static PyObject *
ring_submit(vl_ring *r, PyObject *op)
{
    if (r->closed)
        return raise_from(r->closed_error, NULL, 0);
    int kind = kind_of(r, op);
    if (kind < 0)
        return NULL;
    uint32_t need = kind == K_CLOSE ? 2 : 1;
    if (sq_space(r) < need) {
        if (ring_flush_c(r) < 0)
            return NULL;
        if (sq_space(r) < need)
            return raise_would_block(r);
    }
    if (r->nfree == 0)
        return raise_would_block(r);
    uint64_t ud;
    uint32_t tail0 = r->tail;
    if (ring_put(r, op, kind, &ud) < 0) {
        r->tail = tail0;
        return NULL;
    }
    PyObject *id = PyLong_FromUnsignedLongLong(ud);
    if (!id) {
        ring_release_slot(r, (uint32_t)(ud & VL_SLOT_MASK));
        r->tail = tail0;
        return NULL;
    }
    vl_store_release(r->sq_tail, r->tail);
    r->n_submitted++;
    if (r->eager && ring_flush_c(r) < 0) {
        Py_DECREF(id); /* the op is in the ring and pinned; its completion will come */
        return NULL;
    }
    return id;
}

/* flush(): hand every filled SQE to the kernel (see ring_flush_c). */
static PyObject *
ring_flush(vl_ring *r, PyObject *unused)
{
    if (ring_flush_c(r) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Wait for completions: min_complete 1, up to timeout_ns (< 0: no limit), also
 * submitting what is pending. Returns the raw enter result. */
static long
ring_wait_c(vl_ring *r, int64_t timeout_ns)
{
    if (timeout_ns < 0) {
        r->ext_arg[2] = 0;
    } else {
        r->wait_ts.tv_sec = timeout_ns / 1000000000LL;
        r->wait_ts.tv_nsec = timeout_ns % 1000000000LL;
        r->ext_arg[2] = (uint64_t)(uintptr_t)&r->wait_ts;
    }
    return ring_enter(r, r->tail - vl_load_acquire(r->sq_head), 1,
                      VL_ENTER_GETEVENTS | VL_ENTER_EXT_ARG, r->ext_arg, sizeof(r->ext_arg));
}

/* wait(timeout_ns) -> raw io_uring_enter result (shutdown's bounded waits). */
static PyObject *
ring_wait(vl_ring *r, PyObject *arg)
{
    long long ns = PyLong_AsLongLong(arg);
    if (ns == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLong(ring_wait_c(r, ns));
}

/* poll(timeout=None) -> list[CompletionResult]: IoUringDriver.poll. */
static PyObject *
ring_poll(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t limit;
    if (vl_poll_timeout(args, nargs, &limit) < 0)
        return NULL;
    if (r->closed)
        return raise_from(r->closed_error, NULL, 0);
    PyObject *out = reap_list(r, PY_SSIZE_T_MAX);
    if (!out)
        return NULL;
    if (PyList_GET_SIZE(out) || limit == 0) {
        if (!r->eager || !PyList_GET_SIZE(out)) {
            if (ring_flush_c(r) < 0) {
                Py_DECREF(out);
                return NULL;
            }
            if (!PyList_GET_SIZE(out)) {
                /* COOP_TASKRUN: completions whose task work is pending are posted
                 * only when we enter; the kernel says so with IORING_SQ_TASKRUN.
                 * CQEs that overflowed the CQ ring (NODROP backlog, e.g. a burst
                 * from a multishot op) are also moved in only by an enter with
                 * GETEVENTS: IORING_SQ_CQ_OVERFLOW. */
                if (r->sq_flags && (vl_load_acquire(r->sq_flags)
                                    & (VL_SQ_TASKRUN | VL_SQ_CQ_OVERFLOW))) {
                    long rv = ring_enter(r, 0, 0, VL_ENTER_GETEVENTS, NULL, 0);
                    if (rv < 0 && rv != -EINTR && rv != -EAGAIN && rv != -EBUSY) {
                        Py_DECREF(out);
                        return vllsi_raise((int)-rv, "io_uring_enter");
                    }
                }
                Py_DECREF(out);
                out = reap_list(r, PY_SSIZE_T_MAX);
                if (!out)
                    return NULL;
            }
        }
        r->n_completed += (uint64_t)PyList_GET_SIZE(out);
        return out;
    }
    Py_DECREF(out);
    r->n_waits++;
    arm_wake(r, r->wake_fd);
    int64_t end = limit < 0 ? 0 : vl_mono_ns() + limit;
    int fired;
    for (;;) {
        int64_t left = -1;
        if (limit >= 0) {
            left = end - vl_mono_ns();
            if (left < 0)
                left = 0;
        }
        long rv = ring_wait_c(r, left);
        out = reap_list(r, PY_SSIZE_T_MAX);
        if (!out)
            return NULL;
        fired = r->wake_fired;
        r->wake_fired = 0;
        if (PyList_GET_SIZE(out) || fired)
            break;
        if (rv == -VL_ETIME || (limit >= 0 && vl_mono_ns() >= end))
            break;
        if (rv == -EINTR) {
            if (PyErr_CheckSignals() < 0) {
                Py_DECREF(out);
                return NULL;
            }
        } else if (rv < 0 && rv != -EAGAIN && rv != -EBUSY) {
            Py_DECREF(out);
            return vllsi_raise((int)-rv, "io_uring_enter");
        }
        Py_DECREF(out);
        arm_wake(r, r->wake_fd); /* no-op while armed */
    }
    if (fired)
        arm_wake(r, r->wake_fd);
    r->n_completed += (uint64_t)PyList_GET_SIZE(out);
    return out;
}

/* counters() -> (submitted, completed, waits, enters) */
static PyObject *
ring_counters(vl_ring *r, PyObject *unused)
{
    return Py_BuildValue("(KKKK)", (unsigned long long)r->n_submitted,
                         (unsigned long long)r->n_completed, (unsigned long long)r->n_waits,
                         (unsigned long long)r->n_enters);
}


/* ---- Registered buffers (IORING_REGISTER_BUFFERS) and fixed reads/writes ---- */
#define OP_READ_FIXED 4
#define OP_WRITE_FIXED 5
#define SQE_FIXED_FILE (1U << 0)
#define VL_MAX_FIXED 16384 /* IORING_MAX_REG_BUFFERS */

/* pin_buffers(buffers: list) -> bytes (struct iovec[n] for IORING_REGISTER_BUFFERS):
 * exports each buffer (writable when it can be) until unpin_buffers(). */
static PyObject *
ring_pin_buffers(vl_ring *r, PyObject *bufs)
{
    if (!PyList_Check(bufs)) {
        PyErr_SetString(PyExc_TypeError, "pin_buffers(buffers: list)");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(bufs);
    if (r->nfixed) {
        return vllsi_raise(EBUSY, "io_uring_register");
    }
    if (n < 1 || n > VL_MAX_FIXED) {
        PyErr_Format(PyExc_ValueError, "1..%d buffers can be registered, not %zd",
                     VL_MAX_FIXED, n);
        return NULL;
    }
    Py_buffer *views = PyMem_Calloc((size_t)n, sizeof(Py_buffer));
    PyObject *iov = PyBytes_FromStringAndSize(NULL, n * 16);
    if (!views || !iov) {
        PyMem_Free(views);
        Py_XDECREF(iov);
        return PyErr_NoMemory();
    }
    uint64_t *v = (uint64_t *)PyBytes_AS_STRING(iov);
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(bufs, i);
        if (PyObject_GetBuffer(b, &views[i], PyBUF_WRITABLE | PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            if (PyObject_GetBuffer(b, &views[i], PyBUF_SIMPLE) < 0) {
                if (PyErr_ExceptionMatches(PyExc_BufferError)) {
                    PyErr_Clear();
                    PyErr_Format(PyExc_TypeError, "buffer %zd does not export a contiguous "
                                 "buffer", i);
                }
                goto fail;
            }
        }
        if (views[i].len < 1 || views[i].len > (1 << 30)) {
            PyErr_Format(PyExc_ValueError, "buffer %zd: registered buffers hold 1 byte to "
                         "1 GiB, not %zd", i, views[i].len);
            PyBuffer_Release(&views[i]);
            goto fail;
        }
        v[2 * i] = (uint64_t)(uintptr_t)views[i].buf;
        v[2 * i + 1] = (uint64_t)views[i].len;
    }
    r->fixed = views;
    r->nfixed = (uint32_t)n;
    return iov;
fail:
    while (--i >= 0)
        PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    Py_DECREF(iov);
    return NULL;
}

/* unpin_buffers(): release the exports (after IORING_UNREGISTER_BUFFERS, or when
 * registering failed). ResourceBusy/EBUSY while a fixed op is in flight. */
static PyObject *
ring_unpin_buffers(vl_ring *r, PyObject *unused)
{
    if (r->fixed_in_flight)
        return vllsi_raise(EBUSY, "io_uring_register");
    for (uint32_t i = 0; i < r->nfixed; i++)
        PyBuffer_Release(&r->fixed[i]);
    PyMem_Free(r->fixed);
    r->fixed = NULL;
    r->nfixed = 0;
    Py_RETURN_NONE;
}

/* fixed_state() -> (registered buffers, fixed ops in flight) */
static PyObject *
ring_fixed_state(vl_ring *r, PyObject *unused)
{
    return Py_BuildValue("(II)", r->nfixed, r->fixed_in_flight);
}

/* prep_fixed(fd, indices: list, offsets: list, write, start, fixed_file)
 *   -> (ids, next_index, status): READ_FIXED/WRITE_FIXED of whole registered
 * buffers; statuses and rollback as prep(). fixed_file: fd is an index into the
 * registered file table (IOSQE_FIXED_FILE). */
static PyObject *
ring_prep_fixed(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    long fd;
    int write;
    Py_ssize_t start, n;
    if (batch_args(args, nargs, 6,
                   "prep_fixed(fd, indices: list, offsets: list, write, start, fixed_file)",
                   &fd, &write, &start, &n) < 0)
        return NULL;
    int fixed_file = PyObject_IsTrue(args[5]);
    if (fixed_file < 0)
        return NULL;
    PyObject *idxs = args[1], *offs = args[2];
    if (!r->nfixed) {
        PyErr_SetString(PyExc_ValueError, "no registered buffers (register_buffers first)");
        return NULL;
    }
    PyObject *ids = PyList_New(0);
    if (!ids)
        return NULL;
    uint32_t tail0 = r->tail;
    Py_ssize_t i = start;
    int status = 0;
    for (; i < n; i++) {
        if (sq_space(r) < 1) {
            status = 1;
            break;
        }
        if (r->nfree == 0) {
            status = 2;
            break;
        }
        PyObject *io = PyList_GET_ITEM(idxs, i);
        long long bi = PyLong_AsLongLong(io);
        long long off = PyLong_AsLongLong(PyList_GET_ITEM(offs, i));
        if ((bi == -1 || off == -1) && PyErr_Occurred())
            goto rollback;
        if (bi < 0 || bi >= r->nfixed) {
            PyErr_Format(PyExc_ValueError, "buffer index %lld not in 0..%u", bi, r->nfixed - 1);
            goto rollback;
        }
        if (off < -1) {
            PyErr_SetString(PyExc_ValueError, "offset must be >= -1");
            goto rollback;
        }
        Py_buffer *view = &r->fixed[bi];
        if (!write && view->readonly) {
            PyErr_Format(PyExc_TypeError, "registered buffer %lld is read-only", bi);
            goto rollback;
        }
        uint32_t slot = r->free_list[r->nfree - 1];
        vl_slot *s = &r->slots[slot];
        uint64_t ud = (++r->seq << VL_SLOT_BITS) | slot;
        struct vl_sqe *e = next_sqe(r);
        e->opcode = write ? OP_WRITE_FIXED : OP_READ_FIXED;
        e->flags = fixed_file ? SQE_FIXED_FILE : 0;
        e->fd = (int32_t)fd;
        e->addr = (uint64_t)(uintptr_t)view->buf;
        e->len = (uint32_t)view->len;
        e->off = (uint64_t)off;
        e->buf_index = (uint16_t)bi;
        e->user_data = ud;
        s->kind = write ? K_WRITE : K_READ;
        s->has_view = 0;
        s->multishot = 0;
        s->fixed = 1;
        r->fixed_in_flight++;
        slot_claim(r, slot, ud, Py_None);
        if (ids_append(ids, ud) < 0)
            goto rollback;
    }
    return ring_publish(r, ids, i, status);
rollback:
    return ring_rollback(r, ids, tail0);
}

/* ---- Provided-buffer rings (IORING_REGISTER_PBUF_RING) and multishot recv ----
 *
 * A group is a ring of struct io_uring_buf in page-aligned memory the driver maps
 * (mmap through the raw syscall layer) and registers. We own the ring's 16-bit tail:
 * an entry is written (addr, len, bid; never resv, which for entry 0 is the tail
 * itself), then the tail is stored with release. The kernel owns the head: it
 * consumes entries in order and names the buffer it filled in each CQE
 * (IORING_CQE_F_BUFFER, bid = flags >> 16). The user's buffers stay exported
 * (Py_buffer) while the group exists. out[bid] is set when a CQE hands bid to the
 * user and cleared by recycle(), so a buffer still in the ring cannot be added
 * twice and the ring never holds more than its entries. */
#define SQE_BUFFER_SELECT (1U << 5)
#define RECV_MULTISHOT (1U << 1)
#define CQE_F_BUFFER (1U << 0)
#define VL_MAX_PBUF 32768
#define VL_PBUF_MAX_LEN 0x7ffff000

typedef struct vl_pbuf {
    uint32_t bgid;
    uint32_t entries;     /* a power of two; bid = index into views */
    uint16_t tail;        /* our tail (published with a release store) */
    int live;             /* the ring memory is attached (entries added) */
    struct vl_buf *ring;  /* page-aligned struct io_uring_buf_ring */
    Py_buffer *views;
    uint8_t *out;         /* per bid: handed to the user by a CQE, not yet recycled */
    uint32_t in_flight;   /* multishot recvs selecting from this group */
} vl_pbuf;

static vl_pbuf *
pbuf_find(vl_ring *r, long long bgid)
{
    for (uint32_t i = 0; i < r->npbufs; i++)
        if (r->pbufs[i].bgid == bgid)
            return &r->pbufs[i];
    return NULL;
}

static void
pbuf_release(vl_pbuf *g)
{
    for (uint32_t i = 0; i < g->entries; i++)
        PyBuffer_Release(&g->views[i]);
    PyMem_Free(g->views);
    PyMem_Free(g->out);
    g->views = NULL;
    g->out = NULL;
}

static void
pbuf_free_all(vl_ring *r)
{
    for (uint32_t i = 0; i < r->npbufs; i++)
        pbuf_release(&r->pbufs[i]);
    PyMem_Free(r->pbufs);
    r->pbufs = NULL;
    r->npbufs = 0;
}

static void
pbuf_slot_done(vl_ring *r, vl_slot *s)
{
    vl_pbuf *g = pbuf_find(r, (long long)s->pbuf - 1);
    if (g && g->in_flight)
        g->in_flight--;
    s->pbuf = 0;
}

static void
pbuf_taken(vl_ring *r, vl_slot *s, uint32_t cqe_flags)
{
    if (!(cqe_flags & CQE_F_BUFFER))
        return;
    vl_pbuf *g = pbuf_find(r, (long long)s->pbuf - 1);
    uint32_t bid = cqe_flags >> 16;
    if (g && bid < g->entries)
        g->out[bid] = 1;
}

static int
pbuf_cmp_addr(const void *a, const void *b)
{
    const Py_buffer *x = *(const Py_buffer *const *)a, *y = *(const Py_buffer *const *)b;
    uintptr_t p = (uintptr_t)x->buf, q = (uintptr_t)y->buf;
    return p < q ? -1 : p > q;
}

/* 1 when two of the n views share a byte (the kernel would fill one chunk over
 * another the caller still reads), 0 if not, -1 on memory error. */
static int
pbuf_overlap(Py_buffer *views, Py_ssize_t n)
{
    Py_buffer **order = PyMem_Malloc((size_t)n * sizeof(Py_buffer *));
    if (!order) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        order[i] = &views[i];
    qsort(order, (size_t)n, sizeof(Py_buffer *), pbuf_cmp_addr);
    int hit = 0;
    for (Py_ssize_t i = 1; i < n && !hit; i++)
        hit = (uintptr_t)order[i - 1]->buf + (uintptr_t)order[i - 1]->len
              > (uintptr_t)order[i]->buf;
    PyMem_Free(order);
    return hit;
}

static int
pbuf_group_arg(PyObject *o, long long *out)
{
    if (PyBool_Check(o) || !PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "group must be an int, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        v = -1;
    }
    if (v < 0 || v > 65535) {
        PyErr_SetString(PyExc_ValueError, "group must be in 0..65535");
        return -1;
    }
    *out = v;
    return 0;
}

/* pbuf_add(group, buffers: list) -> ring bytes: validate and export the buffers of
 * a new group (not yet in the kernel: pbuf_attach follows). No syscall. */
static PyObject *
ring_pbuf_add(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    long long bgid;
    if (nargs != 2 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "pbuf_add(group, buffers: list)");
        return NULL;
    }
    if (pbuf_group_arg(args[0], &bgid) < 0)
        return NULL;
    PyObject *bufs = args[1];
    Py_ssize_t n = PyList_GET_SIZE(bufs);
    if (n < 1 || n > VL_MAX_PBUF || (n & (n - 1))) {
        PyErr_Format(PyExc_ValueError, "a buffer ring holds a power of two of 1..%d "
                     "buffers, not %zd", VL_MAX_PBUF, n);
        return NULL;
    }
    if (pbuf_find(r, bgid))
        return vllsi_raise(EEXIST, "io_uring_register");
    Py_buffer *views = PyMem_Calloc((size_t)n, sizeof(Py_buffer));
    uint8_t *out = PyMem_Calloc((size_t)n, 1);
    vl_pbuf *grown = PyMem_Realloc(r->pbufs, (r->npbufs + 1) * sizeof(vl_pbuf));
    if (grown)
        r->pbufs = grown;
    if (!views || !out || !grown) {
        PyMem_Free(views);
        PyMem_Free(out);
        return PyErr_NoMemory();
    }
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(bufs, i);
        if (PyObject_GetBuffer(b, &views[i], PyBUF_WRITABLE | PyBUF_SIMPLE) < 0) {
            if (PyErr_ExceptionMatches(PyExc_BufferError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "buffer %zd is not a writable contiguous "
                             "buffer", i);
            }
            goto fail;
        }
        if (views[i].len < 1 || views[i].len > VL_PBUF_MAX_LEN) {
            PyErr_Format(PyExc_ValueError, "buffer %zd: provided buffers hold 1 to %d "
                         "bytes, not %zd", i, VL_PBUF_MAX_LEN, views[i].len);
            PyBuffer_Release(&views[i]);
            goto fail;
        }
    }
    int overlap = pbuf_overlap(views, n);
    if (overlap) {
        if (overlap > 0)
            PyErr_SetString(PyExc_ValueError, "provided buffers overlap (the same memory "
                            "given twice)");
        goto fail;
    }
    vl_pbuf *g = &r->pbufs[r->npbufs++];
    g->bgid = (uint32_t)bgid;
    g->entries = (uint32_t)n;
    g->tail = 0;
    g->live = 0;
    g->ring = NULL;
    g->views = views;
    g->out = out;
    g->in_flight = 0;
    return PyLong_FromSsize_t(n * (Py_ssize_t)sizeof(struct vl_buf));
fail:
    while (--i >= 0)
        PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    PyMem_Free(out);
    return NULL;
}

/* pbuf_attach(group, ring_addr): put every buffer of the group into its (zeroed,
 * page-aligned) ring memory, bid = index, and publish the tail (release). */
static PyObject *
ring_pbuf_attach(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    long long bgid;
    uint64_t addr;
    if (nargs != 2 || pbuf_group_arg(args[0], &bgid) < 0 || get_u64(args[1], &addr) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "pbuf_attach(group, ring_addr)");
        return NULL;
    }
    vl_pbuf *g = pbuf_find(r, bgid);
    if (!g || g->live || !addr || (addr & 4095)) {
        PyErr_SetString(PyExc_ValueError, "pbuf_attach: no pending group, or a bad ring");
        return NULL;
    }
    g->ring = (struct vl_buf *)(uintptr_t)addr;
    for (uint32_t i = 0; i < g->entries; i++) {
        struct vl_buf *b = &g->ring[i];
        b->addr = (uint64_t)(uintptr_t)g->views[i].buf;
        b->len = (uint32_t)g->views[i].len;
        b->bid = (uint16_t)i;
    }
    g->tail = (uint16_t)g->entries; /* 32768 fits; 65536 is refused by pbuf_add */
    vl_store_release16((uint16_t *)((char *)g->ring + 14), g->tail);
    g->live = 1;
    Py_RETURN_NONE;
}

/* pbuf_drop(group) -> ring_addr or 0: forget a group and release its exports. The
 * caller has unregistered it (or never registered it) and no recv selects from it:
 * ResourceBusy/EBUSY otherwise. */
static PyObject *
ring_pbuf_drop(vl_ring *r, PyObject *arg)
{
    long long bgid;
    if (pbuf_group_arg(arg, &bgid) < 0)
        return NULL;
    vl_pbuf *g = pbuf_find(r, bgid);
    if (!g) {
        PyErr_Format(PyExc_ValueError, "no provided buffers in group %lld", bgid);
        return NULL;
    }
    if (g->in_flight)
        return vllsi_raise(EBUSY, "io_uring_register");
    uint64_t addr = (uint64_t)(uintptr_t)g->ring;
    pbuf_release(g);
    *g = r->pbufs[--r->npbufs];
    return PyLong_FromUnsignedLongLong(addr);
}

/* pbuf_state(group) -> (entries, multishot recvs in flight, buffers handed out) */
static PyObject *
ring_pbuf_state(vl_ring *r, PyObject *arg)
{
    long long bgid;
    if (pbuf_group_arg(arg, &bgid) < 0)
        return NULL;
    vl_pbuf *g = pbuf_find(r, bgid);
    if (!g) {
        PyErr_Format(PyExc_ValueError, "no provided buffers in group %lld", bgid);
        return NULL;
    }
    uint32_t out = 0;
    for (uint32_t i = 0; i < g->entries; i++)
        out += g->out[i];
    return Py_BuildValue("(III)", g->entries, g->in_flight, out);
}

/* recycle(group, bid): give a buffer the kernel handed out back to the ring: write
 * the entry at our tail, then store the tail with release. ValueError for an unknown
 * group, a bid out of range, or a buffer that is in the ring already. */
static PyObject *
ring_pbuf_recycle(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    long long bgid;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "recycle(group, bid)");
        return NULL;
    }
    if (r->closed)
        return raise_from(r->closed_error, NULL, 0);
    if (pbuf_group_arg(args[0], &bgid) < 0)
        return NULL;
    if (PyBool_Check(args[1]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "bid must be an int");
        return NULL;
    }
    long long bid = PyLong_AsLongLong(args[1]);
    if (bid == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear();
    }
    vl_pbuf *g = pbuf_find(r, bgid);
    if (!g || !g->live) {
        PyErr_Format(PyExc_ValueError, "no provided buffers in group %lld", bgid);
        return NULL;
    }
    if (bid < 0 || bid >= g->entries) {
        PyErr_Format(PyExc_ValueError, "bid %lld not in 0..%u", bid, g->entries - 1);
        return NULL;
    }
    if (!g->out[bid]) {
        PyErr_Format(PyExc_ValueError, "buffer %lld of group %lld is in the ring already",
                     bid, bgid);
        return NULL;
    }
    g->out[bid] = 0;
    struct vl_buf *b = &g->ring[g->tail & (g->entries - 1)];
    b->addr = (uint64_t)(uintptr_t)g->views[bid].buf;
    b->len = (uint32_t)g->views[bid].len;
    b->bid = (uint16_t)bid;
    g->tail++;
    vl_store_release16((uint16_t *)((char *)g->ring + 14), g->tail);
    Py_RETURN_NONE;
}

/* recv_multishot(fd, group, flags) -> SubmissionId: IORING_OP_RECV with
 * IORING_RECV_MULTISHOT and IOSQE_BUFFER_SELECT from group. The slot stays in flight
 * while its CQEs carry F_MORE. Submitted at once when eager, as submit(). */
static PyObject *
ring_recv_multishot(vl_ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    long long bgid;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "recv_multishot(fd, group, flags)");
        return NULL;
    }
    if (r->closed)
        return raise_from(r->closed_error, NULL, 0);
    long fd = PyLong_AsLong(args[0]);
    long long flags = PyLong_AsLongLong(args[2]);
    if (PyErr_Occurred() || pbuf_group_arg(args[1], &bgid) < 0)
        return NULL;
    if (fd < 0 || fd > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "fd is not a valid descriptor");
        return NULL;
    }
    if (flags < 0 || flags > 0xffffffffLL) {
        PyErr_SetString(PyExc_ValueError, "flags must be in 0..2**32-1");
        return NULL;
    }
    vl_pbuf *g = pbuf_find(r, bgid);
    if (!g || !g->live) {
        PyErr_Format(PyExc_ValueError, "no provided buffers in group %lld", bgid);
        return NULL;
    }
    if (sq_space(r) < 1) {
        if (ring_flush_c(r) < 0)
            return NULL;
        if (sq_space(r) < 1)
            return raise_would_block(r);
    }
    if (r->nfree == 0)
        return raise_would_block(r);
    uint32_t slot = r->free_list[r->nfree - 1];
    uint64_t ud = ((r->seq + 1) << VL_SLOT_BITS) | slot;
    PyObject *id = PyLong_FromUnsignedLongLong(ud);
    if (!id)
        return NULL;
    vl_slot *s = &r->slots[slot];
    struct vl_sqe *e = next_sqe(r);
    e->opcode = OP_RECV;
    e->flags = SQE_BUFFER_SELECT;
    e->ioprio = RECV_MULTISHOT;
    e->fd = (int32_t)fd;
    e->op_flags = (uint32_t)flags;
    e->buf_index = (uint16_t)bgid; /* buf_group */
    e->user_data = ud;
    r->seq++;
    s->kind = K_RECV;
    s->has_view = 0;
    s->multishot = 1;
    s->fixed = 0;
    s->pbuf = (uint32_t)bgid + 1;
    g->in_flight++;
    slot_claim(r, slot, ud, Py_None);
    vl_store_release(r->sq_tail, r->tail);
    r->n_submitted++;
    if (r->eager && ring_flush_c(r) < 0) {
        Py_DECREF(id); /* in the ring and pinned; its completion will come */
        return NULL;
    }
    return id;
}



/* ---- Linked ops (IOSQE_IO_LINK) ----
 * prep_linked(ops: list) -> (ids, status): the whole chain or nothing.
 * status 0: in the SQ ring (published); 1: not enough SQ space (flush, retry);
 * 2: not enough free slots (engine capacity). The chain is validated before any
 * SQE is filled; a chain needing more SQEs than the ring holds is a ValueError
 * (the kernel forms links only within one submission). */
#define SQE_IO_LINK (1U << 2)

static PyObject *
ring_prep_linked(vl_ring *r, PyObject *ops)
{
    if (!PyList_Check(ops)) {
        PyErr_SetString(PyExc_TypeError, "prep_linked(ops: list)");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(ops);
    uint32_t need = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int kind = kind_of(r, PyList_GET_ITEM(ops, i));
        if (kind < 0)
            return NULL;
        need += kind == K_CLOSE ? 2 : 1;
    }
    if (need > r->sq_entries) {
        PyErr_Format(PyExc_ValueError, "a chain of %u SQEs does not fit the %u-entry SQ ring",
                     need, r->sq_entries);
        return NULL;
    }
    if ((Py_ssize_t)r->nfree < n)
        return Py_BuildValue("(Ni)", PyList_New(0), 2);
    if (sq_space(r) < need)
        return Py_BuildValue("(Ni)", PyList_New(0), 1);
    PyObject *ids = PyList_New(0);
    if (!ids)
        return NULL;
    uint32_t tail0 = r->tail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *op = PyList_GET_ITEM(ops, i);
        uint64_t ud;
        if (ring_put(r, op, kind_of(r, op), &ud) < 0 || ids_append(ids, ud) < 0)
            return ring_rollback(r, ids, tail0);
        if (i + 1 < n) /* link this op's last SQE to the next op */
            r->sqes[(r->tail - 1) & r->sq_mask].flags |= SQE_IO_LINK;
    }
    vl_store_release(r->sq_tail, r->tail);
    r->n_submitted += (uint64_t)n;
    return Py_BuildValue("(Ni)", ids, 0);
}

static PyMethodDef ring_methods[] = {
    {"prep", (PyCFunction)(void (*)(void))ring_prep, METH_FASTCALL,
     "prep(ops, start) -> (ids, next_index, status)"},
    {"prep_rw", (PyCFunction)(void (*)(void))ring_prep_rw, METH_FASTCALL,
     "prep_rw(fd, buffers, offsets, write, start) -> (ids, next_index, status)"},
    {"reap", (PyCFunction)(void (*)(void))ring_reap, METH_FASTCALL,
     "reap([max]) -> list[CompletionResult]"},
    {"raw", (PyCFunction)(void (*)(void))ring_raw, METH_FASTCALL, "internal SQE"},
    {"arm_wake", (PyCFunction)ring_arm_wake, METH_O, "arm_wake(eventfd) -> bool"},
    {"state", (PyCFunction)ring_state, METH_NOARGS, "ring counters"},
    {"pending", (PyCFunction)ring_pending, METH_NOARGS, "SQEs not yet submitted"},
    {"woken", (PyCFunction)ring_woken, METH_NOARGS, "wake fired since last asked"},
    {"in_flight_ids", (PyCFunction)ring_in_flight_ids, METH_NOARGS, "pinned ids"},
    {"owns", (PyCFunction)ring_owns, METH_O, "owns(sid) -> bool"},
    {"bind", (PyCFunction)(void (*)(void))ring_bind, METH_FASTCALL,
     "bind(ring_fd, wake_fd, use_libc, eager, closed_error, would_block)"},
    {"close", (PyCFunction)ring_close, METH_NOARGS, "submit/poll raise from now on"},
    {"submit", (PyCFunction)ring_submit, METH_O, "submit(op) -> SubmissionId"},
    {"poll", (PyCFunction)(void (*)(void))ring_poll, METH_FASTCALL,
     "poll(timeout=None) -> list[CompletionResult]"},
    {"flush", (PyCFunction)ring_flush, METH_NOARGS, "hand filled SQEs to the kernel"},
    {"wait", (PyCFunction)ring_wait, METH_O, "wait(timeout_ns) -> raw enter result"},
    {"pin_buffers", (PyCFunction)ring_pin_buffers, METH_O,
     "pin_buffers(buffers) -> struct iovec[] bytes"},
    {"unpin_buffers", (PyCFunction)ring_unpin_buffers, METH_NOARGS, "release the exports"},
    {"fixed_state", (PyCFunction)ring_fixed_state, METH_NOARGS,
     "(registered buffers, fixed ops in flight)"},
    {"prep_fixed", (PyCFunction)(void (*)(void))ring_prep_fixed, METH_FASTCALL,
     "prep_fixed(fd, indices, offsets, write, start, fixed_file) -> (ids, next, status)"},
    {"prep_linked", (PyCFunction)ring_prep_linked, METH_O,
     "prep_linked(ops) -> (ids, status): an IOSQE_IO_LINK chain, all or nothing"},
    {"counters", (PyCFunction)ring_counters, METH_NOARGS,
     "(submitted, completed, waits, enters)"},
    {"pbuf_add", (PyCFunction)(void (*)(void))ring_pbuf_add, METH_FASTCALL,
     "pbuf_add(group, buffers) -> ring bytes"},
    {"pbuf_attach", (PyCFunction)(void (*)(void))ring_pbuf_attach, METH_FASTCALL,
     "pbuf_attach(group, ring_addr)"},
    {"pbuf_drop", (PyCFunction)ring_pbuf_drop, METH_O, "pbuf_drop(group) -> ring_addr"},
    {"pbuf_state", (PyCFunction)ring_pbuf_state, METH_O,
     "pbuf_state(group) -> (entries, in_flight, handed_out)"},
    {"recycle", (PyCFunction)(void (*)(void))ring_pbuf_recycle, METH_FASTCALL,
     "recycle(group, bid)"},
    {"recv_multishot", (PyCFunction)(void (*)(void))ring_recv_multishot, METH_FASTCALL,
     "recv_multishot(fd, group, flags) -> SubmissionId"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject vl_ring_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vllsi.linux._fast.UringRing",
    .tp_basicsize = sizeof(vl_ring),
    .tp_dealloc = (destructor)ring_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "io_uring SQ/CQ access with pinned slots (private to vllsi.linux.io).",
    .tp_methods = ring_methods,
};

PyMethodDef vllsi_fast_uring[] = {
    {"uring_ring", (PyCFunction)(void (*)(void))fast_uring_ring, METH_FASTCALL,
     "uring_ring(...) -> UringRing over mapped io_uring rings (private)."},
    {NULL, NULL, 0, NULL},
};

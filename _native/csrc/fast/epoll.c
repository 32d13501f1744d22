/* EpollDriver's engine core: readiness turned into completions, in C.
 *
 * vllsi.linux._epoll.EpollDriver creates the epoll instance and the wake eventfd
 * (through the raw syscall layer) and hands them to an EpollCore made here,
 * whose submit/submit_many/poll become the driver's own methods. The core is
 * the C rendering of the Python reference (the methods of EpollDriver it
 * replaces, still used when this extension is missing and checked against it
 * by conformance/linux/io/test_epoll_core.py): per-fd state (registered once,
 * edge-triggered; regular files, which epoll refuses with EPERM, served at
 * submit), FIFO read and write queues per fd, a timer heap, the completion
 * list, and the counters.
 *
 * Syscalls go through the active tier: the inline-asm trampolines, or libc's
 * syscall() on the libc tier (use_libc). Recv/Send on a pollable descriptor use
 * MSG_DONTWAIT and keep the GIL (they never block); the wait, and every op that
 * may block (regular files, read/write on pipes and ttys, accept, connect,
 * fsync) release it. EINTR: a blocking wait or a regular-file op at submit runs
 * pending signal handlers (PyErr_CheckSignals) and retries with the remaining
 * time (PEP 475); if a handler raises, the exception propagates (an op already
 * counted completes with -EINTR, so its id is never lost). Non-blocking ops
 * performed while dispatching events retry at once.
 *
 * Pinning: a queued op holds a strong reference to the op and an exported
 * Py_buffer of its buffer (a bytearray cannot be resized under the kernel)
 * until it completes or is cancelled. Threading: the core enforces the engine's
 * rule that one thread at a time uses submit/poll/cancel/shutdown (a second one
 * gets RuntimeError instead of racing on the queues); wake() is Python's (a
 * write to the eventfd) and safe from any thread.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <structmember.h>

static PyObject *vllsi_raise(int err, const char *syscall_name); /* errhook.c */

#ifndef __NR_epoll_pwait2
#define __NR_epoll_pwait2 441
#endif

#define EP_KINDS 11
enum { EK_READ, EK_WRITE, EK_ACCEPT, EK_CONNECT, EK_SEND, EK_RECV, EK_TIMEOUT, EK_CLOSE,
       EK_NOP, EK_FSYNC, EK_CANCEL };

#define EP_IN 0x001
#define EP_OUT 0x004
#define EP_ERR 0x008
#define EP_HUP 0x010
#define EP_RDHUP 0x2000
#define EP_ET (1U << 31)
#define EP_REG_MASK (EP_IN | EP_OUT | EP_RDHUP | EP_ET)
#define EP_READ_SIDE (EP_IN | EP_HUP | EP_ERR | EP_RDHUP)
#define EP_WRITE_SIDE (EP_OUT | EP_HUP | EP_ERR)
#define EP_CTL_ADD 1
#define EP_CTL_DEL 2
#define EP_CTL_MOD 3
#define EP_WAKE_DATA (1ULL << 63)
#define EP_MAXEV 256
#define EP_MSG_DONTWAIT 0x40
#define EP_MSG_NOSIGNAL 0x4000
#define EP_SOCK_CLOEXEC 02000000
#define EP_SOCK_NONBLOCK 04000
#define EP_O_NONBLOCK 04000
#define EP_F_GETFL 3
#define EP_F_SETFL 4
#define EP_SOL_SOCKET 1
#define EP_SO_TYPE 3
#define EP_SO_ERROR 4
#define EP_SOCK_STREAM 1
#define EP_CQE_F_MORE 2
#define EP_SA_MAX 128
#define EP_EXC LONG_MIN /* perform(): a signal handler raised (exception set) */

struct ep_event {
    uint32_t events;
    uint64_t data;
}
#if defined(__x86_64__)
__attribute__((packed)) /* the kernel's struct epoll_event is packed on x86_64 only */
#endif
;

struct ep_ts {
    int64_t tv_sec;
    int64_t tv_nsec;
};

typedef struct ep_entry {
    struct ep_entry *next;
    PyObject *op;        /* strong reference while queued */
    uint64_t sid;
    int kind;
    int fd;
    int multishot;
    int has_view;
    Py_ssize_t n;
    long long arg;       /* offset (Read/Write), msg flags (Send/Recv), ns (Timeout),
                            datasync (Fsync), target (Cancel) */
    Py_buffer view;
    uint32_t salen;
    unsigned char sa[EP_SA_MAX];
} ep_entry;

typedef struct {
    ep_entry *head, *tail;
} ep_queue;

typedef struct {
    unsigned char known, file, stream, readable, writable;
    ep_queue rq, wq;
} ep_fdstate;

typedef struct {
    int64_t deadline;
    uint64_t sid;
} ep_timer;

typedef struct {
    uint64_t sid; /* 0: empty */
    ep_entry *e;
} ep_sidslot;

typedef struct {
    PyObject_HEAD
    int epfd, wakefd;
    int use_libc;
    int closed;
    int busy;
    int pwait2;
    uint64_t capacity, seq, unreaped;
    long multishot;      /* multishot Accepts queued (their non-final results do not count) */
    PyObject *ready;     /* list of CompletionResult */
    ep_fdstate *fds;
    int nfds;
    ep_fdstate transient; /* a descriptor epoll refused with something else than EPERM */
    ep_entry *free_entries;
    ep_sidslot *index;   /* queued entries by sid (open addressing, linear probing) */
    size_t index_mask, index_count;
    ep_timer *timers;
    Py_ssize_t ntimers, timers_cap;
    PyObject *types[EP_KINDS];
    Py_ssize_t off[EP_KINDS][4]; /* slot offsets of fd, buf, len, offset|flags */
    PyObject *result_type, *encode, *decode, *closed_error, *would_block;
    uint64_t n_submitted, n_completed, n_cancelled, n_waits;
    struct ep_event evs[EP_MAXEV];
} vl_ep;

static PyObject *ep_s_fd, *ep_s_buf, *ep_s_len, *ep_s_offset, *ep_s_flags, *ep_s_duration,
    *ep_s_target, *ep_s_datasync, *ep_s_multishot;

/* ---- syscalls through the active tier ------------------------------------------ */

static inline long
ep_sys(vl_ep *c, long nr, long a, long b, long d, long e, long f, long g)
{
    return vl_sys6(c->use_libc, nr, a, b, d, e, f, g);
}

/* The same with the GIL released (a call that may block). */
static long
ep_sys_blocking(vl_ep *c, long nr, long a, long b, long d, long e, long f, long g)
{
    long r;
    Py_BEGIN_ALLOW_THREADS
    r = ep_sys(c, nr, a, b, d, e, f, g);
    Py_END_ALLOW_THREADS
    return r;
}

/* ---- completions ----------------------------------------------------------------- */

/* Append CompletionResult(sid, res, flags, address) to the ready list; steals
 * address (NULL: None). 0, or -1 with MemoryError. */
static int
ep_complete(vl_ep *c, uint64_t sid, long res, unsigned flags, PyObject *address)
{
    PyObject *o = vl_make_result(c->result_type, sid, res, flags, address);
    if (!o)
        return -1;
    int rc = PyList_Append(c->ready, o);
    Py_DECREF(o);
    return rc;
}

/* ---- entries ----------------------------------------------------------------------- */

static ep_entry *
ep_entry_new(vl_ep *c)
{
    ep_entry *e = c->free_entries;
    if (e) {
        c->free_entries = e->next;
    } else {
        e = PyMem_Malloc(sizeof(*e));
        if (!e) {
            PyErr_NoMemory();
            return NULL;
        }
    }
    e->next = NULL;
    e->op = NULL;
    e->has_view = 0;
    e->multishot = 0;
    return e;
}

/* Drop an entry's pins and put it back on the free list. */
static void
ep_entry_free(vl_ep *c, ep_entry *e)
{
    if (e->has_view) {
        PyBuffer_Release(&e->view);
        e->has_view = 0;
    }
    PyObject *op = e->op;
    e->op = NULL;
    e->next = c->free_entries;
    c->free_entries = e;
    Py_XDECREF(op); /* last: a finaliser it runs finds the core consistent */
}

static inline void
ep_push(ep_queue *q, ep_entry *e)
{
    e->next = NULL;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
}

static inline ep_entry *
ep_popleft(ep_queue *q)
{
    ep_entry *e = q->head;
    if (e) {
        q->head = e->next;
        if (!q->head)
            q->tail = NULL;
        e->next = NULL;
    }
    return e;
}

/* ---- the index of queued entries by sid (what cancel looks up) ------------------ */

static inline size_t
ep_hash(vl_ep *c, uint64_t sid)
{
    return (size_t)((sid * 0x9E3779B97F4A7C15ULL) >> 32) & c->index_mask;
}

static int
ep_index_put(vl_ep *c, ep_entry *e)
{
    if (2 * (c->index_count + 1) > c->index_mask + 1 || !c->index) {
        size_t n = c->index ? 2 * (c->index_mask + 1) : 64;
        ep_sidslot *old = c->index, *t = PyMem_Calloc(n, sizeof(*t));
        size_t oldn = c->index ? c->index_mask + 1 : 0;
        if (!t) {
            PyErr_NoMemory();
            return -1;
        }
        c->index = t;
        c->index_mask = n - 1;
        for (size_t i = 0; i < oldn; i++) {
            if (!old[i].sid)
                continue;
            size_t j = ep_hash(c, old[i].sid);
            while (t[j].sid)
                j = (j + 1) & c->index_mask;
            t[j] = old[i];
        }
        PyMem_Free(old);
    }
    size_t j = ep_hash(c, e->sid);
    while (c->index[j].sid)
        j = (j + 1) & c->index_mask;
    c->index[j].sid = e->sid;
    c->index[j].e = e;
    c->index_count++;
    return 0;
}

static size_t
ep_index_find(vl_ep *c, uint64_t sid)
{
    if (!c->index || !sid)
        return (size_t)-1;
    size_t j = ep_hash(c, sid);
    while (c->index[j].sid) {
        if (c->index[j].sid == sid)
            return j;
        j = (j + 1) & c->index_mask;
    }
    return (size_t)-1;
}

/* Remove slot i, shifting back the entries of its probe run (no tombstones). */
static void
ep_index_del_at(vl_ep *c, size_t i)
{
    ep_sidslot *t = c->index;
    size_t m = c->index_mask, j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!t[j].sid)
            break;
        size_t k = ep_hash(c, t[j].sid);
        /* t[j] may move to i when its home k is not in the cyclic range (i, j] */
        if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
            t[i] = t[j];
            i = j;
        }
    }
    t[i].sid = 0;
    t[i].e = NULL;
    c->index_count--;
}

static void
ep_index_del(vl_ep *c, uint64_t sid)
{
    size_t i = ep_index_find(c, sid);
    if (i != (size_t)-1)
        ep_index_del_at(c, i);
}

/* Queue e on q (and index it): 0, or -1 with MemoryError (e not queued). */
static int
ep_enqueue(vl_ep *c, ep_queue *q, ep_entry *e)
{
    if (ep_index_put(c, e) < 0)
        return -1;
    ep_push(q, e);
    return 0;
}

static ep_entry *
ep_dequeue(vl_ep *c, ep_queue *q)
{
    ep_entry *e = ep_popleft(q);
    if (e)
        ep_index_del(c, e->sid);
    return e;
}

/* ---- descriptor state ------------------------------------------------------------ */

static long
ep_ctl(vl_ep *c, int op, int fd, uint32_t events)
{
    struct ep_event ev;
    ev.events = events;
    ev.data = (uint64_t)fd;
    return ep_sys(c, __NR_epoll_ctl, c->epfd, op, fd, (long)(uintptr_t)&ev, 0, 0);
}

/* getsockopt(fd, SOL_SOCKET, opt) -> value, or the -errno of the call. */
static long
ep_sockopt(vl_ep *c, int fd, int opt, int *value)
{
    int v[2] = {0, 4};
    long r = ep_sys(c, __NR_getsockopt, fd, EP_SOL_SOCKET, opt, (long)(uintptr_t)&v[0],
                    (long)(uintptr_t)&v[1], 0);
    *value = v[0];
    return r;
}

/* The state of fd, registering it (edge-triggered, read and write) on first use.
 * A descriptor epoll refuses with EPERM (regular file, directory) is remembered
 * as served at submit; one refused otherwise (EBADF...) gets the transient state
 * (served at submit, the op reports the error, nothing remembered, so a
 * descriptor opened later under that number works). NULL: MemoryError. */
static ep_fdstate *
ep_state(vl_ep *c, int fd)
{
    if (fd < c->nfds && c->fds[fd].known)
        return &c->fds[fd];
    long r = ep_ctl(c, EP_CTL_ADD, fd, EP_REG_MASK);
    if (r == -EEXIST)
        r = ep_ctl(c, EP_CTL_MOD, fd, EP_REG_MASK);
    if (r < 0 && r != -EPERM) {
        memset(&c->transient, 0, sizeof(c->transient));
        c->transient.file = c->transient.readable = c->transient.writable = 1;
        return &c->transient;
    }
    if (fd >= c->nfds) {
        int n = c->nfds ? c->nfds : 64;
        while (n <= fd)
            n = n > 0x3fffffff ? fd + 1 : 2 * n;
        ep_fdstate *t = PyMem_Realloc(c->fds, (size_t)n * sizeof(*t));
        if (!t) {
            if (r >= 0)
                ep_ctl(c, EP_CTL_DEL, fd, 0);
            PyErr_NoMemory();
            return NULL;
        }
        memset(t + c->nfds, 0, (size_t)(n - c->nfds) * sizeof(*t));
        c->fds = t;
        c->nfds = n;
    }
    ep_fdstate *st = &c->fds[fd];
    memset(st, 0, sizeof(*st));
    st->known = st->readable = st->writable = 1;
    if (r == -EPERM) {
        st->file = 1;
    } else {
        int typ;
        if (ep_sockopt(c, fd, EP_SO_TYPE, &typ) < 0) {
            /* not a socket: make it non-blocking (a readiness driver must never block) */
            long fl = ep_sys(c, __NR_fcntl, fd, EP_F_GETFL, 0, 0, 0, 0);
            if (fl >= 0 && !(fl & EP_O_NONBLOCK))
                ep_sys(c, __NR_fcntl, fd, EP_F_SETFL, fl | EP_O_NONBLOCK, 0, 0, 0);
        } else {
            st->stream = (typ & 0xF) == EP_SOCK_STREAM;
        }
    }
    return st;
}

/* ---- performing ops ---------------------------------------------------------------- */

static inline int
ep_reads(int kind)
{
    return kind == EK_READ || kind == EK_RECV || kind == EK_ACCEPT;
}

/* Perform a buffer op or an Accept. `file`: a descriptor served at submit (no
 * MSG_DONTWAIT; the GIL released; EINTR runs signal handlers, EP_EXC if one
 * raised). Otherwise the descriptor is ready or pollable: Recv/Send keep the GIL
 * (MSG_DONTWAIT never blocks), the others release it; EINTR retries at once. */
static long
ep_perform(vl_ep *c, ep_entry *e, int file)
{
    long nr, a3 = 0, a4 = 0, a5 = 0;
    long buf = e->has_view ? (long)(uintptr_t)e->view.buf : 0;
    int nogil = 1;
    switch (e->kind) {
    case EK_RECV:
        nr = __NR_recvfrom;
        a3 = (long)e->arg | (file ? 0 : EP_MSG_DONTWAIT);
        nogil = file;
        break;
    case EK_SEND:
        nr = __NR_sendto;
        a3 = (long)e->arg | EP_MSG_NOSIGNAL | (file ? 0 : EP_MSG_DONTWAIT);
        nogil = file;
        break;
    case EK_READ:
        nr = e->arg < 0 ? __NR_read : __NR_pread64;
        a3 = e->arg < 0 ? 0 : (long)e->arg;
        break;
    case EK_WRITE:
        nr = e->arg < 0 ? __NR_write : __NR_pwrite64;
        a3 = e->arg < 0 ? 0 : (long)e->arg;
        break;
    case EK_ACCEPT:
        e->salen = EP_SA_MAX;
        return ep_sys_blocking(c, __NR_accept4, e->fd, (long)(uintptr_t)e->sa,
                               (long)(uintptr_t)&e->salen, EP_SOCK_CLOEXEC | EP_SOCK_NONBLOCK,
                               0, 0);
    default:
        return -EINVAL;
    }
    for (;;) {
        long r = nogil ? ep_sys_blocking(c, nr, e->fd, buf, (long)e->n, a3, a4, a5)
                       : ep_sys(c, nr, e->fd, buf, (long)e->n, a3, a4, a5);
        if (r != -EINTR)
            return r;
        if (file && PyErr_CheckSignals() < 0)
            return EP_EXC;
    }
}

static PyObject *
ep_peer(vl_ep *c, ep_entry *e)
{
    Py_ssize_t n = e->salen < EP_SA_MAX ? e->salen : EP_SA_MAX;
    PyObject *raw = PyBytes_FromStringAndSize((const char *)e->sa, n);
    if (!raw)
        return NULL;
    PyObject *addr = PyObject_CallOneArg(c->decode, raw);
    Py_DECREF(raw);
    return addr;
}

/* Complete a finished entry (not queued any more) and free it. */
static int
ep_finish(vl_ep *c, ep_entry *e, long r)
{
    uint64_t sid = e->sid;
    PyObject *addr = NULL;
    if (e->kind == EK_ACCEPT) {
        if (e->multishot)
            c->multishot--;
        if (r >= 0 && !(addr = ep_peer(c, e))) {
            ep_entry_free(c, e);
            return -1;
        }
    }
    ep_entry_free(c, e);
    return ep_complete(c, sid, r, 0, addr);
}

/* Run the read queue of a ready descriptor, in order, until one would block. */
static int
ep_run_read(vl_ep *c, ep_fdstate *st)
{
    ep_queue *q = &st->rq;
    ep_entry *e;
    while ((e = q->head) != NULL) {
        long r = ep_perform(c, e, st->file);
        if (r == -EAGAIN && !st->file) {
            st->readable = 0;
            return 0;
        }
        if (e->kind == EK_ACCEPT && e->multishot && r >= 0) {
            /* stays queued: accept the next one too */
            PyObject *addr = ep_peer(c, e);
            if (!addr || ep_complete(c, e->sid, r, EP_CQE_F_MORE, addr) < 0)
                return -1;
            continue;
        }
        ep_dequeue(c, q);
        Py_ssize_t n = e->n;
        int kind = e->kind;
        if (ep_finish(c, e, r) < 0)
            return -1;
        if (kind != EK_ACCEPT && st->stream && 0 < r && r < n) {
            st->readable = 0; /* a short stream read drained the socket */
            return 0;
        }
    }
    return 0;
}

static int
ep_run_write(vl_ep *c, ep_fdstate *st)
{
    ep_queue *q = &st->wq;
    ep_entry *e;
    while ((e = q->head) != NULL) {
        long r;
        int connect = e->kind == EK_CONNECT;
        if (connect) {
            int err;
            r = ep_sockopt(c, e->fd, EP_SO_ERROR, &err);
            if (r >= 0)
                r = -err;
        } else {
            r = ep_perform(c, e, 0);
            if (r == -EAGAIN) {
                st->writable = 0;
                return 0;
            }
        }
        ep_dequeue(c, q);
        Py_ssize_t n = e->n;
        if (ep_finish(c, e, r) < 0)
            return -1;
        if (st->stream && !connect && 0 <= r && r < n) {
            st->writable = 0;
            return 0;
        }
    }
    return 0;
}

/* ---- timers (a binary min-heap on (deadline, sid)) --------------------------------- */

static inline int
ep_tless(const ep_timer *a, const ep_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->sid < b->sid);
}

static void
ep_tsift(vl_ep *c, Py_ssize_t i)
{
    ep_timer *h = c->timers;
    Py_ssize_t n = c->ntimers;
    while (i > 0 && ep_tless(&h[i], &h[(i - 1) / 2])) { /* up */
        ep_timer t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    for (;;) { /* down */
        Py_ssize_t l = 2 * i + 1, m = i;
        if (l < n && ep_tless(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && ep_tless(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        ep_timer t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int
ep_timer_add(vl_ep *c, int64_t deadline, uint64_t sid)
{
    if (c->ntimers == c->timers_cap) {
        Py_ssize_t cap = c->timers_cap ? 2 * c->timers_cap : 16;
        ep_timer *t = PyMem_Realloc(c->timers, (size_t)cap * sizeof(*t));
        if (!t) {
            PyErr_NoMemory();
            return -1;
        }
        c->timers = t;
        c->timers_cap = cap;
    }
    c->timers[c->ntimers].deadline = deadline;
    c->timers[c->ntimers].sid = sid;
    c->ntimers++;
    ep_tsift(c, c->ntimers - 1);
    return 0;
}

static void
ep_timer_remove_at(vl_ep *c, Py_ssize_t i)
{
    c->ntimers--;
    if (i < c->ntimers) {
        c->timers[i] = c->timers[c->ntimers];
        ep_tsift(c, i);
    }
}

static int
ep_expire(vl_ep *c)
{
    if (!c->ntimers)
        return 0;
    int64_t now = vl_mono_ns();
    while (c->ntimers && c->timers[0].deadline <= now) {
        uint64_t sid = c->timers[0].sid;
        ep_timer_remove_at(c, 0);
        if (ep_complete(c, sid, 0, 0, NULL) < 0)
            return -1;
    }
    return 0;
}

/* ---- cancellation ------------------------------------------------------------------ */

/* Drop a queued entry (not performed): -ECANCELED. */
static int
ep_drop(vl_ep *c, ep_entry *e)
{
    uint64_t sid = e->sid;
    if (e->kind == EK_ACCEPT && e->multishot)
        c->multishot--;
    ep_entry_free(c, e);
    return ep_complete(c, sid, -ECANCELED, 0, NULL);
}

static int
ep_cancel_fd(vl_ep *c, ep_fdstate *st)
{
    ep_queue *qs[2] = {&st->rq, &st->wq};
    for (int k = 0; k < 2; k++) {
        ep_entry *e;
        while ((e = ep_dequeue(c, qs[k])) != NULL)
            if (ep_drop(c, e) < 0)
                return -1;
    }
    return 0;
}

/* Cancel queued op sid: 0 if it was queued (it completes with -ECANCELED),
 * -ENOENT if not; -1 with an exception. */
static long
ep_cancel_one(vl_ep *c, uint64_t sid)
{
    for (Py_ssize_t i = 0; i < c->ntimers; i++) {
        if (c->timers[i].sid == sid) {
            ep_timer_remove_at(c, i);
            return ep_complete(c, sid, -ECANCELED, 0, NULL) < 0 ? -1 : 0;
        }
    }
    size_t i = ep_index_find(c, sid);
    if (i == (size_t)-1)
        return -ENOENT;
    ep_entry *e = c->index[i].e;
    ep_index_del_at(c, i);
    ep_fdstate *st = &c->fds[e->fd]; /* queued entries belong to known descriptors */
    ep_queue *q = ep_reads(e->kind) ? &st->rq : &st->wq;
    ep_entry *prev = NULL;
    for (ep_entry *x = q->head; x != e; prev = x, x = x->next)
        ;
    if (prev)
        prev->next = e->next;
    else
        q->head = e->next;
    if (q->tail == e)
        q->tail = prev;
    e->next = NULL;
    return ep_drop(c, e) < 0 ? -1 : 0;
}

/* Forget fd: queued ops complete with -ECANCELED; unregistered when `unregister`. */
static int
ep_forget(vl_ep *c, int fd, int unregister)
{
    if (fd < 0 || fd >= c->nfds || !c->fds[fd].known)
        return 0;
    ep_fdstate *st = &c->fds[fd];
    int rc = ep_cancel_fd(c, st);
    if (unregister && !st->file)
        ep_ctl(c, EP_CTL_DEL, fd, 0);
    st->known = 0;
    return rc;
}

/* ---- preparing and starting ------------------------------------------------------- */

static int
ep_kind(vl_ep *c, PyObject *op)
{
    PyObject *t = (PyObject *)Py_TYPE(op);
    for (int k = 0; k < EP_KINDS; k++)
        if (t == c->types[k])
            return k;
    PyErr_Format(PyExc_TypeError, "not an engine op: %.100s", Py_TYPE(op)->tp_name);
    return -1;
}

/* A new reference to field i of a buffer op (direct slot read), or any attribute. */
static PyObject *
ep_field(vl_ep *c, PyObject *op, int kind, int i, PyObject *name)
{
    Py_ssize_t off = (kind == EK_READ || kind == EK_WRITE || kind == EK_SEND || kind == EK_RECV)
                         ? c->off[kind][i] : 0;
    if (off > 0) {
        PyObject *v = *(PyObject **)((char *)op + off);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(op, name);
}

static int
ep_long_field(vl_ep *c, PyObject *op, int kind, int i, PyObject *name, long long lo,
              long long hi, long long *out)
{
    PyObject *v = ep_field(c, op, kind, i, name);
    if (!v)
        return -1;
    long long x = PyLong_AsLongLong(v);
    Py_DECREF(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (x < lo || x > hi) {
        PyErr_Format(PyExc_ValueError, "%U %lld outside %lld..%lld", name, x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* Validate and pin op into a new entry (TypeError/ValueError before any syscall). */
static ep_entry *
ep_prepare(vl_ep *c, PyObject *op)
{
    int kind = ep_kind(c, op);
    if (kind < 0)
        return NULL;
    ep_entry *e = ep_entry_new(c);
    if (!e)
        return NULL;
    e->kind = kind;
    e->fd = -1;
    e->n = 0;
    e->arg = 0;
    long long v;
    switch (kind) {
    case EK_READ:
    case EK_WRITE:
    case EK_SEND:
    case EK_RECV: {
        int writable = kind == EK_READ || kind == EK_RECV;
        if (ep_long_field(c, op, kind, 0, ep_s_fd, 0, 0x7fffffff, &v))
            goto fail;
        e->fd = (int)v;
        PyObject *buf = ep_field(c, op, kind, 1, ep_s_buf);
        if (!buf)
            goto fail;
        int rc = PyObject_GetBuffer(buf, &e->view, writable ? (PyBUF_WRITABLE | PyBUF_SIMPLE)
                                                            : PyBUF_SIMPLE);
        if (rc) {
            if (PyErr_ExceptionMatches(PyExc_BufferError)
                || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, writable ? "expected a writable buffer, got %.100s"
                                                       : "expected a buffer, got %.100s",
                             Py_TYPE(buf)->tp_name);
            }
            Py_DECREF(buf);
            goto fail;
        }
        Py_DECREF(buf);
        e->has_view = 1;
        e->n = e->view.len;
        PyObject *len = ep_field(c, op, kind, 2, ep_s_len);
        if (!len)
            goto fail;
        if (len != Py_None) {
            long long want = PyLong_AsLongLong(len);
            Py_DECREF(len);
            if (want == -1 && PyErr_Occurred())
                goto fail;
            if (want < 0 || want > e->view.len) {
                PyErr_Format(PyExc_ValueError, "len %lld exceeds the buffer's %zd bytes",
                             want, e->view.len);
                goto fail;
            }
            e->n = (Py_ssize_t)want;
        } else {
            Py_DECREF(len);
        }
        if (kind == EK_READ || kind == EK_WRITE) {
            if (ep_long_field(c, op, kind, 3, ep_s_offset, -1, 0x7fffffffffffffffLL, &e->arg))
                goto fail;
        } else if (ep_long_field(c, op, kind, 3, ep_s_flags, 0, 0xffffffffLL, &e->arg)) {
            goto fail;
        }
        break;
    }
    case EK_ACCEPT: {
        if (ep_long_field(c, op, kind, 0, ep_s_fd, 0, 0x7fffffff, &v))
            goto fail;
        e->fd = (int)v;
        PyObject *m = PyObject_GetAttr(op, ep_s_multishot);
        if (!m)
            goto fail;
        int multi = PyObject_IsTrue(m);
        Py_DECREF(m);
        if (multi < 0)
            goto fail;
        e->multishot = multi;
        break;
    }
    case EK_CONNECT: {
        if (ep_long_field(c, op, kind, 0, ep_s_fd, 0, 0x7fffffff, &v))
            goto fail;
        e->fd = (int)v;
        PyObject *raw = PyObject_CallOneArg(c->encode, op);
        if (!raw)
            goto fail;
        char *p;
        Py_ssize_t n;
        if (PyBytes_AsStringAndSize(raw, &p, &n) < 0 || n > EP_SA_MAX) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "sockaddr too long");
            Py_DECREF(raw);
            goto fail;
        }
        memcpy(e->sa, p, (size_t)n);
        e->salen = n ? (uint32_t)n : EP_SA_MAX;
        Py_DECREF(raw);
        break;
    }
    case EK_TIMEOUT: {
        PyObject *d = PyObject_GetAttr(op, ep_s_duration);
        if (!d)
            goto fail;
        double s = PyFloat_AsDouble(d);
        Py_DECREF(d);
        if (s == -1.0 && PyErr_Occurred())
            goto fail;
        if (!(s >= 0.0))
            s = 0.0;
        if (s > 9.0e9) /* ~285 years: keeps the conversion defined */
            s = 9.0e9;
        e->arg = (long long)(s * 1e9);
        break;
    }
    case EK_CLOSE:
        if (ep_long_field(c, op, kind, 0, ep_s_fd, 0, 0x7fffffff, &v))
            goto fail;
        e->fd = (int)v;
        break;
    case EK_FSYNC: {
        if (ep_long_field(c, op, kind, 0, ep_s_fd, 0, 0x7fffffff, &v))
            goto fail;
        e->fd = (int)v;
        PyObject *d = PyObject_GetAttr(op, ep_s_datasync);
        if (!d)
            goto fail;
        int ds = PyObject_IsTrue(d);
        Py_DECREF(d);
        if (ds < 0)
            goto fail;
        e->arg = ds;
        break;
    }
    case EK_CANCEL:
        if (ep_long_field(c, op, kind, 0, ep_s_target, 0, 0x7fffffffffffffffLL, &e->arg))
            goto fail;
        break;
    default: /* EK_NOP */
        break;
    }
    Py_INCREF(op);
    e->op = op;
    return e;
fail:
    ep_entry_free(c, e);
    return NULL;
}

/* Start a prepared entry under sid (consumed: queued, or completed and freed).
 * 0, or -1 with an exception (the op then completed with -EINTR, or memory ran out). */
static int
ep_start(vl_ep *c, ep_entry *e, uint64_t sid)
{
    e->sid = sid;
    int kind = e->kind;
    ep_fdstate *st;
    long r;
    switch (kind) {
    case EK_READ:
    case EK_WRITE:
    case EK_SEND:
    case EK_RECV: {
        st = ep_state(c, e->fd);
        if (!st)
            goto fail;
        if (st->file) {
            r = ep_perform(c, e, 1);
            if (r == EP_EXC) {
                ep_entry_free(c, e);
                ep_complete(c, sid, -EINTR, 0, NULL);
                return -1;
            }
            return ep_finish(c, e, r);
        }
        int rd = kind == EK_READ || kind == EK_RECV;
        unsigned char *ready = rd ? &st->readable : &st->writable;
        ep_queue *q = rd ? &st->rq : &st->wq;
        if (*ready && !q->head) { /* fast path: try it now */
            r = ep_perform(c, e, 0);
            if (r != -EAGAIN) {
                Py_ssize_t n = e->n;
                if (st->stream && (rd ? (0 < r && r < n) : (0 <= r && r < n)))
                    *ready = 0; /* a short stream transfer drained (filled) the socket */
                return ep_finish(c, e, r);
            }
            *ready = 0;
        }
        if (ep_enqueue(c, q, e) < 0)
            goto nomem;
        if (*ready)
            return rd ? ep_run_read(c, st) : ep_run_write(c, st);
        return 0;
    }
    case EK_ACCEPT:
        if (e->multishot)
            c->multishot++;
        st = ep_state(c, e->fd);
        if (!st)
            goto fail;
        if (!st->known) { /* transient: accept4 reports the error now */
            r = ep_perform(c, e, 1);
            return ep_finish(c, e, r);
        }
        if (ep_enqueue(c, &st->rq, e) < 0)
            goto nomem;
        if (st->readable || st->file)
            return ep_run_read(c, st);
        return 0;
    case EK_CONNECT:
        r = ep_sys_blocking(c, __NR_connect, e->fd, (long)(uintptr_t)e->sa, e->salen, 0, 0, 0);
        if (r == -EINTR)
            r = -EINPROGRESS; /* the connection continues asynchronously (connect(2)) */
        if (r != -EINPROGRESS)
            return ep_finish(c, e, r);
        st = ep_state(c, e->fd);
        if (!st)
            goto fail;
        if (!st->known)
            return ep_finish(c, e, r);
        st->writable = 0;
        if (ep_enqueue(c, &st->wq, e) < 0)
            goto nomem;
        return 0;
    case EK_NOP:
        ep_entry_free(c, e);
        return ep_complete(c, sid, 0, 0, NULL);
    case EK_TIMEOUT: {
        int64_t deadline = vl_mono_ns() + e->arg;
        ep_entry_free(c, e);
        if (ep_timer_add(c, deadline, sid) < 0)
            return -1;
        return 0;
    }
    case EK_CANCEL: {
        uint64_t target = (uint64_t)e->arg;
        ep_entry_free(c, e);
        r = ep_cancel_one(c, target);
        if (r == -1)
            return -1;
        return ep_complete(c, sid, r, 0, NULL);
    }
    case EK_CLOSE: {
        int fd = e->fd;
        ep_entry_free(c, e);
        if (ep_forget(c, fd, 1) < 0)
            return -1;
        r = ep_sys(c, __NR_close, fd, 0, 0, 0, 0, 0);
        return ep_complete(c, sid, r == -EINTR ? 0 : r, 0, NULL);
    }
    case EK_FSYNC: {
        long nr = e->arg ? __NR_fdatasync : __NR_fsync;
        int fd = e->fd;
        ep_entry_free(c, e);
        do
            r = ep_sys_blocking(c, nr, fd, 0, 0, 0, 0, 0);
        while (r == -EINTR);
        return ep_complete(c, sid, r, 0, NULL);
    }
    }
nomem: /* the op is counted: it completes, with -ENOMEM, and MemoryError propagates */
    if (e->kind == EK_ACCEPT && e->multishot)
        c->multishot--;
    ep_entry_free(c, e);
    ep_complete(c, sid, -ENOMEM, 0, NULL);
    return -1;
fail:
    ep_entry_free(c, e);
    return -1;
}

/* ---- waiting ----------------------------------------------------------------------- */

static long
ep_epoll_wait(vl_ep *c, int64_t left)
{
    long r, evs = (long)(uintptr_t)c->evs;
    if (c->pwait2) {
        struct ep_ts ts;
        long tp = 0;
        if (left >= 0) {
            ts.tv_sec = left / 1000000000LL;
            ts.tv_nsec = left % 1000000000LL;
            tp = (long)(uintptr_t)&ts;
        }
        if (left == 0)
            r = ep_sys(c, __NR_epoll_pwait2, c->epfd, evs, EP_MAXEV, tp, 0, 8);
        else
            r = ep_sys_blocking(c, __NR_epoll_pwait2, c->epfd, evs, EP_MAXEV, tp, 0, 8);
        if (r != -ENOSYS)
            return r;
        c->pwait2 = 0;
    }
    long ms = left < 0 ? -1 : (left + 999999) / 1000000;
    if (ms > 0x7fffffff)
        ms = 0x7fffffff;
    if (ms == 0)
        return ep_sys(c, __NR_epoll_pwait, c->epfd, evs, EP_MAXEV, 0, 0, 8);
    return ep_sys_blocking(c, __NR_epoll_pwait, c->epfd, evs, EP_MAXEV, ms, 0, 8);
}

/* Turn n events into completions. 1 if the wake eventfd fired, 0, or -1 (exception;
 * the remaining events are still dispatched first, so no edge is lost). */
static int
ep_dispatch(vl_ep *c, long n)
{
    int woken = 0, failed = 0;
    PyObject *et = NULL, *ev = NULL, *tb = NULL;
    for (long i = 0; i < n; i++) {
        uint32_t events = c->evs[i].events;
        uint64_t data = c->evs[i].data;
        if (data == EP_WAKE_DATA) {
            uint64_t one;
            woken = 1;
            ep_sys(c, __NR_read, c->wakefd, (long)(uintptr_t)&one, 8, 0, 0, 0);
            continue;
        }
        if (data >= (uint64_t)c->nfds || !c->fds[data].known)
            continue;
        ep_fdstate *st = &c->fds[data];
        for (int side = 0; side < 2; side++) {
            int rc = 0;
            if (side == 0 && (events & EP_READ_SIDE)) {
                st->readable = 1;
                if (st->rq.head)
                    rc = ep_run_read(c, st);
            } else if (side == 1 && (events & EP_WRITE_SIDE)) {
                st->writable = 1;
                if (st->wq.head)
                    rc = ep_run_write(c, st);
            }
            if (rc < 0) { /* keep the first exception; the other events still run */
                if (!failed)
                    PyErr_Fetch(&et, &ev, &tb);
                else
                    PyErr_Clear();
                failed = 1;
            }
        }
    }
    if (failed) {
        PyErr_Restore(et, ev, tb);
        return -1;
    }
    return woken;
}

/* Wait up to timeout_ns (-1: no limit) for a completion, a timer or a wake. */
static int
ep_wait(vl_ep *c, int64_t timeout_ns)
{
    int64_t end = timeout_ns < 0 ? -1 : vl_mono_ns() + timeout_ns;
    for (;;) {
        int64_t limit = end;
        if (c->ntimers) {
            int64_t t0 = c->timers[0].deadline;
            limit = (limit < 0 || t0 < limit) ? t0 : limit;
        }
        int64_t left = -1;
        if (limit >= 0) {
            left = timeout_ns == 0 ? 0 : limit - vl_mono_ns();
            if (left < 0)
                left = 0;
        }
        long n = ep_epoll_wait(c, left);
        if (n < 0 && n != -EINTR) {
            vllsi_raise((int)-n, "epoll_pwait2");
            return -1;
        }
        int woken = 0;
        if (n > 0 && (woken = ep_dispatch(c, n)) < 0)
            return -1;
        if (ep_expire(c) < 0)
            return -1;
        /* PEP 475: handlers run before anything is returned (a handler's exception
         * leaves the completions for the next poll, never drops them). */
        if (n == -EINTR && PyErr_CheckSignals() < 0)
            return -1;
        if (PyList_GET_SIZE(c->ready) || woken || (end >= 0 && vl_mono_ns() >= end))
            return 0;
    }
}

/* ---- the Python-visible core -------------------------------------------------------- */

static PyTypeObject vl_ep_type;

static PyObject *
ep_raise_from(PyObject *factory, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *exc = PyObject_Vectorcall(factory, args, nargs, NULL);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *
ep_raise_would_block(vl_ep *c, PyObject *ids)
{
    PyObject *cap = PyLong_FromUnsignedLongLong(c->capacity);
    if (!cap)
        return NULL;
    PyObject *a[2] = {ids, cap};
    ep_raise_from(c->would_block, a, 2);
    Py_DECREF(cap);
    return NULL;
}

/* Enter a public method: closed and concurrent use are refused. */
static int
ep_enter(vl_ep *c, int check_closed)
{
    if (c->busy) {
        PyErr_SetString(PyExc_RuntimeError, "EpollDriver used from two threads at once "
                                            "(one thread at a time may submit/poll/cancel)");
        return -1;
    }
    if (check_closed && c->closed) {
        ep_raise_from(c->closed_error, NULL, 0);
        return -1;
    }
    c->busy = 1;
    return 0;
}

/* submit(op) -> SubmissionId */
static PyObject *
ep_submit(vl_ep *c, PyObject *op)
{
    if (ep_enter(c, 1))
        return NULL;
    PyObject *id = NULL;
    ep_entry *e = ep_prepare(c, op);
    if (!e)
        goto out;
    if (c->unreaped >= c->capacity) {
        ep_entry_free(c, e);
        PyObject *ids = PyList_New(0);
        if (ids) {
            ep_raise_would_block(c, ids);
            Py_DECREF(ids);
        }
        goto out;
    }
    uint64_t sid = ++c->seq;
    c->unreaped++;
    c->n_submitted++;
    id = PyLong_FromUnsignedLongLong(sid);
    if (!id) {
        ep_entry_free(c, e);
        ep_complete(c, sid, -ENOMEM, 0, NULL);
        goto out;
    }
    if (ep_start(c, e, sid) < 0)
        Py_CLEAR(id);
out:
    c->busy = 0;
    return id;
}

/* submit_many(ops) -> ids: every op validated and pinned before any is started. */
static PyObject *
ep_submit_many(vl_ep *c, PyObject *arg)
{
    if (ep_enter(c, 1))
        return NULL;
    PyObject *ids = NULL, *seq = PySequence_Fast(arg, "ops must be iterable");
    ep_entry **prep = NULL;
    Py_ssize_t n = 0, i = 0, made = 0;
    if (!seq)
        goto out;
    n = PySequence_Fast_GET_SIZE(seq);
    prep = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*prep));
    if (!prep) {
        PyErr_NoMemory();
        goto out;
    }
    for (made = 0; made < n; made++)
        if (!(prep[made] = ep_prepare(c, PySequence_Fast_ITEMS(seq)[made])))
            goto out;
    Py_ssize_t room = c->unreaped >= c->capacity ? 0 : (Py_ssize_t)(c->capacity - c->unreaped);
    if (room > n)
        room = n;
    ids = PyList_New(room);
    if (!ids)
        goto out;
    for (i = 0; i < room; i++) {
        uint64_t sid = ++c->seq;
        c->unreaped++;
        c->n_submitted++;
        PyObject *id = PyLong_FromUnsignedLongLong(sid);
        ep_entry *e = prep[i];
        prep[i] = NULL;
        if (!id) {
            ep_entry_free(c, e);
            ep_complete(c, sid, -ENOMEM, 0, NULL);
            Py_CLEAR(ids);
            i++;
            goto out;
        }
        PyList_SET_ITEM(ids, i, id);
        if (ep_start(c, e, sid) < 0) {
            Py_CLEAR(ids);
            i++;
            goto out;
        }
    }
    if (room < n) {
        PyObject *done = PyList_GetSlice(ids, 0, room);
        if (done) {
            ep_raise_would_block(c, done);
            Py_DECREF(done);
        }
        Py_CLEAR(ids);
    }
out:
    for (Py_ssize_t j = i; j < made; j++)
        if (prep[j])
            ep_entry_free(c, prep[j]);
    PyMem_Free(prep);
    Py_XDECREF(seq);
    c->busy = 0;
    return ids;
}

/* poll(timeout=None) -> list[CompletionResult] */
static PyObject *
ep_poll(vl_ep *c, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t limit;
    if (vl_poll_timeout(args, nargs, &limit) < 0)
        return NULL;
    if (ep_enter(c, 1))
        return NULL;
    PyObject *out = NULL;
    int rc = 0;
    if (!PyList_GET_SIZE(c->ready) && limit != 0) {
        c->n_waits++;
        rc = ep_wait(c, limit);
    } else if (limit == 0) {
        rc = ep_wait(c, 0);
    }
    if (rc == 0) {
        PyObject *fresh = PyList_New(0);
        if (fresh) {
            out = c->ready;
            c->ready = fresh;
            Py_ssize_t m = PyList_GET_SIZE(out), more = 0;
            if (c->multishot)
                for (Py_ssize_t j = 0; j < m; j++) {
                    PyObject *f = PyTuple_GET_ITEM(PyList_GET_ITEM(out, j), 2);
                    if (PyLong_AsLong(f) & EP_CQE_F_MORE)
                        more++;
                }
            c->unreaped -= (uint64_t)(m - more);
            c->n_completed += (uint64_t)m;
        }
    }
    c->busy = 0;
    return out;
}

static int
ep_sid_arg(PyObject *arg, uint64_t *out)
{
    if (PyBool_Check(arg) || !PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "submission_id must be int");
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = (overflow || v < 0) ? 0 : (uint64_t)v; /* 0 is never an id */
    return 0;
}

/* cancel(sid) -> None: a queued op completes with -ECANCELED; no-op otherwise. */
static PyObject *
ep_cancel(vl_ep *c, PyObject *arg)
{
    uint64_t sid;
    if (ep_sid_arg(arg, &sid) || ep_enter(c, 1))
        return NULL;
    long r = sid ? ep_cancel_one(c, sid) : -ENOENT;
    if (r == 0)
        c->n_cancelled++;
    c->busy = 0;
    if (r == -1)
        return NULL;
    Py_RETURN_NONE;
}

/* forget(fd) -> None (see EpollDriver.forget) */
static PyObject *
ep_forget_m(vl_ep *c, PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    if ((fd == -1 && PyErr_Occurred()) || ep_enter(c, 0))
        return NULL;
    int rc = c->closed ? 0 : ep_forget(c, (int)fd, 1);
    c->busy = 0;
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Free every queued entry and timer (no completions). */
static void
ep_release_all(vl_ep *c)
{
    for (int fd = 0; fd < c->nfds; fd++) {
        ep_fdstate *st = &c->fds[fd];
        ep_queue *qs[2] = {&st->rq, &st->wq};
        for (int k = 0; k < 2; k++) {
            ep_entry *e;
            while ((e = ep_popleft(qs[k])) != NULL)
                ep_entry_free(c, e);
        }
        st->known = 0;
    }
    c->multishot = 0;
    c->ntimers = 0;
    if (c->index)
        memset(c->index, 0, (c->index_mask + 1) * sizeof(*c->index));
    c->index_count = 0;
}

/* close() -> the completions nobody reaped: from now on submit/poll/cancel raise;
 * every queued op is dropped and unpinned (the driver closes the descriptors). */
static PyObject *
ep_close(vl_ep *c, PyObject *unused)
{
    if (ep_enter(c, 0))
        return NULL;
    c->closed = 1;
    ep_release_all(c);
    PyObject *fresh = PyList_New(0);
    PyObject *out = NULL;
    if (fresh) {
        out = c->ready;
        c->ready = fresh;
        c->unreaped = 0;
    }
    c->busy = 0;
    return out;
}

/* counters() -> (submitted, completed, cancelled, waits, in_flight, ready) */
static PyObject *
ep_counters(vl_ep *c, PyObject *unused)
{
    return Py_BuildValue("(KKKKKn)", (unsigned long long)c->n_submitted,
                         (unsigned long long)c->n_completed, (unsigned long long)c->n_cancelled,
                         (unsigned long long)c->n_waits, (unsigned long long)c->unreaped,
                         PyList_GET_SIZE(c->ready));
}

/* fd_state(fd) -> None or (file, stream, readable, writable, queued reads, queued writes) */
static PyObject *
ep_fd_state(vl_ep *c, PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (fd < 0 || fd >= c->nfds || !c->fds[fd].known)
        Py_RETURN_NONE;
    ep_fdstate *st = &c->fds[fd];
    Py_ssize_t nr = 0, nw = 0;
    for (ep_entry *e = st->rq.head; e; e = e->next)
        nr++;
    for (ep_entry *e = st->wq.head; e; e = e->next)
        nw++;
    return Py_BuildValue("(iiiinn)", st->file, st->stream, st->readable, st->writable, nr, nw);
}

static void
ep_dealloc(vl_ep *c)
{
    c->busy = 1;
    ep_release_all(c);
    while (c->free_entries) {
        ep_entry *e = c->free_entries;
        c->free_entries = e->next;
        PyMem_Free(e);
    }
    PyMem_Free(c->fds);
    PyMem_Free(c->index);
    PyMem_Free(c->timers);
    Py_CLEAR(c->ready);
    for (int k = 0; k < EP_KINDS; k++)
        Py_CLEAR(c->types[k]);
    Py_CLEAR(c->result_type);
    Py_CLEAR(c->encode);
    Py_CLEAR(c->decode);
    Py_CLEAR(c->closed_error);
    Py_CLEAR(c->would_block);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyMethodDef ep_methods[] = {
    {"submit", (PyCFunction)ep_submit, METH_O, "submit(op) -> SubmissionId"},
    {"submit_many", (PyCFunction)ep_submit_many, METH_O, "submit_many(ops) -> ids"},
    {"poll", (PyCFunction)(void (*)(void))ep_poll, METH_FASTCALL,
     "poll(timeout=None) -> list[CompletionResult]"},
    {"cancel", (PyCFunction)ep_cancel, METH_O, "cancel(submission_id)"},
    {"forget", (PyCFunction)ep_forget_m, METH_O, "forget(fd)"},
    {"close", (PyCFunction)ep_close, METH_NOARGS, "close() -> unreaped completions"},
    {"counters", (PyCFunction)ep_counters, METH_NOARGS,
     "(submitted, completed, cancelled, waits, in_flight, ready)"},
    {"fd_state", (PyCFunction)ep_fd_state, METH_O,
     "fd_state(fd) -> None or (file, stream, readable, writable, nread, nwrite)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject vl_ep_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vllsi.linux._fast.EpollCore",
    .tp_basicsize = sizeof(vl_ep),
    .tp_dealloc = (destructor)ep_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "EpollDriver's engine core (private to vllsi.linux._epoll).",
    .tp_methods = ep_methods,
};

static int
ep_slot_offset(PyObject *cls, PyObject *name, Py_ssize_t *out)
{
    PyObject *d = PyDict_GetItem(((PyTypeObject *)cls)->tp_dict, name); /* borrowed */
    *out = 0;
    if (d && Py_IS_TYPE(d, &PyMemberDescr_Type)
        && ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX)
        *out = ((PyMemberDescrObject *)d)->d_member->offset;
    return 0;
}

/* epoll_core(epfd, wakefd, capacity, use_libc, types, result_type, encode, decode,
 *            closed_error, would_block) -> EpollCore */
static PyObject *
fast_epoll_core(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 10 || !PyTuple_Check(args[4]) || PyTuple_GET_SIZE(args[4]) != EP_KINDS
        || !PyType_Check(args[5]) || !PyType_IsSubtype((PyTypeObject *)args[5], &PyTuple_Type)
        || !PyCallable_Check(args[6]) || !PyCallable_Check(args[7])
        || !PyCallable_Check(args[8]) || !PyCallable_Check(args[9])) {
        PyErr_SetString(PyExc_TypeError,
                        "epoll_core(epfd, wakefd, capacity, use_libc, types: tuple of the 11 op "
                        "classes, result_type, encode, decode, closed_error, would_block)");
        return NULL;
    }
    long epfd = PyLong_AsLong(args[0]), wakefd = PyLong_AsLong(args[1]);
    unsigned long long cap = PyLong_AsUnsignedLongLong(args[2]);
    int libc = PyObject_IsTrue(args[3]);
    if (PyErr_Occurred() || libc < 0)
        return NULL;
    if (epfd < 0 || epfd > 0x7fffffff || wakefd < 0 || wakefd > 0x7fffffff || cap == 0) {
        PyErr_SetString(PyExc_ValueError, "epoll_core: bad descriptor or capacity");
        return NULL;
    }
    for (int k = 0; k < EP_KINDS; k++)
        if (!PyType_Check(PyTuple_GET_ITEM(args[4], k))) {
            PyErr_SetString(PyExc_TypeError, "types must be classes");
            return NULL;
        }
    if (PyType_Ready(&vl_ep_type) < 0)
        return NULL;
    if (!ep_s_fd) {
        ep_s_fd = PyUnicode_InternFromString("fd");
        ep_s_buf = PyUnicode_InternFromString("buf");
        ep_s_len = PyUnicode_InternFromString("len");
        ep_s_offset = PyUnicode_InternFromString("offset");
        ep_s_flags = PyUnicode_InternFromString("flags");
        ep_s_duration = PyUnicode_InternFromString("duration");
        ep_s_target = PyUnicode_InternFromString("target");
        ep_s_datasync = PyUnicode_InternFromString("datasync");
        ep_s_multishot = PyUnicode_InternFromString("multishot");
        if (!ep_s_fd || !ep_s_buf || !ep_s_len || !ep_s_offset || !ep_s_flags
            || !ep_s_duration || !ep_s_target || !ep_s_datasync || !ep_s_multishot)
            return NULL;
    }
    vl_ep *c = PyObject_New(vl_ep, &vl_ep_type);
    if (!c)
        return NULL;
    c->epfd = (int)epfd;
    c->wakefd = (int)wakefd;
    c->use_libc = libc;
    c->closed = c->busy = 0;
    c->pwait2 = 1;
    c->capacity = cap;
    c->seq = c->unreaped = 0;
    c->multishot = 0;
    c->fds = NULL;
    c->nfds = 0;
    memset(&c->transient, 0, sizeof(c->transient));
    c->free_entries = NULL;
    c->index = NULL;
    c->index_mask = c->index_count = 0;
    c->timers = NULL;
    c->ntimers = c->timers_cap = 0;
    c->n_submitted = c->n_completed = c->n_cancelled = c->n_waits = 0;
    memset(c->off, 0, sizeof(c->off));
    for (int k = 0; k < EP_KINDS; k++) {
        c->types[k] = PyTuple_GET_ITEM(args[4], k);
        Py_INCREF(c->types[k]);
    }
    c->result_type = args[5];
    c->encode = args[6];
    c->decode = args[7];
    c->closed_error = args[8];
    c->would_block = args[9];
    Py_INCREF(c->result_type);
    Py_INCREF(c->encode);
    Py_INCREF(c->decode);
    Py_INCREF(c->closed_error);
    Py_INCREF(c->would_block);
    c->ready = PyList_New(0);
    if (!c->ready) {
        Py_DECREF(c);
        return NULL;
    }
    int bufk[4] = {EK_READ, EK_WRITE, EK_SEND, EK_RECV};
    for (int j = 0; j < 4; j++) {
        int k = bufk[j];
        PyObject *last = (k == EK_READ || k == EK_WRITE) ? ep_s_offset : ep_s_flags;
        PyObject *names[4] = {ep_s_fd, ep_s_buf, ep_s_len, last};
        for (int i = 0; i < 4; i++)
            ep_slot_offset(c->types[k], names[i], &c->off[k][i]);
    }
    return (PyObject *)c;
}

PyMethodDef vllsi_fast_epoll[] = {
    {"epoll_core", (PyCFunction)(void (*)(void))fast_epoll_core, METH_FASTCALL,
     "epoll_core(epfd, wakefd, capacity, use_libc, types, result_type, encode, decode, "
     "closed_error, would_block) -> EpollCore (private to vllsi.linux._epoll)."},
    {NULL, NULL, 0, NULL},
};

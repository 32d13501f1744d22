/* Threads for vllsi.thread.thread_spawn: a pthread with the requested stack size
 * that runs a Python callable.
 *
 * Why pthread_create and not a raw clone(): a thread that runs Python needs
 * glibc's per-thread set-up (TCB, static TLS of libpython and every extension,
 * stack guard, robust futex list, errno); CPython takes its GIL through that
 * libc. pthread_attr_setstacksize is the only per-thread way to choose the
 * stack size (threading.stack_size() is process-global and racy).
 *
 * Life cycle: the thread publishes its kernel tid (futex-woken) before running
 * Python, so the creator returns with the id known; after the Python entry
 * returns (cffi has released the GIL and the thread state by then) it sets
 * `done` and wakes it, so joiners can wait interruptibly in Python first. The
 * struct is shared by the thread and the handle, freed by the last of the two. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <asm/unistd.h>

static void _vllsi_thread_entry(void *); /* extern "Python", defined by cffi */

struct vllsi_thread {
    pthread_t pt;
    void *arg;
    uint32_t tid;
    uint32_t done;
    uint32_t refs;
};

static void vllsi_put(struct vllsi_thread *t)
{
    if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(t);
}

static void *vllsi_thread_main(void *p)
{
    struct vllsi_thread *t = p;
    __atomic_store_n(&t->tid, (uint32_t)vllsi_syscall0(__NR_gettid), __ATOMIC_RELEASE);
    vllsi_syscall6(__NR_futex, (long)&t->tid, FUTEX_WAKE_PRIVATE, INT_MAX, 0, 0, 0);
    _vllsi_thread_entry(t->arg);
    __atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
    vllsi_syscall6(__NR_futex, (long)&t->done, FUTEX_WAKE_PRIVATE, INT_MAX, 0, 0, 0);
    vllsi_put(t);
    return NULL;
}

/* Returns 0 or an errno (pthread convention). stack_size 0 = the default. */
int vllsi_thread_create(size_t stack_size, void *arg, struct vllsi_thread **out)
{
    pthread_attr_t attr;
    int err;
    struct vllsi_thread *t = calloc(1, sizeof *t);
    if (t == NULL)
        return ENOMEM;
    t->arg = arg;
    t->refs = 2;
    if ((err = pthread_attr_init(&attr)) != 0) {
        free(t);
        return err;
    }
    if (stack_size != 0 && (err = pthread_attr_setstacksize(&attr, stack_size)) != 0) {
        pthread_attr_destroy(&attr);
        free(t);
        return err;
    }
    err = pthread_create(&t->pt, &attr, vllsi_thread_main, t);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        free(t);
        return err;
    }
    while (__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE) == 0)
        vllsi_syscall6(__NR_futex, (long)&t->tid, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
    *out = t;
    return 0;
}

int vllsi_thread_join(struct vllsi_thread *t) { return pthread_join(t->pt, NULL); }
int vllsi_thread_detach(struct vllsi_thread *t) { return pthread_detach(t->pt); }
void vllsi_thread_release(struct vllsi_thread *t) { vllsi_put(t); }
int vllsi_thread_tid(struct vllsi_thread *t) { return (int)t->tid; }
uint32_t *vllsi_thread_done_word(struct vllsi_thread *t) { return &t->done; }

/* The calling thread's stack pointer and its stack as glibc knows it. */
int vllsi_stack_probe(uintptr_t *sp, uintptr_t *lo, size_t *size)
{
    volatile char here = 0;
    pthread_attr_t attr;
    void *addr;
    int err;
    *sp = (uintptr_t)&here;
    if ((err = pthread_getattr_np(pthread_self(), &attr)) != 0)
        return err;
    err = pthread_attr_getstack(&attr, &addr, size);
    pthread_attr_destroy(&attr);
    *lo = (uintptr_t)addr;
    return err;
}

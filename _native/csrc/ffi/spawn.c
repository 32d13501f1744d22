/* vllsi_spawn: clone(CLONE_VM|CLONE_VFORK|SIGCHLD) on a private child stack, then
 * execve, with nothing but this C (and raw syscalls through the trampolines) running
 * in the child. No libc call is made in the child: it shares the parent's memory,
 * so it must not take libc or interpreter locks, allocate, or touch errno. A NULL
 * envp means the process's current `environ` (read, as execv does).
 *
 * Parent: create the requested stdio pipes (O_CLOEXEC) and /dev/null, an O_CLOEXEC
 * error pipe, map a child stack, block every signal, clone, restore the mask, unmap,
 * close the child's ends, then read the error pipe: EOF means execve succeeded (the
 * pipe closed on exec); 8 bytes {stage, errno} mean the child failed and exited 127,
 * and it is reaped here so no zombie is left.
 *
 * Child: reset every caught signal to SIG_DFL (a handler would run on shared memory),
 * optionally SIGPIPE/SIGXFSZ too (CPython ignores them; exec keeps SIG_IGN), setsid,
 * move every requested source fd above the highest target (so targets may be sources:
 * "stderr = parent's fd 1"), dup3 onto the targets (clearing CLOEXEC), close every other
 * fd (close_range, or a loop up to RLIMIT_NOFILE where close_range is ENOSYS), chdir,
 * restore the caller's signal mask, execve each candidate path (execvp rules: ENOENT,
 * ENOTDIR and EACCES go on to the next one; EACCES is reported if nothing ran).
 */
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>

extern char **environ; /* libc's variable (read only; no libc call is made) */

/* Must match _native/cdef/spawn.h. */
struct vllsi_spawn_req {
    const char *const *paths;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdio_mode[3];
    int stdio_fd[3];
    const int *pass_fds;
    int npass;
    int flags;
    int parent_fds[3];
    int err_stage;
};

#define VL_MODE_INHERIT 0
#define VL_MODE_PIPE 1
#define VL_MODE_DEVNULL 2
#define VL_MODE_FD 3

#define VL_FLAG_RESTORE_SIGNALS 1
#define VL_FLAG_SETSID 2

#define VL_STAGE_EXEC 1
#define VL_STAGE_CHDIR 2
#define VL_STAGE_FDS 3
#define VL_STAGE_SETSID 4
#define VL_STAGE_PARENT 5

#define VL_MAX_PASS 256
#define VL_MAX_MAP (3 + VL_MAX_PASS)
#define VL_STACK_SIZE (64 * 1024)

#define VL_O_RDWR 02
#define VL_O_CLOEXEC 02000000
#define VL_F_DUPFD_CLOEXEC 1030
#define VL_AT_FDCWD (-100)
#define VL_EINTR 4
#define VL_EBADF 9
#define VL_EACCES 13
#define VL_ENOENT 2
#define VL_ENOTDIR 20
#define VL_ENOSYS 38
#define VL_SIGPIPE 13
#define VL_SIGXFSZ 25
#define VL_SIG_SETMASK 2
#define VL_RLIMIT_NOFILE 7
#define VL_CLONE_VM 0x00000100L
#define VL_CLONE_VFORK 0x00004000L
#define VL_SIGCHLD 17L

/* The kernel's struct sigaction (x86_64 and arm64 both define SA_RESTORER). */
struct vl_ksigaction {
    unsigned long handler;
    unsigned long flags;
    unsigned long restorer;
    unsigned long mask;
};

struct vl_child {
    const struct vllsi_spawn_req *req;
    int src[VL_MAX_MAP];
    int dst[VL_MAX_MAP];
    int optional[VL_MAX_MAP]; /* inherit: a closed parent fd stays closed */
    int tmp[VL_MAX_MAP];
    int n;
    int maxdst;
    int errfd;
    unsigned long oldmask;
};

static long vl_close_range(long lo, long hi)
{
    long r;
    if (lo > hi)
        return 0;
    r = vllsi_syscall3(SYS_close_range, lo, hi, 0);
    if (r == -VL_ENOSYS) {
        unsigned long lim[2] = {0, 0};
        long top;
        if (vllsi_syscall4(SYS_prlimit64, 0, VL_RLIMIT_NOFILE, 0, (long)lim) < 0)
            lim[0] = 65536;
        top = (long)(lim[0] > 1048576 ? 1048576 : lim[0]) - 1;
        if (hi > top)
            hi = top;
        for (long fd = lo; fd <= hi; fd++)
            vllsi_syscall1(SYS_close, fd);
        r = 0;
    }
    return r;
}

static void vl_report(int errfd, int stage, long err)
{
    int msg[2];
    msg[0] = stage;
    msg[1] = (int)err;
    for (;;) {
        long r = vllsi_syscall3(SYS_write, errfd, (long)msg, sizeof msg);
        if (r != -VL_EINTR)
            break;
    }
    vllsi_syscall1(SYS_exit_group, 127);
}

static int vl_child_main(void *arg)
{
    struct vl_child *c = (struct vl_child *)arg;
    const struct vllsi_spawn_req *req = c->req;
    struct vl_ksigaction dfl = {0, 0, 0, 0};
    long r;
    int errfd = c->errfd;

    for (int sig = 1; sig <= 64; sig++) {
        struct vl_ksigaction old;
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (vllsi_syscall4(SYS_rt_sigaction, sig, 0, (long)&old, 8) < 0)
            continue;
        if (old.handler == (unsigned long)SIG_DFL)
            continue;
        if (old.handler == (unsigned long)SIG_IGN &&
            !((req->flags & VL_FLAG_RESTORE_SIGNALS) &&
              (sig == VL_SIGPIPE || sig == VL_SIGXFSZ)))
            continue;
        vllsi_syscall4(SYS_rt_sigaction, sig, (long)&dfl, 0, 8);
    }
    if (req->flags & VL_FLAG_SETSID) {
        r = vllsi_syscall0(SYS_setsid);
        if (r < 0)
            vl_report(errfd, VL_STAGE_SETSID, -r);
    }
    if (errfd <= c->maxdst) {
        r = vllsi_syscall3(SYS_fcntl, errfd, VL_F_DUPFD_CLOEXEC, c->maxdst + 1);
        if (r < 0)
            vl_report(errfd, VL_STAGE_FDS, -r);
        errfd = (int)r;
    }
    for (int i = 0; i < c->n; i++) {
        r = vllsi_syscall3(SYS_fcntl, c->src[i], VL_F_DUPFD_CLOEXEC, c->maxdst + 1);
        if (r == -VL_EBADF && c->optional[i])
            r = -1;
        else if (r < 0)
            vl_report(errfd, VL_STAGE_FDS, -r);
        c->tmp[i] = (int)r;
    }
    /* Close every fd at or below maxdst that is not a target (targets are sorted). */
    {
        long next = 0;
        for (int i = 0; i < c->n; i++) {
            if (c->dst[i] > next)
                vl_close_range(next, c->dst[i] - 1);
            next = c->dst[i] + 1;
        }
    }
    for (int i = 0; i < c->n; i++) {
        if (c->tmp[i] < 0) {
            vllsi_syscall1(SYS_close, c->dst[i]);
            continue;
        }
        r = vllsi_syscall3(SYS_dup3, c->tmp[i], c->dst[i], 0);
        if (r < 0)
            vl_report(errfd, VL_STAGE_FDS, -r);
    }
    r = vl_close_range(c->maxdst + 1, (long)errfd - 1);
    if (r == 0)
        r = vl_close_range((long)errfd + 1, 0x7fffffffL);
    if (r < 0)
        vl_report(errfd, VL_STAGE_FDS, -r);
    if (req->cwd != NULL) {
        r = vllsi_syscall1(SYS_chdir, (long)req->cwd);
        if (r < 0)
            vl_report(errfd, VL_STAGE_CHDIR, -r);
    }
    vllsi_syscall4(SYS_rt_sigprocmask, VL_SIG_SETMASK, (long)&c->oldmask, 0, 8);
    {
        long saved = 0, last = VL_ENOENT;
        char *const *envp = req->envp != NULL ? req->envp : (char *const *)environ;
        for (const char *const *p = req->paths; *p != NULL; p++) {
            r = vllsi_syscall3(SYS_execve, (long)*p, (long)req->argv, (long)envp);
            last = -r;
            if (last == VL_EACCES)
                saved = last;
            else if (last != VL_ENOENT && last != VL_ENOTDIR)
                break;
        }
        if (saved && (last == VL_ENOENT || last == VL_ENOTDIR || last == VL_EACCES))
            last = saved;
        vl_report(errfd, VL_STAGE_EXEC, last);
    }
    return 127;
}

/* clone(flags, stack) whose child calls fn(arg) on `stack_top` and exits with its
 * return value; the parent gets the pid or -errno. */
static long vl_clone(long flags, void *stack_top, int (*fn)(void *), void *arg)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    register void *r12 __asm__("r12") = (void *)fn;
    register void *r13 __asm__("r13") = arg;
    __asm__ volatile(
        "syscall\n\t"
        "testq %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xorl %%ebp, %%ebp\n\t"
        "movq %%r13, %%rdi\n\t"
        "callq *%%r12\n\t"
        "movl %%eax, %%edi\n\t"
        "movl %[nr_exit], %%eax\n\t"
        "syscall\n\t"
        "ud2\n"
        "1:\n\t"
        : "=a"(ret)
        : "a"((long)SYS_clone), "D"(flags), "S"(stack_top), "d"(0L), "r"(r10), "r"(r8),
          "r"(r12), "r"(r13), [nr_exit] "i"(SYS_exit_group)
        : "rcx", "r11", "memory", "cc");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_clone;
    register long x0 __asm__("x0") = flags;
    register long x1 __asm__("x1") = (long)stack_top;
    register long x2 __asm__("x2") = 0;
    register long x3 __asm__("x3") = 0;
    register long x4 __asm__("x4") = 0;
    register long x9 __asm__("x9") = (long)fn;
    register long x10 __asm__("x10") = (long)arg;
    __asm__ volatile(
        "svc #0\n\t"
        "cbnz x0, 1f\n\t"
        "mov x29, xzr\n\t"
        "mov x30, xzr\n\t"
        "mov x0, x10\n\t"
        "blr x9\n\t"
        "mov x8, %[nr_exit]\n\t"
        "svc #0\n\t"
        "brk #0\n"
        "1:\n\t"
        : "+r"(x0)
        : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x9), "r"(x10),
          [nr_exit] "i"(SYS_exit_group)
        : "memory", "cc");
    return x0;
#else
#error "vllsi spawn: x86_64 and aarch64 only"
#endif
}

static void vl_close_fd(int *fd)
{
    if (*fd >= 0) {
        vllsi_syscall1(SYS_close, *fd);
        *fd = -1;
    }
}

static long vl_pipe(int fds[2])
{
    return vllsi_syscall2(SYS_pipe2, (long)fds, VL_O_CLOEXEC);
}

static void vl_add(struct vl_child *c, int src, int dst, int optional)
{
    /* insertion sort by dst; a later duplicate target replaces an earlier one */
    int i = c->n;
    for (int j = 0; j < c->n; j++) {
        if (c->dst[j] == dst) {
            c->src[j] = src;
            c->optional[j] = optional;
            return;
        }
    }
    while (i > 0 && c->dst[i - 1] > dst) {
        c->src[i] = c->src[i - 1];
        c->dst[i] = c->dst[i - 1];
        c->optional[i] = c->optional[i - 1];
        i--;
    }
    c->src[i] = src;
    c->dst[i] = dst;
    c->optional[i] = optional;
    c->n++;
    if (dst > c->maxdst)
        c->maxdst = dst;
}

long vllsi_spawn(struct vllsi_spawn_req *req)
{
    struct vl_child c;
    int child_end[3] = {-1, -1, -1};
    int devnull = -1;
    int errp[2] = {-1, -1};
    long r, pid;
    void *stack;
    unsigned long all = ~0UL;
    int msg[2];
    long got = 0;

    req->parent_fds[0] = req->parent_fds[1] = req->parent_fds[2] = -1;
    req->err_stage = VL_STAGE_PARENT;
    if (req->npass < 0 || req->npass > VL_MAX_PASS || req->paths == NULL || req->argv == NULL)
        return -22; /* EINVAL */
    c.req = req;
    c.n = 0;
    c.maxdst = 2;
    for (int i = 0; i < 3; i++) {
        int fds[2];
        switch (req->stdio_mode[i]) {
        case VL_MODE_INHERIT:
            vl_add(&c, i, i, 1);
            break;
        case VL_MODE_PIPE:
            r = vl_pipe(fds);
            if (r < 0)
                goto fail;
            req->parent_fds[i] = i == 0 ? fds[1] : fds[0];
            child_end[i] = i == 0 ? fds[0] : fds[1];
            vl_add(&c, child_end[i], i, 0);
            break;
        case VL_MODE_DEVNULL:
            if (devnull < 0) {
                r = vllsi_syscall4(SYS_openat, VL_AT_FDCWD, (long)"/dev/null",
                                   VL_O_RDWR | VL_O_CLOEXEC, 0);
                if (r < 0)
                    goto fail;
                devnull = (int)r;
            }
            vl_add(&c, devnull, i, 0);
            break;
        case VL_MODE_FD:
            vl_add(&c, req->stdio_fd[i], i, 0);
            break;
        default:
            r = -22;
            goto fail;
        }
    }
    for (int i = 0; i < req->npass; i++) {
        if (req->pass_fds[i] < 0) {
            r = -VL_EBADF;
            goto fail;
        }
        vl_add(&c, req->pass_fds[i], req->pass_fds[i], 0);
    }
    r = vl_pipe(errp);
    if (r < 0)
        goto fail;
    c.errfd = errp[1];
    stack = (void *)vllsi_syscall6(SYS_mmap, 0, VL_STACK_SIZE, 3 /* RW */,
                                   0x22 | 0x20000 /* PRIVATE|ANON|STACK */, -1, 0);
    if ((unsigned long)stack > -4096UL) {
        r = (long)stack;
        goto fail;
    }
    vllsi_syscall4(SYS_rt_sigprocmask, VL_SIG_SETMASK, (long)&all, (long)&c.oldmask, 8);
    pid = vl_clone(VL_CLONE_VM | VL_CLONE_VFORK | VL_SIGCHLD, (char *)stack + VL_STACK_SIZE,
                   vl_child_main, &c);
    vllsi_syscall4(SYS_rt_sigprocmask, VL_SIG_SETMASK, (long)&c.oldmask, 0, 8);
    vllsi_syscall2(SYS_munmap, (long)stack, VL_STACK_SIZE);
    vl_close_fd(&errp[1]);
    for (int i = 0; i < 3; i++)
        vl_close_fd(&child_end[i]);
    vl_close_fd(&devnull);
    if (pid < 0) {
        r = pid;
        goto fail;
    }
    while (got < (long)sizeof msg) {
        r = vllsi_syscall3(SYS_read, errp[0], (long)((char *)msg + got), sizeof msg - got);
        if (r == -VL_EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    vl_close_fd(&errp[0]);
    if (got == 0)
        return pid;
    /* the child failed before (or at) execve and exited 127: reap it */
    do {
        r = vllsi_syscall4(SYS_wait4, pid, 0, 0, 0);
    } while (r == -VL_EINTR);
    if (got == (long)sizeof msg) {
        req->err_stage = msg[0];
        r = -(long)msg[1];
    } else {
        r = -5; /* EIO: a torn report */
    }
fail:
    vl_close_fd(&errp[0]);
    vl_close_fd(&errp[1]);
    for (int i = 0; i < 3; i++) {
        vl_close_fd(&child_end[i]);
        vl_close_fd(&req->parent_fds[i]);
    }
    vl_close_fd(&devnull);
    return r;
}

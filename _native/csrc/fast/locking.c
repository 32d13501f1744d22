/* Locking fast path: fcntl byte-range lock commands with struct flock on the C stack. */

#include <errno.h>
#include <linux/fcntl.h>

static int
long_arg(PyObject *o, long *out)
{
    *out = PyLong_AsLong(o);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* fcntl_flock(fd, cmd, type, start, len) -> raw fcntl return.
 * cmd is one of F_SETLK/F_SETLKW/F_OFD_SETLK/F_OFD_SETLKW (GETLK needs the struct
 * back: use the cffi path). The waiting commands release the GIL. */
static PyObject *
fast_fcntl_flock(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long fd, cmd, type, start, len, r;
    struct flock fl;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "fcntl_flock(fd, cmd, type, start, len)");
        return NULL;
    }
    if (long_arg(args[0], &fd) || long_arg(args[1], &cmd) || long_arg(args[2], &type)
        || long_arg(args[3], &start) || long_arg(args[4], &len))
        return NULL;
    if (fd < 0 || fd > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "fd must be in 0..2**31-1");
        return NULL;
    }
    if (cmd != F_SETLK && cmd != F_SETLKW && cmd != F_OFD_SETLK && cmd != F_OFD_SETLKW) {
        PyErr_SetString(PyExc_ValueError, "cmd must be F_SETLK, F_SETLKW, F_OFD_SETLK or F_OFD_SETLKW");
        return NULL;
    }
    if (type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) {
        PyErr_SetString(PyExc_ValueError, "type must be F_RDLCK, F_WRLCK or F_UNLCK");
        return NULL;
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = (short)type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    if (cmd == F_SETLKW || cmd == F_OFD_SETLKW) {
        Py_BEGIN_ALLOW_THREADS
        r = vllsi_syscall3(__NR_fcntl, fd, cmd, (long)&fl);
        Py_END_ALLOW_THREADS
    } else {
        r = vllsi_syscall3(__NR_fcntl, fd, cmd, (long)&fl);
    }
    return PyLong_FromLong(r);
}

/* ofd_setlk(fd, start, len, kind) -> None: F_OFD_SETLK with kind 0 unlock / 1 shared /
 * 2 exclusive, SEEK_SET. EINTR: pending Python signal handlers run, then retry.
 * Failure: raises through the shared C error hook (errhook.c) as syscall "fcntl";
 * vllsi.linux.impl.locking registers the rule that makes a conflict LockConflict.
 * Never blocks, so the GIL is kept. */
static PyObject *
fast_ofd_setlk(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    static const short types[3] = {F_UNLCK, F_RDLCK, F_WRLCK};
    long fd, start, len, kind, r;
    struct flock fl;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "ofd_setlk(fd, start, len, kind)");
        return NULL;
    }
    if (long_arg(args[0], &fd) || long_arg(args[1], &start) || long_arg(args[2], &len)
        || long_arg(args[3], &kind))
        return NULL;
    if (fd < 0 || fd > 0x7fffffff || kind < 0 || kind > 2 || start < 0 || len < 0) {
        PyErr_SetString(PyExc_ValueError, "ofd_setlk: fd, start, len or kind out of range");
        return NULL;
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = types[kind];
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    for (;;) {
        r = vllsi_syscall3(__NR_fcntl, fd, F_OFD_SETLK, (long)&fl);
        if (r >= 0)
            Py_RETURN_NONE;
        if (r != -EINTR)
            break;
        if (PyErr_CheckSignals())
            return NULL;
    }
    return vllsi_raise((int)-r, "fcntl"); /* the shared hook (errhook.c) */
}

PyMethodDef vllsi_fast_locking[] = {
    {"ofd_setlk", (PyCFunction)(void (*)(void))fast_ofd_setlk, METH_FASTCALL,
     "ofd_setlk(fd, start, len, kind) -> None; raises the factory's exception on failure."},
    {"fcntl_flock", (PyCFunction)(void (*)(void))fast_fcntl_flock, METH_FASTCALL,
     "fcntl_flock(fd, cmd, type, start, len) -> raw fcntl return (SETLK-style commands)."},
    {NULL, NULL, 0, NULL},
};

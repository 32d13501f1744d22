/* Core fast paths: raw syscall entry, process identity, pread64/pwrite64. */

static int
args_to_longs(PyObject *const *args, Py_ssize_t nargs, long *out)
{
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject *o = args[i];
        if (!PyLong_Check(o)) {
            PyErr_Format(PyExc_TypeError, "syscall argument %zd must be int, not %.100s",
                         i, Py_TYPE(o)->tp_name);
            return -1;
        }
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(o, &overflow);
        if (overflow > 0) {
            unsigned long u = PyLong_AsUnsignedLong(o);
            if (u == (unsigned long)-1 && PyErr_Occurred()) {
                PyErr_Format(PyExc_ValueError, "syscall argument %zd does not fit 64 bits", i);
                return -1;
            }
            v = (long)u;
        } else if (overflow < 0) {
            PyErr_Format(PyExc_ValueError, "syscall argument %zd does not fit 64 bits", i);
            return -1;
        } else if (v == -1 && PyErr_Occurred()) {
            return -1;
        }
        out[i] = v;
    }
    return 0;
}

static long
dispatch(const long *a, Py_ssize_t n)
{
    switch (n) {
    case 1: return vllsi_syscall0(a[0]);
    case 2: return vllsi_syscall1(a[0], a[1]);
    case 3: return vllsi_syscall2(a[0], a[1], a[2]);
    case 4: return vllsi_syscall3(a[0], a[1], a[2], a[3]);
    case 5: return vllsi_syscall4(a[0], a[1], a[2], a[3], a[4]);
    case 6: return vllsi_syscall5(a[0], a[1], a[2], a[3], a[4], a[5]);
    default: return vllsi_syscall6(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    }
}

static int
check_count(Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 7) {
        PyErr_Format(PyExc_TypeError, "syscall takes a number and 0..6 arguments (%zd given)",
                     nargs);
        return -1;
    }
    return 0;
}

/* syscall(nr, *args): for calls that never block; keeps the GIL. */
static PyObject *
fast_syscall(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long a[7] = {0};
    if (check_count(nargs) || args_to_longs(args, nargs, a))
        return NULL;
    return PyLong_FromLong(dispatch(a, nargs));
}

/* syscall_blocking(nr, *args): releases the GIL around the call. */
static PyObject *
fast_syscall_blocking(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long a[7] = {0};
    long r;
    if (check_count(nargs) || args_to_longs(args, nargs, a))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    r = dispatch(a, nargs);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(r);
}

static PyObject *
fast_getpid(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(vllsi_syscall0(__NR_getpid));
}

static PyObject *
fast_getppid(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(vllsi_syscall0(__NR_getppid));
}

static PyObject *
fast_gettid(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(vllsi_syscall0(__NR_gettid));
}

static int
fd_offset(PyObject *const *args, int *fd, long *off)
{
    long v = PyLong_AsLong(args[0]);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "fd must be in 0..2**31-1");
        return -1;
    }
    *fd = (int)v;
    *off = PyLong_AsLong(args[2]);
    if (*off == -1 && PyErr_Occurred())
        return -1;
    if (*off < 0) {
        PyErr_SetString(PyExc_ValueError, "offset must be >= 0");
        return -1;
    }
    return 0;
}

/* pread64(fd, buffer, offset) -> raw: reads into a writable buffer, GIL released. */
static PyObject *
fast_pread64(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int fd;
    long off, r;
    Py_buffer view;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "pread64(fd, buffer, offset)");
        return NULL;
    }
    if (fd_offset(args, &fd, &off))
        return NULL;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_WRITABLE | PyBUF_SIMPLE)) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Format(PyExc_TypeError, "expected a writable buffer, got %.100s",
                         Py_TYPE(args[1])->tp_name);
        }
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    r = vllsi_syscall4(__NR_pread64, fd, (long)view.buf, (long)view.len, off);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromLong(r);
}

/* pwrite64(fd, data, offset) -> raw: writes a readable buffer, GIL released. */
static PyObject *
fast_pwrite64(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int fd;
    long off, r;
    Py_buffer view;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "pwrite64(fd, data, offset)");
        return NULL;
    }
    if (fd_offset(args, &fd, &off))
        return NULL;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    r = vllsi_syscall4(__NR_pwrite64, fd, (long)view.buf, (long)view.len, off);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromLong(r);
}

PyMethodDef vllsi_fast_core[] = {
    {"syscall", (PyCFunction)(void (*)(void))fast_syscall, METH_FASTCALL,
     "syscall(nr, *args) -> raw kernel return; keeps the GIL (non-blocking calls only)."},
    {"syscall_blocking", (PyCFunction)(void (*)(void))fast_syscall_blocking, METH_FASTCALL,
     "syscall_blocking(nr, *args): the raw kernel return value, -4095..-1 being -errno.\n\n"
     "Releases the GIL (the call may block). Arguments are ints (pointers as\n"
     "addresses); at most 6. No decoding, no EINTR retry: this is the floor.\n"
     "Raises: TypeError for non-int arguments or more than 6, ValueError for\n"
     "values outside 64 bits. Availability: Linux."},
    {"getpid", fast_getpid, METH_NOARGS, "getpid() via a raw syscall."},
    {"getppid", fast_getppid, METH_NOARGS, "getppid() via a raw syscall."},
    {"gettid", fast_gettid, METH_NOARGS, "gettid() via a raw syscall."},
    {"pread64", (PyCFunction)(void (*)(void))fast_pread64, METH_FASTCALL,
     "pread64(fd, buffer, offset) -> raw kernel return."},
    {"pwrite64", (PyCFunction)(void (*)(void))fast_pwrite64, METH_FASTCALL,
     "pwrite64(fd, data, offset) -> raw kernel return."},
    {NULL, NULL, 0, NULL},
};


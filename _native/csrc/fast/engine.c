/* Engine fast path: one buffer syscall on a Python buffer object, for the
 * readiness-driven drivers (vllsi.linux._epoll), which perform ops themselves.
 *
 * engine_rw(nr, fd, buffer, len, arg, writable) -> raw result
 *   nr is read/write/pread64/pwrite64/recvfrom/sendto; the buffer is exported
 *   only for the duration of the call (the op object keeps it alive otherwise);
 *   len < 0 means the whole buffer; arg is the offset or the msg flags. The GIL
 *   is released around the syscall; on EINTR pending Python signal handlers run
 *   (an exception from one propagates) and the call is retried (PEP 475). */

static PyObject *
fast_engine_rw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long nr, fd, arg, r;
    Py_ssize_t len;
    int writable;
    Py_buffer view;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "engine_rw(nr, fd, buffer, len, arg, writable)");
        return NULL;
    }
    nr = PyLong_AsLong(args[0]);
    fd = PyLong_AsLong(args[1]);
    len = PyLong_AsSsize_t(args[3]);
    arg = PyLong_AsLong(args[4]);
    writable = PyObject_IsTrue(args[5]);
    if (PyErr_Occurred() || writable < 0)
        return NULL;
    if (fd < 0 || fd > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "fd out of range");
        return NULL;
    }
    if (nr != __NR_read && nr != __NR_write && nr != __NR_pread64 && nr != __NR_pwrite64
        && nr != __NR_recvfrom && nr != __NR_sendto) {
        PyErr_SetString(PyExc_ValueError, "engine_rw: unsupported syscall");
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &view, writable ? (PyBUF_WRITABLE | PyBUF_SIMPLE)
                                                    : PyBUF_SIMPLE)) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, writable ? "expected a writable buffer"
                                                      : "expected a buffer");
        }
        return NULL;
    }
    if (len < 0)
        len = view.len;
    if (len > view.len) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "len %zd exceeds the buffer's %zd bytes", len, view.len);
        return NULL;
    }
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        if (nr == __NR_recvfrom || nr == __NR_sendto)
            r = vllsi_syscall6(nr, fd, (long)view.buf, (long)len, arg, 0, 0);
        else
            r = vllsi_syscall4(nr, fd, (long)view.buf, (long)len, arg);
        Py_END_ALLOW_THREADS
        if (r != -EINTR)
            break;
        if (PyErr_CheckSignals() < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
    }
    PyBuffer_Release(&view);
    return PyLong_FromLong(r);
}

PyMethodDef vllsi_fast_engine[] = {
    {"engine_rw", (PyCFunction)(void (*)(void))fast_engine_rw, METH_FASTCALL,
     "engine_rw(nr, fd, buffer, len, arg, writable) -> raw kernel return (EINTR retried)."},
    {NULL, NULL, 0, NULL},
};

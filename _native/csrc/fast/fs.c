/* File fast paths: preadv2/pwritev2 with the iovec array built in C. */

#include <sys/uio.h>

#define VEC_STACK 8
#define VEC_MAX 1024 /* UIO_MAXIOV */

static int
vec_long(PyObject *o, long *out)
{
    *out = PyLong_AsLong(o);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* vec_io(fd, buffers, offset, flags): pin every buffer (writable for reads), fill an
 * iovec array, run preadv2/pwritev2 with the GIL released; return the raw result. */
static PyObject *
vec_io(PyObject *const *args, Py_ssize_t nargs, int writing, int v2)
{
    long fd, off, flags, r;
    Py_buffer vstack[VEC_STACK], *views = vstack;
    struct iovec istack[VEC_STACK], *iov = istack;
    Py_ssize_t n, i, got = 0;
    PyObject *seq;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "preadv2/pwritev2(fd, buffers, offset, flags)");
        return NULL;
    }
    if (vec_long(args[0], &fd) || vec_long(args[2], &off) || vec_long(args[3], &flags))
        return NULL;
    if (fd < 0 || fd > 0x7fffffff || off < -1) {
        PyErr_SetString(PyExc_ValueError, "fd must be in 0..2**31-1 and offset >= -1");
        return NULL;
    }
    if (PyObject_CheckBuffer(args[1]) || PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "buffers must be a sequence of buffers, not one buffer");
        return NULL;
    }
    seq = PySequence_Fast(args[1], "buffers must be a sequence");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > VEC_MAX) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "at most 1024 buffers (IOV_MAX)");
        return NULL;
    }
    if (n > VEC_STACK) {
        views = PyMem_Malloc(n * sizeof(Py_buffer));
        iov = PyMem_Malloc(n * sizeof(struct iovec));
        if (views == NULL || iov == NULL) {
            PyMem_Free(views == vstack ? NULL : views);
            PyMem_Free(iov == istack ? NULL : iov);
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (i = 0; i < n; i++) {
        if (PyObject_GetBuffer(items[i], &views[i], writing ? PyBUF_SIMPLE : PyBUF_WRITABLE)) {
            if (PyErr_ExceptionMatches(PyExc_BufferError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "buffer %zd: expected a %s, got %.100s", i,
                             writing ? "contiguous buffer" : "writable contiguous buffer",
                             Py_TYPE(items[i])->tp_name);
            }
            goto fail;
        }
        got++;
        iov[i].iov_base = views[i].buf;
        iov[i].iov_len = (size_t)views[i].len;
    }
    Py_BEGIN_ALLOW_THREADS
    if (v2)
        r = vllsi_syscall6(writing ? __NR_pwritev2 : __NR_preadv2, fd, (long)iov, (long)n, off,
                           0, flags);
    else
        r = vllsi_syscall5(writing ? __NR_pwritev : __NR_preadv, fd, (long)iov, (long)n, off, 0);
    Py_END_ALLOW_THREADS
    for (i = 0; i < got; i++)
        PyBuffer_Release(&views[i]);
    if (views != vstack) {
        PyMem_Free(views);
        PyMem_Free(iov);
    }
    Py_DECREF(seq);
    return PyLong_FromLong(r);
fail:
    for (i = 0; i < got; i++)
        PyBuffer_Release(&views[i]);
    if (views != vstack) {
        PyMem_Free(views);
        PyMem_Free(iov);
    }
    Py_DECREF(seq);
    return NULL;
}

static PyObject *
fast_preadv2(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return vec_io(args, nargs, 0, 1);
}

static PyObject *
fast_pwritev2(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return vec_io(args, nargs, 1, 1);
}

/* preadv/pwritev(fd, buffers, offset, flags): the pre-4.6 calls; flags must be 0. */
static PyObject *
fast_preadv(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return vec_io(args, nargs, 0, 0);
}

static PyObject *
fast_pwritev(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return vec_io(args, nargs, 1, 0);
}

PyMethodDef vllsi_fast_fs[] = {
    {"preadv2", (PyCFunction)(void (*)(void))fast_preadv2, METH_FASTCALL,
     "preadv2(fd, buffers, offset, flags) -> raw kernel return; GIL released."},
    {"pwritev2", (PyCFunction)(void (*)(void))fast_pwritev2, METH_FASTCALL,
     "pwritev2(fd, buffers, offset, flags) -> raw kernel return; GIL released."},
    {"preadv", (PyCFunction)(void (*)(void))fast_preadv, METH_FASTCALL,
     "preadv(fd, buffers, offset, 0) -> raw kernel return (no flags); GIL released."},
    {"pwritev", (PyCFunction)(void (*)(void))fast_pwritev, METH_FASTCALL,
     "pwritev(fd, buffers, offset, 0) -> raw kernel return (no flags); GIL released."},
    {NULL, NULL, 0, NULL},
};

#include <structmember.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

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


/* ---- Shared by the engine cores (epoll.c, uring.c) ---- */

/* One raw syscall through the active tier: libc's syscall() on the libc tier
 * (use_libc), else the inline-asm trampoline. Returns the result or -errno. */
static inline long
vl_sys6(int use_libc, long nr, long a, long b, long c, long d, long e, long f)
{
    if (use_libc) {
        long r = syscall(nr, a, b, c, d, e, f);
        return r < 0 ? -errno : r;
    }
    return vllsi_syscall6(nr, a, b, c, d, e, f);
}

/* CLOCK_MONOTONIC in ns (the vDSO: no syscall). */
static int64_t
vl_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* CompletionResult(sid, res, flags, address) of result_type (a 4-tuple subclass);
 * steals address (NULL: None). New reference, or NULL with MemoryError. */
static PyObject *
vl_make_result(PyObject *result_type, uint64_t sid, long res, unsigned long flags,
               PyObject *address)
{
    PyTypeObject *t = (PyTypeObject *)result_type;
    PyObject *o = t->tp_alloc(t, 4);
    PyObject *a = o ? PyLong_FromUnsignedLongLong(sid) : NULL;
    PyObject *b = a ? PyLong_FromLong(res) : NULL;
    PyObject *f = b ? PyLong_FromUnsignedLong(flags) : NULL;
    if (!f) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_XDECREF(o);
        Py_XDECREF(address);
        return NULL;
    }
    if (!address) {
        Py_INCREF(Py_None);
        address = Py_None;
    }
    PyTuple_SET_ITEM(o, 0, a);
    PyTuple_SET_ITEM(o, 1, b);
    PyTuple_SET_ITEM(o, 2, f);
    PyTuple_SET_ITEM(o, 3, address);
    return o;
}

/* The engines' poll(timeout=None) argument: *limit = -1 (None: no limit), 0 (<= 0:
 * never wait) or the wait in ns (> 0, however short; beyond ~285 years: no limit).
 * TypeError for a bool or a non-number, ValueError for NaN. 0, or -1 with an
 * exception. Shared by the io_uring ring (uring.c) and the epoll core (epoll.c). */
static int
vl_poll_timeout(PyObject *const *args, Py_ssize_t nargs, int64_t *limit)
{
    *limit = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "poll(timeout=None)");
        return -1;
    }
    if (nargs == 0 || args[0] == Py_None)
        return 0;
    PyObject *t = args[0];
    if (PyBool_Check(t) || !(PyLong_Check(t) || PyFloat_Check(t))) {
        PyErr_Format(PyExc_TypeError, "timeout must be seconds or None, not %.100s",
                     Py_TYPE(t)->tp_name);
        return -1;
    }
    double d = PyFloat_Check(t) ? PyFloat_AS_DOUBLE(t) : PyLong_AsDouble(t);
    if (d == -1.0 && PyErr_Occurred()) { /* an int too large for a double */
        PyErr_Clear();
        PyObject *zero = PyLong_FromLong(0);
        int neg = zero ? PyObject_RichCompareBool(t, zero, Py_LT) : -1;
        Py_XDECREF(zero);
        if (neg < 0)
            return -1;
        d = neg ? 0.0 : 1e300;
    }
    if (d != d) {
        PyErr_SetString(PyExc_ValueError, "timeout is NaN");
        return -1;
    }
    if (d <= 0.0)
        *limit = 0;
    else if (d < 9.0e9)
        *limit = d * 1e9 < 1.0 ? 1 : (int64_t)(d * 1e9);
    return 0;
}

/* Op initialisers: the __init__ of the buffer ops (Read, Write, Send, Recv), which
 * are frozen slotted dataclasses. op_initializer(cls, writable, is_offset, slow)
 * returns init(self, fd, buf, len=None, last=-1 or 0), installed as cls.__init__
 * (a method descriptor: no bound method, no Python frame). It checks the common
 * case (fd an int in 0..0x7fffffff; buf a bytearray or exporting a contiguous,
 * for reads writable, buffer; len None or an int in 0..0x7ffff000; last, the
 * offset (-1..2**63-1) or the flags (0..0xffffffff), an int; no keywords) and
 * stores the four slots directly; anything else goes to slow, the Python
 * __init__, which converts (fileno(), int subclasses) or raises the precise
 * TypeError/ValueError. conformance/io_engine/test_properties.py checks both
 * paths agree. */

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    PyObject *slow;
    Py_ssize_t off[4]; /* fd, buf, len, last */
    int writable;
    int is_offset;
    PyObject *zero, *minus_one; /* the defaults of flags and offset */
    vectorcallfunc vectorcall;
} vl_opinit;

static void
opinit_dealloc(vl_opinit *o)
{
    Py_XDECREF(o->cls);
    Py_XDECREF(o->slow);
    Py_XDECREF(o->zero);
    Py_XDECREF(o->minus_one);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static int
small_int(PyObject *o, long long lo, long long hi)
{
    if (!PyLong_CheckExact(o))
        return 0;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    return !overflow && v >= lo && v <= hi;
}

static PyObject *
opinit_call(vl_opinit *o, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    /* Exact class only: a subclass may turn a field into a property (the reference
     * then raises where a slot write would bypass it). */
    if ((kw && PyTuple_GET_SIZE(kw)) || n < 3 || n > 5 || Py_TYPE(args[0]) != o->cls)
        goto slow;
    PyObject *self = args[0], *fd = args[1], *buf = args[2];
    PyObject *len = n > 3 ? args[3] : Py_None;
    PyObject *last = n > 4 ? args[4] : (o->is_offset ? o->minus_one : o->zero);
    if (!small_int(fd, 0, 0x7fffffff))
        goto slow;
    if (len != Py_None && !small_int(len, 0, 0x7ffff000))
        goto slow;
    if (o->is_offset ? !small_int(last, -1, 0x7fffffffffffffffLL)
                     : !small_int(last, 0, 0xffffffffLL))
        goto slow;
    if (!PyByteArray_CheckExact(buf)) {
        Py_buffer view;
        if (PyObject_GetBuffer(buf, &view, o->writable ? (PyBUF_WRITABLE | PyBUF_SIMPLE)
                                                       : PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            goto slow;
        }
        PyBuffer_Release(&view);
    }
    PyObject *vals[4] = {fd, buf, len, last};
    for (int i = 0; i < 4; i++) {
        PyObject **slot = (PyObject **)((char *)self + o->off[i]);
        PyObject *old = *slot;
        Py_INCREF(vals[i]);
        *slot = vals[i];
        Py_XDECREF(old);
    }
    Py_RETURN_NONE;
slow:
    return PyObject_Vectorcall(o->slow, args, n, kw);
}

/* As a class's __init__: a method descriptor (Py_TPFLAGS_METHOD_DESCRIPTOR), so
 * instance creation calls it with self prepended and no bound method; plain
 * attribute access on an instance still gets a bound method. */
static PyObject *
opinit_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

/* __wrapped__ (inspect.signature and help() show the reference's signature),
 * __name__, __qualname__ and __doc__ come from the reference __init__. */
static PyObject *
opinit_wrapped(vl_opinit *o, void *closure)
{
    if (closure == NULL) {
        Py_INCREF(o->slow);
        return o->slow;
    }
    return PyObject_GetAttrString(o->slow, (const char *)closure);
}

static PyGetSetDef opinit_getset[] = {
    {"__wrapped__", (getter)opinit_wrapped, NULL, "the Python reference __init__", NULL},
    {"__name__", (getter)opinit_wrapped, NULL, NULL, "__name__"},
    {"__qualname__", (getter)opinit_wrapped, NULL, NULL, "__qualname__"},
    {"__doc__", (getter)opinit_wrapped, NULL, NULL, "__doc__"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject vl_opinit_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vllsi.linux._fast.OpInit",
    .tp_basicsize = sizeof(vl_opinit),
    .tp_dealloc = (destructor)opinit_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_call = PyVectorcall_Call,
    .tp_descr_get = opinit_get,
    .tp_getset = opinit_getset,
    .tp_vectorcall_offset = offsetof(vl_opinit, vectorcall),
};

static int
slot_offset(PyTypeObject *cls, const char *name, Py_ssize_t *out)
{
    PyObject *d = PyDict_GetItemString(cls->tp_dict, name); /* borrowed */
    if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type)
        || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%.100s.%s is not a slot", cls->tp_name, name);
        return -1;
    }
    *out = ((PyMemberDescrObject *)d)->d_member->offset;
    return 0;
}

/* op_initializer(cls, writable, is_offset, slow) -> init(self, fd, buf, len=None,
 * last=-1 or 0): slow is the Python __init__ with the same signature. */
static PyObject *
fast_op_initializer(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyType_Check(args[0]) || !PyCallable_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "op_initializer(cls, writable, is_offset, slow)");
        return NULL;
    }
    if (PyType_Ready(&vl_opinit_type) < 0)
        return NULL;
    PyTypeObject *cls = (PyTypeObject *)args[0];
    int writable = PyObject_IsTrue(args[1]), is_offset = PyObject_IsTrue(args[2]);
    if (writable < 0 || is_offset < 0)
        return NULL;
    vl_opinit *o = PyObject_New(vl_opinit, &vl_opinit_type);
    if (!o)
        return NULL;
    o->cls = NULL;
    o->slow = NULL;
    o->zero = PyLong_FromLong(0);
    o->minus_one = PyLong_FromLong(-1);
    if (!o->zero || !o->minus_one) {
        Py_DECREF(o);
        return NULL;
    }
    if (slot_offset(cls, "fd", &o->off[0]) || slot_offset(cls, "buf", &o->off[1])
        || slot_offset(cls, "len", &o->off[2])
        || slot_offset(cls, is_offset ? "offset" : "flags", &o->off[3])) {
        Py_DECREF(o);
        return NULL;
    }
    Py_INCREF(cls);
    o->cls = cls;
    Py_INCREF(args[3]);
    o->slow = args[3];
    o->writable = writable;
    o->is_offset = is_offset;
    o->vectorcall = (vectorcallfunc)opinit_call;
    return (PyObject *)o;
}

PyMethodDef vllsi_fast_engine[] = {
    {"engine_rw", (PyCFunction)(void (*)(void))fast_engine_rw, METH_FASTCALL,
     "engine_rw(nr, fd, buffer, len, arg, writable) -> raw kernel return (EINTR retried)."},
    {"op_initializer", (PyCFunction)(void (*)(void))fast_op_initializer, METH_FASTCALL,
     "op_initializer(cls, writable, is_offset, slow) -> init(self, fd, buf, len, last)"},
    {NULL, NULL, 0, NULL},
};

/* Memory: the buffer-protocol object behind vllsi.memory.Mapping.
 *
 * CPython 3.10/3.11 give Python classes no buffer protocol, so the region of
 * an OS mapping is exported by this small C type (Python subclasses it). It
 * never maps or unmaps anything itself: vllsi.memory does the syscalls. It
 * counts live exports so that closing under a memoryview raises BufferError
 * (as mmap.close does), refuses any export once closed (ValueError), and hands
 * out read-only exports while the pages are not writable.
 *
 * _fast.region_type() returns the type (created on first call).
 */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    uintptr_t addr;
    Py_ssize_t size;
    Py_ssize_t span; /* bytes of whole pages from addr that belong to the mapping */
    Py_ssize_t exports;
    int closed;
    int readonly;
    PyObject *dict;
    PyObject *weakrefs;
} vllsi_region;

static int
region_getbuffer(PyObject *o, Py_buffer *view, int flags)
{
    vllsi_region *r = (vllsi_region *)o;
    if (r->closed) {
        PyErr_SetString(PyExc_ValueError, "mapping is closed");
        view->obj = NULL;
        return -1;
    }
    if (r->readonly > 1) {
        PyErr_SetString(PyExc_ValueError, "mapping is not readable (protection NONE)");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, o, (void *)r->addr, r->size, r->readonly, flags) < 0)
        return -1;
    r->exports++;
    return 0;
}

static void
region_releasebuffer(PyObject *o, Py_buffer *view)
{
    ((vllsi_region *)o)->exports--;
}

static PyBufferProcs region_as_buffer = {region_getbuffer, region_releasebuffer};

/* _attach(address, size[, span]): bind the region once (size > 0; span >= size is
 * the length of the pages madvise/mprotect cover, default size rounded to pages). */
static PyObject *
region_attach(PyObject *o, PyObject *const *args, Py_ssize_t nargs)
{
    vllsi_region *r = (vllsi_region *)o;
    if (nargs != 2 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_attach(address, size[, span])");
        return NULL;
    }
    if (r->addr != 0) {
        PyErr_SetString(PyExc_ValueError, "region already attached");
        return NULL;
    }
    unsigned long long a = PyLong_AsUnsignedLongLong(args[0]);
    if (a == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyLong_AsSsize_t(args[1]);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (a == 0 || n <= 0) {
        PyErr_SetString(PyExc_ValueError, "region needs a non-null address and a size > 0");
        return NULL;
    }
    long page = (long)sysconf(_SC_PAGESIZE);
    Py_ssize_t span = (n + page - 1) & ~(page - 1);
    if (nargs == 3) {
        span = PyLong_AsSsize_t(args[2]);
        if (span == -1 && PyErr_Occurred())
            return NULL;
        if (span < n) {
            PyErr_SetString(PyExc_ValueError, "span must be >= size");
            return NULL;
        }
    }
    r->addr = (uintptr_t)a;
    r->size = n;
    r->span = span;
    r->closed = 0;
    Py_RETURN_NONE;
}

/* _detach(): mark closed; BufferError while exports are alive. Returns True if it
 * was open (the caller then unmaps), False if already closed. */
static PyObject *
region_detach(PyObject *o, PyObject *unused)
{
    vllsi_region *r = (vllsi_region *)o;
    if (r->closed)
        Py_RETURN_FALSE;
    if (r->exports > 0) {
        PyErr_Format(PyExc_BufferError,
                     "cannot close a mapping while %zd buffer export(s) (memoryview, ffi.from_buffer...) are alive",
                     r->exports);
        return NULL;
    }
    r->closed = 1;
    Py_RETURN_TRUE;
}

/* _set_readonly(level): 0 read/write exports, 1 read-only, 2 no exports at all. */
static PyObject *
region_set_readonly(PyObject *o, PyObject *flag)
{
    long v = PyLong_AsLong(flag);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    ((vllsi_region *)o)->readonly = v < 0 ? 0 : (v > 2 ? 2 : (int)v);
    Py_RETURN_NONE;
}

static PyObject *
region_get_address(PyObject *o, void *c)
{
    vllsi_region *r = (vllsi_region *)o;
    if (r->closed) {
        PyErr_SetString(PyExc_ValueError, "mapping is closed");
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(r->addr);
}

static PyObject *
region_get_size(PyObject *o, void *c)
{
    vllsi_region *r = (vllsi_region *)o;
    if (r->closed) {
        PyErr_SetString(PyExc_ValueError, "mapping is closed");
        return NULL;
    }
    return PyLong_FromSsize_t(r->size);
}

static PyObject *
region_get_closed(PyObject *o, void *c)
{
    return PyBool_FromLong(((vllsi_region *)o)->closed);
}

static PyObject *
region_get_exports(PyObject *o, void *c)
{
    return PyLong_FromSsize_t(((vllsi_region *)o)->exports);
}

static Py_ssize_t
region_len(PyObject *o)
{
    vllsi_region *r = (vllsi_region *)o;
    if (r->closed) {
        PyErr_SetString(PyExc_ValueError, "mapping is closed");
        return -1;
    }
    return r->size;
}

static PyObject *
region_new(PyTypeObject *t, PyObject *args, PyObject *kw)
{
    vllsi_region *r = (vllsi_region *)t->tp_alloc(t, 0);
    if (r != NULL)
        r->closed = 1; /* nothing attached yet */
    return (PyObject *)r;
}

static int
region_traverse(PyObject *o, visitproc visit, void *arg)
{
    Py_VISIT(((vllsi_region *)o)->dict);
    return 0;
}

static int
region_clear(PyObject *o)
{
    Py_CLEAR(((vllsi_region *)o)->dict);
    return 0;
}

static void
region_dealloc(PyObject *o)
{
    vllsi_region *r = (vllsi_region *)o;
    PyObject_GC_UnTrack(o);
    if (r->weakrefs != NULL)
        PyObject_ClearWeakRefs(o);
    Py_CLEAR(r->dict);
    Py_TYPE(o)->tp_free(o);
}

/* _madvise(advice) -> raw madvise over the region's whole pages (asm tier fast path
 * of vllsi.memory.os_advise; ValueError once closed). */
static PyObject *
region_madvise(PyObject *o, PyObject *arg)
{
    vllsi_region *r = (vllsi_region *)o;
    long advice = PyLong_AsLong(arg);
    if (advice == -1 && PyErr_Occurred())
        return NULL;
    if (r->closed) {
        PyErr_SetString(PyExc_ValueError, "mapping is closed");
        return NULL;
    }
    return PyLong_FromLong(vllsi_syscall3(__NR_madvise, (long)r->addr, (long)r->span, advice));
}

static PyMethodDef region_methods[] = {
    {"_madvise", region_madvise, METH_O, NULL},
    {"_attach", (PyCFunction)(void (*)(void))region_attach, METH_FASTCALL, NULL},
    {"_detach", region_detach, METH_NOARGS, NULL},
    {"_set_readonly", region_set_readonly, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef region_getset[] = {
    {"address", region_get_address, NULL, "Start address of the region (ValueError once closed).",
     NULL},
    {"size", region_get_size, NULL, "Length in bytes (ValueError once closed).", NULL},
    {"closed", region_get_closed, NULL, "True once closed.", NULL},
    {"_exports", region_get_exports, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods region_as_sequence = {.sq_length = region_len};

static PyTypeObject vllsi_region_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vllsi.linux._fast.Region",
    .tp_basicsize = sizeof(vllsi_region),
    .tp_dealloc = region_dealloc,
    .tp_as_buffer = &region_as_buffer,
    .tp_as_sequence = &region_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An exported OS memory region (base of vllsi.memory.Mapping).",
    .tp_traverse = region_traverse,
    .tp_clear = region_clear,
    .tp_weaklistoffset = offsetof(vllsi_region, weakrefs),
    .tp_dictoffset = offsetof(vllsi_region, dict),
    .tp_methods = region_methods,
    .tp_getset = region_getset,
    .tp_new = region_new,
};

static PyObject *
fast_region_type(PyObject *self, PyObject *unused)
{
    if (!(vllsi_region_type.tp_flags & Py_TPFLAGS_READY)) {
        if (PyType_Ready(&vllsi_region_type) < 0)
            return NULL;
    }
    Py_INCREF(&vllsi_region_type);
    return (PyObject *)&vllsi_region_type;
}

/* os_advise(mapping, advice) in one C call (asm tier): the same checks as
 * vllsi.memory's Python version -- a Region, an int advice among MemAdvice's
 * values (Linux MADV_*: 0-4, 8-10, 14, 15; a conformance test sweeps them),
 * not closed -- then madvise over the whole pages; errors via the factory. */
#define VLLSI_ADVICE_OK ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | \
                         (1u << 8) | (1u << 9) | (1u << 10) | (1u << 14) | (1u << 15))

static PyObject *
fast_os_advise(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "os_advise(mapping, advice)");
        return NULL;
    }
    PyObject *adv = args[1];
    if (!PyLong_Check(adv) || PyBool_Check(adv)) {
        PyErr_Format(PyExc_TypeError, "advice must be a MemAdvice, not %.100s",
                     Py_TYPE(adv)->tp_name);
        return NULL;
    }
    int overflow;
    long advice = PyLong_AsLongAndOverflow(adv, &overflow);
    if (advice == -1 && PyErr_Occurred())
        return NULL;
    if (overflow || advice < 0 || advice > 31 || !(VLLSI_ADVICE_OK >> advice & 1)) {
        PyErr_Format(PyExc_ValueError, "unknown advice %R", adv);
        return NULL;
    }
    if (!PyObject_TypeCheck(args[0], &vllsi_region_type)) {
        PyErr_Format(PyExc_TypeError, "os_advise needs a Mapping, not %.100s",
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    vllsi_region *r = (vllsi_region *)args[0];
    if (r->closed) {
        PyErr_SetString(PyExc_ValueError, "mapping is closed");
        return NULL;
    }
    long ret = vllsi_syscall3(__NR_madvise, (long)r->addr, (long)r->span, advice);
    if (ret < 0)
        return vllsi_raise((int)-ret, "madvise");
    Py_RETURN_NONE;
}

PyMethodDef vllsi_fast_memory[] = {
    {"os_advise", (PyCFunction)(void (*)(void))fast_os_advise, METH_FASTCALL,
     "madvise(address, pages, advice) over a Mapping: vllsi.memory.os_advise in one C call.\n\n"
     "Args: mapping (a vllsi.memory.Mapping), advice (a MemAdvice). Raises: TypeError\n"
     "(not a Mapping/int), ValueError (unknown advice, closed mapping) before the call;\n"
     "InvalidArgument/EINVAL from the kernel. Availability: Linux (asm tier)."},
    {"region_type", fast_region_type, METH_NOARGS,
     "region_type() -> the buffer-protocol base type of vllsi.memory.Mapping."},
    {NULL, NULL, 0, NULL},
};

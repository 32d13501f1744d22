/* TLS fast paths: the thread pointer, and vllsi.tls's per-OS-thread slot table.
 *
 * tls_base() reads the thread pointer itself (x86_64: the word at %fs:0, which
 * glibc and musl keep equal to the FS base; aarch64: tpidr_el0). Read only.
 *
 * The slot table (32 slots of 64-bit values, a presence bitmap, and a stack of
 * up to 256 saved frames) lives in C thread-local storage, malloc'd on first
 * use and freed by a pthread key destructor when the thread ends. It holds no
 * Python objects, so thread exit needs no GIL. Errors go through a Python
 * factory installed with tls_set_error_factory(fn(kind, slot) -> exception).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define VLLSI_TLS_SLOTS 32
#define VLLSI_TLS_DEPTH 256

enum { TLS_E_SLOT = 1, TLS_E_OVERFLOW, TLS_E_UNDERFLOW, TLS_E_OCCUPIED, TLS_E_EMPTY };

struct vllsi_tls_frame {
    uint64_t v[VLLSI_TLS_SLOTS];
    uint32_t present;
    uint32_t neg;
};

struct vllsi_tls_table {
    struct vllsi_tls_frame cur;
    struct vllsi_tls_frame *frames;
    int depth;
    int cap;
};

static __thread struct vllsi_tls_table *vllsi_tls_tbl;
static pthread_key_t vllsi_tls_key;
static pthread_once_t vllsi_tls_once = PTHREAD_ONCE_INIT;
static PyObject *vllsi_tls_errors;

static void
vllsi_tls_free(void *p)
{
    struct vllsi_tls_table *t = p;
    if (t != NULL) {
        free(t->frames);
        free(t);
    }
}

static void
vllsi_tls_make_key(void)
{
    (void)pthread_key_create(&vllsi_tls_key, vllsi_tls_free);
}

static struct vllsi_tls_table *
tls_table(void)
{
    struct vllsi_tls_table *t = vllsi_tls_tbl;
    if (t != NULL)
        return t;
    pthread_once(&vllsi_tls_once, vllsi_tls_make_key);
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    pthread_setspecific(vllsi_tls_key, t);
    vllsi_tls_tbl = t;
    return t;
}

static PyObject *
tls_error(int kind, long slot)
{
    if (vllsi_tls_errors == NULL) {
        PyErr_Format(PyExc_RuntimeError, "vllsi tls error %d (slot %ld)", kind, slot);
        return NULL;
    }
    PyObject *exc = PyObject_CallFunction(vllsi_tls_errors, "il", kind, slot);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

static int
tls_slot(PyObject *o, int *slot)
{
    if (!PyLong_CheckExact(o)) {
        if (!PyLong_Check(o) || PyBool_Check(o)) {
            PyErr_Format(PyExc_TypeError, "slot must be an int, not %.100s", Py_TYPE(o)->tp_name);
            return -1;
        }
    }
    int overflow;
    long v = PyLong_AsLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < 0 || v >= VLLSI_TLS_SLOTS) {
        tls_error(TLS_E_SLOT, overflow ? -1 : v);
        return -1;
    }
    *slot = (int)v;
    return 0;
}

static PyObject *
fast_tls_get(PyObject *self, PyObject *arg)
{
    int s;
    struct vllsi_tls_table *t;
    if (tls_slot(arg, &s) || (t = tls_table()) == NULL)
        return NULL;
    if (!(t->cur.present >> s & 1))
        Py_RETURN_NONE;
    if (t->cur.neg >> s & 1)
        return PyLong_FromLongLong((long long)t->cur.v[s]);
    return PyLong_FromUnsignedLongLong(t->cur.v[s]);
}

static PyObject *
fast_tls_has(PyObject *self, PyObject *arg)
{
    int s;
    struct vllsi_tls_table *t;
    if (tls_slot(arg, &s) || (t = tls_table()) == NULL)
        return NULL;
    return PyBool_FromLong(t->cur.present >> s & 1);
}

/* tls_set(slot, value[, exclusive]) */
static PyObject *
fast_tls_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int s, neg = 0;
    uint64_t v;
    struct vllsi_tls_table *t;
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "tls_slot_set(slot, value, exclusive=False)");
        return NULL;
    }
    if (tls_slot(args[0], &s))
        return NULL;
    if (!PyLong_Check(args[1]) || PyBool_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "value must be an int, not %.100s",
                     Py_TYPE(args[1])->tp_name);
        return NULL;
    }
    int overflow;
    long long sv = PyLong_AsLongLongAndOverflow(args[1], &overflow);
    if (sv == -1 && PyErr_Occurred())
        return NULL;
    if (overflow > 0) {
        v = PyLong_AsUnsignedLongLong(args[1]);
        if (v == (uint64_t)-1 && PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "value does not fit 64 bits");
            return NULL;
        }
    } else if (overflow < 0) {
        PyErr_SetString(PyExc_ValueError, "value does not fit 64 bits");
        return NULL;
    } else {
        v = (uint64_t)sv;
        neg = sv < 0;
    }
    if ((t = tls_table()) == NULL)
        return NULL;
    if (nargs == 3) {
        int ex = PyObject_IsTrue(args[2]);
        if (ex < 0)
            return NULL;
        if (ex && (t->cur.present >> s & 1))
            return tls_error(TLS_E_OCCUPIED, s);
    }
    t->cur.v[s] = v;
    t->cur.present |= 1u << s;
    if (neg)
        t->cur.neg |= 1u << s;
    else
        t->cur.neg &= ~(1u << s);
    Py_RETURN_NONE;
}

static PyObject *
fast_tls_clear(PyObject *self, PyObject *arg)
{
    int s;
    struct vllsi_tls_table *t;
    if (tls_slot(arg, &s) || (t = tls_table()) == NULL)
        return NULL;
    t->cur.present &= ~(1u << s);
    t->cur.neg &= ~(1u << s);
    t->cur.v[s] = 0;
    Py_RETURN_NONE;
}

static PyObject *
fast_tls_push(PyObject *self, PyObject *unused)
{
    struct vllsi_tls_table *t = tls_table();
    if (t == NULL)
        return NULL;
    if (t->depth >= VLLSI_TLS_DEPTH)
        return tls_error(TLS_E_OVERFLOW, t->depth);
    if (t->depth == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        if (cap > VLLSI_TLS_DEPTH)
            cap = VLLSI_TLS_DEPTH;
        void *p = realloc(t->frames, (size_t)cap * sizeof *t->frames);
        if (p == NULL)
            return PyErr_NoMemory();
        t->frames = p;
        t->cap = cap;
    }
    t->frames[t->depth++] = t->cur;
    return PyLong_FromLong(t->depth);
}

static PyObject *
fast_tls_pop(PyObject *self, PyObject *unused)
{
    struct vllsi_tls_table *t = tls_table();
    if (t == NULL)
        return NULL;
    if (t->depth == 0)
        return tls_error(TLS_E_UNDERFLOW, 0);
    t->cur = t->frames[--t->depth];
    return PyLong_FromLong(t->depth);
}

static PyObject *
fast_tls_depth(PyObject *self, PyObject *unused)
{
    struct vllsi_tls_table *t = tls_table();
    return t == NULL ? NULL : PyLong_FromLong(t->depth);
}

static PyObject *
fast_tls_init(PyObject *self, PyObject *unused)
{
    return tls_table() == NULL ? NULL : Py_NewRef(Py_None);
}

static PyObject *
fast_tls_cleanup(PyObject *self, PyObject *unused)
{
    struct vllsi_tls_table *t = vllsi_tls_tbl;
    if (t != NULL) {
        pthread_setspecific(vllsi_tls_key, NULL);
        vllsi_tls_tbl = NULL;
        vllsi_tls_free(t);
    }
    Py_RETURN_NONE;
}

static PyObject *
fast_tls_set_error_factory(PyObject *self, PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "error factory must be callable");
        return NULL;
    }
    Py_INCREF(fn);
    Py_XSETREF(vllsi_tls_errors, fn);
    Py_RETURN_NONE;
}

static PyObject *
fast_tls_base(PyObject *self, PyObject *unused)
{
    uintptr_t tp;
#if defined(__x86_64__)
    __asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
#endif
    return PyLong_FromUnsignedLongLong(tp);
}

PyMethodDef vllsi_fast_tls[] = {
    {"tls_base", fast_tls_base, METH_NOARGS,
     "tls_base() -> the thread pointer (x86_64 %fs:0, aarch64 tpidr_el0)."},
    {"tls_get", fast_tls_get, METH_O, "tls_slot_get(slot) -> int | None: this OS thread's slot value (no OS call; C TLS).\n\n"
     "Returns None for an empty slot. Raises: TypeError (not an int), InvalidSlot\n"
     "(outside 0..31). Availability: Linux (C table); elsewhere the portable table."},
    {"tls_has", fast_tls_has, METH_O, "tls_slot_has(slot) -> bool: whether this thread's slot holds a value (no OS call).\n\n"
     "Raises: TypeError, InvalidSlot. Availability: Linux (C table)."},
    {"tls_set", (PyCFunction)(void (*)(void))fast_tls_set, METH_FASTCALL,
     "tls_set(slot, value[, exclusive]): the C body of vllsi.tls.tls_slot_set."},
    {"tls_clear", fast_tls_clear, METH_O, "tls_slot_clear(slot): empty this thread's slot (no OS call).\n\n"
     "Raises: TypeError, InvalidSlot. Availability: Linux (C table)."},
    {"tls_push", fast_tls_push, METH_NOARGS, "tls_frame_push() -> depth: save this thread's whole table (no OS call).\n\n"
     "Returns the new depth. Raises: StackOverflow at CONTEXT_STACK_DEPTH (256).\n"
     "Availability: Linux (C table)."},
    {"tls_pop", fast_tls_pop, METH_NOARGS, "tls_frame_pop() -> depth: restore the table saved by the last push (no OS call).\n\n"
     "Returns the new depth. Raises: StackUnderflow at the root. Availability: Linux."},
    {"tls_depth", fast_tls_depth, METH_NOARGS, "tls_frame_depth() -> the number of saved frames of this thread (no OS call)."},
    {"tls_init", fast_tls_init, METH_NOARGS, "tls_init(): create this thread's table."},
    {"tls_cleanup", fast_tls_cleanup, METH_NOARGS, "tls_cleanup(): drop this thread's table."},
    {"tls_set_error_factory", fast_tls_set_error_factory, METH_O,
     "tls_set_error_factory(fn(kind, slot) -> exception)."},
    {NULL, NULL, 0, NULL},
};

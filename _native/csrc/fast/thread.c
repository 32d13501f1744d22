/* Thread fast paths: sequentially consistent 32-bit atomics on a word whose
 * address vllsi.thread has validated (4-byte aligned, inside a buffer it keeps
 * exported), the building blocks of its futex Mutex/Condvar/SpinLock/Semaphore. */

static int
addr_arg(PyObject *o, uint32_t **p)
{
    unsigned long long a = PyLong_AsUnsignedLongLong(o);
    if (a == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    if (a == 0 || (a & 3)) {
        PyErr_SetString(PyExc_ValueError, "futex word address must be non-null and 4-aligned");
        return -1;
    }
    *p = (uint32_t *)(uintptr_t)a;
    return 0;
}

static int
u32_arg(PyObject *o, uint32_t *v)
{
    long long x = PyLong_AsLongLong(o);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (x < -0x80000000LL || x > 0xffffffffLL) {
        PyErr_SetString(PyExc_ValueError, "value does not fit 32 bits");
        return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

/* atomic_cas32(addr, expected, desired) -> the old value */
static PyObject *
fast_atomic_cas32(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t *p, e, d;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "atomic_cas32(addr, expected, desired)");
        return NULL;
    }
    if (addr_arg(args[0], &p) || u32_arg(args[1], &e) || u32_arg(args[2], &d))
        return NULL;
    __atomic_compare_exchange_n(p, &e, d, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return PyLong_FromUnsignedLong(e);
}

/* atomic_xchg32(addr, value) -> the old value */
static PyObject *
fast_atomic_xchg32(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t *p, v;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "atomic_xchg32(addr, value)");
        return NULL;
    }
    if (addr_arg(args[0], &p) || u32_arg(args[1], &v))
        return NULL;
    return PyLong_FromUnsignedLong(__atomic_exchange_n(p, v, __ATOMIC_SEQ_CST));
}

/* atomic_add32(addr, delta) -> the old value (wrapping) */
static PyObject *
fast_atomic_add32(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t *p, v;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "atomic_add32(addr, delta)");
        return NULL;
    }
    if (addr_arg(args[0], &p) || u32_arg(args[1], &v))
        return NULL;
    return PyLong_FromUnsignedLong(__atomic_fetch_add(p, v, __ATOMIC_SEQ_CST));
}

static PyObject *
fast_atomic_load32(PyObject *self, PyObject *arg)
{
    uint32_t *p;
    if (addr_arg(arg, &p))
        return NULL;
    return PyLong_FromUnsignedLong(__atomic_load_n(p, __ATOMIC_SEQ_CST));
}

static PyObject *
fast_atomic_store32(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t *p, v;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "atomic_store32(addr, value)");
        return NULL;
    }
    if (addr_arg(args[0], &p) || u32_arg(args[1], &v))
        return NULL;
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
    Py_RETURN_NONE;
}

/* FutexLock: the base type of vllsi.thread.Mutex on Linux. Its _enter/_exit
 * are the uncontended paths in C (one compare-and-swap, one exchange); on
 * contention they call the Python methods _acquire_slow(c, None) and
 * _wake_one(), which make the futex syscalls (through the active tier). */
typedef struct {
    PyObject_HEAD
    uint32_t *addr;
} vllsi_flock;

static PyObject *
flock_bind(PyObject *o, PyObject *arg)
{
    uint32_t *p;
    if (addr_arg(arg, &p))
        return NULL;
    ((vllsi_flock *)o)->addr = p;
    Py_RETURN_NONE;
}

static PyObject *
flock_enter(PyObject *o, PyObject *unused)
{
    uint32_t *p = ((vllsi_flock *)o)->addr;
    uint32_t e = 0;
    if (p == NULL) {
        PyErr_SetString(PyExc_ValueError, "lock word not bound");
        return NULL;
    }
    if (!__atomic_compare_exchange_n(p, &e, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        PyObject *r = PyObject_CallMethod(o, "_acquire_slow", "IO", e, Py_None);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    return Py_NewRef(o);
}

static PyObject *
flock_exit(PyObject *o, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t *p = ((vllsi_flock *)o)->addr;
    if (p == NULL) {
        PyErr_SetString(PyExc_ValueError, "lock word not bound");
        return NULL;
    }
    uint32_t old = __atomic_exchange_n(p, 0, __ATOMIC_SEQ_CST);
    if (old == 2)
        return PyObject_CallMethod(o, "_wake_one", NULL);
    if (old == 0) {
        PyErr_SetString(PyExc_RuntimeError, "release of an unlocked Mutex");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef flock_methods[] = {
    {"_bind", flock_bind, METH_O, NULL},
    {"_enter", flock_enter, METH_NOARGS, "Lock (C fast path); returns self."},
    {"_exit", (PyCFunction)(void (*)(void))flock_exit, METH_FASTCALL,
     "Unlock (C fast path), waking a waiter through _wake_one() if there are any."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject vllsi_flock_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vllsi.linux._fast.FutexLock",
    .tp_basicsize = sizeof(vllsi_flock),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Base of vllsi.thread.Mutex: C fast paths over a bound futex word.",
    .tp_methods = flock_methods,
    .tp_new = PyType_GenericNew,
};

static PyObject *
fast_futex_lock_type(PyObject *self, PyObject *unused)
{
    if (!(vllsi_flock_type.tp_flags & Py_TPFLAGS_READY) && PyType_Ready(&vllsi_flock_type) < 0)
        return NULL;
    return Py_NewRef((PyObject *)&vllsi_flock_type);
}

PyMethodDef vllsi_fast_thread[] = {
    {"futex_lock_type", fast_futex_lock_type, METH_NOARGS,
     "futex_lock_type() -> the C base type of vllsi.thread.Mutex."},
    {"atomic_cas32", (PyCFunction)(void (*)(void))fast_atomic_cas32, METH_FASTCALL,
     "atomic_cas32(addr, expected, desired) -> old value (seq_cst)."},
    {"atomic_xchg32", (PyCFunction)(void (*)(void))fast_atomic_xchg32, METH_FASTCALL,
     "atomic_xchg32(addr, value) -> old value (seq_cst)."},
    {"atomic_add32", (PyCFunction)(void (*)(void))fast_atomic_add32, METH_FASTCALL,
     "atomic_add32(addr, delta) -> old value (seq_cst, wrapping)."},
    {"atomic_load32", fast_atomic_load32, METH_O, "atomic_load32(addr) -> value (seq_cst)."},
    {"atomic_store32", (PyCFunction)(void (*)(void))fast_atomic_store32, METH_FASTCALL,
     "atomic_store32(addr, value) (seq_cst)."},
    {NULL, NULL, 0, NULL},
};

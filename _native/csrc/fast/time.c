/* Time fast paths: clock_gettime through the vDSO in one C call.
 *
 * vllsi.linux.vdso finds the vDSO's clock_gettime by parsing its ELF (in
 * Python) and installs the address with vdso_install(); until then, or when
 * there is no vDSO, the raw clock_gettime syscall is used. The vDSO function
 * follows the raw syscall convention (-errno on failure). */
#include <time.h>

typedef int (*vllsi_cgt_fn)(clockid_t, struct timespec *);
static vllsi_cgt_fn vllsi_vdso_cgt;

static inline long
vllsi_clock_gettime(long clk, struct timespec *ts)
{
    vllsi_cgt_fn f = vllsi_vdso_cgt;
    if (f != NULL)
        return f((clockid_t)clk, ts);
    return vllsi_syscall2(__NR_clock_gettime, clk, (long)ts);
}

static PyObject *
ns_of(long clk, const char *name)
{
    struct timespec ts;
    long r = vllsi_clock_gettime(clk, &ts);
    if (r < 0)
        return vllsi_raise((int)-r, name);
    return PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

static PyObject *
fast_monotonic_ns(PyObject *self, PyObject *unused)
{
    return ns_of(CLOCK_MONOTONIC, "clock_gettime");
}

static PyObject *
fast_realtime_ns(PyObject *self, PyObject *unused)
{
    return ns_of(CLOCK_REALTIME, "clock_gettime");
}

/* clock_gettime(clock_id) -> (sec, nsec), or the raw -errno as an int. */
static PyObject *
fast_clock_gettime(PyObject *self, PyObject *arg)
{
    struct timespec ts;
    long clk = PyLong_AsLong(arg);
    if (clk == -1 && PyErr_Occurred())
        return NULL;
    if (clk < -0x80000000L || clk > 0x7fffffffL) {
        PyErr_SetString(PyExc_ValueError, "clock id out of range");
        return NULL;
    }
    long r = vllsi_clock_gettime(clk, &ts);
    if (r < 0)
        return PyLong_FromLong(r);
    return Py_BuildValue("(LL)", (long long)ts.tv_sec, (long long)ts.tv_nsec);
}

/* vdso_install(address): 0 = use the syscall. The address must be the vDSO's
 * clock_gettime (vllsi.linux.vdso resolves it); private to vllsi. */
static PyObject *
fast_vdso_install(PyObject *self, PyObject *arg)
{
    unsigned long long a = PyLong_AsUnsignedLongLong(arg);
    if (a == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    vllsi_vdso_cgt = (vllsi_cgt_fn)(uintptr_t)a;
    Py_RETURN_NONE;
}

static PyObject *
fast_vdso_installed(PyObject *self, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong((uintptr_t)vllsi_vdso_cgt);
}

PyMethodDef vllsi_fast_time[] = {
    {"monotonic_ns", fast_monotonic_ns, METH_NOARGS,
     "monotonic_ns(): clock_gettime(CLOCK_MONOTONIC) through the vDSO (else the syscall), in ns.\n\n"
     "Never decreases, across threads too. Raises: OSError subclasses from the factory\n"
     "(not expected). Availability: Linux (D mach_absolute_time, W QueryPerformanceCounter)."},
    {"realtime_ns", fast_realtime_ns, METH_NOARGS,
     "realtime_ns(): clock_gettime(CLOCK_REALTIME) through the vDSO (else the syscall), in ns.\n\n"
     "The wall clock: it may jump. Raises: OSError subclasses from the factory\n"
     "(not expected). Availability: Linux (W GetSystemTimePreciseAsFileTime)."},
    {"clock_gettime", fast_clock_gettime, METH_O,
     "clock_gettime(clock_id) -> (sec, nsec) or raw -errno."},
    {"vdso_install", fast_vdso_install, METH_O, "vdso_install(address of clock_gettime)."},
    {"vdso_installed", fast_vdso_installed, METH_NOARGS, "the installed address, 0 if none."},
    {NULL, NULL, 0, NULL},
};

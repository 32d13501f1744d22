/* Errors raised from C fast paths go through vllsi.errors' single factory:
 * Python installs a callable fn(errno, syscall_name) -> exception instance with
 * set_error_factory(); vllsi_raise() calls it and raises what it returns. */

static PyObject *vllsi_error_factory;

static PyObject *
vllsi_raise(int err, const char *syscall_name)
{
    if (vllsi_error_factory == NULL) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *exc = PyObject_CallFunction(vllsi_error_factory, "is", err, syscall_name);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *
fast_set_error_factory(PyObject *self, PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "error factory must be callable");
        return NULL;
    }
    Py_INCREF(fn);
    Py_XSETREF(vllsi_error_factory, fn);
    Py_RETURN_NONE;
}

PyMethodDef vllsi_fast_errhook[] = {
    {"set_error_factory", fast_set_error_factory, METH_O,
     "set_error_factory(fn): fn(errno, syscall) -> exception, used by C fast paths."},
    {NULL, NULL, 0, NULL},
};

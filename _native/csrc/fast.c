/* vllsi.linux._fast: CPython C-API fast paths over the raw trampolines.
 *
 * cffi API-mode calls cost ~65 ns above the kernel crossing (they release and
 * re-take the GIL and convert through cffi's type machinery); a METH_FASTCALL
 * builtin costs ~28 ns. The functions here exist because benchmarks show that
 * difference decides a target (getpid, pread...). They return the raw kernel
 * value (-4095..-1 is -errno); decoding stays in Python (vllsi.errors).
 *
 * Layers add functions in csrc/fast/<layer>.c, each defining a NULL-terminated
 * `PyMethodDef vllsi_fast_<layer>[]`; build_linux.py generates the list below
 * (fast_tables.h) and includes every file into this one translation unit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "arch/syscall.h"
#include <asm/unistd.h>

#include "fast_all.h" /* generated: #include "fast/<layer>.c" for each layer */

static struct PyModuleDef fast_module = {
    PyModuleDef_HEAD_INIT, "vllsi.linux._fast",
    "C-API fast paths over vllsi's raw syscall trampolines.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__fast(void)
{
    PyObject *m = PyModule_Create(&fast_module);
    if (m == NULL)
        return NULL;
    for (PyMethodDef **t = vllsi_fast_tables; *t != NULL; t++) {
        if (PyModule_AddFunctions(m, *t) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}

"""Builds the Linux native layer; macOS and Windows install with no compiler."""

import sys

from setuptools import setup

if sys.platform == "linux":
    sys.path.insert(0, "_native")
    from build_linux import fast_extension

    setup(cffi_modules=["_native/build_linux.py:ffibuilder"], ext_modules=[fast_extension()])
else:
    setup()

"""On other OSes, each test file here is one ``platform`` skip (vllsi.linux is absent)."""

from conformance._support.oslayer import only_on_os

pytest_pycollect_makemodule = only_on_os("linux")

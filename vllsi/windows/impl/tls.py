"""Windows backend of :mod:`vllsi.tls`.

``tls_base``: the calling thread's TEB (what ``NtCurrentTeb()`` reads from
``gs:[0x30]`` on x64), obtained with NtQueryInformationThread(ThreadBasicInformation)
and read only. ``FAST_TABLE`` is None: vllsi.tls uses its portable Python slot table.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from vllsi.windows import ntdll

__all__ = ["FAST_TABLE", "tls_base"]

FAST_TABLE: ModuleType | None = None
tls_base: Callable[[], int] = ntdll.nt_current_teb

"""Linux backend of :mod:`vllsi.interrupt`: the thread's mask via raw rt_sigprocmask."""

from __future__ import annotations

from vllsi.linux.signal import rt_sigprocmask

__all__ = ["rt_sigprocmask"]
